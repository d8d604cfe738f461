//! Byte patterns: fixed bytes at a known place in one TCP segment or UDP datagram.
//!
//! Proprietary remote-access and VPN protocols have no public specification, but their first
//! messages carry constant headers that nDPI, libprotoident and Wireshark recognise them by
//! (TeamViewer's 0x1724 command magic, Citrix ICA's `7f 7f "ICA" 00`, Radmin's 0x01000000
//! header with fixed lengths). A pattern is such a header: bytes (some masked or wild) at an
//! offset from the start or the end of the payload, optionally bytes the payload ends with, a
//! payload length on the wire and a responder port it requires.
//!
//! Strength: a pattern's worth is the number of bits it compares ([`Pattern::bits`]). Random
//! data matches a pattern of `b` bits with probability 2^-b per segment; the detector checks at
//! most 8 segments per direction, so 32 bits leave about one chance in 500 million per flow and
//! count alone, while shorter patterns only support other evidence.
//!
//! Offsets from the end and suffixes are only checked when the payload was kept whole (its kept
//! length equals its length on the wire): a cut payload has no known end.

use crate::decode::ip_proto;

/// Bits a pattern (or two patterns from opposite directions) must compare to count alone.
pub(super) const STRONG_BITS: u32 = 32;
/// Longest `hex` and `suffix` accepted, in bytes.
pub(super) const PATTERN_BYTES_MAX: usize = 64;
/// Largest offset accepted in either direction: a whole 1500-byte datagram.
pub(super) const OFFSET_MAX: i64 = 1500;
/// Largest payload length a `len` may name (an IPv4 datagram's payload fits in 16 bits).
const LEN_MAX: usize = u16::MAX as usize;
/// The wildcard byte in a hex string.
const WILDCARD: &str = "??";

/// Which direction a pattern is looked for in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum PatternDir {
    /// Sent by the initiator.
    ToServer,
    /// Sent by the responder.
    ToClient,
    /// Either.
    Either,
}

impl PatternDir {
    /// Whether the pattern is looked for in the direction to the server (`true`) or back.
    pub(super) fn covers(self, to_server: bool) -> bool {
        match self {
            PatternDir::ToServer => to_server,
            PatternDir::ToClient => !to_server,
            PatternDir::Either => true,
        }
    }
}

/// Bytes with a per-bit mask (`??` = mask 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Masked {
    /// Expected bytes, already masked.
    bytes: Vec<u8>,
    /// Bits compared.
    mask: Vec<u8>,
}

impl Masked {
    /// Parses hex digit pairs and `??`, ignoring whitespace.
    pub(super) fn parse(s: &str) -> Result<Masked, String> {
        let digits: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.is_empty() || !digits.len().is_multiple_of(2) {
            return Err(format!(
                "{s:?} is not hex: give whole bytes as two hex digits (or \"??\")"
            ));
        }
        let mut m = Masked::default();
        for pair in digits.as_bytes().chunks(2) {
            let p = std::str::from_utf8(pair).unwrap_or_default();
            if p == WILDCARD {
                m.bytes.push(0);
                m.mask.push(0);
            } else {
                let b = u8::from_str_radix(p, 16)
                    .map_err(|_| format!("{s:?} is not hex: {p:?} is not a byte"))?;
                m.bytes.push(b);
                m.mask.push(0xff);
            }
        }
        if m.bytes.len() > PATTERN_BYTES_MAX {
            return Err(format!(
                "{s:?} is {} bytes; at most {PATTERN_BYTES_MAX}",
                m.bytes.len()
            ));
        }
        Ok(m)
    }

    /// Narrows the mask with `mask` (same length, plain hex).
    pub(super) fn with_mask(mut self, mask: &Masked) -> Result<Masked, String> {
        if mask.mask.iter().any(|&b| b != 0xff) {
            return Err("mask must be plain hex, without \"??\"".into());
        }
        if mask.bytes.len() != self.bytes.len() {
            return Err(format!(
                "mask is {} bytes but hex is {}",
                mask.bytes.len(),
                self.bytes.len()
            ));
        }
        for ((b, m), extra) in self.bytes.iter_mut().zip(&mut self.mask).zip(&mask.bytes) {
            *m &= extra;
            *b &= *m;
        }
        Ok(self)
    }

