//! SSH: the identification string exchange (RFC 4253 §4.2).
//!
//! Both ends of an SSH connection send `SSH-protoversion-softwareversion SP comments CR LF`
//! before anything else, at most 255 bytes including CR LF, and neither waits for the other, so
//! either may appear first (RFC 4253 §4.2; "reverse" setups where the TCP responder is the
//! client change nothing on the wire). protoversion is "2.0", "1.99" (a server that also speaks
//! protocol 1, RFC 4253 §5.1) or "1.5"/"1.3" (the obsolete protocol 1); softwareversion is
//! printable US-ASCII without spaces (some products put a '-' in it, which is tolerated);
//! comments are optional. The server may send other text lines before its identification
//! (§4.2), the client may not. Old implementations end the line with a bare LF (§4.2
//! compatibility note), which is accepted.
//!
//! One side's well-formed identification is a Signature. Both sides' make the Handshake: the
//! software strings of both ends are the evidence. A server identification behind preamble lines
//! counts only together with the client's, so that free text containing "SSH-" cannot match.
//!
//! The server's identification alone is judged only when inspection ends ([`Detector::conclude`]):
//! a server sends it as soon as the connection is accepted, before the client has said anything,
//! and what the client then sends decides. A client that speaks another protocol (an HTTP
//! request to an SSH server, a port scanner's probe) is not in an SSH session, whatever the
//! server announced; the server half of a capture that saw only that direction still is.

use super::{printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Family name.
const FAMILY: &str = "ssh";
/// Identification string prefix (RFC 4253 §4.2).
const IDENT_PREFIX: &[u8] = b"SSH-";
/// Longest identification line including CR LF (RFC 4253 §4.2).
const IDENT_MAX: usize = 255;
/// protoversion values in use: 2.0 (RFC 4253), 1.99 (RFC 4253 §5.1), 1.5 and 1.3 (protocol 1).
const PROTO_VERSIONS: [&[u8]; 4] = [b"2.0", b"1.99", b"1.5", b"1.3"];
/// protoversions of the obsolete SSH protocol 1 (RFC 4253 §5.1 compatibility).
const PROTO_V1: [&[u8]; 2] = [b"1.5", b"1.3"];
/// Text lines a server may send before its identification that are looked through (§4.2).
const PREAMBLE_LINES_MAX: usize = 4;
/// Bytes of an identification line shown as evidence.
const MAX_IDENT_EVIDENCE: usize = 96;

/// Recognises the SSH identification exchange.
pub(crate) struct Ssh;

impl Detector for Ssh {
    fn name(&self) -> &'static str {
        "ssh"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let client = view.to_server.data();
        let server = view.to_client.data();
        // A server preamble is only looked through when the client identified itself, so one
        // of the two streams starts with "SSH-" whenever this can match.
        if !client.starts_with(IDENT_PREFIX) && !server.starts_with(IDENT_PREFIX) {
            return None;
        }
        let c = ident_line(client, 0);
        let s_direct = ident_line(server, 0);
        let s = s_direct.or_else(|| c.and_then(|_| ident_line(server, PREAMBLE_LINES_MAX)));
        match (c, s) {
            (Some(c), Some(s)) => {
                let mut v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake)
                    .with(format!("client {}", printable(c.line, MAX_IDENT_EVIDENCE)))
                    .with(format!("server {}", printable(s.line, MAX_IDENT_EVIDENCE)));
                if s.preamble > 0 {
                    v = v.with(format!(
                        "server sent {} text line(s) before its identification",
                        s.preamble
                    ));
                }
                Some(protocol_1_note(v, &[c, s]).done())
            }
            (Some(c), None) => Some(one_side("client", c)),
            // Decided in `conclude`, once the client has had its say.
            (None, Some(_)) | (None, None) => None,
        }
    }

    fn conclude(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let client = view.to_server.data();
        let server = view.to_client.data();
        if !may_be_ident(client) || ident_line(client, 0).is_some() {
            // The client spoke something else, or `inspect` has judged both sides.
            return None;
        }
        ident_line(server, 0).map(|s| one_side("server", s))
    }
}

