//! Alert: a detector's verdict on a flow, turned into what a SOC analyst reads.
//!
//! An [`Alert`] names the monitored endpoint (and its contractor when the inventory knows it),
//! the peer, the flow, a severity set by [`Policy`], and the detector's evidence. Its `id` is a
//! hash of its identity and dedup window, so replaying the same capture yields the same ids and a
//! restarted sensor does not mint new ones for the same activity. [`Dedup`] keeps one alert per
//! (endpoint, kind, family, peer) per window.
//!
//! The JSON schema is documented in the README and is stable: fields are only ever added.

mod dedup;
mod policy;
pub mod risk;

pub use dedup::{Dedup, DEDUP_KEYS_MAX};
pub use policy::{Policy, Severity};

use crate::decode::ip_proto;
use crate::detect::{Confidence, Kind};
use crate::ts::Ts;
use serde::{Serialize, Serializer};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

/// The 5-tuple (plus VLAN) of the flow an alert is about, initiator first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FlowRecord {
    /// Transport protocol name (`tcp`, `udp`, `esp`, `gre`, …).
    pub proto: &'static str,
    /// Initiator address.
    pub src_ip: IpAddr,
    /// Initiator port (0 for port-less protocols).
    pub src_port: u16,
    /// Responder address.
    pub dst_ip: IpAddr,
    /// Responder port (0 for port-less protocols).
    pub dst_port: u16,
    /// VLAN id(s) as keyed by the flow table; 0 when untagged.
    pub vlan: u32,
    /// The tunnel the flow arrived in, when it was unwrapped from one; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelRecord>,
}

/// The tunnel a flow arrived in (`decode::Tunnelled`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TunnelRecord {
    /// `ipip`, `gre`, `vxlan`, `geneve` or `teredo`.
    pub kind: &'static str,
    /// The outer packet's source, as the flow's first packet carried it; absent when the
    /// sensor kept no addresses for the flow (see `pipeline::tunnels::TUNNEL_ENDS_MAX`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_src: Option<IpAddr>,
    /// The outer packet's destination, as above.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_dst: Option<IpAddr>,
}

impl FlowRecord {
    /// The record for a flow of IP protocol `proto` from `client` to `server`.
    pub fn new(proto: u8, client: SocketAddr, server: SocketAddr, vlan: u32) -> FlowRecord {
        FlowRecord {
            proto: ip_proto::name(proto),
            src_ip: client.ip(),
            src_port: client.port(),
            dst_ip: server.ip(),
            dst_port: server.port(),
            vlan,
            tunnel: None,
        }
    }
}

/// One alert, serialised as one JSON line.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// When the evidence was seen (packet time), RFC 3339 UTC.
    #[serde(serialize_with = "ser_ts")]
    pub ts: Ts,
    /// Stable identity hash (hex, 32 characters).
    pub id: String,
    /// Kind of activity.
    pub kind: Kind,
    /// Protocol or product family.
    pub family: Cow<'static, str>,
    /// Branded product or provider, when known.
    pub provider: Option<Cow<'static, str>>,
    /// Severity set by policy.
    pub severity: Severity,
    /// How sure the detector was.
    pub confidence: Confidence,
    /// The monitored endpoint's address.
    pub endpoint: IpAddr,
    /// The contractor the endpoint belongs to, when the inventory knows it.
    pub contractor: Option<String>,
    /// The other end, `ip:port` (`[v6]:port`; port 0 for port-less protocols); `null` for a
    /// finding about a contractor rather than one connection (e.g. `off_hours`).
    #[serde(serialize_with = "ser_opt_display")]
    pub peer: Option<SocketAddr>,
    /// The flow; `null` when the finding does not rest on one flow.
    pub flow: Option<FlowRecord>,
    /// Facts that matched, most decisive first.
    pub evidence: Vec<String>,
}

/// The identity an alert is deduplicated on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AlertKey {
    /// Monitored endpoint.
    pub endpoint: IpAddr,
    /// Kind.
    pub kind: Kind,
    /// Family.
    pub family: Cow<'static, str>,
    /// Peer.
    pub peer: SocketAddr,
    /// The contractor, for findings about a contractor rather than an address pair (then
    /// `endpoint` and `peer` are unspecified). `None` keeps the identities of flow alerts, and so
    /// their ids, as they always were.
    pub subject: Option<String>,
}

impl AlertKey {
    /// The alert id for this identity in dedup window number `window`: the first 128 bits of
    /// SHA-256 over a versioned, unambiguous rendering of the identity.
    pub fn id(&self, window: u64) -> String {
        let mut h = Sha256::new();
        h.update(
            format!(
                "remotewatch-alert-v1\n{}\n{}\n{}\n{}\n{}",
                self.endpoint,
                self.kind.as_str(),
                self.family,
                self.peer,
                window
            )
            .as_bytes(),
        );
        if let Some(s) = &self.subject {
            h.update(format!("\nsubject {s}").as_bytes());
        }
        let digest = h.finalize();
        crate::hex::of(digest.get(..16).unwrap_or_default())
    }
}

