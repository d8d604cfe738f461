//! Identity scenarios: traffic at a company's gateways, read with an inventory, a session log and
//! intel databases (each scenario directory has its own `remotewatch.toml`).

use super::demo::{rdp_request, RDP_CONFIRM};
use crate::common::{sa, CaptureBuilder, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    vec![Scenario {
        name: "three-contractors-gateway",
        build: three_contractors,
    }]
}

/// The sensor in front of a VPN gateway (10.0.0.5:443) and an RDP gateway (10.0.0.6:3389).
/// - alice connects from her listed home line (89.160.20.112, Linköping, SE), as she claims.
/// - bob logs in through a VPN exit (1.2.3.4) and opens an RDP session through the gateway
///   from it; he also logs in from 216.160.83.58.
/// - carol logs in from 216.160.83.58 too: two contractors on one home line.
///
/// The logins are in `sessions.jsonl`; the capture holds alice's VPN session and bob's RDP.
fn three_contractors() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    // alice: a VPN session from home (handshake, then close; its content is not the point).
    let mut vpn = cap.tcp(sa("89.160.20.112:51000"), sa("10.0.0.5:443"));
    vpn.close(&mut cap);
    cap.wait_ms(500);
    // bob: RDP through the gateway from the VPN exit he logged in from.
    let mut rdp = cap.tcp(sa("1.2.3.4:50000"), sa("10.0.0.6:3389"));
    rdp.client_sends(&mut cap, &rdp_request("bob"));
    rdp.server_sends(&mut cap, &RDP_CONFIRM);
    rdp.close(&mut cap);
    cap
}
