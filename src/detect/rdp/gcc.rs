//! The client's core data (TS_UD_CS_CORE) from an MCS Connect-Initial sent in clear.
//!
//! Under Standard RDP Security the client's first Data TPDU after the X.224 exchange is an MCS
//! Connect-Initial (T.125 §11.1, BER) whose `userData` OCTET STRING holds a GCC Conference
//! Create Request (T.124, PER) whose user data, behind the H.221 key "Duca", is a run of client
//! data blocks (MS-RDPBCGR 2.2.1.3, annotated in 4.1.3):
//!
//! ```text
//! 7F 65 len                     Connect-Initial [APPLICATION 101]
//!   04 len ..                   callingDomainSelector
//!   04 len ..                   calledDomainSelector
//!   01 01 ..                    upwardFlag
//!   30 len .. (three times)     target, minimum, maximum DomainParameters
//!   04 len                      userData:
//!     00 05 00 14 7C 00 01      T.124 key object identifier {0 0 20 124 0 1}
//!     len                       connectPDU length (PER)
//!     00 08 00 10 00 01 C0 00   ConferenceCreateRequest fields
//!     44 75 63 61               H.221 non-standard key "Duca"
//!     len                       user data length (PER)
//!     blocks                    TS_UD_HEADER type/length, then the block (2.2.1.3.1)
//! ```
//!
//! The core block comes first and names the client machine, its keyboard layout, its build and
//! its desktop size (2.2.1.3.2). Everything here reads what is present: a record cut short
//! yields the fields that were complete, never a guess, and lengths that disagree with the
//! bytes end the walk.

use super::klid;
use super::{GCC_CLIENT_KEY, MCS_CONNECT_INITIAL};
use crate::detect::{le16, le32};

/// BER tag OCTET STRING (X.690 §8.7; T.125 domain selectors and userData).
const BER_OCTET_STRING: u8 = 0x04;
/// BER tag BOOLEAN (X.690 §8.2; T.125 upwardFlag).
const BER_BOOLEAN: u8 = 0x01;
/// BER tag SEQUENCE (X.690 §8.9; T.125 DomainParameters).
const BER_SEQUENCE: u8 = 0x30;
/// BER long-form length with one length byte (X.690 §8.1.3.5).
const BER_LEN_1: u8 = 0x81;
/// BER long-form length with two length bytes (X.690 §8.1.3.5).
const BER_LEN_2: u8 = 0x82;
/// High bit of a BER length byte: long form (X.690 §8.1.3.4–5).
const BER_LONG_FORM: u8 = 0x80;
/// T.124 ConnectData key: object choice, length 5, OID {0 0 20 124 0 1} (MS-RDPBCGR 4.1.3).
const T124_KEY: [u8; 7] = [0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01];
/// How far into the connectPDU the H.221 key may start: MS-RDPBCGR 4.1.3 puts it after 8 bytes
/// of ConferenceCreateRequest fields; the slack admits encoders that fill optional fields.
const GCC_KEY_SEARCH: usize = 24;
/// PER length determinant: top bits 10 announce a two-byte length (X.691 §11.9.3.7).
const PER_LEN_2: u8 = 0x80;
/// Mask of the top two bits of a PER length byte (X.691 §11.9.3.6–8).
const PER_LEN_FORM: u8 = 0xC0;
/// Value bits of the first byte of a two-byte PER length (X.691 §11.9.3.7).
const PER_LEN_HIGH: u8 = 0x3F;

/// TS_UD_HEADER type of the client core data block (MS-RDPBCGR 2.2.1.3.1: CS_CORE).
const CS_CORE: u16 = 0xC001;
/// TS_UD_HEADER length: type and length fields (MS-RDPBCGR 2.2.1.3.1).
const UD_HEADER_LEN: usize = 4;

// TS_UD_CS_CORE field offsets from the start of the block, header included (2.2.1.3.2).
/// `version`: RDP version the client speaks.
const CORE_VERSION: usize = 4;
/// `desktopWidth` in pixels.
const CORE_DESKTOP_WIDTH: usize = 8;
/// `desktopHeight` in pixels.
const CORE_DESKTOP_HEIGHT: usize = 10;
/// `keyboardLayout`: the active input locale identifier (KLID).
const CORE_KEYBOARD_LAYOUT: usize = 16;
/// `clientBuild`: the client's build number.
const CORE_CLIENT_BUILD: usize = 20;
/// `clientName`: 32 bytes, UTF-16LE, NUL-terminated (at most 15 characters).
const CORE_CLIENT_NAME: usize = 24;
/// Length of `clientName`.
const CLIENT_NAME_LEN: usize = 32;
/// `keyboardType`.
const CORE_KEYBOARD_TYPE: usize = 56;
/// `keyboardSubType` (OEM-dependent).
const CORE_KEYBOARD_SUBTYPE: usize = 60;
/// `keyboardFunctionKey`: number of function keys.
const CORE_KEYBOARD_FUNCTION_KEYS: usize = 64;

