//! DNS messages (RFC 1035 §4): question names and answers, for the pipeline's name cache and for
//! DNS-based detection.
//!
//! Parsing is delegated to `simple-dns`; this module keeps only what the sensor uses, bounded:
//! at most [`QUESTIONS_MAX`] questions and [`ANSWERS_MAX`] answers, names lower-cased and cut at
//! [`NAME_MAX`] characters (the longest a DNS name can be, RFC 1035 §2.3.4).

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The DNS port (RFC 1035 §4.2).
pub const DNS_PORT: u16 = 53;
/// Questions kept per message (real messages carry one).
pub const QUESTIONS_MAX: usize = 4;
/// Answers kept per message.
pub const ANSWERS_MAX: usize = 32;
/// Longest DNS name in text form (RFC 1035 §2.3.4: 255 octets on the wire).
pub const NAME_MAX: usize = 253;

/// What an answer record carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnswerData {
    /// An A or AAAA address.
    Addr(IpAddr),
    /// A CNAME target.
    Name(String),
    /// Anything else, by RR type (RFC 1035 §3.2.2; 16 TXT, 10 NULL, …).
    Other(u16),
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Owner name.
    pub name: String,
    /// Data.
    pub data: AnswerData,
}

/// The parts of a DNS message the sensor uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// QR bit: a response.
    pub response: bool,
    /// Questions: (name, QTYPE).
    pub questions: Vec<(String, u16)>,
    /// Answers, in order.
    pub answers: Vec<Answer>,
    /// The message's size in bytes.
    pub size: usize,
}

impl DnsMessage {
    /// The first question's name.
    pub fn qname(&self) -> Option<&str> {
        self.questions.first().map(|(n, _)| n.as_str())
    }

    /// The A/AAAA addresses in the answer section.
    pub fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.answers.iter().filter_map(|a| match a.data {
            AnswerData::Addr(ip) => Some(ip),
            _ => None,
        })
    }
}

/// Parses one DNS message (a UDP payload, or a TCP message without its length prefix).
pub fn parse(payload: &[u8]) -> Option<DnsMessage> {
    // The fixed header is 12 bytes (RFC 1035 §4.1.1); anything shorter is not DNS.
    if payload.len() < 12 {
        return None;
    }
    let p = Packet::parse(payload).ok()?;
    let questions = p
        .questions
        .iter()
        .take(QUESTIONS_MAX)
        .map(|q| (name(text(&q.qname)), u16::from(q.qtype)))
        .collect();
    let answers = p
        .answers
        .iter()
        .take(ANSWERS_MAX)
        .map(|rr| Answer {
            name: name(text(&rr.name)),
            data: match &rr.rdata {
                RData::A(a) => AnswerData::Addr(IpAddr::V4(Ipv4Addr::from(a.address))),
                RData::AAAA(a) => AnswerData::Addr(IpAddr::V6(Ipv6Addr::from(a.address))),
                RData::CNAME(c) => AnswerData::Name(name(text(&c.0))),
                other => AnswerData::Other(u16::from(other.type_code())),
            },
        })
        .collect();
    Some(DnsMessage {
        id: p.id(),
        response: p.has_flags(PacketFlag::RESPONSE),
        questions,
        answers,
        size: payload.len(),
    })
}

/// What a DNS response teaches the pipeline's name cache: the first question's name and the
/// A/AAAA addresses among the first [`ANSWERS_MAX`] answers, exactly as [`parse`] gives them
/// through [`DnsMessage::qname`] and [`DnsMessage::addresses`], but without rendering the names
/// the cache does not use (answer owners, CNAME targets). `None` for a query, a message without
/// an address or a non-empty question name, and anything [`parse`] rejects.
pub fn resolution(payload: &[u8]) -> Option<(String, Vec<IpAddr>)> {
    // The QR bit is the top bit of the third header byte (RFC 1035 §4.1.1): a query answers
    // nothing, and is rejected before it is parsed.
    if payload.len() < 12 || payload.get(2).is_none_or(|&b| b & 0x80 == 0) {
        return None;
    }
    let p = Packet::parse(payload).ok()?;
    if !p.has_flags(PacketFlag::RESPONSE) {
        return None;
    }
    let addrs: Vec<IpAddr> = p
        .answers
        .iter()
        .take(ANSWERS_MAX)
        .filter_map(|rr| match &rr.rdata {
            RData::A(a) => Some(IpAddr::V4(Ipv4Addr::from(a.address))),
            RData::AAAA(a) => Some(IpAddr::V6(Ipv6Addr::from(a.address))),
            _ => None,
        })
        .collect();
    if addrs.is_empty() {
        return None;
    }
    let qname = name(text(&p.questions.first()?.qname));
    (!qname.is_empty()).then_some((qname, addrs))
}

/// The text `simple-dns` displays for `n`: labels joined by dots, each label's bytes as UTF-8
/// (invalid sequences replaced, as `String::from_utf8_lossy` does) with a dot or backslash
/// inside it escaped. Written straight into one string: the crate's `Display` goes through the
/// formatter one character at a time, which costs more than the rest of the parse. Every
/// response is parsed, so this is a hot path.
fn text(n: &Name<'_>) -> String {
    let size: usize = n.as_bytes().map(|b| b.len() + 1).sum();
    let mut s = String::with_capacity(size);
    for (i, b) in n.as_bytes().enumerate() {
        if i > 0 {
            s.push('.');
        }
        push_label(&mut s, b);
    }
    s
}

