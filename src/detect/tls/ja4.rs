//! JA4 client fingerprint of a ClientHello (FoxIO, `technical_details/JA4.md`, BSD-3-Clause).
//!
//! `JA4 = a_b_c` where
//! - `a` = protocol (`t` TLS over TCP, `q` QUIC) + 2-character version (highest
//!   supported_versions entry, else the legacy version) + `d` (server_name present) or `i` +
//!   2-digit cipher count + 2-digit extension count (both capped at 99, SNI and ALPN counted) +
//!   first and last character of the first ALPN value (`00` when none; its hex form's first and
//!   last characters when either end byte is not alphanumeric);
//! - `b` = first 12 hex characters of SHA-256 over the cipher ids as 4-digit lower-case hex,
//!   sorted, comma-joined (`000000000000` when there are none);
//! - `c` = the same over the sorted extension ids without server_name (0x0000) and ALPN
//!   (0x0010), then `_` and the signature algorithms in wire order when there are any
//!   (`000000000000` when no extension is left).
//!
//! GREASE values (RFC 8701) are ignored everywhere; [`ClientHello`] lists never contain them.
//! The raw (`_r`) form shows the lists instead of their hashes; the original-order (`_o`) form
//! keeps wire order and keeps server_name and ALPN in the extension list.

use super::client_hello::{EXT_ALPN, EXT_SERVER_NAME};
use super::ClientHello;
use sha2::{Digest, Sha256};

/// Largest count JA4 prints in its 2-digit fields.
const COUNT_MAX: usize = 99;
/// Hex characters kept of each SHA-256.
const HASH_CHARS: usize = 12;
/// What an empty list hashes to in JA4.
const EMPTY_HASH: &str = "000000000000";

/// Which JA4 variant to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Variant {
    /// Keep wire order and server_name/ALPN (the `_o` forms).
    original: bool,
    /// Show lists instead of hashes (the `_r` forms).
    raw: bool,
}

impl ClientHello {
    /// The JA4 fingerprint, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`; `quic` selects the `q`
    /// prefix for a ClientHello carried in QUIC.
    ///
    /// Clients of one kind send the same hello on every connection, so the fingerprint of a
    /// hello seen recently is taken from [`recent`] rather than sorted, written out and hashed
    /// again.
    pub(crate) fn ja4(&self, quic: bool) -> String {
        if let Some(fp) = recent::lookup(self, quic) {
            return fp;
        }
        let fp = self.ja4_variant(
            quic,
            Variant {
                original: false,
                raw: false,
            },
        );
        recent::remember(self, quic, &fp);
        fp
    }

    /// The raw JA4 (`JA4_r`): sorted lists in place of their hashes.
    pub(crate) fn ja4_r(&self, quic: bool) -> String {
        self.ja4_variant(
            quic,
            Variant {
                original: false,
                raw: true,
            },
        )
    }

    /// The original-order JA4 (`JA4_o`): wire order, server_name and ALPN kept, then hashed.
    pub(crate) fn ja4_o(&self, quic: bool) -> String {
        self.ja4_variant(
            quic,
            Variant {
                original: true,
                raw: false,
            },
        )
    }

    fn ja4_variant(&self, quic: bool, v: Variant) -> String {
        let mut ciphers = self.cipher_suites.clone();
        let exts: Vec<u16> = if v.original {
            self.extensions.clone()
        } else {
            let mut e: Vec<u16> = self
                .extensions
                .iter()
                .copied()
                .filter(|&t| t != EXT_SERVER_NAME && t != EXT_ALPN)
                .collect();
            e.sort_unstable();
            e
        };
        if !v.original {
            ciphers.sort_unstable();
        }
        let b = hex_list(&ciphers);
        let mut c = hex_list(&exts);
        if !self.signature_algorithms.is_empty() {
            c.push('_');
            c.push_str(&hex_list(&self.signature_algorithms));
        }
        let (b, c) = if v.raw {
            (b, c)
        } else {
            let c = if exts.is_empty() {
                EMPTY_HASH.to_string()
            } else {
                hash12(&c)
            };
            let b = if ciphers.is_empty() {
                EMPTY_HASH.to_string()
            } else {
                hash12(&b)
            };
            (b, c)
        };
        let mut fp = String::with_capacity(A_LEN + 2 + b.len() + c.len());
        self.push_ja4_a(&mut fp, quic);
        fp.push('_');
        fp.push_str(&b);
        fp.push('_');
        fp.push_str(&c);
        fp
    }

