//! Telnet: option negotiation at the start of the stream (RFC 854, RFC 855).
//!
//! Telnet carries commands in-band after the IAC byte 0xFF (RFC 854 "TELNET COMMAND STRUCTURE"):
//! WILL 0xFB, WONT 0xFC, DO 0xFD, DONT 0xFE followed by one option byte, subnegotiation
//! `IAC SB option … IAC SE` (RFC 855), and two-byte commands (NOP, GA, …). Clients and most
//! servers open with a burst of negotiations (TERMINAL-TYPE 24 of RFC 1091, NAWS 31 of RFC 1073,
//! TERMINAL-SPEED 32 of RFC 1079, NEW-ENVIRON 39 of RFC 1572, …) before any text, which is what
//! nDPI and Wireshark key on.
//!
//! Here a stream must start with IAC and every command up to the first text byte must be
//! well-formed: a known command code, an option number assigned by IANA ("Telnet Options"
//! registry: 0–49, 138–140, 255), subnegotiations closed by IAC SE within a bound. Two or more
//! negotiations from one side are a Signature, negotiations from both sides a Handshake. A single
//! negotiation is too little to tell from chance, so it counts only towards a Heuristic and only
//! when the responder port is 23, which the evidence then says. Telnet without any negotiation
//! (a bare login prompt) is left to the port hints.

use super::{be16, printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Family name.
const FAMILY: &str = "telnet";
/// Interpret As Command (RFC 854).
const IAC: u8 = 0xFF;
/// Subnegotiation begin (RFC 855).
const SB: u8 = 0xFA;
/// Subnegotiation end (RFC 855).
const SE: u8 = 0xF0;
/// WILL (RFC 854).
const WILL: u8 = 0xFB;
/// DONT, the highest negotiation verb (RFC 854).
const DONT: u8 = 0xFE;
/// Two-byte commands NOP 241 through GA 249 (RFC 854).
const SIMPLE_COMMANDS: std::ops::RangeInclusive<u8> = 0xF1..=0xF9;
/// Longest subnegotiation accepted, IAC SB … IAC SE included (terminal types and environment
/// variables are short; RFC 1091 §4 limits a terminal type to 40 characters).
const SUBNEG_MAX: usize = 512;
/// TERMINAL-TYPE option (RFC 1091).
const OPT_TERMINAL_TYPE: u8 = 24;
/// NAWS option (RFC 1073).
const OPT_NAWS: u8 = 31;
/// Subnegotiation qualifier IS (RFC 1091 §4).
const IS: u8 = 0;
/// Telnet service port (RFC 854), a gate only for the weakest form.
const TELNET_PORT: u16 = 23;
/// Negotiations on one side needed for a Signature.
const SIGNATURE_MIN: usize = 2;
/// Negotiations listed per side in the evidence.
const MAX_NAMED: usize = 6;
/// Bytes of a terminal type shown as evidence.
const MAX_TERMINAL_EVIDENCE: usize = 40;

/// Recognises telnet option negotiation.
pub(crate) struct Telnet;

impl Detector for Telnet {
    fn name(&self) -> &'static str {
        "telnet"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let up = view.to_server.data();
        let down = view.to_client.data();
        if up.first() != Some(&IAC) && down.first() != Some(&IAC) {
            return None;
        }
        let (nu, nd) = (count(up)?, count(down)?);
        let confidence = if nu > 0 && nd > 0 && nu + nd > SIGNATURE_MIN {
            Confidence::Handshake
        } else if nu >= SIGNATURE_MIN || nd >= SIGNATURE_MIN {
            Confidence::Signature
        } else if nu + nd > 0 && view.server.port() == TELNET_PORT {
            Confidence::Heuristic
        } else {
            return None;
        };
        let mut v = Verdict::new(Kind::RemoteAccess, FAMILY, confidence);
        for (who, data, n) in [("initiator", up, nu), ("responder", down, nd)] {
            if n > 0 {
                v = describe(v, who, data, n);
            }
        }
        Some(match confidence {
            Confidence::Handshake => v.done(),
            Confidence::Heuristic => v.with("responder port 23 (single negotiation)"),
            _ => v,
        })
    }
}

/// One command at the start of a stream.
enum Cmd<'a> {
    /// WILL/WONT/DO/DONT and the option.
    Negotiate(u8, u8),
    /// IAC SB option … IAC SE: the option and the raw bytes between.
    Sub(u8, &'a [u8]),
    /// NOP, GA and the other two-byte commands.
    Simple,
}