/// Appends label `b` as `simple-dns` displays it (see [`text`]).
fn push_label(s: &mut String, b: &[u8]) {
    for chunk in b.utf8_chunks() {
        let mut rest = chunk.valid();
        // Both characters are ASCII, so never part of a multi-byte character: a byte search
        // finds every one and splits only at character boundaries.
        while let Some(at) = rest.find(['.', '\\']) {
            let (plain, tail) = rest.split_at(at);
            s.push_str(plain);
            s.push('\\');
            let (c, after) = tail.split_at(1);
            s.push_str(c);
            rest = after;
        }
        s.push_str(rest);
        if !chunk.invalid().is_empty() {
            s.push(char::REPLACEMENT_CHARACTER);
        }
    }
}

/// `s` lower-cased, without the root dot, cut at [`NAME_MAX`] characters.
fn name(mut s: String) -> String {
    let kept = s.trim_end_matches('.').len();
    s.truncate(kept);
    // A character is at least one byte: only a longer string can have too many.
    if s.len() > NAME_MAX {
        if let Some((cut, _)) = s.char_indices().nth(NAME_MAX) {
            s.truncate(cut);
        }
    }
    s.make_ascii_lowercase();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use simple_dns::Label;

    /// A response for `www.example.com` A 192.0.2.7 with a CNAME first, laid out per RFC 1035
    /// §4.1: header (id 0x1234, QR|RD|RA, 1 question, 2 answers), question, CNAME, A.
    fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        let qname = b"\x03WWW\x07example\x03com\x00";
        m.extend_from_slice(qname);
        m.extend_from_slice(&[0, 1, 0, 1]);
        // CNAME www.example.com -> cdn.example.net
        m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60]);
        let target = b"\x03cdn\x07example\x03net\x00";
        m.extend_from_slice(&(target.len() as u16).to_be_bytes());
        m.extend_from_slice(target);
        // A for the CNAME target (owner name by pointer to offset of "cdn").
        let cdn_off = (12 + qname.len() + 4 + 12) as u8;
        m.extend_from_slice(&[0xc0, cdn_off, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        m
    }

    #[test]
    fn parses_questions_cnames_and_addresses() {
        let m = parse(&response()).unwrap();
        assert_eq!(m.id, 0x1234);
        assert!(m.response);
        assert_eq!(m.qname(), Some("www.example.com"));
        assert_eq!(m.questions[0].1, 1);
        assert_eq!(
            m.answers[0].data,
            AnswerData::Name("cdn.example.net".into())
        );
        assert_eq!(m.answers[1].name, "cdn.example.net");
        assert_eq!(
            m.addresses().collect::<Vec<_>>(),
            ["192.0.2.7".parse::<IpAddr>().unwrap()]
        );
    }

    /// What [`resolution`] must give: [`parse`]'s question name and addresses, for a response
    /// with both.
    fn expected_resolution(b: &[u8]) -> Option<(String, Vec<IpAddr>)> {
        let m = parse(b).filter(|m| m.response)?;
        let q = m.qname().filter(|q| !q.is_empty())?.to_owned();
        let addrs: Vec<IpAddr> = m.addresses().collect();
        (!addrs.is_empty()).then_some((q, addrs))
    }

    #[test]
    fn resolution_of_a_response_a_query_and_prefixes() {
        let r = response();
        assert_eq!(
            resolution(&r),
            Some(("www.example.com".into(), vec!["192.0.2.7".parse().unwrap()]))
        );
        let mut q = r.clone();
        q[2] &= 0x7f;
        assert_eq!(resolution(&q), None);
        for cut in 0..r.len() {
            assert_eq!(resolution(&r[..cut]), expected_resolution(&r[..cut]));
        }
    }

    #[test]
    fn other_protocols_and_prefixes_are_not_dns() {
        assert!(parse(b"GET / HTTP/1.1\r\n").is_none());
        assert!(parse(&[0x16, 3, 1, 0, 5, 1, 0, 0, 1, 3]).is_none());
        let r = response();
        for cut in 0..r.len() {
            // Every cut either fails or parses to something bounded; never a panic.
            let _ = parse(&r[..cut]);
        }
    }

    #[test]
    fn names_are_cut_at_name_max_characters_not_bytes() {
        assert_eq!(name("A".repeat(300)), "a".repeat(NAME_MAX));
        let wide = "é".repeat(200);
        assert_eq!(name(format!("{wide}..")), wide);
        assert_eq!(name("é".repeat(300)).chars().count(), NAME_MAX);
    }

    proptest! {
        /// Names are read exactly as the crate displays them, whatever bytes their labels hold.
        #[test]
        fn name_text_is_the_crates_display(
            labels in proptest::collection::vec(
                proptest::collection::vec(
                    prop_oneof![Just(b'.'), Just(b'\\'), Just(0xc3), Just(0xa9), any::<u8>()],
                    1..12,
                ),
                0..5,
            ),
        ) {
            let labels: Vec<Label<'_>> = labels.iter().map(|l| Label::new_unchecked(&l[..])).collect();
            let n = Name::new_with_labels(&labels);
            prop_assert_eq!(text(&n), n.to_string());
        }

        /// The name cache's shortcut learns exactly what the whole parse shows.
        #[test]
        fn resolution_is_what_parse_shows(
            b in proptest::collection::vec(any::<u8>(), 0..300),
            flip in any::<bool>(),
        ) {
            let mut b = b;
            if flip {
                // Half the cases start from a real response, mutated.
                let mut r = response();
                for (i, x) in b.iter().enumerate().take(8) {
                    let at = usize::from(*x) % r.len();
                    r[at] ^= u8::try_from(i).unwrap_or(0) & *x;
                }
                b = r;
            }
            prop_assert_eq!(resolution(&b), expected_resolution(&b));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Some(m) = parse(&b) {
                prop_assert!(m.questions.len() <= QUESTIONS_MAX && m.answers.len() <= ANSWERS_MAX);
            }
        }
    }
}
