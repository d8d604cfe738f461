//! Telnet detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises telnet.
pub(crate) struct Telnet;

impl Detector for Telnet {
    fn name(&self) -> &'static str {
        "telnet"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
