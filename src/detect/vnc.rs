//! VNC: the RFB protocol handshake (RFC 6143 §7.1).
//!
//! An RFB session opens with the server's ProtocolVersion message, exactly 12 bytes
//! `RFB xxx.yyy\n` with three-digit major and minor numbers (§7.1.1); the client answers with its
//! own. Official versions are 003.003, 003.007 and 003.008, but products use others (Apple Remote
//! Desktop sends 003.889, RealVNC 4/5 send 004.001/005.000), so any digits are accepted. The
//! security handshake follows (§7.1.2): from 3.7 on the server lists `number-of-security-types`
//! (u8) and the types, and the client picks one byte from that list; in 3.3 the server alone
//! decides and sends the type as a u32 (§A of RFC 6143, version 3.3). A count of zero, or type 0
//! in 3.3, means the server refuses and sends a reason.
//!
//! The server's banner alone is a Signature (twelve fixed-position bytes); the client's banner
//! answering it is the Handshake, completed once the security types and the choice are visible.
//! In a reverse connection (a VNC server dialling a "listening" viewer, port 5500) the TCP
//! initiator plays the RFB server: when the responder is silent or the security exchange only
//! fits the other way round, the roles are swapped and the evidence says so.

use super::{be32, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Family name.
const FAMILY: &str = "vnc";
/// ProtocolVersion length (RFC 6143 §7.1.1).
const VERSION_LEN: usize = 12;
/// ProtocolVersion prefix (RFC 6143 §7.1.1).
const VERSION_PREFIX: &[u8] = b"RFB ";
/// Offset of the '.' between major and minor (RFC 6143 §7.1.1).
const VERSION_DOT: usize = 7;
/// Offset of the closing line feed (RFC 6143 §7.1.1).
const VERSION_LF: usize = 11;
/// The version with the 4-byte server-chosen security type (RFC 6143 §7.1.2, Appendix A).
const MINOR_WITH_TYPE_LIST: u16 = 7;
/// Security type 0: Invalid, the server refuses (RFC 6143 §7.1.2).
const SECURITY_INVALID: u8 = 0;
/// Security types shown as evidence (the list is at most 255).
const MAX_TYPES_SHOWN: usize = 8;

/// Recognises the RFB ProtocolVersion exchange.
pub(crate) struct Vnc;

impl Detector for Vnc {
    fn name(&self) -> &'static str {
        "vnc"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let initiator = view.to_server.data();
        let responder = view.to_client.data();
        let (i_ver, r_ver) = (version(initiator), version(responder));
        match (r_ver, i_ver) {
            (Some(rv), Some(iv)) => {
                let normal = Exchange::new(responder, rv, initiator, iv, false);
                let reverse = Exchange::new(initiator, iv, responder, rv, true);
                // Prefer the usual roles unless only the swapped ones explain the security bytes.
                let ex = if normal.security.is_none() && reverse.security.is_some() {
                    reverse
                } else {
                    normal
                };
                Some(ex.verdict())
            }
            (Some(rv), None) => Some(banner_only(rv, "server", false)),
            (None, Some(iv)) => Some(banner_only(iv, "server", true)),
            (None, None) => None,
        }
    }
}

/// A ProtocolVersion: the raw 12 bytes' numbers.
#[derive(Clone, Copy)]
struct Version {
    major: u16,
    minor: u16,
}

impl Version {
    fn text(self) -> String {
        format!("RFB {:03}.{:03}", self.major, self.minor)
    }

    /// Whether the security handshake is the 3.3 one (server-chosen u32).
    fn is_3_3(self) -> bool {
        self.major == 3 && self.minor < MINOR_WITH_TYPE_LIST
    }
}

/// Parses the 12-byte ProtocolVersion at the start of `b`.
fn version(b: &[u8]) -> Option<Version> {
    let v = b.get(..VERSION_LEN)?;
    if !v.starts_with(VERSION_PREFIX)
        || v.get(VERSION_DOT) != Some(&b'.')
        || v.get(VERSION_LF) != Some(&b'\n')
    {
        return None;
    }
    Some(Version {
        major: digits(v.get(VERSION_PREFIX.len()..VERSION_DOT)?)?,
        minor: digits(v.get(VERSION_DOT + 1..VERSION_LF)?)?,
    })
}

fn digits(b: &[u8]) -> Option<u16> {
    b.iter().try_fold(0u16, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u16::from(c - b'0'))
    })
}