/// What TS_UD_CS_CORE says about the client; a field is `None` when the block ends before it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ClientCore {
    /// RDP version (0x00080001 RDP 4.0, 0x00080004 RDP 5.0 and later, …).
    pub(super) version: Option<u32>,
    /// Desktop width and height in pixels.
    pub(super) desktop: Option<(u16, u16)>,
    /// Keyboard layout identifier.
    pub(super) keyboard_layout: Option<u32>,
    /// Client build number.
    pub(super) build: Option<u32>,
    /// Client machine name, rendered printable (see [`client_name`]).
    pub(super) name: Option<String>,
    /// keyboardType.
    pub(super) keyboard_type: Option<u32>,
    /// keyboardSubType.
    pub(super) keyboard_subtype: Option<u32>,
    /// keyboardFunctionKey.
    pub(super) function_keys: Option<u32>,
}

impl ClientCore {
    /// Reads the fields of a TS_UD_CS_CORE block (header included) that `block` holds whole.
    /// `None` unless the header says CS_CORE.
    pub(super) fn parse(block: &[u8]) -> Option<ClientCore> {
        if le16(block, 0)? != CS_CORE {
            return None;
        }
        let desktop = le16(block, CORE_DESKTOP_WIDTH).zip(le16(block, CORE_DESKTOP_HEIGHT));
        let name = block
            .get(CORE_CLIENT_NAME..CORE_CLIENT_NAME + CLIENT_NAME_LEN)
            .map(client_name);
        Some(ClientCore {
            version: le32(block, CORE_VERSION),
            desktop,
            keyboard_layout: le32(block, CORE_KEYBOARD_LAYOUT),
            build: le32(block, CORE_CLIENT_BUILD),
            name,
            keyboard_type: le32(block, CORE_KEYBOARD_TYPE),
            keyboard_subtype: le32(block, CORE_KEYBOARD_SUBTYPE),
            function_keys: le32(block, CORE_KEYBOARD_FUNCTION_KEYS),
        })
    }

    /// One evidence line, e.g. `client name "WS-1234", keyboard layout 0x00000412 (Korean,
    /// KR), build 2600, 1024x768, keyboard type 4 (…), subtype 0, 12 function keys`; `None`
    /// when none of the identifying fields is present.
    pub(super) fn evidence(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("client name \"{name}\""));
        }
        if let Some(klid) = self.keyboard_layout {
            parts.push(format!("keyboard layout {}", klid::describe(klid)));
        }
        if let Some(build) = self.build {
            parts.push(format!("build {build}"));
        }
        if let Some((w, h)) = self.desktop {
            parts.push(format!("{w}x{h}"));
        }
        if parts.is_empty() {
            return None;
        }
        if let Some(t) = self.keyboard_type {
            parts.push(match klid::keyboard_type_name(t) {
                Some(name) => format!("keyboard type {t} ({name})"),
                None => format!("keyboard type {t}"),
            });
        }
        if let Some(s) = self.keyboard_subtype {
            parts.push(format!("subtype {s}"));
        }
        if let Some(n) = self.function_keys {
            parts.push(format!("{n} function keys"));
        }
        Some(parts.join(", "))
    }
}

/// The client core data of the MCS Connect-Initial at the start of `mcs` (the bytes after the
/// X.224 Data header), or `None` when it is not there or the structure disagrees.
pub(super) fn client_core(mcs: &[u8]) -> Option<ClientCore> {
    let body = mcs.strip_prefix(&MCS_CONNECT_INITIAL)?;
    let (len, hdr) = ber_len(body)?;
    let mut rest = clamp(body.get(hdr..)?, len);
    for tag in [
        BER_OCTET_STRING,
        BER_OCTET_STRING,
        BER_BOOLEAN,
        BER_SEQUENCE,
        BER_SEQUENCE,
        BER_SEQUENCE,
    ] {
        rest = skip_tlv(rest, tag)?;
    }
    if rest.first() != Some(&BER_OCTET_STRING) {
        return None;
    }
    let (len, hdr) = ber_len(rest.get(1..)?)?;
    let user_data = clamp(rest.get(1 + hdr..)?, len);
    core_from_gcc(user_data)
}