    /// Bits compared.
    pub(super) fn bits(&self) -> u32 {
        self.mask.iter().map(|m| m.count_ones()).sum()
    }

    /// Number of bytes spanned.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether `data` (exactly as long) matches.
    fn matches(&self, data: &[u8]) -> bool {
        data.len() == self.bytes.len()
            && data
                .iter()
                .zip(&self.mask)
                .zip(&self.bytes)
                .all(|((d, m), b)| d & m == *b)
    }
}

impl std::fmt::Display for Masked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (b, m)) in self.bytes.iter().zip(&self.mask).enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            match m {
                0 => f.write_str(WILDCARD)?,
                0xff => write!(f, "{b:02x}")?,
                _ => write!(f, "{b:02x}/{m:02x}")?,
            }
        }
        Ok(())
    }
}

/// Parses a payload length: `"46"` or `"10-14"`.
pub(super) fn parse_len(s: &str) -> Result<(usize, usize), String> {
    let num = |t: &str| {
        t.trim()
            .parse::<usize>()
            .ok()
            .filter(|&n| n <= LEN_MAX)
            .ok_or_else(|| format!("len {s:?}: {t:?} is not a length 0..={LEN_MAX}"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(s)?;
            (n, n)
        }
    };
    if lo > hi {
        return Err(format!("len {s:?}: the range is empty"));
    }
    Ok((lo, hi))
}

/// One validated pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern {
    /// What the bytes are, for evidence.
    pub(super) name: String,
    /// IP protocol (TCP or UDP).
    pub(super) proto: u8,
    /// Direction looked in.
    pub(super) dir: PatternDir,
    /// Where `head` starts: from the payload start, or from its end when negative.
    pub(super) offset: i64,
    /// Bytes at `offset`.
    pub(super) head: Masked,
    /// Bytes the payload ends with (may be empty).
    pub(super) suffix: Masked,
    /// Payload length on the wire, inclusive range.
    pub(super) len: Option<(usize, usize)>,
    /// Required responder port.
    pub(super) port: Option<u16>,
}

impl Pattern {
    /// Bits compared by the head and the suffix together.
    pub(super) fn bits(&self) -> u32 {
        self.head.bits() + self.suffix.bits()
    }

    /// Whether the pattern is looked for on a flow of `proto` whose responder uses `port`.
    pub(super) fn applies(&self, proto: u8, port: u16) -> bool {
        self.proto == proto && self.port.is_none_or(|p| p == port)
    }

    /// Whether a payload whose kept bytes are `kept` and whose length on the wire is `wire`
    /// matches.
    pub(super) fn matches(&self, kept: &[u8], wire: usize) -> bool {
        if self.len.is_some_and(|(lo, hi)| !(lo..=hi).contains(&wire)) {
            return false;
        }
        let whole = kept.len() == wire;
        let start = if self.offset >= 0 {
            usize::try_from(self.offset).ok()
        } else if whole {
            usize::try_from(self.offset.unsigned_abs())
                .ok()
                .and_then(|back| wire.checked_sub(back))
        } else {
            None
        };
        let head_ok = start
            .and_then(|s| kept.get(s..s.checked_add(self.head.len())?))
            .is_some_and(|b| self.head.matches(b));
        if !head_ok {
            return false;
        }
        if self.suffix.len() == 0 {
            return true;
        }
        whole
            && kept
                .len()
                .checked_sub(self.suffix.len())
                .and_then(|s| kept.get(s..))
                .is_some_and(|b| self.suffix.matches(b))
    }

    /// The bytes compared, for evidence: `17 24 0a 20` at its offset, and the suffix.
    pub(super) fn describe(&self) -> String {
        let mut s = format!("{} at offset {}", self.head, self.offset);
        if self.suffix.len() > 0 {
            s.push_str(&format!(", ending {}", self.suffix));
        }
        s
    }