    /// Appends the `a` section: protocol, version, SNI, counts, ALPN characters.
    fn push_ja4_a(&self, s: &mut String, quic: bool) {
        s.push(if quic { 'q' } else { 't' });
        s.push_str(version_code(self.version()));
        s.push(if self.sni_present { 'd' } else { 'i' });
        push_count(s, self.cipher_suites.len());
        push_count(s, self.extensions.len());
        push_alpn_chars(s, self.alpn.first().map(Vec::as_slice).unwrap_or_default());
    }
}

/// JA4 fingerprints computed recently on this thread, each with every input it was computed
/// from (protocol, version, server_name presence, the cipher, extension and signature algorithm
/// lists, the first ALPN value): a hello equal in all of them has the same fingerprint. The
/// extensions are compared as a sorted list, as JA4 reads them: browsers send them in a new
/// random order on each connection (Chrome since version 110). The lists are bounded by the
/// ClientHello parser, so the cache is bounded too.
mod recent {
    use super::super::recent::Recent;
    use super::super::EXTENSIONS_MAX;
    use super::ClientHello;
    use std::cell::RefCell;

    /// Fingerprints remembered per thread; the oldest is replaced first.
    const ENTRIES_MAX: usize = 64;

    /// One fingerprint and its inputs.
    struct Entry {
        quic: bool,
        version: u16,
        sni_present: bool,
        ciphers: Box<[u16]>,
        /// Sorted.
        extensions: Box<[u16]>,
        signature_algorithms: Box<[u16]>,
        first_alpn: Option<Box<[u8]>>,
        fp: String,
    }

    impl Entry {
        /// Whether this is the fingerprint of `ch` (`extensions`: its extensions, sorted).
        fn is_for(&self, ch: &ClientHello, extensions: &[u16], quic: bool) -> bool {
            self.quic == quic
                && self.version == ch.version()
                && self.sni_present == ch.sni_present
                && *self.ciphers == *ch.cipher_suites
                && *self.extensions == *extensions
                && *self.signature_algorithms == *ch.signature_algorithms
                && self.first_alpn.as_deref() == ch.alpn.first().map(Vec::as_slice)
        }
    }

    /// `ch`'s extensions sorted, in `buf`.
    fn sorted<'b>(ch: &ClientHello, buf: &'b mut [u16; EXTENSIONS_MAX]) -> &'b [u16] {
        let n = ch.extensions.len().min(EXTENSIONS_MAX);
        let out = buf.get_mut(..n).unwrap_or_default();
        for (o, e) in out.iter_mut().zip(&ch.extensions) {
            *o = *e;
        }
        out.sort_unstable();
        out
    }

    thread_local! {
        static RECENT: RefCell<Recent<Entry>> = const { RefCell::new(Recent::new(ENTRIES_MAX)) };
    }

    /// The remembered fingerprint of `ch`.
    pub(super) fn lookup(ch: &ClientHello, quic: bool) -> Option<String> {
        if ch.extensions.len() > EXTENSIONS_MAX {
            return None;
        }
        let mut buf = [0; EXTENSIONS_MAX];
        let extensions = sorted(ch, &mut buf);
        RECENT.with_borrow(|r| {
            r.find(|e| e.is_for(ch, extensions, quic))
                .map(|e| e.fp.clone())
        })
    }

    /// Remembers `fp` as the fingerprint of `ch`.
    pub(super) fn remember(ch: &ClientHello, quic: bool, fp: &str) {
        if ch.extensions.len() > EXTENSIONS_MAX {
            return;
        }
        let mut buf = [0; EXTENSIONS_MAX];
        let entry = Entry {
            quic,
            version: ch.version(),
            sni_present: ch.sni_present,
            ciphers: ch.cipher_suites.as_slice().into(),
            extensions: sorted(ch, &mut buf).into(),
            signature_algorithms: ch.signature_algorithms.as_slice().into(),
            first_alpn: ch.alpn.first().map(|a| a.as_slice().into()),
            fp: fp.to_owned(),
        };
        RECENT.with_borrow_mut(|r| r.remember(entry));
    }
}