impl Alert {
    /// The identity this alert is deduplicated on, as the pipeline formed it: the endpoint,
    /// kind, family and peer, the peer's port left out when the peer is the initiator (its
    /// port is ephemeral). The peer is the initiator exactly when the endpoint is not the
    /// flow's source: the endpoint is the responder only when the inventory lists it and not
    /// the initiator, which two different addresses are needed for.
    pub fn key(&self) -> AlertKey {
        // Only flow alerts pass through here (findings with a subject are deduplicated where
        // the identity stage makes them), so a missing peer or flow does not occur in practice.
        let unspecified = SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), 0);
        let peer = self.peer.unwrap_or(unspecified);
        let peer = match &self.flow {
            Some(f) if self.endpoint != f.src_ip => SocketAddr::new(peer.ip(), 0),
            _ => peer,
        };
        AlertKey {
            endpoint: self.endpoint,
            kind: self.kind,
            family: self.family.clone(),
            peer,
            subject: None,
        }
    }

    /// The alert as one JSON line (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn ser_ts<S: Serializer>(ts: &Ts, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(ts)
}

fn ser_opt_display<S: Serializer, T: std::fmt::Display>(
    v: &Option<T>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AlertKey {
        AlertKey {
            endpoint: "192.0.2.10".parse().unwrap(),
            kind: Kind::RemoteAccess,
            family: Cow::Borrowed("rdp"),
            peer: "198.51.100.20:3389".parse().unwrap(),
            subject: None,
        }
    }

    #[test]
    fn id_is_stable_and_depends_on_identity_and_window() {
        let a = key().id(7);
        assert_eq!(a.len(), 32);
        assert_eq!(a, key().id(7));
        assert_ne!(a, key().id(8));
        let mut other = key();
        other.peer = "198.51.100.20:3390".parse().unwrap();
        assert_ne!(a, other.id(7));
        let mut about = key();
        about.subject = Some("c-1".into());
        assert_ne!(a, about.id(7), "a contractor finding has its own identity");
        // The id of a flow alert is pinned: stored ids and audit trails depend on it.
        // (SHA-256 of the rendering, computed independently with Python's hashlib.)
        assert_eq!(a, "24d2ef4e14c98a7bf6e26e45fb00bc71");
    }

    /// The dedup identity read back from an alert is the one the pipeline formed: the full
    /// peer when the endpoint initiated, the peer's address alone when the peer did.
    #[test]
    fn key_leaves_out_an_initiating_peers_port() {
        let client: SocketAddr = "198.51.100.20:50123".parse().unwrap();
        let server: SocketAddr = "192.0.2.10:3389".parse().unwrap();
        let mut a = Alert {
            ts: Ts::from_secs(1),
            id: String::new(),
            kind: Kind::RemoteAccess,
            family: Cow::Borrowed("rdp"),
            provider: None,
            severity: Severity::High,
            confidence: Confidence::Handshake,
            endpoint: server.ip(),
            contractor: None,
            peer: Some(client),
            flow: Some(FlowRecord::new(6, client, server, 0)),
            evidence: Vec::new(),
        };
        assert_eq!(a.key().peer, "198.51.100.20:0".parse().unwrap());
        assert_eq!(a.key().endpoint, server.ip());
        a.endpoint = client.ip();
        a.peer = Some(server);
        assert_eq!(a.key().peer, server);
        // A host talking to itself: the endpoint is the initiator's address, the peer whole.
        a.flow = Some(FlowRecord::new(
            6,
            "192.0.2.10:50000".parse().unwrap(),
            server,
            0,
        ));
        a.endpoint = server.ip();
        assert_eq!(a.key().peer, server);
    }

    #[test]
    fn json_has_the_documented_fields_in_order() {
        let alert = Alert {
            ts: Ts::from_parts(1_709_283_600, 5_000),
            id: key().id(1),
            kind: Kind::VpnTunnel,
            family: Cow::Borrowed("wireguard"),
            provider: None,
            severity: Severity::High,
            confidence: Confidence::Handshake,
            endpoint: "2001:db8::1".parse().unwrap(),
            contractor: Some("c-1".into()),
            peer: Some("[2001:db8::2]:51820".parse().unwrap()),
            flow: Some(FlowRecord::new(
                17,
                "[2001:db8::1]:40000".parse().unwrap(),
                "[2001:db8::2]:51820".parse().unwrap(),
                0,
            )),
            evidence: vec!["x".into()],
        };
        let line = alert.to_json();
        let order = [
            "ts",
            "id",
            "kind",
            "family",
            "provider",
            "severity",
            "confidence",
            "endpoint",
            "contractor",
            "peer",
            "flow",
            "evidence",
        ];
        let pos: Vec<usize> = order
            .iter()
            .map(|k| line.find(&format!("\"{k}\":")).unwrap())
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{line}");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ts"], "2024-03-01T09:00:00.000005Z");
        assert_eq!(v["kind"], "vpn_tunnel");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["peer"], "[2001:db8::2]:51820");
        assert_eq!(v["provider"], serde_json::Value::Null);
        assert_eq!(v["flow"]["proto"], "udp");
        assert_eq!(v["flow"]["dst_port"], 51820);
    }
}
