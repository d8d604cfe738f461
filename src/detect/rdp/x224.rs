//! TPKT, X.224 and the RDP negotiation structures of the connection exchange.
//!
//! TPKT (RFC 1006 §6) frames ISO transport over TCP: version 3, a reserved zero, and the record
//! length. RDP uses X.224 class 0 (ITU-T X.224 §13) Connection Request/Confirm TPDUs, whose
//! variable part carries RDP's own cookie, routing token and RDP_NEG_* structures
//! (MS-RDPBCGR 2.2.1.1, 2.2.1.2), and Data TPDUs for everything afterwards (2.2.8.1.1.1.1).
//! Everything here parses exactly: lengths must agree and nothing unknown may be left over.

use crate::detect::{be16, le16, le32};

/// TPKT version (RFC 1006 §6).
pub(super) const TPKT_VERSION: u8 = 3;
/// TPKT reserved byte, always 0 (RFC 1006 §6).
pub(super) const TPKT_RESERVED: u8 = 0;
/// TPKT header length: version, reserved, 16-bit length (RFC 1006 §6).
pub(super) const TPKT_HEADER_LEN: usize = 4;

/// X.224 Connection Request TPDU code, class 0 with CDT 0 (X.224 §13.3.3; MS-RDPBCGR 2.2.1.1).
pub(super) const X224_CR: u8 = 0xE0;
/// X.224 Connection Confirm TPDU code (X.224 §13.4.3; MS-RDPBCGR 2.2.1.2).
pub(super) const X224_CC: u8 = 0xD0;
/// X.224 Data TPDU code (X.224 §13.7.3; MS-RDPBCGR 2.2.8.1.1.1.1 x224Data).
pub(super) const X224_DT: u8 = 0xF0;
/// Length indicator of a class 0 Data TPDU header: code and EOT bytes (X.224 §13.7).
pub(super) const X224_DT_LI: u8 = 2;
/// Data TPDU "end of TSDU" marker with sequence number 0 (X.224 §13.7.3 item c).
pub(super) const X224_DT_EOT: u8 = 0x80;
/// Class/option byte of a class 0 connection TPDU without options (X.224 §13.3.3 e).
pub(super) const X224_CLASS_0: u8 = 0;
/// Fixed part of a CR/CC TPDU: LI, code, DST-REF, SRC-REF, class (X.224 §13.3).
pub(super) const X224_CONN_FIXED_LEN: usize = 7;
/// Largest length indicator; 255 is reserved (X.224 §13.2.1).
pub(super) const X224_LI_MAX: usize = 254;

/// Cookie prefix of the X.224 request (MS-RDPBCGR 2.2.1.1 cookie).
pub(super) const COOKIE_PREFIX: &[u8] = b"Cookie: mstshash=";
/// Load-balancing routing token prefix (MS-RDPBCGR 2.2.1.1 routingToken; MSFT-SDLBTS).
pub(super) const ROUTING_TOKEN_PREFIX: &[u8] = b"Cookie: msts=";
/// Connection Broker routing token prefix sent as load-balance info (MS-RDPBCGR 2.2.1.1).
pub(super) const TSV_TOKEN_PREFIX: &[u8] = b"tsv://";
/// Line end of the cookie and routing token (MS-RDPBCGR 2.2.1.1).
pub(super) const CRLF: &[u8] = b"\r\n";

/// RDP_NEG_REQ type (MS-RDPBCGR 2.2.1.1.1).
pub(super) const TYPE_RDP_NEG_REQ: u8 = 0x01;
/// RDP_NEG_RSP type (MS-RDPBCGR 2.2.1.2.1).
pub(super) const TYPE_RDP_NEG_RSP: u8 = 0x02;
/// RDP_NEG_FAILURE type (MS-RDPBCGR 2.2.1.2.2).
pub(super) const TYPE_RDP_NEG_FAILURE: u8 = 0x03;
/// RDP_NEG_CORRELATION_INFO type (MS-RDPBCGR 2.2.1.1.2).
pub(super) const TYPE_RDP_CORRELATION_INFO: u8 = 0x06;
/// Length of RDP_NEG_REQ, RDP_NEG_RSP and RDP_NEG_FAILURE (MS-RDPBCGR 2.2.1.1.1, 2.2.1.2.x).
pub(super) const NEG_LEN: usize = 8;
/// Length of RDP_NEG_CORRELATION_INFO (MS-RDPBCGR 2.2.1.1.2).
pub(super) const CORRELATION_INFO_LEN: usize = 36;
/// RDP_NEG_REQ flag: correlation info follows (MS-RDPBCGR 2.2.1.1.1).
pub(super) const CORRELATION_INFO_PRESENT: u8 = 0x08;

