//! OpenVpn detector: not written yet.

use super::{Detector, FlowView, Verdict};

/// Recognises openvpn.
pub(crate) struct OpenVpn;

impl Detector for OpenVpn {
    fn name(&self) -> &'static str {
        "openvpn"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }
}
