//! WireGuard detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises wireguard.
pub(crate) struct WireGuard;

impl Detector for WireGuard {
    fn name(&self) -> &'static str {
        "wireguard"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
