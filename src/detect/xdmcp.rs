//! XDMCP: X Display Manager Control Protocol 1.1 (X Consortium, "XDMCP" §§7–10), UDP port 177.
//!
//! Every message starts with a 6-byte header of big-endian CARD16s: version (1), opcode
//! (BroadcastQuery 1 … Alive 14) and length, the number of bytes after the header (§9). The body
//! of each opcode is a fixed sequence of CARD8/16/32 and counted arrays (ARRAY8 = CARD16 length +
//! bytes, ARRAY16 = CARD8 count + CARD16s, ARRAYofARRAY8 = CARD8 count + ARRAY8s; §9.1).
//!
//! A message counts when the header version is 1, the opcode is defined, the length equals the
//! datagram length minus the header exactly, and the body walks field by field to exactly that
//! length: a Signature. A request from the initiator answered by its reply from the responder
//! (Query → Willing/Unwilling, Request → Accept/Decline, Manage → Refuse/Failed,
//! KeepAlive → Alive) is the Handshake. The port is not needed: the structure is stronger.

use super::{be16, be32, printable, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// Family name.
const FAMILY: &str = "xdmcp";
/// Protocol version in the header (XDMCP §9).
const XDMCP_VERSION: u16 = 1;
/// Header length: version, opcode, length (XDMCP §9).
const HEADER_LEN: usize = 6;
/// Bytes of a string field (status, hostname, display class) shown as evidence.
const MAX_STRING_EVIDENCE: usize = 48;
/// Datagrams per direction looked at.
const DATAGRAMS_MAX: usize = 4;

/// Opcodes (XDMCP §10).
const BROADCAST_QUERY: u16 = 1;
const QUERY: u16 = 2;
const INDIRECT_QUERY: u16 = 3;
const FORWARD_QUERY: u16 = 4;
const WILLING: u16 = 5;
const UNWILLING: u16 = 6;
const REQUEST: u16 = 7;
const ACCEPT: u16 = 8;
const DECLINE: u16 = 9;
const MANAGE: u16 = 10;
const REFUSE: u16 = 11;
const FAILED: u16 = 12;
const KEEP_ALIVE: u16 = 13;
const ALIVE: u16 = 14;

/// Recognises XDMCP messages and request/reply pairs.
pub(crate) struct Xdmcp;

impl Detector for Xdmcp {
    fn name(&self) -> &'static str {
        "xdmcp"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::UDP {
            return None;
        }
        let first = view.to_server.first().or_else(|| view.to_client.first())?;
        if be16(first, 0)? != XDMCP_VERSION {
            return None;
        }
        let up = messages(&view.to_server);
        let down = messages(&view.to_client);
        let pair = up.iter().flatten().find_map(|q| {
            down.iter()
                .flatten()
                .find(|r| answers(q.opcode, r.opcode))
                .map(|r| (q, r))
        });
        if let Some((q, r)) = pair {
            return Some(
                Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Handshake)
                    .with(q.describe("initiator"))
                    .with(r.describe("responder"))
                    .done(),
            );
        }
        let (who, m) = match up.iter().flatten().next() {
            Some(m) => ("initiator", m),
            None => ("responder", down.iter().flatten().next()?),
        };
        Some(Verdict::new(Kind::RemoteAccess, FAMILY, Confidence::Signature).with(m.describe(who)))
    }
}

/// A validated message: opcode, body length and one descriptive field.
struct Message<'a> {
    opcode: u16,
    len: usize,
    detail: Detail<'a>,
}

/// The field worth showing for an opcode.
enum Detail<'a> {
    None,
    Status(&'a [u8]),
    Display(u16, &'a [u8]),
    Session(u32),
    Authorization(&'a [u8]),
}

impl Message<'_> {
    fn describe(&self, who: &str) -> String {
        let name = opcode_name(self.opcode);
        let head = format!("{who} XDMCP {name} (version 1, {}-byte body)", self.len);
        let show = |b: &[u8]| printable(b, MAX_STRING_EVIDENCE);
        match self.detail {
            Detail::None => head,
            Detail::Status(s) if !s.is_empty() => format!("{head}: status \"{}\"", show(s)),
            Detail::Status(_) => head,
            Detail::Display(n, class) => format!("{head}: display {n}, class {}", show(class)),
            Detail::Session(id) => format!("{head}: session 0x{id:08x}"),
            Detail::Authorization(a) if !a.is_empty() => {
                format!("{head}: authorization {}", show(a))
            }
            Detail::Authorization(_) => head,
        }
    }
}

fn opcode_name(op: u16) -> &'static str {
    match op {
        BROADCAST_QUERY => "BroadcastQuery",
        QUERY => "Query",
        INDIRECT_QUERY => "IndirectQuery",
        FORWARD_QUERY => "ForwardQuery",
        WILLING => "Willing",
        UNWILLING => "Unwilling",
        REQUEST => "Request",
        ACCEPT => "Accept",
        DECLINE => "Decline",
        MANAGE => "Manage",
        REFUSE => "Refuse",
        FAILED => "Failed",
        KEEP_ALIVE => "KeepAlive",
        _ => "Alive",
    }
}

