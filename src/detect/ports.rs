//! Port hints: a flow to a well-known remote-access or VPN service port that no detector
//! recognised.
//!
//! A port is a convention, not evidence: anything can listen anywhere. So this never yields more
//! than [`Confidence::Port`] (a `low` alert by default, and it can be switched off with
//! `policy.port_hints = false`), it runs only in `conclude` (after every real detector had its
//! chance), and only for a conversation that actually happened: a TCP connection the server
//! accepted with payload both ways, or UDP/SCTP-like traffic in both directions. The responder's
//! port is used, never the initiator's (an ephemeral source port matching 3389 is chance).
//!
//! Ports are the IANA service-name registry's assignments unless noted.

use super::{Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// A service port and what it conventionally carries.
struct Hint {
    proto: u8,
    port: u16,
    kind: Kind,
    family: &'static str,
    service: &'static str,
}

const fn hint(
    proto: u8,
    port: u16,
    kind: Kind,
    family: &'static str,
    service: &'static str,
) -> Hint {
    Hint {
        proto,
        port,
        kind,
        family,
        service,
    }
}

const TCP: u8 = ip_proto::TCP;
const UDP: u8 = ip_proto::UDP;

/// The table of hints. SSH (22) is deliberately absent: its banner is always visible, so a
/// silent port 22 is not worth an alert.
const HINTS: [Hint; 14] = [
    hint(TCP, 3389, Kind::RemoteAccess, "rdp", "ms-wbt-server"),
    hint(
        UDP,
        3389,
        Kind::RemoteAccess,
        "rdp",
        "ms-wbt-server (RDP-UDP)",
    ),
    hint(TCP, 5900, Kind::RemoteAccess, "vnc", "rfb"),
    hint(TCP, 5901, Kind::RemoteAccess, "vnc", "rfb display :1"),
    hint(TCP, 23, Kind::RemoteAccess, "telnet", "telnet"),
    hint(TCP, 513, Kind::RemoteAccess, "rsh", "login"),
    hint(TCP, 514, Kind::RemoteAccess, "rsh", "shell"),
    hint(UDP, 177, Kind::RemoteAccess, "xdmcp", "xdmcp"),
    hint(TCP, 1723, Kind::VpnTunnel, "pptp", "pptp"),
    hint(UDP, 1194, Kind::VpnTunnel, "openvpn", "openvpn"),
    hint(TCP, 1194, Kind::VpnTunnel, "openvpn", "openvpn"),
    hint(UDP, 1701, Kind::VpnTunnel, "l2tp", "l2f/l2tp"),
    hint(UDP, 500, Kind::VpnTunnel, "ipsec", "isakmp"),
    // WireGuard has no IANA assignment; 51820 is the port its documentation and wg-quick use.
    hint(
        UDP,
        51820,
        Kind::VpnTunnel,
        "wireguard",
        "wireguard (conventional)",
    ),
];

/// Emits a port hint for a conversation on a listed service port.
pub(crate) struct PortHints;

impl Detector for PortHints {
    fn name(&self) -> &'static str {
        "ports"
    }

    fn inspect(&self, _view: &FlowView<'_>) -> Option<Verdict> {
        None
    }

    fn conclude(&self, v: &FlowView<'_>) -> Option<Verdict> {
        let port = v.server.port();
        let h = HINTS
            .iter()
            .find(|h| h.proto == v.proto && h.port == port)?;
        let conversed = match v.proto {
            ip_proto::TCP => {
                v.tcp.established()
                    && v.to_server.payload_pkts() > 0
                    && v.to_client.payload_pkts() > 0
            }
            _ => v.to_server.pkts > 0 && v.to_client.pkts > 0,
        };
        if !conversed {
            return None;
        }
        Some(
            Verdict::new(h.kind, h.family, Confidence::Port)
                .with(format!(
                    "{} port {port} ({}) with no recognised protocol: port convention only",
                    ip_proto::name(v.proto),
                    h.service
                ))
                .with(format!(
                    "{} packets / {} bytes to server, {} / {} back",
                    v.to_server.pkts, v.to_server.bytes, v.to_client.pkts, v.to_client.bytes
                )),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    #[test]
    fn hints_only_for_a_real_conversation_on_the_server_port() {
        let b = ViewBuilder::tcp(50000, 3389)
            .to_server(b"\x01\x02")
            .to_client(b"\x03");
        let v = PortHints.conclude(&b.view()).unwrap();
        assert_eq!(v.family, "rdp");
        assert_eq!(v.confidence, Confidence::Port);
        assert!(v.evidence[0].contains("port convention only"));
        assert!(PortHints.inspect(&b.view()).is_none());

        // Only one direction spoke: no hint.
        let one_way = ViewBuilder::tcp(50000, 3389).to_server(b"\x01");
        assert!(PortHints.conclude(&one_way.view()).is_none());
        // The listed port is the client's (ephemeral) port: no hint.
        let swapped = ViewBuilder::tcp(3389, 50000)
            .to_server(b"\x01")
            .to_client(b"\x02");
        assert!(PortHints.conclude(&swapped.view()).is_none());
        // Unlisted port.
        let web = ViewBuilder::tcp(50000, 443)
            .to_server(b"\x01")
            .to_client(b"\x02");
        assert!(PortHints.conclude(&web.view()).is_none());
    }

    #[test]
    fn udp_needs_both_directions() {
        let both = ViewBuilder::udp(40000, 1194)
            .to_server(b"\x38")
            .to_client(b"\x40");
        assert_eq!(PortHints.conclude(&both.view()).unwrap().family, "openvpn");
        let one = ViewBuilder::udp(40000, 1194).to_server(b"\x38");
        assert!(PortHints.conclude(&one.view()).is_none());
    }
}
