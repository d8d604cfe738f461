//! The TLS record layer at the start of a TCP stream, reduced to the handshake bytes it carries.
//!
//! Facts used (RFC 8446 §5.1, RFC 5246 §6.2.1): a record is `type(1) version(2) length(2)`
//! followed by `length` bytes; the handshake content type is 22 (0x16); the record version's
//! major byte is 3 for SSL 3.0 through TLS 1.3 (a ClientHello record may say 0x0301 for
//! compatibility); a plaintext record carries at most 2^14 bytes; and a handshake message may be
//! split over several consecutive handshake records (RFC 8446 §5.1 "Handshake messages MAY be
//! coalesced into a single TLSPlaintext record or fragmented across several records").
//! Record headers are read with `tls-parser`; the checks on them are ours, so that other
//! protocols (HTTP, SSH, RDP) are refused on the first byte that disagrees.

use super::Parse;
use std::borrow::Cow;
use tls_parser::parse_tls_record_header;

/// Size of a record header: type, version, length (RFC 8446 §5.1).
pub(crate) const RECORD_HEADER_LEN: usize = 5;
/// Record content type handshake, 22 (RFC 8446 §5.1).
pub(crate) const CONTENT_HANDSHAKE: u8 = 22;
/// Largest plaintext record fragment: 2^14 bytes (RFC 8446 §5.1, RFC 5246 §6.2.1).
pub(super) const RECORD_PLAINTEXT_MAX: usize = 1 << 14;
/// Record version major byte for SSL 3.0 .. TLS 1.3 (RFC 8446 Appendix D, RFC 6101 §5.2.1).
pub(crate) const VERSION_MAJOR: u8 = 3;
/// Highest record version minor byte accepted: 0x0304 (RFC 8446 §5.1 fixes it at 0x0303, but
/// 0x0304 costs nothing to accept; anything higher is not TLS).
const VERSION_MINOR_MAX: u8 = 4;
/// Handshake bytes gathered from a stream at most: 32 KiB covers a ClientHello with
/// post-quantum key shares and a leaf certificate, and more than any stream prefix we are given.
pub(super) const HANDSHAKE_BYTES_MAX: usize = 32 * 1024;
/// Size of a handshake message header: type(1) length(3) (RFC 8446 §4).
pub(super) const HANDSHAKE_HEADER_LEN: usize = 4;

/// Handshake bytes carried by the leading handshake records of a stream.
#[derive(Debug)]
pub(super) struct Handshakes<'a> {
    /// The concatenated record fragments (borrowed when one record holds them all).
    pub(super) bytes: Cow<'a, [u8]>,
    /// Whether more handshake bytes could follow: the stream ended inside or right after a
    /// handshake record, rather than at a record of another type.
    pub(super) open: bool,
}

/// Checks what is present of a record header without needing all five bytes, so that a short
/// prefix of another protocol is refused as early as possible.
pub(super) fn header_prefix_ok(b: &[u8]) -> bool {
    let ok_type = b.first().is_none_or(|&t| t == CONTENT_HANDSHAKE);
    let ok_major = b.get(1).is_none_or(|&m| m == VERSION_MAJOR);
    let ok_minor = b.get(2).is_none_or(|&m| m <= VERSION_MINOR_MAX);
    ok_type && ok_major && ok_minor
}

/// Gathers the handshake bytes of the leading handshake records of `stream`. `NotTls` when the
/// first record is not a plausible handshake record; `Incomplete` when not even one byte of
/// handshake data is present yet.
pub(super) fn handshakes(stream: &[u8]) -> Parse<Handshakes<'_>> {
    let mut rest = stream;
    let mut single: Option<&[u8]> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut open = true;
    loop {
        let first = single.is_none() && joined.is_none();
        if rest.len() < RECORD_HEADER_LEN {
            if !header_prefix_ok(rest) {
                if first {
                    return Parse::NotTls;
                }
                open = false;
            }
            break;
        }
        let Ok((body, hdr)) = parse_tls_record_header(rest) else {
            return Parse::NotTls;
        };
        let len = usize::from(hdr.len);
        let plausible = header_prefix_ok(rest) && (1..=RECORD_PLAINTEXT_MAX).contains(&len);
        if !plausible {
            if first {
                return Parse::NotTls;
            }
            // A record of another type (ChangeCipherSpec, encrypted data) ends the handshake
            // bytes available in clear.
            open = false;
            break;
        }
        let avail = body.get(..len.min(body.len())).unwrap_or_default();
        append(&mut single, &mut joined, avail);
        if avail.len() < len {
            break;
        }
        rest = body.get(len..).unwrap_or_default();
        if joined
            .as_ref()
            .is_some_and(|j| j.len() >= HANDSHAKE_BYTES_MAX)
        {
            break;
        }
    }
    let bytes = match (joined, single) {
        (Some(j), _) => Cow::Owned(j),
        (None, Some(s)) if !s.is_empty() => Cow::Borrowed(s),
        (None, _) => return Parse::Incomplete,
    };
    Parse::Done(Handshakes { bytes, open })
}

