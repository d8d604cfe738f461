//! Which DNS name an address was resolved from, learned from the DNS responses the sensor sees.
//!
//! A flow to 203.0.113.9 means little; a flow to the address `relay-1.example-remote.com` resolved
//! to a moment earlier says what the endpoint was reaching for. The cache maps each address in an
//! A/AAAA answer to the question's name (what the endpoint asked for, not the CNAME target). It
//! holds at most [`NAMES_MAX`] addresses; the oldest entries go first. Later answers for the same
//! address replace earlier ones.

use crate::detect::dns::DnsMessage;
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;

/// A shared name. `Arc<Box<str>>` rather than `Arc<str>`: a thin pointer, so every tracked flow
/// that may hold one pays 8 bytes instead of 16 (the flow's memory budget is 256 bytes).
pub type Name = Arc<Box<str>>;

/// Addresses remembered at once.
pub const NAMES_MAX: usize = 65_536;

/// What one DNS response teaches a name cache (`dns::resolution`: the question's name and the
/// answered addresses), worked out once where several pipelines' caches learn it.
#[derive(Clone, Debug)]
pub struct Heard {
    name: Name,
    addrs: Vec<IpAddr>,
}

impl Heard {
    /// What the DNS message `payload` teaches; `None` when it teaches nothing (a query, no
    /// address, anything `dns::resolution` rejects).
    pub fn of(payload: &[u8]) -> Option<Heard> {
        crate::detect::dns::resolution(payload).map(|(q, addrs)| Heard {
            name: Arc::new(Box::from(q)),
            addrs,
        })
    }
}

/// Address → name, bounded, oldest out first.
#[derive(Debug, Default)]
pub struct NameCache {
    map: HashMap<IpAddr, Name>,
    order: VecDeque<IpAddr>,
}

impl NameCache {
    /// Learns the addresses answered in `m`, if it is a response with a question.
    pub fn learn(&mut self, m: &DnsMessage) {
        if !m.response {
            return;
        }
        let Some(q) = m.qname().filter(|q| !q.is_empty()) else {
            return;
        };
        self.remember(q, m.addresses());
    }

    /// Learns that `addrs` were resolved from the name `q` (what [`NameCache::learn`] takes
    /// from a response; the pipeline reads it with `dns::resolution`, which renders no other
    /// name).
    pub fn remember(&mut self, q: &str, addrs: impl IntoIterator<Item = IpAddr>) {
        self.remember_name(&Arc::new(Box::from(q)), addrs);
    }

    /// Learns what one response taught ([`Heard`]), sharing its name.
    pub fn remember_heard(&mut self, h: &Heard) {
        self.remember_name(&h.name, h.addrs.iter().copied());
    }

    fn remember_name(&mut self, name: &Name, addrs: impl IntoIterator<Item = IpAddr>) {
        for ip in addrs {
            if self.map.insert(ip, Arc::clone(name)).is_none() {
                self.order.push_back(ip);
            }
        }
        while self.map.len() > NAMES_MAX {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// The name `ip` was last resolved from.
    pub fn get(&self, ip: &IpAddr) -> Option<Name> {
        self.map.get(ip).cloned()
    }

    /// Addresses remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::dns::{Answer, AnswerData};

    fn response(q: &str, ips: &[&str]) -> DnsMessage {
        DnsMessage {
            id: 1,
            response: true,
            questions: vec![(q.into(), 1)],
            answers: ips
                .iter()
                .map(|ip| Answer {
                    name: q.into(),
                    data: AnswerData::Addr(ip.parse().unwrap()),
                })
                .collect(),
            size: 100,
        }
    }

    #[test]
    fn maps_answers_to_the_question_and_ignores_queries() {
        let mut c = NameCache::default();
        c.learn(&response(
            "relay.example.com",
            &["192.0.2.1", "2001:db8::1"],
        ));
        let mut q = response("other.example", &["192.0.2.2"]);
        q.response = false;
        c.learn(&q);
        assert_eq!(
            c.get(&"192.0.2.1".parse().unwrap())
                .as_deref()
                .map(|n| &**n),
            Some("relay.example.com")
        );
        assert_eq!(
            c.get(&"2001:db8::1".parse().unwrap())
                .as_deref()
                .map(|n| &**n),
            Some("relay.example.com")
        );
        assert!(c.get(&"192.0.2.2".parse().unwrap()).is_none());
        c.learn(&response("newer.example.com", &["192.0.2.1"]));
        assert_eq!(
            c.get(&"192.0.2.1".parse().unwrap())
                .as_deref()
                .map(|n| &**n),
            Some("newer.example.com")
        );
    }

    /// A response on the wire (RFC 1035 §4.1): relay.example.com A 198.51.100.20.
    fn wire_response(qr: bool) -> Vec<u8> {
        // Id 1; QR (or a query), RD, RA; one question, one answer.
        let flags = if qr { 0x81 } else { 0x01 };
        let mut m = vec![0, 1, flags, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        m.extend_from_slice(b"\x05relay\x07example\x03com\x00\x00\x01\x00\x01");
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 198, 51, 100, 20]);
        m
    }

    /// What a response teaches, worked out once ([`Heard`]), is what parsing it in the cache's
    /// own pipeline teaches; a query teaches nothing.
    #[test]
    fn a_response_heard_once_teaches_what_it_teaches_parsed_here() {
        let ip: IpAddr = "198.51.100.20".parse().unwrap();
        let (mut parsed, mut heard) = (NameCache::default(), NameCache::default());
        let (q, addrs) = crate::detect::dns::resolution(&wire_response(true)).unwrap();
        parsed.remember(&q, addrs);
        heard.remember_heard(&Heard::of(&wire_response(true)).unwrap());
        assert_eq!(
            heard.get(&ip).as_deref().map(|n| &**n),
            Some("relay.example.com")
        );
        assert_eq!(heard.get(&ip), parsed.get(&ip));
        assert!(Heard::of(&wire_response(false)).is_none());
    }

    #[test]
    fn stays_bounded() {
        let mut c = NameCache::default();
        for i in 0..(NAMES_MAX as u32 + 100) {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            c.learn(&response("x.example", &[&ip]));
        }
        assert_eq!(c.len(), NAMES_MAX);
        assert!(
            c.get(&"10.0.0.0".parse().unwrap()).is_none(),
            "oldest went first"
        );
    }
}
