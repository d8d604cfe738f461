//! The ClientHello inside a QUIC client Initial packet.
//!
//! Facts used:
//! - Long header (RFC 9000 §17.2, RFC 8999 §5.1): first byte with the Header Form bit 0x80,
//!   version(4), DCID length(1) ≤ 20 and DCID, SCID length(1) ≤ 20 and SCID. An Initial
//!   (RFC 9000 §17.2.2) has long packet type 0 (1 in QUIC v2, RFC 9369 §3.2) and goes on with
//!   Token Length (varint), Token, Length (varint) of packet number plus payload, then the
//!   protected packet number. A client's first Initial carries a DCID of at least 8 bytes
//!   (RFC 9000 §7.2).
//! - Keys (RFC 9001 §5.2, RFC 9369 §3.3): `initial_secret = HKDF-Extract(version salt, DCID)`,
//!   `client_initial_secret = HKDF-Expand-Label(initial_secret, "client in", "", 32)`, then the
//!   AEAD key, IV and header-protection key with the labels "quic key" / "quic iv" /
//!   "quic hp" ("quicv2 …" for v2), HKDF-Expand-Label being RFC 8446 §7.1's.
//! - Header protection (RFC 9001 §5.4): a 16-byte sample taken 4 bytes after the packet number
//!   offset is encrypted with AES-128-ECB; mask byte 0 clears the low 4 bits of the first byte
//!   (long header), whose low 2 bits then give the packet number length, and mask bytes 1.. the
//!   packet number.
//! - Payload (RFC 9001 §5.3): AES-128-GCM, nonce = IV xor packet number, associated data = the
//!   unprotected header, 16-byte tag at the end. A tag that verifies proves the packet is QUIC.
//! - Frames allowed in an Initial (RFC 9000 §12.4, Table 3): PADDING, PING, ACK, CRYPTO,
//!   CONNECTION_CLOSE. CRYPTO frames (§19.6) carry TLS handshake bytes at an offset; clients
//!   split and reorder them (Chrome does so on purpose), so they are reassembled by offset, and
//!   a ClientHello may continue in the next Initial packet or datagram.
//!
//! Versions handled: QUIC v1 (0x00000001), draft-29 (0xff00001d), QUIC v2 (0x6b3343cf) and
//! Google's T051 (0x54303531, IETF packet layout with its own salt, as nDPI and Wireshark
//! decrypt it). Cryptography is RustCrypto's `hkdf`, `sha2` and `aes-gcm` (with its `aes`).

use super::client_hello::{from_handshake, CLIENT_HELLO_MAX};
use super::record::HANDSHAKE_HEADER_LEN;
use super::{ClientHello, Parse};
use aes_gcm::aead::array::Array;
use aes_gcm::aes::cipher::BlockCipherEncrypt;
use aes_gcm::aes::Aes128;
use aes_gcm::{AeadInOut, Aes128Gcm, KeyInit};
use hkdf::Hkdf;
use sha2::Sha256;

