//! Xdmcp detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises xdmcp.
pub(crate) struct Xdmcp;

impl Detector for Xdmcp {
    fn name(&self) -> &'static str {
        "xdmcp"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