/// requestedProtocols/selectedProtocol bits and names (MS-RDPBCGR 2.2.1.1.1).
pub(super) const PROTOCOLS: [(u32, &str); 5] = [
    (0x01, "SSL"),
    (0x02, "HYBRID"),
    (0x04, "RDSTLS"),
    (0x08, "HYBRID_EX"),
    (0x10, "RDSAAD"),
];
/// PROTOCOL_RDP: Standard RDP Security, the value 0 (MS-RDPBCGR 2.2.1.1.1).
pub(super) const PROTOCOL_RDP: u32 = 0;
/// failureCode values 1..=6 and names (MS-RDPBCGR 2.2.1.2.2).
pub(super) const FAILURE_CODES: [&str; 6] = [
    "SSL_REQUIRED_BY_SERVER",
    "SSL_NOT_ALLOWED_BY_SERVER",
    "SSL_CERT_NOT_ON_SERVER",
    "INCONSISTENT_FLAGS",
    "HYBRID_REQUIRED_BY_SERVER",
    "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
];

/// Cheap gate: TPKT version and reserved byte.
pub(super) fn starts_tpkt(b: &[u8]) -> bool {
    b.first() == Some(&TPKT_VERSION) && b.get(1) == Some(&TPKT_RESERVED)
}

/// The X.224 part of the TPKT record at the start of `b`, when the whole record is present.
pub(super) fn tpkt(b: &[u8]) -> Option<&[u8]> {
    if !starts_tpkt(b) {
        return None;
    }
    let len = usize::from(be16(b, 2)?);
    if len <= TPKT_HEADER_LEN {
        return None;
    }
    b.get(TPKT_HEADER_LEN..len)
}

/// The fixed part of an X.224 CR or CC TPDU and its variable part.
pub(super) struct ConnTpdu<'a> {
    /// Whole TPKT record length.
    pub(super) record_len: usize,
    /// DST-REF: zero in a request, the request's SRC-REF in a confirm (X.224 §13.3, §13.4).
    pub(super) dst_ref: u16,
    /// SRC-REF chosen by the sender.
    pub(super) src_ref: u16,
    /// The variable part after the class byte.
    pub(super) var: &'a [u8],
}