/// Header Form bit: 1 for a long header (RFC 9000 §17.2).
const LONG_HEADER: u8 = 0x80;
/// Long Packet Type bits of the first byte (RFC 9000 §17.2).
const TYPE_MASK: u8 = 0x30;
/// Shift of the Long Packet Type bits.
const TYPE_SHIFT: u8 = 4;
/// First-byte bits covered by header protection in a long header (RFC 9001 §5.4.1).
const LONG_HP_BITS: u8 = 0x0f;
/// Packet Number Length bits, value + 1 bytes (RFC 9000 §17.2).
const PN_LEN_BITS: u8 = 0x03;
/// Largest connection ID in QUIC v1/v2 (RFC 9000 §17.2).
const CID_MAX: usize = 20;
/// Smallest DCID in a client's first Initial (RFC 9000 §7.2).
const CLIENT_DCID_MIN: usize = 8;
/// Offset of the first byte after the version (RFC 9000 §17.2).
const DCID_LEN_OFFSET: usize = 5;
/// The header-protection sample starts this far after the packet number offset (RFC 9001
/// §5.4.2, which assumes a 4-byte packet number).
const SAMPLE_OFFSET: usize = 4;
/// Header-protection sample length (RFC 9001 §5.4.2).
const SAMPLE_LEN: usize = 16;
/// AEAD_AES_128_GCM tag length (RFC 5116 §5.1).
const TAG_LEN: usize = 16;
/// AEAD_AES_128_GCM key length (RFC 5116 §5.1).
const KEY_LEN: usize = 16;
/// AEAD nonce / IV length (RFC 5116 §5.1, RFC 9001 §5.3).
const IV_LEN: usize = 12;
/// Initial secrets are SHA-256 sized (RFC 9001 §5.2).
const SECRET_LEN: usize = 32;
/// HKDF-Expand-Label's label prefix (RFC 8446 §7.1).
const TLS13_LABEL_PREFIX: &[u8] = b"tls13 ";
/// Longest HKDF label: one length byte covers it (RFC 8446 §7.1, `opaque label<7..255>`).
const LABEL_MAX: usize = 255;
/// CRYPTO bytes reassembled at most: one ClientHello message, header included.
const CRYPTO_MAX: usize = CLIENT_HELLO_MAX + HANDSHAKE_HEADER_LEN;
/// CRYPTO frames kept for reassembly (Chrome splits a ClientHello into a few dozen at most).
const FRAGMENTS_MAX: usize = 64;
/// Coalesced packets read from one datagram (RFC 9000 §12.2: Initial, 0-RTT, Handshake…).
const PACKETS_PER_DATAGRAM_MAX: usize = 4;
/// Datagrams [`quic_initials`] reads (a ClientHello spans one or two Initials in practice).
const DATAGRAMS_MAX: usize = 8;
/// A varint's two high bits give its length as a power of two (RFC 9000 §16).
const VARINT_LEN_SHIFT: u8 = 6;
/// The value bits of a varint's first byte (RFC 9000 §16).
const VARINT_VALUE_BITS: u8 = 0x3f;
/// PADDING (RFC 9000 §19.1).
const FRAME_PADDING: u64 = 0x00;
/// PING (RFC 9000 §19.2).
const FRAME_PING: u64 = 0x01;
/// ACK (RFC 9000 §19.3).
const FRAME_ACK: u64 = 0x02;
/// ACK with ECN counts (RFC 9000 §19.3).
const FRAME_ACK_ECN: u64 = 0x03;
/// CRYPTO (RFC 9000 §19.6).
const FRAME_CRYPTO: u64 = 0x06;
/// CRYPTO in Google's T050/T051, which kept an earlier frame numbering (as Wireshark's and
/// nDPI's QUIC dissectors read it).
const FRAME_CRYPTO_T05X: u64 = 0x08;
/// CONNECTION_CLOSE of the transport (RFC 9000 §19.19).
const FRAME_CONNECTION_CLOSE: u64 = 0x1c;

/// QUIC versions whose Initial packets we can open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuicVersion {
    /// QUIC version 1 (RFC 9000).
    V1,
    /// draft-ietf-quic-transport-29, still sent by older stacks.
    Draft29,
    /// QUIC version 2 (RFC 9369).
    V2,
    /// Google QUIC T051: TLS 1.3 handshake in IETF-style Initial packets.
    T051,
}

impl QuicVersion {
    /// Maps the wire version.
    pub(crate) fn from_wire(v: u32) -> Option<QuicVersion> {
        match v {
            0x0000_0001 => Some(QuicVersion::V1),
            0xff00_001d => Some(QuicVersion::Draft29),
            0x6b33_43cf => Some(QuicVersion::V2),
            0x5430_3531 => Some(QuicVersion::T051),
            _ => None,
        }
    }

