//! The facts that tie a flow to a catalogue product, and their evidence lines.
//!
//! Every line names the signal (what was seen on the wire), the catalogue entry and the rule
//! that matched, and the source the rule comes from, e.g. `TLS SNI relay-7c1.net.anydesk.com
//! matches catalogue anydesk (sni net.anydesk.com; source: nDPI …)`. Names were validated as DNS
//! names (at most 253 characters) before they got here; ALPN bytes are untrusted and printed
//! through [`printable`]; citations are bounded by the loader.

use super::{CertRule, Matcher, Product};
use crate::decode::ip_proto;
use crate::detect::printable;

/// Characters of an ALPN name shown in evidence.
const ALPN_SHOWN: usize = 32;

/// Where the client named the host it wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Via {
    /// TLS ClientHello server_name over TCP (RFC 6066 §3).
    Tls,
    /// The same, in a QUIC client Initial (RFC 9001 §4.1).
    Quic,
    /// An HTTP/1.x request's Host header (RFC 9110 §7.2).
    Http,
}

/// One fact tying the flow to a product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Signal {
    /// The client asked for `name` (SNI or Host), matching `sni` rule `rule`.
    Sni { name: String, via: Via, rule: usize },
    /// The server's address was resolved from `name`, matching `dns` rule `rule`.
    Dns { name: String, rule: usize },
    /// The server's certificate satisfies attribute rule `rule`.
    CertAttrs { rule: usize },
    /// The server's certificate carries `name`, matching name rule `rule`.
    CertName { name: String, rule: usize },
    /// The client offered ALPN `id`, starting with prefix `rule`.
    Alpn { id: Vec<u8>, rule: usize },
    /// The client's hello has JA4 `fp`.
    Ja4 { fp: String },
    /// Pattern `pattern` matched segment `seg` (`wire` bytes) of one direction.
    Pattern {
        to_server: bool,
        seg: usize,
        wire: usize,
        pattern: usize,
    },
}

impl Signal {
    /// Evidence order: names the client asked for, then the server's, then protocol facts.
    pub(super) fn rank(&self) -> u8 {
        match self {
            Signal::Sni { .. } => 0,
            Signal::CertAttrs { .. } | Signal::CertName { .. } => 1,
            Signal::Alpn { .. } => 2,
            Signal::Pattern { .. } => 3,
            Signal::Dns { .. } => 4,
            Signal::Ja4 { .. } => 5,
        }
    }
}

/// One evidence line: the signal, the catalogue entry and rule, and the source.
pub(super) fn describe(p: &Product, s: &Signal) -> String {
    let entry = |m: Matcher, rule: String| {
        format!(
            "matches catalogue {} ({} {rule}; source: {})",
            p.id,
            m.as_str(),
            p.cite(m)
        )
    };
    match s {
        Signal::Sni { name, via, rule } => {
            let rule = p
                .sni
                .get(*rule)
                .map(ToString::to_string)
                .unwrap_or_default();
            let how = match via {
                Via::Tls => "TLS SNI",
                Via::Quic => "QUIC Initial SNI",
                Via::Http => "HTTP Host",
            };
            format!("{how} {name} {}", entry(Matcher::Sni, rule))
        }
        Signal::Dns { name, rule } => {
            let rule = p
                .dns
                .get(*rule)
                .map(ToString::to_string)
                .unwrap_or_default();
            format!(
                "server address resolved from DNS name {name}, which {}",
                entry(Matcher::Dns, rule)
            )
        }
        Signal::CertAttrs { rule } => {
            let text = match p.cert.get(*rule) {
                Some(CertRule::Attrs { text, .. }) => text.clone(),
                _ => String::new(),
            };
            format!("server certificate {}", entry(Matcher::Cert, text))
        }
        Signal::CertName { name, rule } => {
            let rule = match p.cert.get(*rule) {
                Some(CertRule::Name(d)) => d.to_string(),
                _ => String::new(),
            };
            format!(
                "server certificate name {name} {}",
                entry(Matcher::Cert, rule)
            )
        }
        Signal::Alpn { id, rule } => {
            let rule = p.alpn.get(*rule).cloned().unwrap_or_default();
            format!(
                "ALPN \"{}\" {}",
                printable(id, ALPN_SHOWN),
                entry(Matcher::Alpn, rule)
            )
        }
        Signal::Ja4 { fp } => format!("JA4 {fp} {}", entry(Matcher::Ja4, fp.clone())),
        Signal::Pattern {
            to_server,
            seg,
            wire,
            pattern,
        } => {
            let Some(pat) = p.patterns.get(*pattern) else {
                return String::new();
            };
            let (dir, unit) = match (*to_server, pat.proto == ip_proto::TCP) {
                (true, true) => ("client→server", "segment"),
                (false, true) => ("server→client", "segment"),
                (true, false) => ("client→server", "datagram"),
                (false, false) => ("server→client", "datagram"),
            };
            format!(
                "{dir} {} {unit} {} ({wire} bytes): {} [{}] matches catalogue {} (source: {})",
                pat.proto_name(),
                seg + 1,
                pat.name,
                pat.describe(),
                p.id,
                p.cite(Matcher::Patterns)
            )
        }
    }
}