/// Walks the leading commands of a stream. `Err(())` on the first malformed one.
struct Commands<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Commands<'a> {
    type Item = Result<Cmd<'a>, ()>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.first() != Some(&IAC) {
            return None;
        }
        let code = *self.rest.get(1)?;
        let parsed = match code {
            WILL..=DONT => {
                let opt = *self.rest.get(2)?;
                known_option(opt).then_some((Cmd::Negotiate(code, opt), 3))
            }
            SB => subnegotiation(self.rest)?.ok(),
            c if SIMPLE_COMMANDS.contains(&c) => Some((Cmd::Simple, 2)),
            // IAC IAC is a data byte: text starts here.
            IAC => return None,
            _ => None,
        };
        let Some((cmd, len)) = parsed else {
            self.rest = &[];
            return Some(Err(()));
        };
        self.rest = self.rest.get(len..).unwrap_or_default();
        Some(Ok(cmd))
    }
}

/// Parses `IAC SB opt … IAC SE` at the start of `b`: `None` while incomplete, `Some(Err)` when
/// malformed, else the command and its length in bytes.
fn subnegotiation(b: &[u8]) -> Option<Result<(Cmd<'_>, usize), ()>> {
    let opt = *b.get(2)?;
    if !known_option(opt) {
        return Some(Err(()));
    }
    let body = b.get(3..b.len().min(SUBNEG_MAX))?;
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        if c == IAC {
            match body.get(i + 1) {
                Some(&SE) => return Some(Ok((Cmd::Sub(opt, body.get(..i)?), 3 + i + 2))),
                Some(&IAC) => i += 2,
                Some(_) => return Some(Err(())),
                None => break,
            }
        } else {
            i += 1;
        }
    }
    // Not closed: malformed once the bound is reached, otherwise wait for more bytes.
    if b.len() >= SUBNEG_MAX {
        Some(Err(()))
    } else {
        None
    }
}

/// Options assigned in the IANA "Telnet Options" registry.
fn known_option(opt: u8) -> bool {
    matches!(opt, 0..=49 | 138..=140 | 255)
}

/// Negotiations (WILL/WONT/DO/DONT/SB) at the start of `b`; `None` if any command is malformed.
fn count(b: &[u8]) -> Option<usize> {
    let mut n = 0;
    for cmd in (Commands { rest: b }) {
        match cmd.ok()? {
            Cmd::Negotiate(..) | Cmd::Sub(..) => n += 1,
            Cmd::Simple => {}
        }
    }
    Some(n)
}

fn verb_name(code: u8) -> &'static str {
    match code {
        0xFB => "WILL",
        0xFC => "WONT",
        0xFD => "DO",
        _ => "DONT",
    }
}

/// Option names from the IANA registry (RFC 856–1572 and successors).
fn option_name(opt: u8) -> String {
    let name = match opt {
        0 => "BINARY",
        1 => "ECHO",
        3 => "SUPPRESS-GO-AHEAD",
        5 => "STATUS",
        6 => "TIMING-MARK",
        24 => "TERMINAL-TYPE",
        31 => "NAWS",
        32 => "TERMINAL-SPEED",
        33 => "TOGGLE-FLOW-CONTROL",
        34 => "LINEMODE",
        35 => "X-DISPLAY-LOCATION",
        36 => "ENVIRON",
        37 => "AUTHENTICATION",
        38 => "ENCRYPT",
        39 => "NEW-ENVIRON",
        _ => return format!("option {opt}"),
    };
    name.to_string()
}