    /// Short name for evidence.
    pub(crate) fn name(self) -> &'static str {
        match self {
            QuicVersion::V1 => "QUIC v1",
            QuicVersion::Draft29 => "QUIC draft-29",
            QuicVersion::V2 => "QUIC v2",
            QuicVersion::T051 => "gQUIC T051",
        }
    }

    /// The initial salt: RFC 9001 §5.2 (v1), draft-ietf-quic-tls-29 §5.2, RFC 9369 §3.3.1 (v2),
    /// and Chromium's T051 salt (as used by Wireshark's and nDPI's QUIC dissectors).
    fn salt(self) -> [u8; 20] {
        match self {
            QuicVersion::V1 => [
                0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8,
                0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a,
            ],
            QuicVersion::Draft29 => [
                0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61,
                0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99,
            ],
            QuicVersion::V2 => [
                0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26,
                0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9,
            ],
            QuicVersion::T051 => [
                0x7a, 0x4e, 0xde, 0xf4, 0xe7, 0xcc, 0xee, 0x5f, 0xa4, 0x50, 0x6c, 0x19, 0x12, 0x4f,
                0xc8, 0xcc, 0xda, 0x6e, 0x03, 0x3d,
            ],
        }
    }

    /// Label prefix for the packet-protection keys (RFC 9001 §5.1, RFC 9369 §3.3.2).
    fn label_prefix(self) -> &'static [u8] {
        match self {
            QuicVersion::V2 => b"quicv2 ",
            QuicVersion::V1 | QuicVersion::Draft29 | QuicVersion::T051 => b"quic ",
        }
    }

    /// The CRYPTO frame type of this version.
    fn crypto_frame(self) -> u64 {
        match self {
            QuicVersion::T051 => FRAME_CRYPTO_T05X,
            QuicVersion::V1 | QuicVersion::Draft29 | QuicVersion::V2 => FRAME_CRYPTO,
        }
    }

    /// Long Packet Type of an Initial (RFC 9000 §17.2: 0; RFC 9369 §3.2: 1 in v2).
    fn initial_type(self) -> u8 {
        match self {
            QuicVersion::V2 => 1,
            QuicVersion::V1 | QuicVersion::Draft29 | QuicVersion::T051 => 0,
        }
    }
}

/// Parses the ClientHello from a client's first UDP datagram. `Incomplete` when the datagram is
/// cut or the ClientHello continues in a later Initial (use [`quic_initials`] then).
pub(crate) fn quic_initial(datagram: &[u8]) -> Parse<ClientHello> {
    quic_initials([datagram])
}

/// Parses the ClientHello from a client's first UDP datagrams, in arrival order, joining the
/// CRYPTO data of every Initial packet with the first one's DCID (and version).
pub(crate) fn quic_initials<'a>(
    datagrams: impl IntoIterator<Item = &'a [u8]>,
) -> Parse<ClientHello> {
    let mut crypto = Crypto::default();
    let mut first: Option<(QuicVersion, &[u8])> = None;
    let mut cut = false;
    for d in datagrams.into_iter().take(DATAGRAMS_MAX) {
        let mut rest = d;
        for _ in 0..PACKETS_PER_DATAGRAM_MAX {
            let h = match header(rest) {
                Parse::Done(h) => h,
                Parse::Incomplete => {
                    cut = true;
                    break;
                }
                Parse::NotTls if first.is_none() => return Parse::NotTls,
                Parse::NotTls => break,
            };
            let same = first.is_none_or(|(v, dcid)| v == h.version && dcid == h.dcid);
            if same {
                match open(rest, &h) {
                    Some(payload) => {
                        let is_first = first.is_none();
                        first.get_or_insert((h.version, h.dcid));
                        // A frame that cannot be in an Initial: refuse the flow when it is in
                        // the first packet, otherwise keep what was gathered.
                        if frames(&payload, h.version, &mut crypto).is_none() && is_first {
                            return Parse::NotTls;
                        }
                    }
                    None if first.is_none() => return Parse::NotTls,
                    None => {}
                }
            }
            rest = rest.get(h.end..).unwrap_or_default();
            if rest.is_empty() {
                break;
            }
        }
        if let Parse::Done(ch) = from_handshake(crypto.contiguous()) {
            return Parse::Done(ch);
        }
    }
    if first.is_none() {
        return if cut {
            Parse::Incomplete
        } else {
            Parse::NotTls
        };
    }
    from_handshake(crypto.contiguous())
}

