//! Pptp detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises pptp.
pub(crate) struct Pptp;

impl Detector for Pptp {
    fn name(&self) -> &'static str {
        "pptp"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
