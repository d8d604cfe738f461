//! PortHints detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises ports.
pub(crate) struct PortHints;

impl Detector for PortHints {
    fn name(&self) -> &'static str {
        "ports"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