/// The fields of an Initial packet header needed to open it.
#[derive(Clone, Copy, Debug)]
struct Header<'a> {
    version: QuicVersion,
    dcid: &'a [u8],
    /// Offset of the (protected) packet number.
    pn_offset: usize,
    /// Offset just past this packet (coalesced packets may follow).
    end: usize,
}

/// Reads a client Initial's long header at the start of `d`.
fn header(d: &[u8]) -> Parse<Header<'_>> {
    let Some(&first) = d.first() else {
        return Parse::Incomplete;
    };
    if first & LONG_HEADER == 0 {
        return Parse::NotTls;
    }
    let Some(wire) = crate::detect::be32(d, 1) else {
        return Parse::Incomplete;
    };
    let Some(version) = QuicVersion::from_wire(wire) else {
        return Parse::NotTls;
    };
    if (first & TYPE_MASK) >> TYPE_SHIFT != version.initial_type() {
        return Parse::NotTls;
    }
    match header_rest(d, version) {
        Some(Ok(h)) => Parse::Done(h),
        Some(Err(())) => Parse::NotTls,
        None => Parse::Incomplete,
    }
}

/// The header after the version: `None` when cut, `Some(Err)` when malformed.
fn header_rest(d: &[u8], version: QuicVersion) -> Option<Result<Header<'_>, ()>> {
    let dcid_len = usize::from(*d.get(DCID_LEN_OFFSET)?);
    if !(CLIENT_DCID_MIN..=CID_MAX).contains(&dcid_len) {
        return Some(Err(()));
    }
    let dcid_at = DCID_LEN_OFFSET + 1;
    let dcid = d.get(dcid_at..dcid_at + dcid_len)?;
    let scid_len_at = dcid_at + dcid_len;
    let scid_len = usize::from(*d.get(scid_len_at)?);
    if scid_len > CID_MAX {
        return Some(Err(()));
    }
    let mut at = scid_len_at + 1 + scid_len;
    let token_len = varint(d, &mut at)?;
    at = at.checked_add(usize::try_from(token_len).ok()?)?;
    let length = usize::try_from(varint(d, &mut at)?).ok()?;
    if length < SAMPLE_OFFSET + SAMPLE_LEN {
        // Too short to carry a header-protection sample (RFC 9001 §5.4.2).
        return Some(Err(()));
    }
    let end = at.checked_add(length)?;
    if end > d.len() {
        return None;
    }
    Some(Ok(Header {
        version,
        dcid,
        pn_offset: at,
        end,
    }))
}

/// Reads a QUIC variable-length integer (RFC 9000 §16) at `*at`, advancing it.
fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let first = *b.get(*at)?;
    let len = 1usize << (first >> VARINT_LEN_SHIFT);
    let bytes = b.get(*at..at.checked_add(len)?)?;
    let mut v = u64::from(first & VARINT_VALUE_BITS);
    for &x in bytes.iter().skip(1) {
        v = v << 8 | u64::from(x);
    }
    *at += len;
    Some(v)
}

/// Client Initial keys (RFC 9001 §5.2, §5.1).
struct Keys {
    key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
    hp: [u8; KEY_LEN],
}