/// Whether a client stream can still be, or begin, an identification line: empty, or starting
/// with "SSH-" or a prefix of it (the line may be cut by the end of inspection). Empty lines
/// before it are no other protocol (someone pressing Enter at a terminal connected to the port)
/// and are passed over.
fn may_be_ident(client: &[u8]) -> bool {
    let start = client
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(client.len());
    let rest = client.get(start..).unwrap_or_default();
    let n = rest.len().min(IDENT_PREFIX.len());
    rest.get(..n) == IDENT_PREFIX.get(..n)
}

/// A parsed identification line.
#[derive(Clone, Copy)]
struct Ident<'a> {
    /// The line without its line end.
    line: &'a [u8],
    proto: &'a [u8],
    /// Lines before it (server preamble).
    preamble: usize,
}

fn one_side(role: &str, id: Ident<'_>) -> Verdict {
    let v = Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature)
        .with(format!("{role} {}", printable(id.line, MAX_IDENT_EVIDENCE)));
    protocol_1_note(v, &[id])
}

fn protocol_1_note(v: Verdict, ids: &[Ident<'_>]) -> Verdict {
    if ids.iter().any(|i| PROTO_V1.contains(&i.proto)) {
        v.with("SSH protocol 1 offered (obsolete, RFC 4253 §5.1)")
    } else {
        v
    }
}

/// Finds the identification line at the start of `b`, looking through at most `preamble_max`
/// earlier lines. `None` until a complete, valid line is present.
fn ident_line(b: &[u8], preamble_max: usize) -> Option<Ident<'_>> {
    let mut rest = b;
    for preamble in 0..=preamble_max {
        let window = rest.get(..rest.len().min(IDENT_MAX))?;
        let lf = window.iter().position(|&c| c == b'\n')?;
        let (line, tail) = rest.split_at_checked(lf)?;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(IDENT_PREFIX) {
            let proto = parse_ident(line)?;
            return Some(Ident {
                line,
                proto,
                preamble,
            });
        }
        // §4.2: preamble lines are text; binary data means this is not SSH.
        if line.contains(&0) {
            return None;
        }
        rest = tail.get(1..)?;
    }
    None
}