/// Adds one side's negotiations, terminal type and window size to `v`.
fn describe(mut v: Verdict, who: &str, data: &[u8], n: usize) -> Verdict {
    let mut named = Vec::new();
    let mut extra = Vec::new();
    for cmd in (Commands { rest: data }).map_while(Result::ok) {
        match cmd {
            Cmd::Negotiate(verb, opt) if named.len() < MAX_NAMED => {
                named.push(format!("{} {}", verb_name(verb), option_name(opt)));
            }
            Cmd::Sub(OPT_TERMINAL_TYPE, body) if body.first() == Some(&IS) => {
                let term = body.get(1..).unwrap_or_default();
                extra.push(format!(
                    "terminal type {}",
                    printable(term, MAX_TERMINAL_EVIDENCE)
                ));
            }
            Cmd::Sub(OPT_NAWS, body) => {
                if let (Some(w), Some(h)) = (be16(body, 0), be16(body, 2)) {
                    extra.push(format!("window size {w}x{h} (NAWS)"));
                }
            }
            Cmd::Sub(opt, _) if named.len() < MAX_NAMED => {
                named.push(format!("SB {}", option_name(opt)));
            }
            _ => {}
        }
    }
    let more = n.saturating_sub(named.len());
    let tail = if more > 0 {
        format!(" (+{more} more)")
    } else {
        String::new()
    };
    v = v.with(format!("{who} IAC negotiation: {}{tail}", named.join(", ")));
    for e in extra.into_iter().take(2) {
        v = v.with(e);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Telnet.inspect(&b.view())
    }

    /// A client opening as BSD telnet does: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, WILL NAWS.
    const CLIENT_OPEN: &[u8] = b"\xff\xfd\x03\xff\xfb\x18\xff\xfb\x1f";

    #[test]
    fn one_side_with_several_negotiations_is_a_signature() {
        let v = run(&ViewBuilder::tcp(50000, 2323).to_server(CLIENT_OPEN)).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert_eq!(
            v.evidence[0],
            "initiator IAC negotiation: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, WILL NAWS"
        );
    }

    #[test]
    fn both_sides_make_a_handshake_with_terminal_details() {
        let b = ViewBuilder::tcp(50000, 23)
            .to_server(CLIENT_OPEN)
            .to_client(b"\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0")
            // SB TERMINAL-TYPE IS "xterm-color", SB NAWS 80x24 (RFC 1091 §4, RFC 1073).
            .to_server(b"\xff\xfa\x18\x00xterm-color\xff\xf0\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert_eq!(
            v.evidence[0],
            "initiator IAC negotiation: DO SUPPRESS-GO-AHEAD, WILL TERMINAL-TYPE, WILL NAWS (+2 more)"
        );
        assert_eq!(
            v.evidence[3],
            "responder IAC negotiation: DO TERMINAL-TYPE, SB TERMINAL-TYPE"
        );
        assert!(v.evidence.iter().any(|e| e == "terminal type xterm-color"));
        assert!(v.evidence.iter().any(|e| e == "window size 80x24 (NAWS)"));
    }

    #[test]
    fn single_negotiation_needs_port_23() {
        let one = b"\xff\xfd\x25";
        assert!(run(&ViewBuilder::tcp(50000, 2323).to_client(one)).is_none());
        let v = run(&ViewBuilder::tcp(50000, 23).to_client(one)).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        assert!(v.evidence[1].contains("port 23"));
    }

    #[test]
    fn malformed_sequences_do_not_match() {
        for bad in [
            &b"\xff\xfb\x60\xff\xfb\x18"[..], // option 96 is unassigned
            b"\xff\xfb\x18\xff\x10",          // unknown command
            b"\xff\xfa\x18\x00xterm\xff\x41", // IAC inside SB not followed by SE
            b"\xff\xf0\xff\xfb\x18",          // SE without SB
        ] {
            assert!(run(&ViewBuilder::tcp(1, 23).to_server(bad)).is_none());
        }
        let mut open_sb = b"\xff\xfa\x18\x00".to_vec();
        open_sb.resize(SUBNEG_MAX + 10, b'a');
        assert!(run(&ViewBuilder::tcp(1, 23).to_server(&open_sb)).is_none());
    }

    #[test]
    fn text_after_negotiation_is_fine() {
        let mut s = CLIENT_OPEN.to_vec();
        s.extend_from_slice(b"root\r\n");
        assert!(run(&ViewBuilder::tcp(1, 2323).to_server(&s)).is_some());
    }

    #[test]
    fn prefixes_never_panic_or_strengthen() {
        let full = b"\xff\xfb\x18\xff\xfa\x18\x00vt100\xff\xf0";
        for n in 0..full.len() {
            let b = ViewBuilder::tcp(1, 2323).to_server(&full[..n]);
            let got = run(&b).map(|v| v.confidence);
            assert!(got.is_none() || got == Some(Confidence::Signature), "{n}");
        }
        assert!(run(&ViewBuilder::tcp(1, 2323).to_server(&full[..3])).is_none());
    }

    #[test]
    fn other_protocols_do_not_match() {
        let jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF";
        for p in [
            &jpeg[..],
            b"GET / HTTP/1.1\r\n\r\n",
            b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
            &[0xff; 64][..],
        ] {
            assert!(run(&ViewBuilder::tcp(1, 23).to_server(p).to_client(p)).is_none());
        }
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
            let lead: &[u8] = if lead { b"\xff\xfb\x18" } else { b"" };
            let b = ViewBuilder::tcp(1023, 23).noise(lead, &a, &down, &tail);
            let _ = Telnet.inspect(&b.view());
        }
    }
}
