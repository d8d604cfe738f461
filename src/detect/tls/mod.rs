//! TLS and QUIC handshake metadata: the first bytes of a flow turned into the facts detectors
//! and evidence use (server name, ALPN, versions, cipher suites, a JA4 fingerprint, the server's
//! certificate names).
//!
//! API (all pure functions over borrowed bytes, no state, no I/O):
//!
//! | call | input | output |
//! |---|---|---|
//! | [`client_hello`] | client→server TCP stream prefix | [`ClientHello`] |
//! | [`server_hello`] | server→client TCP stream prefix | [`ServerHello`] |
//! | [`certificate`] | server→client TCP stream prefix (TLS ≤ 1.2) | [`Certificate`] |
//! | [`quic_initial`] | one client UDP datagram | [`ClientHello`] |
//! | [`quic_initials`] | a client's first UDP datagrams, in order | [`ClientHello`] |
//! | [`ClientHello::ja4`] | a parsed ClientHello | FoxIO JA4 string (`t…` or `q…`) |
//!
//! Every call answers a [`Parse`]: `Done` with the metadata, `Incomplete` when the bytes given
//! are a valid beginning that was cut (retry when more bytes arrive), `NotTls` when the bytes
//! cannot be this message (another protocol, a malformed message, or a message that is not in
//! clear, such as a TLS 1.3 certificate).
//!
//! Why the parse is reliable: a TLS record starts with a content type, a `0x03 0x0X` version and
//! a length of at most 2^14 (RFC 8446 §5.1, RFC 5246 §6.2.1); the handshake header carries a
//! type and a 24-bit length (RFC 8446 §4); a ClientHello's body has fixed-size fields and vectors
//! whose lengths must exactly fill it (RFC 8446 §4.1.2). Every one of those lengths is checked
//! against the bytes present and against a named bound before anything is read or allocated. A
//! QUIC Initial is stronger still: its payload is AES-128-GCM authenticated under keys derived
//! from the packet's own Destination Connection ID (RFC 9001 §5.2), so a packet that decrypts is
//! certainly QUIC.
//!
//! Failure policy: nothing here panics on any input (property-tested); lists and strings are cut
//! at the `*_MAX` bounds below; allocation is bounded by the bytes actually present, never by an
//! attacker-declared length.

// The product catalogue uses the ClientHello, certificate, QUIC Initials and JA4 parts. Still
// unused outside tests: the ServerHello parser, JA4_r/JA4_o, the single-datagram QUIC entry
// point, QuicVersion names and two extension-type constants; they wait for the detectors that
// need them.
#![allow(dead_code, unused_imports)]

mod client_hello;
mod ja4;
mod memo;
mod quic;
mod recent;
mod record;
mod server;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
pub(crate) mod testdata;

/// RFC 9001 Appendix A.2's protected client Initial, as hex.
#[cfg(test)]
pub(crate) use testdata::RFC9001_CLIENT_INITIAL;

/// The JA4 specification's worked-example ClientHello as a TLS stream
/// (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
#[cfg(test)]
pub(crate) fn testdata_client_hello() -> Vec<u8> {
    testdata::ja4_example_stream()
}

pub use memo::{HandshakeMemo, KeptState};
pub(crate) use quic::{quic_initial, quic_initials, QuicVersion};
pub(crate) use record::{CONTENT_HANDSHAKE, RECORD_HEADER_LEN, VERSION_MAJOR};

/// Outcome of parsing one handshake message from a flow prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Parse<T> {
    /// The message was parsed.
    Done(T),
    /// The bytes are a valid beginning of the message but it is cut: try again with more bytes.
    Incomplete,
    /// The bytes are not this message (another protocol, malformed, or not sent in clear).
    NotTls,
}

impl<T> Parse<T> {
    /// The parsed value, if any.
    pub(crate) fn done(self) -> Option<T> {
        match self {
            Parse::Done(v) => Some(v),
            Parse::Incomplete | Parse::NotTls => None,
        }
    }

    /// Whether more bytes could still turn this into `Done`.
    pub(crate) fn is_incomplete(&self) -> bool {
        matches!(self, Parse::Incomplete)
    }

