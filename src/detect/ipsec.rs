//! Ipsec detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises ipsec.
pub(crate) struct Ipsec;

impl Detector for Ipsec {
    fn name(&self) -> &'static str {
        "ipsec"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
