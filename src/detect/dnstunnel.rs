//! DNS tunnels (iodine, dnscat2, DNS2TCP and kin): IP or stream data encoded in query names and
//! answered in record data, through the resolver path.
//!
//! Facts used:
//! - a tunnel client owns one domain and encodes upstream data in the labels below it, up to
//!   the 63-byte label limit (RFC 1035 §2.3.4), with base32, base64 or raw 8-bit "base128"
//!   alphabets (iodine's README and its `encoding.c`); downstream data comes back in record
//!   types that carry arbitrary bytes: NULL (RFC 1035 §3.3.10, iodine's default), private-use
//!   types (RFC 6895 §3.1, 65280–65534, iodine's "PRIVATE"), TXT, CNAME, MX, SRV;
//! - every query names a new subdomain (the data and a sequence counter change), all under the
//!   tunnel's domain, and the tunnel keeps one socket, so a flow (one 5-tuple) carries many of
//!   them. Stub resolvers use a fresh source port per lookup or per A/AAAA pair;
//! - ordinary long names have structure: CDN and cloud names are made of short labels and
//!   hyphenated words (`rr3---sn-4g5e6nzl.googlevideo.com`, `d111111abcdef8.cloudfront.net`,
//!   `my-lb-1234567890.us-west-2.elb.amazonaws.com`), hash lookups (anti-virus reputation,
//!   DNSBLs) use hexadecimal labels of at most 16 distinct characters.
//!
//! Per-flow evidence is all a stateless detector has (one 5-tuple; iodine keeps one). Confidence:
//! - Handshake: three or more queries for distinct names under one domain, at least two of them
//!   carrying encoded data (or three asking for NULL or a private-use type), two answered;
//! - Signature: the same from the client side alone;
//! - Heuristic: a single query whose name is unmistakably encoded data (raw 8-bit labels, or a
//!   base32/base64 label of high character diversity) asking for a data record type.
//!
//! A tunnel using short queries spread over fresh source ports, or plain A queries with
//! hexadecimal labels, is not seen per flow: that needs per-endpoint counting across flows.

use super::dns::{self, DnsMessage, DNS_PORT};
use super::{printable, Confidence, Detector, FlowView, Kind, Side, Verdict};
use crate::decode::ip_proto;

/// Record types that carry arbitrary data back to a tunnel client (RFC 1035 §3.2.2: CNAME 5,
/// NULL 10, MX 15, TXT 16; RFC 2782: SRV 33).
const DATA_TYPES: [(u16, &str); 5] = [
    (10, "NULL"),
    (16, "TXT"),
    (5, "CNAME"),
    (15, "MX"),
    (33, "SRV"),
];
/// NULL (RFC 1035 §3.3.10): "experimental", not allowed in zone files; no ordinary client asks
/// for it.
const TYPE_NULL: u16 = 10;
/// Private-use RR types (RFC 6895 §3.1): 65280–65534.
const PRIVATE_TYPES: std::ops::RangeInclusive<u16> = 65280..=65534;
/// Raw (non-UTF-8 or control) bytes that make a subdomain 8-bit encoded data: iodine's base128
/// alphabet is mostly bytes 0xbc–0xfd, several per label.
const RAW_BYTES_MIN: usize = 4;
/// Shortest label judged a base32/base64 data label (iodine fills labels to 63; a quarter of
/// that still carries 15 bytes).
const DATA_LABEL_MIN: usize = 24;
/// Distinct characters a data label must show: more than hexadecimal's 16, so hash lookups
/// (MD5/SHA-1/SHA-256 in hex) never count.
const DATA_LABEL_DISTINCT_MIN: usize = 17;
/// Size of the ASCII table used to count distinct label characters.
const ASCII: usize = 128;
/// Subdomain characters that, with a data record type, make one query unmistakably encoded.
const SINGLE_QUERY_SUBDOMAIN_MIN: usize = 48;
/// Encoded queries needed for a client-side Signature.
const ENCODED_MIN: usize = 2;
/// NULL or private-use queries needed for a Signature without encoded labels (TXT, MX and the
/// other data types are too common on their own: SPF evaluation asks TXT of several names
/// under one domain).
const ODD_TYPE_QUERIES_MIN: usize = 3;
/// Queries (distinct names) needed for a Handshake, with answers.
const HANDSHAKE_QUERIES_MIN: usize = 3;
/// Answered queries needed for a Handshake.
const ANSWERED_MIN: usize = 2;
/// Labels of a name taken as its registered domain: the tunnel's own domain is `<name>.<tld>`.
const BASE_LABELS: usize = 2;
/// Characters of a name shown in evidence.
const NAME_SHOWN_MAX: usize = 80;