fn banner_only(v: Version, role: &str, reverse: bool) -> Verdict {
    let verdict = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature)
        .with(format!("{role} ProtocolVersion {}", v.text()));
    if reverse {
        verdict.with(REVERSE_FACT)
    } else {
        verdict
    }
}

/// Evidence line for a reverse connection.
const REVERSE_FACT: &str =
    "reverse connection: the TCP initiator is the RFB server (listening viewer)";

/// What the security handshake showed.
enum Security<'a> {
    /// RFB 3.3: the server's u32 type.
    Chosen(u8),
    /// RFB 3.7+: the offered list and the client's choice, once sent.
    Offered(&'a [u8], Option<u8>),
    /// The server refused (count 0 or type 0).
    Refused,
}

/// The two banners with the RFB roles assigned.
struct Exchange<'a> {
    server: Version,
    client: Version,
    reverse: bool,
    security: Option<Security<'a>>,
}

impl<'a> Exchange<'a> {
    fn new(
        server: &'a [u8],
        sv: Version,
        client: &'a [u8],
        cv: Version,
        reverse: bool,
    ) -> Exchange<'a> {
        let after_s = server.get(VERSION_LEN..).unwrap_or_default();
        let after_c = client.get(VERSION_LEN..).unwrap_or_default();
        // The client's version decides the security handshake both sides use (§7.1.1).
        let security = if cv.is_3_3() {
            security_3_3(after_s)
        } else {
            security_list(after_s, after_c)
        };
        Exchange {
            server: sv,
            client: cv,
            reverse,
            security,
        }
    }

    fn verdict(self) -> Verdict {
        let mut v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake)
            .with(format!("server ProtocolVersion {}", self.server.text()))
            .with(format!("client ProtocolVersion {}", self.client.text()));
        if self.reverse {
            v = v.with(REVERSE_FACT);
        }
        match self.security {
            // The security exchange is not visible yet: later packets may complete it.
            None => v,
            Some(Security::Offered(list, None)) => {
                v.with(format!("security types offered: {}", type_list(list)))
            }
            Some(Security::Chosen(t)) => v
                .with(format!(
                    "security type {} (chosen by the server, RFB 3.3)",
                    type_name(t)
                ))
                .done(),
            Some(Security::Offered(list, Some(t))) => v
                .with(format!("security types offered: {}", type_list(list)))
                .with(format!("client chose {}", type_name(t)))
                .done(),
            Some(Security::Refused) => v
                .with("server refused the connection (no security type)")
                .done(),
        }
    }
}

/// RFB 3.3: a u32 security type from the server (RFC 6143 Appendix A).
fn security_3_3(after_server: &[u8]) -> Option<Security<'_>> {
    let t = be32(after_server, 0)?;
    match u8::try_from(t).ok()? {
        SECURITY_INVALID => Some(Security::Refused),
        t => Some(Security::Chosen(t)),
    }
}

/// RFB 3.7+: the server's type list and the client's pick, which must be in the list.
fn security_list<'a>(after_server: &'a [u8], after_client: &'a [u8]) -> Option<Security<'a>> {
    let count = usize::from(*after_server.first()?);
    if count == 0 {
        return Some(Security::Refused);
    }
    let list = after_server.get(1..1 + count)?;
    if list.contains(&SECURITY_INVALID) {
        return None;
    }
    match after_client.first() {
        None => Some(Security::Offered(list, None)),
        Some(t) if list.contains(t) => Some(Security::Offered(list, Some(*t))),
        Some(_) => None,
    }
}

fn type_list(list: &[u8]) -> String {
    let mut names: Vec<String> = list
        .iter()
        .take(MAX_TYPES_SHOWN)
        .map(|&t| type_name(t))
        .collect();
    if list.len() > MAX_TYPES_SHOWN {
        names.push(format!("+{} more", list.len() - MAX_TYPES_SHOWN));
    }
    names.join(", ")
}