/// Whether `reply` is a reply to `request` (XDMCP §§7–8 state diagrams).
fn answers(request: u16, reply: u16) -> bool {
    matches!(
        (request, reply),
        (
            BROADCAST_QUERY | QUERY | INDIRECT_QUERY,
            WILLING | UNWILLING
        ) | (REQUEST, ACCEPT | DECLINE)
            | (MANAGE, REFUSE | FAILED)
            | (KEEP_ALIVE, ALIVE)
    )
}

/// The first datagrams of `side` that are valid messages.
fn messages<'a>(side: &Side<'a>) -> [Option<Message<'a>>; DATAGRAMS_MAX] {
    std::array::from_fn(|i| {
        side.segment(i)
            .zip(side.wire_len(i))
            .and_then(|(d, wire)| parse(d, wire))
    })
}

/// Parses one datagram whose payload is `wire_len` bytes on the wire.
fn parse(d: &[u8], wire_len: usize) -> Option<Message<'_>> {
    if be16(d, 0)? != XDMCP_VERSION {
        return None;
    }
    let opcode = be16(d, 2)?;
    let len = usize::from(be16(d, 4)?);
    if !(BROADCAST_QUERY..=ALIVE).contains(&opcode) || HEADER_LEN + len != wire_len {
        return None;
    }
    // A body cut by the capture prefix is checked as far as it was kept.
    let body = d.get(HEADER_LEN..)?;
    let complete = body.len() == len;
    let mut r = Reader { b: body, pos: 0 };
    let detail = body_fields(opcode, &mut r);
    match detail {
        Some(detail) if r.pos == len || (!complete && r.pos <= len) => Some(Message {
            opcode,
            len,
            detail,
        }),
        // Ran out of kept bytes inside the declared length: consistent as far as visible.
        None if !complete && r.pos >= body.len() && r.pos <= len => Some(Message {
            opcode,
            len,
            detail: Detail::None,
        }),
        _ => None,
    }
}

/// Walks the body of `opcode` (XDMCP §10); the reader ends at the last byte read.
fn body_fields<'a>(opcode: u16, r: &mut Reader<'a>) -> Option<Detail<'a>> {
    Some(match opcode {
        BROADCAST_QUERY | QUERY | INDIRECT_QUERY => {
            r.array_of_array8()?;
            Detail::None
        }
        FORWARD_QUERY => {
            r.array8()?;
            r.array8()?;
            r.array_of_array8()?;
            Detail::None
        }
        WILLING => {
            r.array8()?;
            r.array8()?;
            Detail::Status(r.array8()?)
        }
        UNWILLING => {
            r.array8()?;
            Detail::Status(r.array8()?)
        }
        REQUEST => {
            r.card(2)?;
            let n = r.card(1)?;
            r.skip(n * 2)?;
            r.array_of_array8()?;
            r.array8()?;
            r.array8()?;
            r.array_of_array8()?;
            r.array8()?;
            Detail::None
        }
        ACCEPT => {
            let session = r.card32()?;
            r.array8()?;
            r.array8()?;
            let authorization = r.array8()?;
            r.array8()?;
            if authorization.is_empty() {
                Detail::Session(session)
            } else {
                Detail::Authorization(authorization)
            }
        }
        DECLINE => {
            let status = r.array8()?;
            r.array8()?;
            r.array8()?;
            Detail::Status(status)
        }
        MANAGE => {
            r.card32()?;
            let display = u16::try_from(r.card(2)?).ok()?;
            Detail::Display(display, r.array8()?)
        }
        REFUSE => Detail::Session(r.card32()?),
        FAILED => {
            r.card32()?;
            Detail::Status(r.array8()?)
        }
        KEEP_ALIVE => {
            r.card(2)?;
            Detail::Session(r.card32()?)
        }
        _ => {
            r.card(1)?;
            Detail::Session(r.card32()?)
        }
    })
}