/// Recognises DNS tunnels from the queries and answers of one DNS flow.
pub(crate) struct DnsTunnel;

impl Detector for DnsTunnel {
    fn name(&self) -> &'static str {
        "dns-tunnel"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::UDP || view.server.port() != DNS_PORT {
            return None;
        }
        let queries = messages(&view.to_server, false);
        let strongest = queries
            .iter()
            .filter_map(Query::new)
            .max_by_key(Query::rank)?;
        let mine: Vec<Query<'_>> = queries
            .iter()
            .filter_map(Query::new)
            .filter(|q| q.base == strongest.base)
            .collect();
        let distinct = distinct_names(&mine);
        let encoded = mine.iter().filter(|q| q.encoded.is_some()).count();
        let odd = mine.iter().filter(|q| q.odd_type).count();
        if distinct >= 2 && (encoded >= ENCODED_MIN || odd >= ODD_TYPE_QUERIES_MIN) {
            let answered = answered(&mine, &messages(&view.to_client, true));
            let hs = distinct >= HANDSHAKE_QUERIES_MIN && answered >= ANSWERED_MIN;
            let counts = Counts {
                distinct,
                encoded,
                answered,
            };
            return Some(flow_verdict(&mine, strongest.base, counts, hs));
        }
        single(&strongest)
    }
}

/// One question of a query, judged.
#[derive(Clone, Copy, Debug)]
struct Query<'a> {
    id: u16,
    name: &'a str,
    /// The last [`BASE_LABELS`] labels.
    base: &'a str,
    /// The labels below the base.
    sub: &'a str,
    /// A data record type asked for, by name.
    data_type: Option<&'static str>,
    /// NULL or a private-use type: asked by tunnels, never by ordinary clients.
    odd_type: bool,
    /// Why the subdomain looks like encoded data.
    encoded: Option<Encoding>,
}

/// What one flow's queries showed.
#[derive(Clone, Copy, Debug)]
struct Counts {
    /// Distinct query names under the tunnel domain.
    distinct: usize,
    /// Queries whose names carry encoded data.
    encoded: usize,
    /// Queries the server answered.
    answered: usize,
}

/// How a subdomain carries data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// Raw 8-bit bytes (iodine's base128 encoding).
    Binary,
    /// A long letter-and-digit label with more distinct characters than hexadecimal.
    Dense { len: usize, distinct: usize },
}