impl<'a> ConnTpdu<'a> {
    /// Parses the whole TPKT record at the start of `b` as a CR or CC TPDU with `code`.
    pub(super) fn parse(b: &'a [u8], code: u8) -> Option<ConnTpdu<'a>> {
        let x224 = tpkt(b)?;
        let li = usize::from(*x224.first()?);
        // LI counts every byte after itself; RDP puts cookie and negotiation inside the TPDU.
        if li + 1 != x224.len() || li + 1 < X224_CONN_FIXED_LEN || li > X224_LI_MAX {
            return None;
        }
        if *x224.get(1)? != code || *x224.get(6)? != X224_CLASS_0 {
            return None;
        }
        Some(ConnTpdu {
            record_len: x224.len() + TPKT_HEADER_LEN,
            dst_ref: be16(x224, 2)?,
            src_ref: be16(x224, 4)?,
            var: x224.get(X224_CONN_FIXED_LEN..)?,
        })
    }
}

/// The cookie or routing token line of a connection request.
pub(super) enum Token<'a> {
    /// Neither is present.
    None,
    /// The IDENTIFIER of `Cookie: mstshash=IDENTIFIER`, usually the user name.
    Cookie(&'a [u8]),
    /// A whole routing token line without its CR LF.
    Routing(&'a [u8]),
}

/// RDP_NEG_REQ contents.
pub(super) struct NegReq {
    /// RESTRICTED_ADMIN_MODE_REQUIRED, REDIRECTED_AUTHENTICATION_MODE_REQUIRED, … bits.
    pub(super) flags: u8,
    /// requestedProtocols bits.
    pub(super) protocols: u32,
}

/// A parsed RDP X.224 Connection Request.
pub(super) struct ConnRequest<'a> {
    /// The TPDU's fixed part.
    pub(super) tpdu: ConnTpdu<'a>,
    /// Cookie or routing token.
    pub(super) token: Token<'a>,
    /// RDP_NEG_REQ, when sent.
    pub(super) neg: Option<NegReq>,
}

impl<'a> ConnRequest<'a> {
    /// Parses an RDP Connection Request; `None` unless every byte of the TPDU is accounted for.
    pub(super) fn parse(b: &'a [u8]) -> Option<ConnRequest<'a>> {
        let tpdu = ConnTpdu::parse(b, X224_CR)?;
        // X.224 §13.3.3: DST-REF of a CR is zero.
        if tpdu.dst_ref != 0 {
            return None;
        }
        let (token, rest) = split_token(tpdu.var)?;
        let (neg, rest) = match rest.first() {
            Some(&TYPE_RDP_NEG_REQ) => {
                let (neg, rest) = rest.split_at_checked(NEG_LEN)?;
                if usize::from(le16(neg, 2)?) != NEG_LEN {
                    return None;
                }
                let flags = *neg.get(1)?;
                let neg = NegReq {
                    flags,
                    protocols: le32(neg, 4)?,
                };
                (Some(neg), rest)
            }
            _ => (None, rest),
        };
        let rest = match &neg {
            Some(n) if n.flags & CORRELATION_INFO_PRESENT != 0 => skip_correlation(rest)?,
            _ => rest,
        };
        // Anything left over is not RDP (generic ISO 8073 parameters, another protocol).
        if !rest.is_empty() {
            return None;
        }
        Some(ConnRequest { tpdu, token, neg })
    }

    /// A request with no RDP field at all: only what follows can tell it is RDP.
    pub(super) fn is_bare(&self) -> bool {
        matches!(self.token, Token::None) && self.neg.is_none()
    }
}

/// Splits an optional cookie or routing token line (ending CR LF) off the variable part.
pub(super) fn split_token(var: &[u8]) -> Option<(Token<'_>, &[u8])> {
    let kind = if var.starts_with(COOKIE_PREFIX) {
        Some(true)
    } else if var.starts_with(ROUTING_TOKEN_PREFIX) || var.starts_with(TSV_TOKEN_PREFIX) {
        Some(false)
    } else {
        None
    };
    let Some(is_cookie) = kind else {
        return Some((Token::None, var));
    };
    let end = var.windows(CRLF.len()).position(|w| w == CRLF)?;
    let (line, rest) = var.split_at_checked(end)?;
    let rest = rest.get(CRLF.len()..)?;
    if line.iter().any(|&c| c == 0 || c == b'\r' || c == b'\n') {
        return None;
    }
    let token = if is_cookie {
        Token::Cookie(line.get(COOKIE_PREFIX.len()..)?)
    } else {
        Token::Routing(line)
    };
    Some((token, rest))
}

/// Skips a well-formed RDP_NEG_CORRELATION_INFO (type 0x06, flags 0, length 36).
pub(super) fn skip_correlation(b: &[u8]) -> Option<&[u8]> {
    let (info, rest) = b.split_at_checked(CORRELATION_INFO_LEN)?;
    let ok = info.first() == Some(&TYPE_RDP_CORRELATION_INFO)
        && info.get(1) == Some(&0)
        && usize::from(le16(info, 2)?) == CORRELATION_INFO_LEN;
    ok.then_some(rest)
}

/// What the server chose in its Connection Confirm.
pub(super) enum NegResult {
    /// No negotiation structure: Standard RDP Security (pre-negotiation servers, or no request).
    Absent,
    /// RDP_NEG_RSP: its flags and selectedProtocol.
    Selected {
        /// EXTENDED_CLIENT_DATA_SUPPORTED, DYNVC_GFX_PROTOCOL_SUPPORTED, … bits.
        flags: u8,
        /// selectedProtocol.
        protocol: u32,
    },
    /// RDP_NEG_FAILURE and its failureCode.
    Failure(u32),
}

/// Parses a Connection Confirm; `None` unless it is exactly an RDP confirm.
pub(super) fn parse_confirm(b: &[u8]) -> Option<(ConnTpdu<'_>, NegResult)> {
    let tpdu = ConnTpdu::parse(b, X224_CC)?;
    let neg = match tpdu.var.len() {
        0 => NegResult::Absent,
        NEG_LEN => {
            if usize::from(le16(tpdu.var, 2)?) != NEG_LEN {
                return None;
            }
            let value = le32(tpdu.var, 4)?;
            match *tpdu.var.first()? {
                TYPE_RDP_NEG_RSP if valid_selected(value) => NegResult::Selected {
                    flags: *tpdu.var.get(1)?,
                    protocol: value,
                },
                TYPE_RDP_NEG_FAILURE if failure_name(value).is_some() => NegResult::Failure(value),
                _ => return None,
            }
        }
        _ => return None,
    };
    Some((tpdu, neg))
}

/// selectedProtocol is PROTOCOL_RDP or exactly one known protocol bit.
pub(super) fn valid_selected(p: u32) -> bool {
    p == PROTOCOL_RDP || PROTOCOLS.iter().any(|&(bit, _)| bit == p)
}

/// The name of an RDP_NEG_FAILURE failureCode (MS-RDPBCGR 2.2.1.2.2), `None` if undefined.
pub(super) fn failure_name(code: u32) -> Option<&'static str> {
    let i = usize::try_from(code.checked_sub(1)?).ok()?;
    FAILURE_CODES.get(i).copied()
}

/// `a|b|c` names of the protocol bits in `p`, unknown bits in hex.
pub(super) fn protocol_names(p: u32) -> String {
    if p == PROTOCOL_RDP {
        return "RDP".to_string();
    }
    let mut names: Vec<String> = PROTOCOLS
        .iter()
        .filter(|&&(bit, _)| p & bit != 0)
        .map(|&(_, n)| n.to_string())
        .collect();
    let known = PROTOCOLS.iter().fold(0, |m, &(bit, _)| m | bit);
    if p & !known != 0 {
        names.push(format!("unknown 0x{:x}", p & !known));
    }
    names.join("|")
}

/// The MCS bytes of a TPKT record holding a class 0 X.224 Data TPDU.
pub(super) fn x224_data(b: &[u8]) -> Option<&[u8]> {
    let x224 = tpkt(b)?;
    let ok = x224.first() == Some(&X224_DT_LI)
        && x224.get(1) == Some(&X224_DT)
        && x224.get(2) == Some(&X224_DT_EOT);
    if ok {
        x224.get(3..)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// TPKT + X.224 CR/CC with the given LI, code, DST-REF, class and variable part.
    fn tpdu(li_delta: i8, code: u8, dst: u16, class: u8, var: &[u8]) -> Vec<u8> {
        let li = (X224_CONN_FIXED_LEN - 1 + var.len()) as i16 + i16::from(li_delta);
        let len = (TPKT_HEADER_LEN + X224_CONN_FIXED_LEN + var.len()) as u16;
        let mut r = vec![TPKT_VERSION, TPKT_RESERVED];
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(&[li as u8, code]);
        r.extend_from_slice(&dst.to_be_bytes());
        r.extend_from_slice(&[0, 0, class]);
        r.extend_from_slice(var);
        r
    }

    const NEG_REQ_SSL: [u8; 8] = [TYPE_RDP_NEG_REQ, 0, 8, 0, 1, 0, 0, 0];

    #[test]
    fn tpkt_needs_the_whole_record() {
        assert_eq!(tpkt(b"\x03\x00\x00\x07abc"), Some(&b"abc"[..]));
        assert_eq!(tpkt(b"\x03\x00\x00\x08abc"), None);
        assert_eq!(tpkt(b"\x03\x00\x00\x04"), None);
        assert_eq!(tpkt(b"\x03\x01\x00\x07abc"), None);
    }

    #[test]
    fn request_fields_are_validated() {
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 0, 0, &NEG_REQ_SSL)).is_some());
        assert!(ConnRequest::parse(&tpdu(1, X224_CR, 0, 0, &NEG_REQ_SSL)).is_none());
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 5, 0, &NEG_REQ_SSL)).is_none());
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 0, 0x20, &NEG_REQ_SSL)).is_none());
        assert!(ConnRequest::parse(&tpdu(0, X224_CC, 0, 0, &NEG_REQ_SSL)).is_none());
        let mut bad_len = NEG_REQ_SSL;
        bad_len[2] = 9;
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 0, 0, &bad_len)).is_none());
        let mut trailing = NEG_REQ_SSL.to_vec();
        trailing.push(0);
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 0, 0, &trailing)).is_none());
        // A cookie without its CR LF, or with a NUL inside, is not a cookie.
        assert!(ConnRequest::parse(&tpdu(0, X224_CR, 0, 0, b"Cookie: mstshash=bob")).is_none());
        assert!(
            ConnRequest::parse(&tpdu(0, X224_CR, 0, 0, b"Cookie: mstshash=b\0b\r\n")).is_none()
        );
    }

    #[test]
    fn confirm_values_are_validated() {
        let rsp = |kind: u8, value: u32| {
            let mut n = vec![kind, 0, 8, 0];
            n.extend_from_slice(&value.to_le_bytes());
            tpdu(0, X224_CC, 0, 0, &n)
        };
        assert!(parse_confirm(&rsp(TYPE_RDP_NEG_RSP, 0x08)).is_some());
        assert!(
            parse_confirm(&rsp(TYPE_RDP_NEG_RSP, 0x03)).is_none(),
            "two protocols"
        );
        assert!(parse_confirm(&rsp(TYPE_RDP_NEG_FAILURE, 6)).is_some());
        assert!(parse_confirm(&rsp(TYPE_RDP_NEG_FAILURE, 7)).is_none());
        assert!(parse_confirm(&rsp(TYPE_RDP_NEG_REQ, 1)).is_none());
        assert!(matches!(
            parse_confirm(&tpdu(0, X224_CC, 0, 0, &[])),
            Some((_, NegResult::Absent))
        ));
    }

    #[test]
    fn protocol_names_cover_unknown_bits() {
        assert_eq!(protocol_names(0), "RDP");
        assert_eq!(protocol_names(0x0b), "SSL|HYBRID|HYBRID_EX");
        assert_eq!(protocol_names(0x41), "SSL|unknown 0x40");
    }
}