/// A bounds-checked cursor over a message body.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn skip(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.b.get(self.pos..end);
        // Advance even when cut short, so a truncated body can be told from a malformed one.
        self.pos = end;
        s
    }

    /// CARD8 or CARD16 (XDMCP §9.1).
    fn card(&mut self, n: usize) -> Option<usize> {
        let s = self.skip(n)?;
        Some(s.iter().fold(0, |v, &c| v << 8 | usize::from(c)))
    }

    /// CARD32 (XDMCP §9.1).
    fn card32(&mut self) -> Option<u32> {
        let s = self.skip(4)?;
        be32(s, 0)
    }

    /// ARRAY8: CARD16 length and bytes (XDMCP §9.1).
    fn array8(&mut self) -> Option<&'a [u8]> {
        let n = self.card(2)?;
        self.skip(n)
    }

    /// ARRAYofARRAY8: CARD8 count and ARRAY8s (XDMCP §9.1).
    fn array_of_array8(&mut self) -> Option<()> {
        let n = self.card(1)?;
        for _ in 0..n {
            self.array8()?;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::testing::ViewBuilder;

    fn run(b: &ViewBuilder) -> Option<Verdict> {
        Xdmcp.inspect(&b.view())
    }

    fn msg(opcode: u16, body: &[u8]) -> Vec<u8> {
        let mut m = XDMCP_VERSION.to_be_bytes().to_vec();
        m.extend_from_slice(&opcode.to_be_bytes());
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Query with no authentication names: ARRAYofARRAY8 count 0.
    fn query() -> Vec<u8> {
        msg(QUERY, &[0])
    }

    /// Willing: authentication-name "", hostname "", status "Willing to manage".
    fn willing() -> Vec<u8> {
        let mut b = vec![0, 0, 0, 0, 0, 17];
        b.extend_from_slice(b"Willing to manage");
        msg(WILLING, &b)
    }

    #[test]
    fn query_alone_is_a_signature() {
        let v = run(&ViewBuilder::udp(61426, 177).to_server(&query())).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert_eq!(
            v.evidence[0],
            "initiator XDMCP Query (version 1, 1-byte body)"
        );
    }

    #[test]
    fn query_and_willing_make_a_handshake() {
        let b = ViewBuilder::udp(61426, 177)
            .to_server(&query())
            .to_client(&willing());
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.complete);
        assert_eq!(
            v.evidence[1],
            "responder XDMCP Willing (version 1, 23-byte body): status \"Willing to manage\""
        );
    }

    #[test]
    fn request_accept_manage() {
        // Request: display 0, 1 connection type (0 = IPv4), 1 address (4 bytes), no
        // authentication, 1 authorization name, manufacturer id "".
        let mut req = vec![0, 0, 1, 0, 0, 1, 0, 4, 192, 0, 2, 10, 0, 0, 0, 0, 1, 0, 18];
        req.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
        req.extend_from_slice(&[0, 0]);
        // Accept: session id, auth name "", auth data "", authorization name, 16-byte cookie.
        let mut acc = vec![0x0c, 0x80, 0x32, 0x03, 0, 0, 0, 0, 0, 18];
        acc.extend_from_slice(b"MIT-MAGIC-COOKIE-1");
        acc.extend_from_slice(&[0, 16]);
        acc.extend_from_slice(&[0xaa; 16]);
        let b = ViewBuilder::udp(61426, 177)
            .to_server(&msg(REQUEST, &req))
            .to_client(&msg(ACCEPT, &acc));
        let v = run(&b).unwrap();
        assert_eq!(v.confidence, Confidence::Handshake);
        assert!(v.evidence[1].ends_with("authorization MIT-MAGIC-COOKIE-1"));
        let mut manage = vec![0x0c, 0x80, 0x32, 0x03, 0, 0, 0, 15];
        manage.extend_from_slice(b"MIT-unspecified");
        let v = run(&ViewBuilder::udp(61426, 177).to_server(&msg(MANAGE, &manage))).unwrap();
        assert!(v.evidence[0].ends_with("display 0, class MIT-unspecified"));
    }

    #[test]
    fn lengths_must_agree() {
        let mut q = query();
        q.push(0); // trailing byte: length field no longer matches the datagram
        assert!(run(&ViewBuilder::udp(1, 177).to_server(&q)).is_none());
        // Header length matches but the body does not parse to it.
        let bad = msg(QUERY, &[1, 0]);
        assert!(run(&ViewBuilder::udp(1, 177).to_server(&bad)).is_none());
        let unknown = msg(15, &[]);
        assert!(run(&ViewBuilder::udp(1, 177).to_server(&unknown)).is_none());
        let mut v2 = query();
        v2[1] = 2;
        assert!(run(&ViewBuilder::udp(1, 177).to_server(&v2)).is_none());
    }

    #[test]
    fn reply_without_matching_request_is_a_signature() {
        let b = ViewBuilder::udp(61426, 177)
            .to_server(&msg(KEEP_ALIVE, &[0, 0, 1, 2, 3, 4]))
            .to_client(&willing());
        assert_eq!(run(&b).unwrap().confidence, Confidence::Signature);
    }

    #[test]
    fn prefixes_never_panic_or_match() {
        let full = willing();
        for n in 0..full.len() {
            assert!(run(&ViewBuilder::udp(1, 177).to_server(&full[..n])).is_none());
        }
    }

    #[test]
    fn other_udp_protocols_do_not_match() {
        let dns = b"\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";
        let stun = b"\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl";
        let mut quic = vec![0xc3, 0, 0, 0, 1, 8];
        quic.resize(1200, 0);
        for p in [&dns[..], &stun[..], &quic[..], &[0x23; 48][..]] {
            assert!(run(&ViewBuilder::udp(1, 177).to_server(p).to_client(p)).is_none());
        }
        assert!(run(&ViewBuilder::tcp(1, 177).to_server(&query())).is_none());
        // A port-less IP protocol (ESP) carrying the same bytes is not XDMCP either.
        assert!(run(&ViewBuilder::ip(50).to_server(&query())).is_none());
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
            let lead: &[u8] = if lead { b"\x00\x01\x00\x02" } else { b"" };
            let b = ViewBuilder::udp(1023, 177).noise(lead, &a, &down, &tail);
            let _ = Xdmcp.inspect(&b.view());
        }
    }
}
