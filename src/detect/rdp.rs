//! Rdp detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises rdp.
pub(crate) struct Rdp;

impl Detector for Rdp {
    fn name(&self) -> &'static str {
        "rdp"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