    /// A borrowing view of the outcome.
    pub(crate) fn as_ref(&self) -> Parse<&T> {
        match self {
            Parse::Done(v) => Parse::Done(v),
            Parse::Incomplete => Parse::Incomplete,
            Parse::NotTls => Parse::NotTls,
        }
    }

    /// Applies `f` to a parsed value.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> Parse<U> {
        match self {
            Parse::Done(v) => Parse::Done(f(v)),
            Parse::Incomplete => Parse::Incomplete,
            Parse::NotTls => Parse::NotTls,
        }
    }
}

/// Cipher suites kept from a ClientHello (a browser offers ~15–20; the wire allows 32767).
pub(crate) const CIPHER_SUITES_MAX: usize = 128;
/// Extension types kept from a hello (browsers send ~15–20; one of each type is allowed,
/// RFC 8446 §4.2).
pub(crate) const EXTENSIONS_MAX: usize = 64;
/// Signature algorithms kept (RFC 8446 §4.2.3; browsers offer ~10).
pub(crate) const SIG_ALGS_MAX: usize = 64;
/// Supported groups kept (RFC 8446 §4.2.7; browsers offer ~5).
pub(crate) const GROUPS_MAX: usize = 32;
/// supported_versions entries kept (RFC 8446 §4.2.1: at most 127 by its 1-byte length).
pub(crate) const VERSIONS_MAX: usize = 16;
/// ALPN protocol names kept (RFC 7301 §3.1; browsers offer 2–3).
pub(crate) const ALPN_MAX: usize = 8;
/// Bytes kept of one ALPN protocol name (RFC 7301 §3.1 allows 255; registered ones are ≤ 16).
pub(crate) const ALPN_ID_MAX: usize = 32;
/// Longest server name accepted: a DNS name is at most 253 characters in text form
/// (RFC 1035 §2.3.4: 255 octets on the wire), and RFC 6066 §3 carries it without the final dot.
pub(crate) const SNI_MAX: usize = 253;
/// Longest DNS label (RFC 1035 §2.3.4).
pub(crate) const DNS_LABEL_MAX: usize = 63;
/// Characters kept of a certificate name attribute (CN, O). RFC 5280 Appendix A's upper bound
/// for a common name is 64 and for an organization 64; a little slack for non-conforming CAs.
pub(crate) const CERT_NAME_MAX: usize = 128;
/// subjectAltName DNS names kept from one certificate (RFC 5280 §4.2.1.6 sets no limit; CDN
/// certificates carry up to ~100).
pub(crate) const SAN_DNS_MAX: usize = 32;

/// What a ClientHello says about the client (RFC 8446 §4.1.2, RFC 5246 §7.4.1.2).
///
/// Lists keep wire order with GREASE values (RFC 8701) removed; each is cut at its `*_MAX`
/// bound, and `truncated` says whether any was.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientHello {
    /// `legacy_version` (`client_version` before TLS 1.3), e.g. 0x0303.
    pub(crate) legacy_version: u16,
    /// The supported_versions extension's list (RFC 8446 §4.2.1), GREASE removed.
    pub(crate) supported_versions: Vec<u16>,
    /// Whether a server_name extension (type 0) was present, valid or not.
    pub(crate) sni_present: bool,
    /// The host_name from server_name (RFC 6066 §3), when it is a valid DNS name; lower-cased.
    pub(crate) sni: Option<String>,
    /// ALPN protocol names in preference order (RFC 7301 §3.1), raw bytes.
    pub(crate) alpn: Vec<Vec<u8>>,
    /// Cipher suite ids in wire order.
    pub(crate) cipher_suites: Vec<u16>,
    /// Extension type ids in wire order.
    pub(crate) extensions: Vec<u16>,
    /// signature_algorithms (RFC 8446 §4.2.3) in wire order.
    pub(crate) signature_algorithms: Vec<u16>,
    /// supported_groups (RFC 8446 §4.2.7, formerly elliptic_curves) in wire order.
    pub(crate) supported_groups: Vec<u16>,
    /// Whether any GREASE value (RFC 8701) appeared in ciphers, extensions or their lists.
    pub(crate) grease: bool,
    /// Whether a list was longer than its bound and was cut.
    pub(crate) truncated: bool,
}