/// Derives the client Initial keys for `version` from the client's DCID.
fn client_keys(version: QuicVersion, dcid: &[u8]) -> Option<Keys> {
    let (_, initial) = Hkdf::<Sha256>::extract(Some(&version.salt()), dcid);
    let mut secret = [0u8; SECRET_LEN];
    expand_label(&initial, &[b"client in"], &mut secret)?;
    let client = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    let prefix = version.label_prefix();
    let mut keys = Keys {
        key: [0; KEY_LEN],
        iv: [0; IV_LEN],
        hp: [0; KEY_LEN],
    };
    expand_label(&client, &[prefix, b"key"], &mut keys.key)?;
    expand_label(&client, &[prefix, b"iv"], &mut keys.iv)?;
    expand_label(&client, &[prefix, b"hp"], &mut keys.hp)?;
    Some(keys)
}

/// HKDF-Expand-Label(secret, label, "", out.len()) (RFC 8446 §7.1); `label` is given in parts.
fn expand_label(hk: &Hkdf<Sha256>, label: &[&[u8]], out: &mut [u8]) -> Option<()> {
    let label_len = TLS13_LABEL_PREFIX.len() + label.iter().map(|p| p.len()).sum::<usize>();
    if label_len > LABEL_MAX {
        return None;
    }
    let mut info = Vec::with_capacity(2 + 1 + label_len + 1);
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(label_len).ok()?);
    info.extend_from_slice(TLS13_LABEL_PREFIX);
    for p in label {
        info.extend_from_slice(p);
    }
    info.push(0); // empty context
    hk.expand(&info, out).ok()
}