/// Length of the `a` section: 1 + 2 + 1 + 2 + 2 + 2 characters.
const A_LEN: usize = 10;

/// Appends a count as JA4's 2-digit field (`{:02}` of the count capped at [`COUNT_MAX`]).
fn push_count(s: &mut String, n: usize) {
    let n = u32::try_from(n.min(COUNT_MAX)).unwrap_or(0);
    for d in [n / 10, n % 10] {
        s.push(char::from_digit(d, 10).unwrap_or('0'));
    }
}

/// JA4's 2-character version code ("TLS and DTLS Version").
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// Appends JA4's ALPN characters ("ALPN Extension Value").
fn push_alpn_chars(s: &mut String, first: &[u8]) {
    let (Some(&a), Some(&z)) = (first.first(), first.last()) else {
        s.push_str("00");
        return;
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        s.push(char::from(a));
        s.push(char::from(z));
        return;
    }
    // The first hex digit of the first byte and the last hex digit of the last byte.
    for n in [a >> 4, z & 0x0f] {
        s.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
    }
}

/// Comma-joined 4-digit lower-case hex.
fn hex_list(v: &[u16]) -> String {
    let mut s = String::with_capacity(v.len() * 5);
    for (i, &x) in v.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        crate::hex::push_u16(&mut s, x);
    }
    s
}

