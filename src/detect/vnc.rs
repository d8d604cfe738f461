//! Vnc detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises vnc.
pub(crate) struct Vnc;

impl Detector for Vnc {
    fn name(&self) -> &'static str {
        "vnc"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