/// Security type names from the IANA "RFB Security Types" registry (RFC 6143 §8.1.2).
fn type_name(t: u8) -> String {
    let name = match t {
        1 => "None",
        2 => "VNC Authentication",
        5 => "RA2",
        6 => "RA2ne",
        16 => "Tight",
        17 => "Ultra",
        18 => "TLS",
        19 => "VeNCrypt",
        20 => "GTK-VNC SASL",
        21 => "MD5 hash authentication",
        22 => "Colin Dean xvp",
        23 => "Secure Tunnel",
        24 => "Integrated SSH",
        30..=35 => "Apple",
        3..=15 | 128..=255 => "RealVNC",
        _ => "unassigned",
    };
    format!("{name} ({t})")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Vnc.inspect(&b.view())
    }

    #[test]
    fn server_banner_alone_is_a_signature() {
        let v = run(&ViewBuilder::tcp(50000, 5900).to_client(b"RFB 003.008\n")).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert_eq!(v.evidence[0], "server ProtocolVersion RFB 003.008");
    }

    #[test]
    fn rfb_3_8_handshake_with_security_choice() {
        let b = ViewBuilder::tcp(50000, 5900)
            .to_client(b"RFB 003.008\n")
            .to_server(b"RFB 003.008\n");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(!v.complete);
        // Offset 12: number-of-security-types 2, types 2 and 18; the client picks 2.
        let b = b.to_client(b"\x02\x02\x12");
        assert!(!run(&b).unwrap().complete);
        let v = run(&b.to_server(b"\x02")).unwrap();
        assert!(v.complete);
        assert_eq!(
            v.evidence[2],
            "security types offered: VNC Authentication (2), TLS (18)"
        );
        assert_eq!(v.evidence[3], "client chose VNC Authentication (2)");
    }

    #[test]
    fn rfb_3_3_server_chooses() {
        let b = ViewBuilder::tcp(50000, 5901)
            .to_client(b"RFB 003.003\n")
            .to_server(b"RFB 003.003\n")
            .to_client(b"\x00\x00\x00\x02challenge-bytes!");
        let v = run(&b).unwrap();
        assert!(v.complete);
        assert!(v.evidence[2].contains("VNC Authentication (2)"));
    }

    #[test]
    fn apple_remote_desktop_version() {
        let b = ViewBuilder::tcp(50000, 5900)
            .to_client(b"RFB 003.889\n")
            .to_server(b"RFB 003.889\n")
            .to_client(b"\x02\x1e\x23")
            .to_server(b"\x1e");
        let v = run(&b).unwrap();
        assert_eq!(v.evidence[0], "server ProtocolVersion RFB 003.889");
        assert_eq!(v.evidence[3], "client chose Apple (30)");
    }

    #[test]
    fn reverse_connection() {
        let b = ViewBuilder::tcp(5900, 5500).to_server(b"RFB 003.008\n");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence[1].contains("reverse"));
        let b = b
            .to_client(b"RFB 003.008\n")
            .to_server(b"\x01\x02")
            .to_client(b"\x02");
        let v = run(&b).unwrap();
        assert!(v.complete);
        assert!(v.evidence[2].contains("reverse"));
    }

    #[test]
    fn choice_outside_the_list_is_not_complete() {
        let b = ViewBuilder::tcp(50000, 5900)
            .to_client(b"RFB 003.008\n\x01\x02")
            .to_server(b"RFB 003.008\n\x10");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(!v.complete);
    }

    #[test]
    fn malformed_banners_do_not_match() {
        for bad in [
            &b"RFB 003.008"[..],
            b"RFB 03.0008\n",
            b"RFB 003,008\n",
            b"RFB 0a3.008\n",
            b"rfb 003.008\n",
        ] {
            assert!(run(&ViewBuilder::tcp(1, 5900).to_client(bad)).is_none());
        }
        let full = b"RFB 003.008\n";
        for n in 0..full.len() {
            assert!(run(&ViewBuilder::tcp(1, 5900).to_client(&full[..n])).is_none());
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        for p in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"220 ftp.example.com FTP server ready\r\n",
        ] {
            assert!(run(&ViewBuilder::tcp(1, 5900).to_client(p).to_server(p)).is_none());
        }
        assert!(run(&ViewBuilder::udp(1, 5900).to_client(b"RFB 003.008\n")).is_none());
    }

    proptest::proptest! {
        /// Arbitrary bytes, raw or behind this protocol's own leading bytes, never panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            a in crate::detect::testing::bytes(600),
            down in crate::detect::testing::bytes(600),
            tail in crate::detect::testing::bytes(64),
            lead in proptest::bool::ANY,
        ) {
            let lead: &[u8] = if lead { b"RFB 003.008\n" } else { b"" };
            let b = ViewBuilder::tcp(1023, 5900).noise(lead, &a, &down, &tail);
            let _ = Vnc.inspect(&b.view());
        }
    }
}