/// Walks the GCC Conference Create Request to the client data blocks and parses the core one.
fn core_from_gcc(gcc: &[u8]) -> Option<ClientCore> {
    let rest = gcc.strip_prefix(&T124_KEY)?;
    let (len, hdr) = per_len(rest)?;
    let pdu = clamp(rest.get(hdr..)?, len);
    let window = pdu.get(..pdu.len().min(GCC_KEY_SEARCH + GCC_CLIENT_KEY.len()))?;
    let at = window
        .windows(GCC_CLIENT_KEY.len())
        .position(|w| w == GCC_CLIENT_KEY)?;
    let rest = pdu.get(at + GCC_CLIENT_KEY.len()..)?;
    let (len, hdr) = per_len(rest)?;
    let mut blocks = clamp(rest.get(hdr..)?, len);
    // Every block is at least a header long, so this ends within blocks.len() / 4 rounds.
    loop {
        let kind = le16(blocks, 0)?;
        let block_len = usize::from(le16(blocks, 2)?);
        if block_len < UD_HEADER_LEN {
            return None;
        }
        if kind == CS_CORE {
            return ClientCore::parse(clamp(blocks, block_len));
        }
        blocks = blocks.get(block_len..)?;
    }
}

/// `b` cut to `len` bytes when it is longer (a declared length bounds what follows).
fn clamp(b: &[u8], len: usize) -> &[u8] {
    b.get(..len).unwrap_or(b)
}

/// Skips one whole BER TLV with `tag` at the start of `b`.
fn skip_tlv(b: &[u8], tag: u8) -> Option<&[u8]> {
    if b.first() != Some(&tag) {
        return None;
    }
    let (len, hdr) = ber_len(b.get(1..)?)?;
    b.get(1 + hdr + len..)
}

/// A definite BER length (X.690 §8.1.3): (value, bytes it took). Short form, or long form with
/// one or two bytes, which is all T.125 needs for a TPKT-sized record.
fn ber_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    match first {
        BER_LEN_1 => Some((usize::from(*b.get(1)?), 2)),
        BER_LEN_2 => Some((usize::from(u16::from_be_bytes([*b.get(1)?, *b.get(2)?])), 3)),
        _ if first & BER_LONG_FORM == 0 => Some((usize::from(first), 1)),
        _ => None,
    }
}

/// A PER length determinant (X.691 §11.9.3.6–7): (value, bytes it took). Fragmented lengths
/// (top bits 11) never occur in a Connect-Initial and are refused.
fn per_len(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.first()?;
    if first & BER_LONG_FORM == 0 {
        Some((usize::from(first), 1))
    } else if first & PER_LEN_FORM == PER_LEN_2 {
        let value = usize::from(first & PER_LEN_HIGH) << 8 | usize::from(*b.get(1)?);
        Some((value, 2))
    } else {
        None
    }
}