/// First 12 lower-case hex characters of SHA-256 over `s`.
fn hash12(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    crate::hex::of(digest.get(..HASH_CHARS / 2).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::super::testdata;
    use super::super::{client_hello, Parse};
    use super::*;

    fn example() -> ClientHello {
        match client_hello(&testdata::ja4_example_stream()) {
            Parse::Done(ch) => ch,
            other => panic!("{other:?}"),
        }
    }

    /// JA4.md, "Example": `JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1`.
    #[test]
    fn spec_worked_example() {
        assert_eq!(example().ja4(false), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        assert_eq!(example().ja4(true), "q13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    /// The fingerprint remembered for a hello is only ever given for a hello equal in every
    /// input: hellos that differ in one input each, asked for in turn and again (more of them
    /// than are remembered), get what computing afresh gives.
    #[test]
    fn remembered_fingerprints_are_those_of_equal_hellos() {
        let base = example();
        let fresh = |ch: &ClientHello, quic: bool| {
            ch.ja4_variant(
                quic,
                Variant {
                    original: false,
                    raw: false,
                },
            )
        };
        let mut hellos = Vec::new();
        for i in 0..100u16 {
            let mut ch = base.clone();
            match i % 7 {
                0 => ch.cipher_suites.push(0x1000 + i),
                1 => ch.extensions.push(0x2000 + i),
                2 => ch.signature_algorithms.insert(0, 0x3000 + i),
                3 => ch
                    .alpn
                    .insert(0, vec![b'a' + (i % 26) as u8, b'0' + (i % 10) as u8]),
                4 => ch.supported_versions = vec![0x0301 + i % 4],
                5 if i % 2 == 0 => ch.sni_present = false,
                5 => ch.extensions.rotate_left(usize::from(i % 5) + 1),
                _ => {
                    ch.cipher_suites.truncate(usize::from(i % 15));
                    ch.alpn.clear();
                }
            }
            hellos.push(ch);
        }
        for round in 0..3 {
            for (k, ch) in hellos.iter().enumerate() {
                let quic = (k + round) % 3 == 0;
                assert_eq!(ch.ja4(quic), fresh(ch, quic), "hello {k}, round {round}");
                assert_eq!(base.ja4(!quic), fresh(&base, !quic));
            }
        }
    }

    /// JA4.md, "Raw Output": `JA4_r` and `JA4_o` of the same hello.
    #[test]
    fn spec_raw_and_original_forms() {
        assert_eq!(
            example().ja4_r(false),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,\
             cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,\
             0804,0401,0503,0805,0501,0806,0601"
        );
        assert_eq!(
            example().ja4_o(false),
            "t13d1516h2_acb858a92679_18f69afefd3d"
        );
        let ro = Variant {
            original: true,
            raw: true,
        };
        assert_eq!(
            example().ja4_variant(false, ro),
            "t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,\
             0035_001b,0000,0033,0010,4469,0017,002d,000d,0005,0023,0012,002b,ff01,000b,000a,\
             0015_0403,0804,0401,0503,0805,0501,0806,0601"
        );
    }

    /// JA4.md, "Cipher hash" and "Extension hash" (with and without signature algorithms).
    #[test]
    fn spec_hash_examples() {
        assert_eq!(
            hash12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
        let exts = "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01";
        assert_eq!(
            hash12(&format!("{exts}_0403,0804,0401,0503,0805,0501,0806,0601")),
            "e5627efa2ab1"
        );
        assert_eq!(hash12(exts), "6d807ffa2a79");
    }

    fn alpn_chars(first: &[u8]) -> String {
        let mut s = String::new();
        push_alpn_chars(&mut s, first);
        s
    }

    /// JA4.md, "ALPN Extension Value": the listed examples.
    #[test]
    fn spec_alpn_examples() {
        assert_eq!(alpn_chars(b"h2"), "h2");
        assert_eq!(alpn_chars(b"http/1.1"), "h1");
        assert_eq!(alpn_chars(b"h"), "hh");
        assert_eq!(alpn_chars(b""), "00");
        assert_eq!(alpn_chars(&[0xab]), "ab");
        assert_eq!(alpn_chars(&[0xab, 0xcd]), "ad");
        assert_eq!(alpn_chars(&[0x30, 0xab]), "3b");
        assert_eq!(alpn_chars(&[0x30, 0x31, 0xab, 0xcd]), "3d");
        assert_eq!(alpn_chars(&[0x30, 0xab, 0xcd, 0x31]), "01");
    }

    #[test]
    fn empty_lists_and_versions() {
        let ch = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        assert_eq!(ch.ja4(false), "t10i000000_000000000000_000000000000");
        assert_eq!(version_code(0x0300), "s3");
        assert_eq!(version_code(0x7f1c), "00");
        // Only SNI and ALPN: no extension left for the hash, signature algorithms or not.
        let ch = ClientHello {
            legacy_version: 0x0303,
            sni_present: true,
            cipher_suites: vec![0x1301],
            extensions: vec![0x0000, 0x0010],
            signature_algorithms: vec![0x0403],
            alpn: vec![b"h3".to_vec()],
            ..ClientHello::default()
        };
        assert_eq!(
            ch.ja4(true),
            format!("q12d0102h3_{}_000000000000", hash12("1301"))
        );
    }

    #[test]
    fn counts_are_capped_at_99() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            cipher_suites: (1..=120).collect(),
            extensions: (0x100..0x100 + 64).collect(),
            ..ClientHello::default()
        };
        assert!(ch.ja4(false).starts_with("t12i9964"));
    }

    /// The RFC 9001 Appendix A.2 ClientHello in QUIC: 2 ciphers, 11 extensions, ALPN "alpn".
    #[test]
    fn rfc9001_hello_prefix() {
        let s = testdata::record(0x16, &testdata::rfc9001_client_hello());
        let ch = client_hello(&s).done().unwrap();
        let ja4 = ch.ja4(true);
        assert!(ja4.starts_with("q13d0211an_"), "{ja4}");
        assert_eq!(ja4.len(), 10 + 1 + 12 + 1 + 12);
    }
}
