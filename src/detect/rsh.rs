//! Rsh detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises rsh.
pub(crate) struct Rsh;

impl Detector for Rsh {
    fn name(&self) -> &'static str {
        "rsh"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