impl ClientHello {
    /// The highest protocol version offered: the largest supported_versions entry when that
    /// extension is present (RFC 8446 §4.2.1), else `legacy_version`.
    pub(crate) fn version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .max()
            .unwrap_or(self.legacy_version)
    }
}

/// What a ServerHello says about the session (RFC 8446 §4.1.3, RFC 5246 §7.4.1.3).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ServerHello {
    /// `legacy_version` (`server_version` before TLS 1.3).
    pub(crate) legacy_version: u16,
    /// The negotiated version: supported_versions' selected_version when present (TLS 1.3,
    /// RFC 8446 §4.2.1), else `legacy_version`.
    pub(crate) version: u16,
    /// The selected cipher suite.
    pub(crate) cipher_suite: u16,
    /// The selected ALPN protocol (RFC 7301 §3.1: exactly one name), raw bytes.
    pub(crate) alpn: Option<Vec<u8>>,
    /// Extension type ids in wire order.
    pub(crate) extensions: Vec<u16>,
    /// Whether this is a TLS 1.3 HelloRetryRequest (RFC 8446 §4.1.3: the special random).
    pub(crate) hello_retry: bool,
}

/// Names from the server's first (leaf) certificate (RFC 5280 §4.1.2.4, §4.1.2.6, §4.2.1.6).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Certificate {
    /// Subject commonName, printable, bounded by [`CERT_NAME_MAX`].
    pub(crate) subject_cn: Option<String>,
    /// Issuer commonName, printable, bounded by [`CERT_NAME_MAX`].
    pub(crate) issuer_cn: Option<String>,
    /// Issuer organizationName, printable, bounded by [`CERT_NAME_MAX`].
    pub(crate) issuer_o: Option<String>,
    /// subjectAltName dNSName entries, lower-cased, at most [`SAN_DNS_MAX`].
    pub(crate) san_dns: Vec<String>,
    /// Whether the subject equals the issuer (a self-issued certificate, RFC 5280 §3.3).
    pub(crate) self_issued: bool,
}

/// Whether `b` opens with a record header the record reader accepts (handshake, version 0x03xx,
/// xx ≤ 4) whose first handshake message is a ClientHello: a test of the first six bytes, for
/// detectors that only need to know that TLS starts here.
pub(crate) fn starts_client_hello(b: &[u8]) -> bool {
    b.len() > RECORD_HEADER_LEN
        && record::header_prefix_ok(b)
        && b.get(RECORD_HEADER_LEN) == Some(&client_hello::HANDSHAKE_CLIENT_HELLO)
}

/// Parses the ClientHello at the start of a client→server TCP stream: one or more TLS
/// handshake records (RFC 8446 §5.1) whose first handshake message is a ClientHello.
pub(crate) fn client_hello(stream: &[u8]) -> Parse<ClientHello> {
    client_hello::from_stream(stream)
}

/// Parses the ServerHello at the start of a server→client TCP stream.
pub(crate) fn server_hello(stream: &[u8]) -> Parse<ServerHello> {
    server::server_hello(stream)
}

/// Parses the server's leaf certificate from a server→client TCP stream (TLS ≤ 1.2, where the
/// Certificate message follows the ServerHello in clear, RFC 5246 §7.4.2). `NotTls` for TLS 1.3,
/// whose certificate is encrypted, and for resumed sessions, which send none.
pub(crate) fn certificate(stream: &[u8]) -> Parse<Certificate> {
    server::certificate(stream)
}