/// Validates `SSH-protoversion-softwareversion[ SP comments]`; returns protoversion.
fn parse_ident(line: &[u8]) -> Option<&[u8]> {
    let body = line.get(IDENT_PREFIX.len()..)?;
    let dash = body.iter().position(|&c| c == b'-')?;
    let (proto, rest) = body.split_at_checked(dash)?;
    if !PROTO_VERSIONS.contains(&proto) {
        return None;
    }
    let rest = rest.get(1..)?;
    let (software, comments) = match rest.iter().position(|&c| c == b' ') {
        Some(sp) => {
            let (s, c) = rest.split_at_checked(sp)?;
            (s, c.get(1..)?)
        }
        None => (rest, &[][..]),
    };
    let software_ok = !software.is_empty() && software.iter().all(u8::is_ascii_graphic);
    let comments_ok = comments.iter().all(|&c| c.is_ascii_graphic() || c == b' ');
    (software_ok && comments_ok).then_some(proto)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Ssh.inspect(&b.view())
    }

    #[test]
    fn both_identifications_make_a_handshake() {
        let b = ViewBuilder::tcp(50000, 22)
            .to_client(b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n")
            .to_server(b"SSH-2.0-OpenSSH_9.7\r\n\x00\x00\x05\xdc\x06\x14");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert_eq!(v.evidence[0], "client SSH-2.0-OpenSSH_9.7");
        assert_eq!(
            v.evidence[1],
            "server SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13"
        );
    }

    #[test]
    fn one_side_is_a_signature_on_any_port() {
        // The server's side is judged when inspection ends.
        let b = ViewBuilder::tcp(50000, 8022).to_client(b"SSH-1.99-Cisco-1.25\r\n");
        assert!(run(&b).is_none());
        let v = Ssh.conclude(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(!v.complete);
        assert_eq!(v.evidence[0], "server SSH-1.99-Cisco-1.25");
        // The client may speak first.
        let b = ViewBuilder::tcp(50000, 443).to_server(b"SSH-2.0-dropbear_2018.76\n");
        assert_eq!(
            run(&b).unwrap().evidence[0],
            "client SSH-2.0-dropbear_2018.76"
        );
    }

    /// An HTTP request to an SSH server (and the server's complaint about it) is not an SSH
    /// session; an empty line, or a client identification cut by the end of inspection, still
    /// fits one.
    #[test]
    fn a_server_identification_answered_by_another_protocol_is_not_ssh() {
        let server =
            &b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.8\r\nInvalid SSH identification string.\r\n"
                [..];
        for client in [
            &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
            b"\x16\x03\x01",
            b"G",
            b"SSX",
        ] {
            let b = ViewBuilder::tcp(50000, 22)
                .to_client(server)
                .to_server(client);
            assert!(run(&b).is_none());
            assert!(Ssh.conclude(&b.view()).is_none(), "{client:?}");
        }
        // A client that only sent an empty line, or whose identification was cut short.
        for cut in [&b"\r\n"[..], b"S", b"SSH-", b"SSH-2.0-Open"] {
            let b = ViewBuilder::tcp(50000, 22).to_client(server).to_server(cut);
            let v = Ssh.conclude(&b.view()).unwrap();
            assert_eq!(
                v.evidence[0],
                "server SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.8"
            );
        }
        // Both identifications are judged by `inspect` alone.
        let both = ViewBuilder::tcp(50000, 22)
            .to_client(server)
            .to_server(b"SSH-2.0-PuTTY_Release_0.80\r\n");
        assert!(Ssh.conclude(&both.view()).is_none());
        assert_eq!(run(&both).unwrap().confidence, Confidence::Handshake);
    }

    #[test]
    fn protocol_1_is_named() {
        let b = ViewBuilder::tcp(50000, 22)
            .to_client(b"SSH-1.5-OpenSSH_6.2\r\n")
            .to_server(b"SSH-1.5-OpenSSH_5.3\r\n");
        let v = run(&b).unwrap();
        assert!(v.evidence[2].contains("protocol 1"));
    }

    #[test]
    fn server_preamble_needs_the_client_identification() {
        let server = b"Access restricted\r\nSSH-2.0-OpenSSH_8.0\r\n";
        let alone = ViewBuilder::tcp(50000, 22).to_client(server);
        assert!(run(&alone).is_none());
        let both = ViewBuilder::tcp(50000, 22)
            .to_client(server)
            .to_server(b"SSH-2.0-PuTTY_Release_0.80\r\n");
        let v = run(&both).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[2].contains("1 text line"));
    }

    #[test]
    fn malformed_identifications_do_not_match() {
        for bad in [
            &b"SSH-3.0-Foo\r\n"[..],
            b"SSH-2.0-\r\n",
            b"SSH-2.0-Open SSH\x01\r\n",
            b"SSH-2.0 OpenSSH\r\n",
            b"SSH-2.0-Foo\xff\r\n",
        ] {
            assert!(run(&ViewBuilder::tcp(1, 22).to_client(bad)).is_none());
        }
        // No line end within 255 bytes.
        let mut long = b"SSH-2.0-".to_vec();
        long.resize(400, b'a');
        long.extend_from_slice(b"\r\n");
        assert!(run(&ViewBuilder::tcp(1, 22).to_client(&long)).is_none());
    }

    #[test]
    fn prefixes_never_panic_or_match() {
        let full = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n";
        for n in 0..full.len() - 1 {
            let b = ViewBuilder::tcp(1, 22).to_client(&full[..n]);
            assert!(run(&b).is_none(), "{n}");
            assert!(Ssh.conclude(&b.view()).is_none(), "{n}");
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        let http = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\nSSH-2.0-in-a-body\r\n";
        let tls = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00";
        let smtp = b"220 mail.example.com ESMTP\r\n";
        for p in [&http[..], &tls[..], &smtp[..]] {
            let b = ViewBuilder::tcp(1, 22)
                .to_client(p)
                .to_server(b"GET / HTTP/1.1\r\n\r\n");
            assert!(run(&b).is_none());
        }
        let udp = ViewBuilder::udp(1, 22).to_server(b"SSH-2.0-x\r\n");
        assert!(run(&udp).is_none());
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
            let lead: &[u8] = if lead { b"SSH-2.0-" } else { b"" };
            let b = ViewBuilder::tcp(1023, 22).noise(lead, &a, &down, &tail);
            let _ = Ssh.inspect(&b.view());
            let _ = Ssh.conclude(&b.view());
        }
    }
}