/// Adds one record fragment: the first is borrowed, later ones are copied into one buffer of at
/// most [`HANDSHAKE_BYTES_MAX`] bytes (sized by the bytes present, not by declared lengths).
fn append<'a>(single: &mut Option<&'a [u8]>, joined: &mut Option<Vec<u8>>, frag: &'a [u8]) {
    if let Some(j) = joined {
        let room = HANDSHAKE_BYTES_MAX.saturating_sub(j.len());
        j.extend_from_slice(frag.get(..frag.len().min(room)).unwrap_or_default());
    } else if let Some(s) = single.take() {
        let mut j = Vec::with_capacity((s.len() + frag.len()).min(HANDSHAKE_BYTES_MAX));
        j.extend_from_slice(s);
        let room = HANDSHAKE_BYTES_MAX.saturating_sub(j.len());
        j.extend_from_slice(frag.get(..frag.len().min(room)).unwrap_or_default());
        *joined = Some(j);
    } else {
        *single = Some(frag);
    }
}

/// One handshake message as far as it is present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Message<'a> {
    /// HandshakeType (RFC 8446 §4).
    pub(super) kind: u8,
    /// The declared body length.
    pub(super) len: usize,
    /// The body bytes present: `len` of them when complete, fewer when cut.
    pub(super) body: &'a [u8],
}

impl Message<'_> {
    /// Whether the whole body is present.
    pub(super) fn complete(&self) -> bool {
        self.body.len() == self.len
    }
}

/// Reads the handshake message at the start of `b` (type, 24-bit length, body). `None` when
/// not even the 4-byte header is present. The second value is what follows a complete message.
pub(super) fn message(b: &[u8]) -> Option<(Message<'_>, &[u8])> {
    let (hdr, rest) = b.split_at_checked(HANDSHAKE_HEADER_LEN)?;
    let kind = *hdr.first()?;
    let len = usize::from(*hdr.get(1)?) << 16 | usize::from(*hdr.get(2)?) << 8;
    let len = len | usize::from(*hdr.get(3)?);
    let (body, after) = rest.split_at_checked(len).unwrap_or((rest, &[]));
    Some((Message { kind, len, body }, after))
}

#[cfg(test)]
mod tests {
    use super::super::testdata::record as rec;
    use super::*;

    #[test]
    fn one_record_is_borrowed() {
        let s = rec(0x16, b"\x01\x00\x00\x02ab");
        let Parse::Done(h) = handshakes(&s) else {
            panic!()
        };
        assert!(matches!(h.bytes, Cow::Borrowed(_)));
        assert_eq!(&*h.bytes, b"\x01\x00\x00\x02ab");
        assert!(h.open);
    }

    #[test]
    fn fragments_over_records_are_joined_until_another_type() {
        let mut s = rec(0x16, b"\x01\x00\x00\x04ab");
        s.extend(rec(0x16, b"cd"));
        s.extend(rec(0x14, b"\x01"));
        s.extend(rec(0x16, b"zz"));
        let Parse::Done(h) = handshakes(&s) else {
            panic!()
        };
        assert_eq!(&*h.bytes, b"\x01\x00\x00\x04abcd");
        assert!(!h.open);
        let (m, after) = message(&h.bytes).unwrap();
        assert_eq!(
            (m.kind, m.len, m.body, after),
            (1, 4, &b"abcd"[..], &b""[..])
        );
        assert!(m.complete());
    }

    #[test]
    fn other_protocols_are_refused_early() {
        for p in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"SSH-2.0-x",
            b"\x03\x00\x00\x2b",
            b"G",
            b"\x16\x02",
        ] {
            assert_eq!(handshakes(p).done().map(|_| ()), None, "{p:?}");
            assert!(!handshakes(p).is_incomplete(), "{p:?}");
        }
        // Zero-length and oversized records are not TLS.
        assert!(matches!(handshakes(b"\x16\x03\x01\x00\x00"), Parse::NotTls));
        assert!(matches!(handshakes(b"\x16\x03\x01\x40\x01"), Parse::NotTls));
        assert!(matches!(handshakes(b"\x16\x03\x05\x00\x10"), Parse::NotTls));
    }

    #[test]
    fn short_prefixes_are_incomplete() {
        for p in [
            &b""[..],
            b"\x16",
            b"\x16\x03",
            b"\x16\x03\x01\x00",
            b"\x16\x03\x01\x00\x10",
        ] {
            assert!(handshakes(p).is_incomplete(), "{p:?}");
        }
    }

    #[test]
    fn cut_message_reports_what_is_present() {
        let (m, after) = message(b"\x0b\x00\x01\x00abc").unwrap();
        assert_eq!(
            (m.len, m.body, m.complete(), after),
            (256, &b"abc"[..], false, &b""[..])
        );
        assert_eq!(message(b"\x0b\x00\x01"), None);
    }
}