    /// `tcp` or `udp`.
    pub(super) fn proto_name(&self) -> &'static str {
        ip_proto::name(self.proto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(hex: &str) -> Pattern {
        Pattern {
            name: "t".into(),
            proto: ip_proto::TCP,
            dir: PatternDir::Either,
            offset: 0,
            head: Masked::parse(hex).unwrap(),
            suffix: Masked::default(),
            len: None,
            port: None,
        }
    }

    #[test]
    fn hex_with_wildcards_and_masks() {
        let m = Masked::parse("17 24 ?? 0A").unwrap();
        assert_eq!(m.bits(), 24);
        assert_eq!(m.to_string(), "17 24 ?? 0a");
        let narrowed = Masked::parse("ff 0f").unwrap();
        let m = Masked::parse("12 34")
            .unwrap()
            .with_mask(&narrowed)
            .unwrap();
        assert_eq!(m.bits(), 12);
        assert_eq!(m.to_string(), "12 04/0f");
        for bad in ["", "1", "zz", "1 2 3", "12 ?", "??1"] {
            assert!(Masked::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Masked::parse(&"00".repeat(PATTERN_BYTES_MAX + 1)).is_err());
        assert!(Masked::parse("12")
            .unwrap()
            .with_mask(&Masked::parse("ff ff").unwrap())
            .is_err());
        assert!(Masked::parse("12")
            .unwrap()
            .with_mask(&Masked::parse("??").unwrap())
            .is_err());
    }

    #[test]
    fn lengths() {
        assert_eq!(parse_len("46"), Ok((46, 46)));
        assert_eq!(parse_len("10-14"), Ok((10, 14)));
        for bad in ["", "x", "14-10", "-1", "70000", "1-"] {
            assert!(parse_len(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn head_at_offset_with_length() {
        let mut p = pat("7f 7f 49 43 41 00");
        p.len = Some((6, 6));
        assert!(p.matches(b"\x7f\x7fICA\x00", 6));
        assert!(!p.matches(b"\x7f\x7fICA\x00\x00", 7));
        assert!(!p.matches(b"\x7f\x7fICA", 5));
        assert!(!p.matches(b"\x7f\x7fICB\x00", 6));
        p.offset = 2;
        p.len = None;
        assert!(p.matches(b"..\x7f\x7fICA\x00..", 10));
        assert!(!p.matches(b"\x7f\x7fICA\x00..", 8));
    }

    #[test]
    fn suffix_and_negative_offsets_need_the_whole_payload() {
        let mut p = pat("30 20");
        p.suffix = Masked::parse("20 31 37 2e ?? 0a").unwrap();
        assert_eq!(p.bits(), 16 + 40);
        assert!(p.matches(b"0 think 17.7\n", 13));
        assert!(p.matches(b"0 t 17.0\n", 9));
        assert!(!p.matches(b"0 think 17\n", 11));
        // Cut by the capture: the end is unknown.
        assert!(!p.matches(b"0 think 17.7\n", 20));
        let mut back = pat("0a");
        back.offset = -1;
        assert!(back.matches(b"NXD-8\n", 6));
        assert!(!back.matches(b"NXD-8\n", 7));
        assert!(!back.matches(b"NXD-8", 5));
        back.offset = -10;
        assert!(!back.matches(b"short\n", 6));
    }

    #[test]
    fn port_gate() {
        let mut p = pat("fe 57 7e 2b");
        assert!(p.applies(ip_proto::TCP, 1));
        p.port = Some(10000);
        assert!(p.applies(ip_proto::TCP, 10000));
        assert!(!p.applies(ip_proto::TCP, 10001));
        assert!(!p.applies(ip_proto::UDP, 10000));
        assert_eq!(p.describe(), "fe 57 7e 2b at offset 0");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
                        off in -80i64..80, wire in 0usize..100) {
            let mut p = pat("01 ?? 03");
            p.offset = off;
            p.suffix = Masked::parse("0a").unwrap();
            let _ = p.matches(&b, wire);
        }
    }
}
