//! Ssh detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises ssh.
pub(crate) struct Ssh;

impl Detector for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