/// `clientName` up to its NUL: printable ASCII kept, `"` and `\` escaped so the quoted evidence
/// stays unambiguous, anything else as `\u{…}`. At most 16 UTF-16 units, so bounded.
fn client_name(raw: &[u8]) -> String {
    let units = raw
        .chunks_exact(2)
        .map(|c| {
            u16::from_le_bytes([
                c.first().copied().unwrap_or(0),
                c.get(1).copied().unwrap_or(0),
            ])
        })
        .take_while(|&u| u != 0);
    let mut s = String::new();
    for c in char::decode_utf16(units) {
        match c {
            Ok('"') => s.push_str("\\\""),
            Ok('\\') => s.push_str("\\\\"),
            Ok(c) if c.is_ascii_graphic() || c == ' ' => s.push(c),
            Ok(c) => s.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            Err(e) => s.push_str(&format!("\\u{{{:x}}}", e.unpaired_surrogate())),
        }
    }
    s
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// TS_UD_CS_CORE (MS-RDPBCGR 2.2.1.3.2) laid out field by field, with the mandatory fields
    /// only (132 bytes).
    pub(in crate::detect::rdp) fn core_block(name: &str, klid: u32, build: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&CS_CORE.to_le_bytes()); // header.type
        b.extend_from_slice(&132u16.to_le_bytes()); // header.length
        assert_eq!(b.len(), CORE_VERSION);
        b.extend_from_slice(&0x0008_0004u32.to_le_bytes()); // version: RDP 5.0 and later
        assert_eq!(b.len(), CORE_DESKTOP_WIDTH);
        b.extend_from_slice(&1024u16.to_le_bytes());
        assert_eq!(b.len(), CORE_DESKTOP_HEIGHT);
        b.extend_from_slice(&768u16.to_le_bytes());
        b.extend_from_slice(&0xCA01u16.to_le_bytes()); // colorDepth RNS_UD_COLOR_8BPP
        b.extend_from_slice(&0xAA03u16.to_le_bytes()); // SASSequence RNS_UD_SAS_DEL
        assert_eq!(b.len(), CORE_KEYBOARD_LAYOUT);
        b.extend_from_slice(&klid.to_le_bytes());
        assert_eq!(b.len(), CORE_CLIENT_BUILD);
        b.extend_from_slice(&build.to_le_bytes());
        assert_eq!(b.len(), CORE_CLIENT_NAME);
        let mut n: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
        n.resize(CLIENT_NAME_LEN, 0);
        b.extend_from_slice(&n);
        assert_eq!(b.len(), CORE_KEYBOARD_TYPE);
        b.extend_from_slice(&4u32.to_le_bytes()); // IBM enhanced
        assert_eq!(b.len(), CORE_KEYBOARD_SUBTYPE);
        b.extend_from_slice(&0u32.to_le_bytes());
        assert_eq!(b.len(), CORE_KEYBOARD_FUNCTION_KEYS);
        b.extend_from_slice(&12u32.to_le_bytes());
        b.extend_from_slice(&[0; 64]); // imeFileName
        assert_eq!(b.len(), 132);
        b
    }

    fn ber(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if value.len() < 0x80 {
            v.push(value.len() as u8);
        } else {
            v.push(BER_LEN_2);
            v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn per(n: usize) -> Vec<u8> {
        if n < 0x80 {
            vec![n as u8]
        } else {
            vec![PER_LEN_2 | (n >> 8) as u8, n as u8]
        }
    }

    /// MCS Connect-Initial (T.125 §11.1) carrying `blocks` as GCC client data (MS-RDPBCGR 4.1.3).
    pub(in crate::detect::rdp) fn connect_initial(blocks: &[u8]) -> Vec<u8> {
        let mut ccr = vec![0x00, 0x08, 0x00, 0x10, 0x00, 0x01, 0xC0, 0x00];
        ccr.extend_from_slice(GCC_CLIENT_KEY);
        ccr.extend_from_slice(&per(blocks.len()));
        ccr.extend_from_slice(blocks);
        let mut gcc = T124_KEY.to_vec();
        gcc.extend_from_slice(&per(ccr.len()));
        gcc.extend_from_slice(&ccr);
        let params = ber(BER_SEQUENCE, &[0x02, 0x01, 0x22, 0x02, 0x01, 0x02]);
        let mut body = ber(BER_OCTET_STRING, &[1]);
        body.extend(ber(BER_OCTET_STRING, &[1]));
        body.extend(ber(BER_BOOLEAN, &[0xFF]));
        for _ in 0..3 {
            body.extend_from_slice(&params);
        }
        body.extend(ber(BER_OCTET_STRING, &gcc));
        let mut mcs = MCS_CONNECT_INITIAL.to_vec();
        mcs.extend(ber(0, &body).get(1..).unwrap());
        mcs
    }

    /// TS_UD_CS_SEC (2.2.1.3.3): 40- and 128-bit RC4 offered.
    const CS_SEC: [u8; 12] = [0x02, 0xC0, 12, 0, 0x03, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn reads_every_core_field() {
        let mcs = connect_initial(&core_block("WS-1234", 0x0412, 2600));
        let core = client_core(&mcs).unwrap();
        assert_eq!(core.version, Some(0x0008_0004));
        assert_eq!(core.desktop, Some((1024, 768)));
        assert_eq!(core.keyboard_layout, Some(0x0412));
        assert_eq!(core.build, Some(2600));
        assert_eq!(core.name.as_deref(), Some("WS-1234"));
        assert_eq!(
            core.evidence().unwrap(),
            "client name \"WS-1234\", keyboard layout 0x00000412 (Korean, KR), build 2600, \
             1024x768, keyboard type 4 (IBM enhanced, 101- or 102-key), subtype 0, 12 function keys"
        );
    }

    #[test]
    fn core_block_need_not_be_first() {
        let mut blocks = CS_SEC.to_vec();
        blocks.extend_from_slice(&core_block("A", 0x0419, 19041));
        let core = client_core(&connect_initial(&blocks)).unwrap();
        assert_eq!(core.keyboard_layout, Some(0x0419));
        let core = client_core(&connect_initial(&CS_SEC));
        assert!(core.is_none());
    }

    #[test]
    fn every_prefix_is_none_or_partial() {
        let full_core = client_core(&connect_initial(&core_block("WS-1234", 0x0412, 2600)));
        let mcs = connect_initial(&core_block("WS-1234", 0x0412, 2600));
        for n in 0..=mcs.len() {
            if let Some(core) = client_core(&mcs[..n]) {
                let full = full_core.clone().unwrap();
                // Whatever a prefix yields agrees with the whole record.
                for (got, want) in [
                    (core.keyboard_layout, full.keyboard_layout),
                    (core.build, full.build),
                    (core.keyboard_type, full.keyboard_type),
                ] {
                    assert!(got.is_none() || got == want, "prefix {n}");
                }
                assert!(core.name.is_none() || core.name == full.name, "prefix {n}");
            }
        }
        // A block cut inside clientName gives the fields before it and no name.
        let block = core_block("WS-1234", 0x0412, 2600);
        let core = ClientCore::parse(&block[..CORE_CLIENT_NAME + 10]).unwrap();
        assert_eq!(core.build, Some(2600));
        assert_eq!(core.name, None);
        assert_eq!(core.keyboard_type, None);
    }

    #[test]
    fn names_are_escaped_and_bounded() {
        let n = |s: &str| {
            let mut raw: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
            raw.resize(CLIENT_NAME_LEN, 0);
            client_name(&raw[..CLIENT_NAME_LEN])
        };
        assert_eq!(n("PC\"1\\"), "PC\\\"1\\\\");
        assert_eq!(n("서울-PC"), "\\u{c11c}\\u{c6b8}-PC");
        assert_eq!(n("A\u{202e}B"), "A\\u{202e}B");
        // No NUL: all 16 units, nothing beyond.
        assert_eq!(client_name(&[b'x', 0].repeat(16)).len(), 16);
        // A lone surrogate is shown, not dropped.
        assert_eq!(client_name(&[0x00, 0xD8, b'a', 0]), "\\u{d800}a");
    }

    #[test]
    fn structure_mismatches_are_refused() {
        let good = connect_initial(&core_block("X", 0x0409, 1));
        // Not a Connect-Initial.
        let mut bad = good.clone();
        bad[1] = 0x66;
        assert!(client_core(&bad).is_none());
        // Wrong T.124 key.
        let at = good
            .windows(T124_KEY.len())
            .position(|w| w == T124_KEY)
            .unwrap();
        let mut bad = good.clone();
        bad[at + 4] = 0x7D;
        assert!(client_core(&bad).is_none());
        // A block length below the header size.
        let mut block = core_block("X", 0x0409, 1);
        block[2] = 3;
        block[3] = 0;
        assert!(client_core(&connect_initial(&block)).is_none());
        // Indefinite BER length.
        assert!(ber_len(&[0x80]).is_none());
        assert!(per_len(&[0xC1, 0]).is_none());
    }

    #[test]
    fn windows_xp_connect_initial_from_the_spec_example_layout() {
        // MS-RDPBCGR 4.1.3 layout with a 212-byte core block (optional fields present).
        let mut block = core_block("ISD2-KM84178", 0x0409, 2600);
        block[2..4].copy_from_slice(&212u16.to_le_bytes());
        block.resize(212, 0);
        let core = client_core(&connect_initial(&block)).unwrap();
        assert_eq!(core.name.as_deref(), Some("ISD2-KM84178"));
        assert_eq!(core.function_keys, Some(12));
    }

    proptest::proptest! {
        /// Arbitrary bytes, raw or behind the Connect-Initial and GCC leading bytes, never panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
            lead in 0u8..3,
        ) {
            let mut b = match lead {
                0 => Vec::new(),
                1 => MCS_CONNECT_INITIAL.to_vec(),
                _ => T124_KEY.to_vec(),
            };
            b.extend_from_slice(&tail);
            let _ = client_core(&b);
            let _ = core_from_gcc(&b);
            if let Some(core) = ClientCore::parse(&b) {
                let _ = core.evidence();
            }
        }
    }
}
