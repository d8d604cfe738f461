//! BSD r-commands: rexec (TCP 512), rlogin (TCP 513) and rsh (TCP 514).
//!
//! None of them has a header or magic number; the client opens with NUL-terminated strings
//! (rcmd(3), rshd(8), rexecd(8), rlogind(8); rlogin also RFC 1282 §3):
//!
//! - rsh:    `stderr-port\0 local-user\0 remote-user\0 command\0`
//! - rexec:  `stderr-port\0 user\0 password\0 command\0`
//! - rlogin: `\0 local-user\0 remote-user\0 terminal-type/speed\0`
//!
//! and the server answers a single `\0` byte on success, or `\x01` followed by an error line.
//! The stderr port is decimal digits (empty or "0" when no second connection is wanted).
//!
//! Because the format is loose, the responder port is a required gate (each service is told
//! apart by its port, as rshd/rexecd/rlogind are) and the exact structure must hold: the right
//! number of NUL-terminated fields, digits in the port, printable user names and command within
//! bounds, and nothing else before the server has answered. Port + structure is a Signature;
//! the server's one-byte answer makes it a Handshake. User names and the command are evidence
//! (bounded); the rexec password never is.

use super::{printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Family name.
const FAMILY: &str = "rsh";
/// rexec service port (IANA "exec", rexecd(8)).
const REXEC_PORT: u16 = 512;
/// rlogin service port (IANA "login", RFC 1282).
const RLOGIN_PORT: u16 = 513;
/// rsh service port (IANA "shell", rshd(8)).
const RSH_PORT: u16 = 514;
/// Highest reserved port a client binds with rresvport(3), and the lowest it tries.
const RESERVED_PORTS: std::ops::RangeInclusive<u16> = 512..=1023;
/// Fields of an rsh or rexec opening (rcmd(3), rexec(3)).
const FIELDS: usize = 4;
/// Fields of an rlogin opening after its leading NUL (RFC 1282 §3).
const RLOGIN_FIELDS: usize = 3;
/// Longest stderr port string ("65535").
const PORT_DIGITS_MAX: usize = 5;
/// Longest user name accepted (rshd truncates at 16 on old systems; 64 is generous).
const USER_MAX: usize = 64;
/// Longest rexec password accepted.
const PASSWORD_MAX: usize = 128;
/// Longest command or terminal/speed field accepted within the kept stream prefix.
const COMMAND_MAX: usize = 2048;
/// Longest terminal-type/speed string (RFC 1282 §3 gives e.g. "bellcore-3/9600").
const TERMINAL_MAX: usize = 64;
/// Server answer: success (rshd(8), RFC 1282 §3).
const ANSWER_OK: u8 = 0;
/// Server answer: error, a message line follows (rshd(8)).
const ANSWER_ERROR: u8 = 1;
/// Bytes of a user name shown as evidence.
const MAX_USER_EVIDENCE: usize = 32;
/// Bytes of a command shown as evidence.
const MAX_COMMAND_EVIDENCE: usize = 64;
/// Bytes of a server error line shown as evidence.
const MAX_ERROR_EVIDENCE: usize = 64;

/// Recognises rsh, rexec and rlogin openings on their service ports.
pub(crate) struct Rsh;

impl Detector for Rsh {
    fn name(&self) -> &'static str {
        "rsh"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let service = match view.server.port() {
            RSH_PORT => Service::Rsh,
            REXEC_PORT => Service::Rexec,
            RLOGIN_PORT => Service::Rlogin,
            _ => return None,
        };
        let client = view.to_server.data();
        let (fields, rest) = split_fields(client, service)?;
        if !service.valid(&fields) {
            return None;
        }
        let answer = view.to_client.data();
        // rcmd(3), rexec(3) and rlogin send nothing more until the server has answered.
        if !rest.is_empty() && answer.is_empty() {
            return None;
        }
        let confidence = match answer.first() {
            Some(&ANSWER_OK) | Some(&ANSWER_ERROR) => Confidence::Handshake,
            None => Confidence::Signature,
            Some(_) => return None,
        };
        let mut v = Verdict::new(Kind::RemoteAccess, FAMILY, confidence);
        v = service.describe(v, &fields, view.server.port());
        if RESERVED_PORTS.contains(&view.client.port()) && service != Service::Rexec {
            v = v.with(format!(
                "client port {} is reserved (rresvport)",
                view.client.port()
            ));
        }
        Some(match answer.first() {
            Some(&ANSWER_OK) => v.with("server accepted (\\0)").done(),
            Some(&ANSWER_ERROR) => {
                let line = answer.get(1..).unwrap_or_default();
                let line = line.split(|&c| c == b'\n').next().unwrap_or_default();
                v.with(format!(
                    "server refused: {}",
                    printable(line, MAX_ERROR_EVIDENCE)
                ))
                .done()
            }
            _ => v,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Service {
    Rsh,
    Rexec,
    Rlogin,
}

/// Splits the client opening into its NUL-terminated fields (rlogin: leading NUL removed, the
/// fourth field left empty). `None` while incomplete or when a field is too long.
fn split_fields(b: &[u8], service: Service) -> Option<([&[u8]; FIELDS], &[u8])> {
    let (mut rest, n) = if service == Service::Rlogin {
        (b.strip_prefix(&[0u8])?, RLOGIN_FIELDS)
    } else {
        (b, FIELDS)
    };
    let mut fields: [&[u8]; FIELDS] = [&[]; FIELDS];
    for field in fields.iter_mut().take(n) {
        let window = rest.get(..rest.len().min(COMMAND_MAX + 1))?;
        let nul = window.iter().position(|&c| c == 0)?;
        let (f, tail) = rest.split_at_checked(nul)?;
        *field = f;
        rest = tail.get(1..)?;
    }
    Some((fields, rest))
}

impl Service {
    fn valid(self, f: &[&[u8]; FIELDS]) -> bool {
        let [a, b, c, d] = *f;
        match self {
            Service::Rsh => port_field(a) && user(b) && user(c) && command(d),
            Service::Rexec => port_field(a) && user(b) && c.len() <= PASSWORD_MAX && command(d),
            Service::Rlogin => user(a) && user(b) && terminal(c) && d.is_empty(),
        }
    }

    fn describe(self, v: Verdict, f: &[&[u8]; FIELDS], port: u16) -> Verdict {
        let [a, b, c, d] = *f;
        let u = |x: &[u8]| printable(x, MAX_USER_EVIDENCE);
        match self {
            Service::Rsh => v
                .with(format!(
                    "rsh request on port {port}: local user {}, remote user {}",
                    u(b),
                    u(c)
                ))
                .with(format!("command {}", printable(d, MAX_COMMAND_EVIDENCE)))
                .with(stderr_fact(a)),
            Service::Rexec => v
                .with(format!(
                    "rexec request on port {port}: user {}, password sent in clear ({} bytes, not shown)",
                    u(b),
                    c.len()
                ))
                .with(format!("command {}", printable(d, MAX_COMMAND_EVIDENCE)))
                .with(stderr_fact(a)),
            Service::Rlogin => v.with(format!(
                "rlogin request on port {port}: local user {}, remote user {}, terminal {}",
                u(a),
                u(b),
                printable(c, TERMINAL_MAX)
            )),
        }
    }
}

/// Names the stderr back-connection port.
fn stderr_fact(port: &[u8]) -> String {
    if port.is_empty() || port == b"0" {
        "no stderr connection requested".to_string()
    } else {
        format!(
            "stderr connection requested to port {}",
            printable(port, PORT_DIGITS_MAX)
        )
    }
}

/// Decimal port, possibly empty (rcmd(3) sends "0" or nothing without a stderr channel).
fn port_field(f: &[u8]) -> bool {
    f.len() <= PORT_DIGITS_MAX
        && f.iter().all(u8::is_ascii_digit)
        && f.iter().fold(0u32, |n, &c| n * 10 + u32::from(c - b'0')) <= u32::from(u16::MAX)
}

/// A user name: 1..=USER_MAX graphic ASCII characters.
fn user(f: &[u8]) -> bool {
    !f.is_empty() && f.len() <= USER_MAX && f.iter().all(u8::is_ascii_graphic)
}

/// A command line: printable text with spaces and tabs.
fn command(f: &[u8]) -> bool {
    !f.is_empty()
        && f.len() <= COMMAND_MAX
        && f.iter()
            .all(|&c| c.is_ascii_graphic() || c == b' ' || c == b'\t')
}

/// `terminal-type/speed` (RFC 1282 §3): graphic characters, a '/', decimal speed.
fn terminal(f: &[u8]) -> bool {
    let Some(slash) = f.iter().rposition(|&c| c == b'/') else {
        return false;
    };
    let Some((term, speed)) = f.split_at_checked(slash) else {
        return false;
    };
    let speed = speed.get(1..).unwrap_or_default();
    f.len() <= TERMINAL_MAX
        && !term.is_empty()
        && term.iter().all(u8::is_ascii_graphic)
        && !speed.is_empty()
        && speed.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Rsh.inspect(&b.view())
    }

    #[test]
    fn rsh_request_and_answer() {
        let b = ViewBuilder::tcp(1023, 514)
            .to_server(b"1022\0")
            .to_server(b"alice\0root\0mkdir testdir\0");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert_eq!(
            v.evidence[0],
            "rsh request on port 514: local user alice, remote user root"
        );
        assert_eq!(v.evidence[1], "command mkdir testdir");
        assert_eq!(v.evidence[2], "stderr connection requested to port 1022");
        assert!(v.evidence[3].contains("reserved"));
        let v = run(&b.to_client(b"\x01Password incorrect.\n")).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert_eq!(v.evidence[4], "server refused: Password incorrect.");
    }

    #[test]
    fn rlogin_request() {
        let b = ViewBuilder::tcp(1021, 513)
            .to_server(b"\0alice\0alice\0xterm/38400\0")
            .to_client(b"\0");
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[0].contains("terminal xterm/38400"));
    }

    #[test]
    fn rexec_hides_the_password() {
        let b = ViewBuilder::tcp(40000, 512).to_server(b"0\0bob\0hunter2\0uptime\0");
        let v = run(&b).unwrap();
        assert!(v.evidence.iter().all(|e| !e.contains("hunter2")));
        assert!(v.evidence[0].contains("7 bytes, not shown"));
        assert_eq!(v.evidence[2], "no stderr connection requested");
    }

    #[test]
    fn port_is_required() {
        let b = ViewBuilder::tcp(1023, 8514).to_server(b"1022\0alice\0root\0ls\0");
        assert!(run(&b).is_none());
    }

    #[test]
    fn structure_is_required() {
        for bad in [
            &b"10x2\0alice\0root\0ls\0"[..],                    // port not digits
            b"99999\0alice\0root\0ls\0",                        // port out of range
            b"1022\0al ice\0root\0ls\0",                        // space in a user name
            b"1022\0\0root\0ls\0",                              // empty user
            b"1022\0alice\0root\0\0",                           // empty command
            b"1022\0alice\0root\0ls\x01\0",                     // control byte in command
            b"<34>Oct 11 22:14:15 host su: 'su root' failed\n", // syslog over TCP
        ] {
            assert!(run(&ViewBuilder::tcp(1023, 514).to_server(bad)).is_none());
        }
        let bad = ViewBuilder::tcp(1023, 514)
            .to_server(b"1022\0alice\0root\0ls\0")
            .to_client(b"HTTP/1.1 400 Bad Request\r\n");
        assert!(run(&bad).is_none());
        let rlogin = ViewBuilder::tcp(1023, 513).to_server(b"\0alice\0alice\0xterm\0");
        assert!(run(&rlogin).is_none());
    }

    #[test]
    fn prefixes_never_panic_or_match() {
        let full = b"1022\0alice\0root\0mkdir testdir\0";
        for n in 0..full.len() {
            assert!(run(&ViewBuilder::tcp(1023, 514).to_server(&full[..n])).is_none());
        }
    }

    #[test]
    fn other_protocols_do_not_match() {
        for p in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            &[0u8; 64][..],
        ] {
            for port in [512, 513, 514] {
                assert!(run(&ViewBuilder::tcp(1023, port).to_server(p)).is_none());
            }
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
            let lead: &[u8] = if lead { b"1022\0" } else { b"" };
            let b = ViewBuilder::tcp(1023, 514).noise(lead, &a, &down, &tail);
            let _ = Rsh.inspect(&b.view());
            let b = ViewBuilder::tcp(1023, 513).noise(lead, &a, &down, &tail);
            let _ = Rsh.inspect(&b.view());
            let b = ViewBuilder::tcp(1023, 512).noise(lead, &a, &down, &tail);
            let _ = Rsh.inspect(&b.view());
        }
    }
}