/// RFC 8701 §2: GREASE values for cipher suites, extensions, groups, signature algorithms and
/// versions are 0x0A0A, 0x1A1A, …, 0xFAFA: both bytes equal, low nibble 0xA.
pub(crate) fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// Pushes `v` onto `list` unless it is GREASE (then sets `grease`) or `list` is full (then sets
/// `truncated`).
fn keep(list: &mut Vec<u16>, v: u16, max: usize, grease: &mut bool, truncated: &mut bool) {
    if is_grease(v) {
        *grease = true;
    } else if list.len() < max {
        list.push(v);
    } else {
        *truncated = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_values_are_exactly_the_rfc_8701_set() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(all, expected);
        assert!(is_grease(0x0a0a) && is_grease(0xfafa));
        assert!(!is_grease(0x1a0a) && !is_grease(0x0a1a) && !is_grease(0x1301));
    }

    #[test]
    fn keep_filters_grease_and_bounds_the_list() {
        let (mut list, mut g, mut t) = (Vec::new(), false, false);
        keep(&mut list, 0x2a2a, 2, &mut g, &mut t);
        keep(&mut list, 1, 2, &mut g, &mut t);
        keep(&mut list, 2, 2, &mut g, &mut t);
        assert_eq!((list.as_slice(), g, t), (&[1u16, 2][..], true, false));
        keep(&mut list, 3, 2, &mut g, &mut t);
        assert_eq!((list.len(), t), (2, true));
    }

    #[test]
    fn version_prefers_supported_versions() {
        let mut ch = ClientHello {
            legacy_version: 0x0303,
            ..ClientHello::default()
        };
        assert_eq!(ch.version(), 0x0303);
        ch.supported_versions = vec![0x0303, 0x0304];
        assert_eq!(ch.version(), 0x0304);
    }

    /// First bytes of other protocols (and of the other TLS direction) are refused by every
    /// entry point.
    #[test]
    fn foreign_first_bytes_are_refused_everywhere() {
        let initial = testdata::hex(testdata::RFC9001_CLIENT_INITIAL);
        let hello = testdata::ja4_example_stream();
        let foreign: [&[u8]; 5] = [
            b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
            testdata::DNS_QUERY,
            testdata::STUN_BINDING_REQUEST,
            b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n",
            &[0x30, 0x82, 0x01, 0xd9, 0x30, 0x82, 0x01, 0x7f],
        ];
        for f in foreign {
            assert_eq!(client_hello(f), Parse::NotTls, "{f:02x?}");
            assert_eq!(server_hello(f), Parse::NotTls, "{f:02x?}");
            assert_eq!(certificate(f), Parse::NotTls, "{f:02x?}");
            assert_eq!(quic_initial(f), Parse::NotTls, "{f:02x?}");
            assert!(!starts_client_hello(f), "{f:02x?}");
        }
        assert!(starts_client_hello(&hello));
        assert!(!starts_client_hello(&hello[..RECORD_HEADER_LEN]));
        let mut minor_5 = hello.clone();
        minor_5[2] = 5;
        assert!(!starts_client_hello(&minor_5));
        let mut server_hello_type = hello.clone();
        server_hello_type[RECORD_HEADER_LEN] = 2;
        assert!(!starts_client_hello(&server_hello_type));
        assert_eq!(client_hello(&initial), Parse::NotTls);
        assert_eq!(server_hello(&initial), Parse::NotTls);
        assert_eq!(server_hello(&hello), Parse::NotTls);
        assert_eq!(certificate(&hello), Parse::NotTls);
        assert_eq!(quic_initial(&hello), Parse::NotTls);
    }

    proptest::proptest! {
        #[test]
        fn no_entry_point_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2000)) {
            let _ = client_hello(&b).map(|ch| (ch.ja4(false), ch.ja4_r(true), ch.ja4_o(false)));
            let _ = server_hello(&b);
            let _ = certificate(&b);
            let _ = quic_initial(&b);
            let _ = quic_initials([&b[..], &b[..]]);
        }
    }

    #[test]
    fn parse_helpers() {
        assert_eq!(Parse::Done(2).map(|x| x * 2), Parse::Done(4));
        assert!(Parse::<u8>::Incomplete.is_incomplete());
        assert_eq!(Parse::<u8>::NotTls.done(), None);
        assert_eq!(Parse::<u8>::Incomplete.map(|x| x), Parse::Incomplete);
    }
}