/// Removes header protection and decrypts the packet at the start of `d`; `None` when the
/// AEAD tag does not verify.
fn open(d: &[u8], h: &Header<'_>) -> Option<Vec<u8>> {
    let keys = client_keys(h.version, h.dcid)?;
    let sample_at = h.pn_offset + SAMPLE_OFFSET;
    let sample: [u8; SAMPLE_LEN] = d.get(sample_at..sample_at + SAMPLE_LEN)?.try_into().ok()?;
    let mut mask = Array::from(sample);
    Aes128::new(&Array::from(keys.hp)).encrypt_block(&mut mask);
    let first = d.first()? ^ (mask.first()? & LONG_HP_BITS);
    let pn_len = usize::from(first & PN_LEN_BITS) + 1;
    let body_at = h.pn_offset + pn_len;
    let mut aad = d.get(..body_at)?.to_vec();
    *aad.first_mut()? = first;
    let mut pn = 0u64;
    for (i, m) in mask.iter().skip(1).take(pn_len).enumerate() {
        let b = aad.get_mut(h.pn_offset + i)?;
        *b ^= m;
        pn = pn << 8 | u64::from(*b);
    }
    let tag_at = h.end.checked_sub(TAG_LEN)?;
    let tag: [u8; TAG_LEN] = d.get(tag_at..h.end)?.try_into().ok()?;
    let mut payload = d.get(body_at..tag_at)?.to_vec();
    // Nonce: the IV with the packet number xored into its low-order bytes (RFC 9001 §5.3).
    let mut nonce = keys.iv;
    for (n, p) in nonce.iter_mut().rev().zip(pn.to_le_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new(&Array::from(keys.key));
    aead.decrypt_inout_detached(
        &Array::from(nonce),
        &aad,
        payload.as_mut_slice().into(),
        &Array::from(tag),
    )
    .ok()?;
    Some(payload)
}

/// Walks the frames of a decrypted Initial, feeding CRYPTO data to `crypto`. `None` on a frame
/// that cannot be in an Initial or does not parse.
fn frames(p: &[u8], version: QuicVersion, crypto: &mut Crypto) -> Option<()> {
    let ietf = version.crypto_frame() == FRAME_CRYPTO;
    let mut at = 0;
    while at < p.len() {
        match varint(p, &mut at)? {
            FRAME_PADDING => {}
            FRAME_PING if ietf => {}
            t @ (FRAME_ACK | FRAME_ACK_ECN) if ietf => skip_ack(p, &mut at, t == FRAME_ACK_ECN)?,
            t if t == version.crypto_frame() => {
                let offset = varint(p, &mut at)?;
                let len = usize::try_from(varint(p, &mut at)?).ok()?;
                let data = p.get(at..at.checked_add(len)?)?;
                at += len;
                crypto.add(offset, data);
            }
            // A close ends the packet's useful content.
            FRAME_CONNECTION_CLOSE if ietf => return Some(()),
            _ => return None,
        }
    }
    Some(())
}

/// Skips an ACK frame's fields (RFC 9000 §19.3): largest, delay, range count, first range,
/// ranges (gap, length), and three ECN counts for type 0x03.
fn skip_ack(p: &[u8], at: &mut usize, ecn: bool) -> Option<()> {
    varint(p, at)?;
    varint(p, at)?;
    let ranges = varint(p, at)?;
    varint(p, at)?;
    // Each range takes at least two bytes: a count beyond that is malformed, and checking it
    // first keeps the loop bounded by the packet, not by the declared count.
    if ranges > u64::try_from(p.len().saturating_sub(*at) / 2).ok()? {
        return None;
    }
    for _ in 0..ranges {
        varint(p, at)?;
        varint(p, at)?;
    }
    if ecn {
        for _ in 0..3 {
            varint(p, at)?;
        }
    }
    Some(())
}

/// CRYPTO stream reassembly by offset, bounded by [`CRYPTO_MAX`] and [`FRAGMENTS_MAX`].
#[derive(Debug, Default)]
struct Crypto {
    buf: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Crypto {
    /// Stores `data` at `offset`; fragments beyond the bounds are dropped.
    fn add(&mut self, offset: u64, data: &[u8]) {
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        let Some(end) = start.checked_add(data.len()) else {
            return;
        };
        if end > CRYPTO_MAX || self.ranges.len() >= FRAGMENTS_MAX || data.is_empty() {
            return;
        }
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        if let Some(dst) = self.buf.get_mut(start..end) {
            dst.copy_from_slice(data);
            self.ranges.push((start, end));
        }
    }

    /// The bytes received without a hole from offset 0.
    fn contiguous(&self) -> &[u8] {
        let mut sorted = self.ranges.clone();
        sorted.sort_unstable();
        let mut reach = 0;
        for (s, e) in sorted {
            if s > reach {
                break;
            }
            reach = reach.max(e);
        }
        self.buf.get(..reach).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testdata::{self, hex};
    use super::*;
    use proptest::prelude::*;

    /// RFC 9001 Appendix A.1: the client keys for DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_client_keys() {
        let k = client_keys(QuicVersion::V1, &hex("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    }

    /// RFC 9369 Appendix A.1: the QUIC v2 client keys for the same DCID.
    #[test]
    fn rfc9369_client_keys() {
        let k = client_keys(QuicVersion::V2, &hex("8394c8f03e515708")).unwrap();
        assert_eq!(k.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(k.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
        assert_eq!(k.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    }

    fn check_example_com(p: Parse<ClientHello>) {
        let ch = p.done().expect("a ClientHello");
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, vec![b"alpn".to_vec()]);
        assert_eq!(ch.cipher_suites, vec![0x1301, 0x1302]);
        assert!(ch.ja4(true).starts_with("q13d0211an_"));
    }

    /// RFC 9001 Appendix A.2: the protected client Initial decrypts to the example.com hello.
    #[test]
    fn rfc9001_client_initial() {
        let d = hex(testdata::RFC9001_CLIENT_INITIAL);
        assert_eq!(d.len(), 1200);
        check_example_com(quic_initial(&d));
    }

    /// RFC 9369 Appendix A.2: the same hello in a QUIC v2 Initial.
    #[test]
    fn rfc9369_client_initial() {
        check_example_com(quic_initial(&hex(testdata::RFC9369_CLIENT_INITIAL)));
    }

    #[test]
    fn every_prefix_of_the_initial_is_incomplete_never_done() {
        let d = hex(testdata::RFC9001_CLIENT_INITIAL);
        for n in 0..d.len() {
            assert_eq!(quic_initial(&d[..n]), Parse::Incomplete, "prefix {n}");
        }
    }

    #[test]
    fn tampering_breaks_the_tag() {
        let mut d = hex(testdata::RFC9001_CLIENT_INITIAL);
        d[600] ^= 1;
        assert_eq!(quic_initial(&d), Parse::NotTls);
        // A different DCID gives different keys.
        let mut d = hex(testdata::RFC9001_CLIENT_INITIAL);
        d[6] ^= 1;
        assert_eq!(quic_initial(&d), Parse::NotTls);
    }

    /// RFC 9001 Appendix A.3: the server's Initial (empty DCID) is not a client Initial.
    #[test]
    fn server_initial_is_refused() {
        assert_eq!(
            quic_initial(&hex(testdata::RFC9001_SERVER_INITIAL)),
            Parse::NotTls
        );
    }

    #[test]
    fn other_protocols_are_refused() {
        let mut v1_as_v2 = hex(testdata::RFC9001_CLIENT_INITIAL);
        v1_as_v2[1..5].copy_from_slice(&[0x6b, 0x33, 0x43, 0xcf]); // type 0 is not Initial in v2
        let mut unknown = hex(testdata::RFC9001_CLIENT_INITIAL);
        unknown[4] = 0x02;
        for d in [
            testdata::DNS_QUERY.to_vec(),
            testdata::STUN_BINDING_REQUEST.to_vec(),
            testdata::ja4_example_stream(),
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            v1_as_v2,
            unknown,
            vec![0x40; 1200], // short header
        ] {
            assert_eq!(quic_initial(&d), Parse::NotTls, "{:02x?}", &d[..8]);
        }
    }

    /// Builds a protected v1 client Initial from frames, as RFC 9001 §5 describes, so that
    /// reassembly cases can be laid out: the inverse of [`open`].
    fn seal(dcid: &[u8], pn: u8, frames: &[u8]) -> Vec<u8> {
        let keys = client_keys(QuicVersion::V1, dcid).unwrap();
        let mut plain = frames.to_vec();
        plain.resize(plain.len().max(1162), 0); // PADDING to a 1200-byte datagram
        let length = 1 + plain.len() + TAG_LEN;
        let mut hdr = vec![0xc0, 0, 0, 0, 1, dcid.len() as u8];
        hdr.extend_from_slice(dcid);
        hdr.extend_from_slice(&[0, 0]); // SCID length 0, token length 0
        hdr.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
        let pn_offset = hdr.len();
        hdr.push(pn);
        let mut nonce = keys.iv;
        nonce[IV_LEN - 1] ^= pn;
        let aead = Aes128Gcm::new(&Array::from(keys.key));
        let tag = aead
            .encrypt_inout_detached(&Array::from(nonce), &hdr, plain.as_mut_slice().into())
            .unwrap();
        let mut pkt = [hdr, plain, tag.to_vec()].concat();
        let sample: [u8; 16] = pkt[pn_offset + 4..pn_offset + 20].try_into().unwrap();
        let mut mask = Array::from(sample);
        Aes128::new(&Array::from(keys.hp)).encrypt_block(&mut mask);
        pkt[0] ^= mask[0] & LONG_HP_BITS;
        pkt[pn_offset] ^= mask[1];
        pkt
    }

    fn crypto_frame(offset: u16, data: &[u8]) -> Vec<u8> {
        let mut f = vec![0x06];
        f.extend_from_slice(&(0x4000 | offset).to_be_bytes());
        f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    const DCID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    #[test]
    fn reordered_crypto_frames_with_ping_and_ack_reassemble() {
        let ch = testdata::ja4_example_message();
        let (a, b) = ch.split_at(100);
        let (b, c) = b.split_at(150);
        let mut frames = crypto_frame(250, c);
        frames.extend_from_slice(&[0x01, 0x00, 0x00]); // PING, PADDING
        frames.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, 0x00]); // ACK of packet 0
        frames.extend(crypto_frame(0, a));
        frames.extend(crypto_frame(100, b));
        let d = seal(&DCID, 0, &frames);
        let got = quic_initial(&d).done().unwrap();
        assert_eq!(got.sni.as_deref(), Some("www.example.org"));
        assert_eq!(got.ja4(true), "q13d1516h2_8daaf6152771_e5627efa2ab1");
    }

    #[test]
    fn hello_across_two_datagrams() {
        let ch = testdata::ja4_example_message();
        let (a, b) = ch.split_at(200);
        let d1 = seal(&DCID, 0, &crypto_frame(0, a));
        let d2 = seal(&DCID, 1, &crypto_frame(200, b));
        assert_eq!(quic_initial(&d1), Parse::Incomplete);
        assert!(quic_initials([&d1[..], &d2[..]]).done().is_some());
        // Coalesced in one datagram.
        let both = [d1.clone(), d2.clone()].concat();
        assert!(quic_initial(&both).done().is_some());
        // A second datagram for another connection is ignored.
        let other = seal(&[9; 8], 1, &crypto_frame(200, b));
        assert_eq!(quic_initials([&d1[..], &other[..]]), Parse::Incomplete);
    }

    #[test]
    fn initial_without_crypto_or_with_a_forbidden_frame() {
        assert_eq!(quic_initial(&seal(&DCID, 0, &[0x01])), Parse::Incomplete);
        // STREAM frames (0x08..0x0f) are not allowed in Initial packets.
        assert_eq!(
            quic_initial(&seal(&DCID, 0, &[0x08, 0x00, 0x01])),
            Parse::NotTls
        );
        // CRYPTO data that is not a ClientHello.
        let sh = hex(testdata::RFC9001_SERVER_HELLO);
        assert_eq!(
            quic_initial(&seal(&DCID, 0, &crypto_frame(0, &sh))),
            Parse::NotTls
        );
    }

    #[test]
    fn varints_of_every_length() {
        // RFC 9000 Appendix A.1 examples.
        for (bytes, v) in [
            ("c2197c5eff14e88c", 151_288_809_941_952_652u64),
            ("9d7f3e7d", 494_878_333),
            ("7bbd", 15_293),
            ("25", 37),
            ("4025", 37),
        ] {
            let b = hex(bytes);
            let mut at = 0;
            assert_eq!(varint(&b, &mut at), Some(v));
            assert_eq!(at, b.len());
        }
        let mut at = 0;
        assert_eq!(varint(&hex("c2197c"), &mut at), None);
    }

    #[test]
    fn crypto_reassembly_is_bounded() {
        let mut c = Crypto::default();
        c.add(u64::MAX, b"x");
        c.add(CRYPTO_MAX as u64, b"x");
        assert!(c.buf.is_empty());
        for i in 0..(FRAGMENTS_MAX as u64 + 10) {
            c.add(i, b"a");
        }
        assert_eq!(c.contiguous().len(), FRAGMENTS_MAX);
        let mut gap = Crypto::default();
        gap.add(5, b"later");
        assert!(gap.contiguous().is_empty());
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(b in proptest::collection::vec(any::<u8>(), 0..1400)) {
            let _ = quic_initial(&b);
            let mut long = b.clone();
            if let Some(f) = long.first_mut() { *f |= 0xc0; }
            let _ = quic_initials([&long[..], &b[..]]);
        }

        #[test]
        fn mutated_initial_never_panics(i in 0usize..1200, x in any::<u8>()) {
            let mut d = hex(testdata::RFC9001_CLIENT_INITIAL);
            d[i] ^= x;
            let _ = quic_initial(&d);
        }

        #[test]
        fn arbitrary_frames_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut c = Crypto::default();
            let _ = frames(&b, QuicVersion::V1, &mut c);
            let _ = frames(&b, QuicVersion::T051, &mut c);
            let _ = from_handshake(c.contiguous());
        }
    }
}