impl<'a> Query<'a> {
    fn new(msg: &'a DnsMessage) -> Option<Query<'a>> {
        let (name, qtype) = msg.questions.first()?;
        let cut = base_start(name)?;
        let (sub, base) = name.split_at_checked(cut)?;
        let sub = sub.strip_suffix('.')?;
        Some(Query {
            id: msg.id,
            name,
            base,
            sub,
            data_type: data_type(*qtype),
            odd_type: *qtype == TYPE_NULL || PRIVATE_TYPES.contains(qtype),
            // Underscored labels (RFC 8552: `_domainkey`, `_dmarc`, `_sip._tcp`) name a service
            // record; DKIM selectors under them may be long random tokens.
            encoded: if sub.split('.').any(|l| l.starts_with('_')) {
                None
            } else {
                encoding(sub)
            },
        })
    }

    /// Ordering for picking the most telling query.
    fn rank(&self) -> (bool, bool, usize) {
        (
            self.encoded.is_some(),
            self.data_type.is_some(),
            self.sub.len(),
        )
    }
}

/// The parsed DNS messages of one side: queries or responses.
fn messages(side: &Side<'_>, responses: bool) -> Vec<DnsMessage> {
    (0..side.segments().len())
        .filter_map(|i| dns::parse(side.segment(i)?))
        .filter(|m| m.response == responses)
        .collect()
}

/// Byte offset where the base domain (the last [`BASE_LABELS`] labels) starts; `None` for a
/// name with no subdomain.
fn base_start(name: &str) -> Option<usize> {
    let mut end = name.len();
    for _ in 0..BASE_LABELS {
        end = name.get(..end)?.rfind('.')?;
    }
    Some(end + 1)
}

/// The name of a data record type, or of a private-use one.
fn data_type(qtype: u16) -> Option<&'static str> {
    if PRIVATE_TYPES.contains(&qtype) {
        return Some("private-use");
    }
    DATA_TYPES
        .iter()
        .find(|(t, _)| *t == qtype)
        .map(|(_, n)| *n)
}

/// Whether the subdomain `sub` carries encoded data, and how.
fn encoding(sub: &str) -> Option<Encoding> {
    // Raw bytes that are not valid UTF-8 come out of the parser as U+FFFD; control characters
    // are never part of a name. Valid UTF-8 (DNS-SD instance names) and spaces do not count.
    let raw = sub
        .chars()
        .filter(|&c| c == char::REPLACEMENT_CHARACTER || c.is_ascii_control())
        .count();
    if raw >= RAW_BYTES_MIN {
        return Some(Encoding::Binary);
    }
    sub.split('.').find_map(|label| {
        let len = label.len();
        let digits = label.bytes().filter(u8::is_ascii_digit).count();
        let plain = label.bytes().all(|b| b.is_ascii_alphanumeric());
        if len < DATA_LABEL_MIN || !plain || digits == 0 || digits == len {
            return None;
        }
        let mut seen = [false; ASCII];
        for b in label.bytes() {
            if let Some(s) = seen.get_mut(usize::from(b)) {
                *s = true;
            }
        }
        let distinct = seen.iter().filter(|&&s| s).count();
        (distinct >= DATA_LABEL_DISTINCT_MIN).then_some(Encoding::Dense { len, distinct })
    })
}

