//! L2tp detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises l2tp.
pub(crate) struct L2tp;

impl Detector for L2tp {
    fn name(&self) -> &'static str {
        "l2tp"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