/// Distinct query names among `qs`.
fn distinct_names(qs: &[Query<'_>]) -> usize {
    let mut names: Vec<&str> = qs.iter().map(|q| q.name).collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

/// Queries answered by a response with the same id and question name, carrying records.
fn answered(qs: &[Query<'_>], responses: &[DnsMessage]) -> usize {
    qs.iter()
        .filter(|q| {
            responses
                .iter()
                .any(|r| r.id == q.id && r.qname() == Some(q.name) && !r.answers.is_empty())
        })
        .count()
}

/// The verdict for several tunnel-like queries on one flow.
fn flow_verdict(qs: &[Query<'_>], base: &str, n: Counts, handshake: bool) -> Verdict {
    let conf = if handshake {
        Confidence::Handshake
    } else {
        Confidence::Signature
    };
    let mut v = Verdict::new(Kind::VpnTunnel, "dns_tunnel", conf).with(format!(
        "{} queries for {} distinct names under {} on one flow",
        qs.len(),
        n.distinct,
        shown(base)
    ));
    if let Some(q) = qs
        .iter()
        .filter(|q| q.encoded.is_some())
        .max_by_key(|q| q.sub.len())
    {
        v = v.with(encoded_fact(q, n.encoded));
    }
    let mut types: Vec<&str> = qs.iter().filter_map(|q| q.data_type).collect();
    types.dedup();
    if !types.is_empty() {
        v = v.with(format!("data record types asked: {}", types.join(", ")));
    }
    if handshake {
        v = v
            .with(format!("{} queries answered by the server", n.answered))
            .done();
    }
    v
}

/// Evidence for the most telling encoded query.
fn encoded_fact(q: &Query<'_>, n: usize) -> String {
    let how = match q.encoded {
        Some(Encoding::Binary) => "raw 8-bit labels".to_owned(),
        Some(Encoding::Dense { len, distinct }) => {
            format!("a {len}-character label of {distinct} distinct characters")
        }
        None => "no encoding".to_owned(),
    };
    format!(
        "names carrying encoded data: {n} ({how}), e.g. {}",
        shown(q.name)
    )
}

/// A single query whose name is unmistakably encoded data: raw 8-bit labels asking for NULL or
/// a private-use type, or a long dense label asking for any data record type.
fn single(q: &Query<'_>) -> Option<Verdict> {
    let t = q.data_type?;
    let unmistakable = match q.encoded? {
        Encoding::Binary => q.odd_type,
        Encoding::Dense { .. } => q.sub.len() >= SINGLE_QUERY_SUBDOMAIN_MIN,
    };
    unmistakable.then(|| {
        Verdict::new(Kind::VpnTunnel, "dns_tunnel", Confidence::Heuristic)
            .with(encoded_fact(q, 1))
            .with(format!("{t} record asked for {}", shown(q.base)))
    })
}

/// A name for evidence, bounded.
fn shown(name: &str) -> String {
    printable(name.as_bytes(), NAME_SHOWN_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::anon_testdata::random;
    use crate::detect::testing::ViewBuilder;

    /// A DNS message laid out per RFC 1035 §4.1: header (id, flags, QDCOUNT 1, ANCOUNT
    /// `answer.is_some()`), the question (`labels`, `qtype`, class IN), and for a response one
    /// answer by pointer to the question name (offset 12) carrying `answer` as RDATA.
    fn message(id: u16, labels: &[&[u8]], qtype: u16, answer: Option<&[u8]>) -> Vec<u8> {
        let flags: u16 = if answer.is_some() { 0x8180 } else { 0x0100 };
        let mut m = id.to_be_bytes().to_vec();
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&[0, 1, 0, u8::from(answer.is_some()), 0, 0, 0, 0]);
        for l in labels {
            m.push(l.len() as u8);
            m.extend_from_slice(l);
        }
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        if let Some(rdata) = answer {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&qtype.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 0]);
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    /// iodine-like upstream labels: the first character a command, then base32 data.
    fn base32_label(seed: u64, len: usize) -> Vec<u8> {
        const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz012345";
        random(seed, len)
            .iter()
            .map(|b| B32[usize::from(b % 32)])
            .collect()
    }

    fn iodine_flow(n: u16, answered: bool) -> ViewBuilder {
        let mut b = ViewBuilder::udp(44639, 53);
        for i in 0..n {
            let label = base32_label(u64::from(i), 50);
            let labels: [&[u8]; 3] = [&label, b"pirate", b"sea"];
            b = b.to_server(&message(i, &labels, TYPE_NULL, None));
            if answered {
                b = b.to_client(&message(i, &labels, TYPE_NULL, Some(&random(9, 60))));
            }
        }
        b
    }

    #[test]
    fn answered_encoded_null_queries_are_a_handshake() {
        let v = DnsTunnel.inspect(&iodine_flow(4, true).view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (Kind::VpnTunnel, "dns_tunnel", Confidence::Handshake, true)
        );
        assert!(
            v.evidence[0].contains("under pirate.sea"),
            "{:?}",
            v.evidence
        );
        assert!(v.evidence.iter().any(|e| e.contains("NULL")));
    }

    #[test]
    fn unanswered_queries_are_a_signature_and_one_is_a_heuristic() {
        let v = DnsTunnel.inspect(&iodine_flow(3, false).view()).unwrap();
        assert_eq!((v.confidence, v.complete), (Confidence::Signature, false));
        let v = DnsTunnel.inspect(&iodine_flow(1, false).view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
    }

    #[test]
    fn raw_8bit_labels_are_encoded() {
        let label = [b'z', b'i', 0xe4, 0xf6, 0xfc, b'a', 0xfd, 0xbc, 0xfe];
        let labels: [&[u8]; 3] = [&label, b"pirate", b"sea"];
        let b = ViewBuilder::udp(44639, 53).to_server(&message(1, &labels, TYPE_NULL, None));
        let v = DnsTunnel.inspect(&b.view()).unwrap();
        assert!(v.evidence[0].contains("raw 8-bit"), "{:?}", v.evidence);
    }

    #[test]
    fn ordinary_lookups_never_match() {
        let names: [&[&[u8]]; 11] = [
            &[b"www", b"example", b"com"],
            &[b"rr3---sn-4g5e6nzl", b"googlevideo", b"com"],
            &[b"d111111abcdef8", b"cloudfront", b"net"],
            &[b"e1234", b"a", b"akamaiedge", b"net"],
            &[
                b"my-load-balancer-1234567890",
                b"us-west-2",
                b"elb",
                b"amazonaws",
                b"com",
            ],
            // An anti-virus hash lookup: 32 hex characters (16 distinct at most).
            &[
                b"d41d8cd98f00b204e9800998ecf8427e",
                b"avqs",
                b"example",
                b"com",
            ],
            &[b"_dmarc", b"example", b"com"],
            // An Amazon SES-style DKIM selector: a 32-character random token.
            &[
                b"4nqjh7yzbeqcdw4szq7hnrvw5sqlb2tb",
                b"_domainkey",
                b"example",
                b"com",
            ],
            // Wide-area DNS-SD instance names: spaces and UTF-8.
            &[b"Office Printer", b"_ipp", b"_tcp", b"example", b"com"],
            &[
                "Büro Drucker".as_bytes(),
                b"_ipp",
                b"_tcp",
                b"example",
                b"com",
            ],
            &[b"selector1", b"_domainkey", b"example", b"com"],
        ];
        // Many lookups on one flow (a forwarder with a fixed port), A and TXT.
        let mut b = ViewBuilder::udp(53, 53);
        for (i, n) in names.iter().enumerate() {
            let qtype = if i % 2 == 0 { 1 } else { 16 };
            b = b
                .to_server(&message(i as u16, n, qtype, None))
                .to_client(&message(i as u16, n, qtype, Some(&[192, 0, 2, 1])));
        }
        assert_eq!(DnsTunnel.inspect(&b.view()), None);
        // The same names on their own flows.
        for n in names {
            for qtype in [1, 16, 28] {
                let b = ViewBuilder::udp(40000, 53).to_server(&message(7, n, qtype, None));
                assert_eq!(DnsTunnel.inspect(&b.view()), None, "{n:?}");
            }
        }
    }

    #[test]
    fn other_protocols_ports_and_prefixes() {
        let q = message(
            1,
            &[&base32_label(1, 60), b"pirate", b"sea"],
            TYPE_NULL,
            None,
        );
        for cut in 0..q.len() {
            let b = ViewBuilder::udp(40000, 53).to_server(&q[..cut]);
            let _ = DnsTunnel.inspect(&b.view());
        }
        let b = ViewBuilder::udp(40000, 5353).to_server(&q);
        assert_eq!(DnsTunnel.inspect(&b.view()), None);
        let b = ViewBuilder::tcp(40000, 53).to_server(&q);
        assert_eq!(DnsTunnel.inspect(&b.view()), None);
        for p in [
            random(3, 200),
            b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03".to_vec(),
        ] {
            let b = ViewBuilder::udp(40000, 53).to_server(&p);
            assert_eq!(DnsTunnel.inspect(&b.view()), None);
        }
    }
}
