//! Value parsers for catalogue entries: ids, kinds, certificate rules, ALPN prefixes, JA4
//! fingerprints and port ranges. Each returns the value or a reason that names what would be
//! right.

use super::names::DomainRule;
use super::{CertRule, CertTerm, PortRange};
use crate::decode::ip_proto;
use crate::detect::Kind;

/// Longest id or provider.
const ID_MAX: usize = 32;
/// Longest ALPN prefix (RFC 7301 §3.1 allows 255; registered names are ≤ 16).
const ALPN_PREFIX_MAX: usize = 32;
/// Length of a JA4 fingerprint: `a` part (10) `_` `b` (12) `_` `c` (12) (FoxIO JA4 spec).
const JA4_LEN: usize = 36;
/// Longest certificate attribute value (RFC 5280 Appendix A: ub-common-name and
/// ub-organization-name are 64).
const CERT_VALUE_MAX: usize = 64;
/// Separator of the terms of a certificate rule.
const CERT_TERM_SEP: &str = ", ";

/// An id or provider: `[a-z0-9_]`, 1..=[`ID_MAX`].
pub(super) fn ident(s: &str) -> Result<String, String> {
    let ok = (1..=ID_MAX).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an id: 1 to {ID_MAX} lower-case letters, digits or '_'"
        ))
    }
}

/// Printable text of at most `max` characters.
pub(super) fn text(what: &str, s: &str, max: usize) -> Result<String, String> {
    let n = s.chars().count();
    if n == 0 || n > max || s.chars().any(char::is_control) {
        return Err(format!("{what} must be 1 to {max} printable characters"));
    }
    Ok(s.to_owned())
}

/// `remote_access`, `vpn_tunnel` or `anonymizer` (the alert kinds).
pub(super) fn kind(s: &str) -> Result<Kind, String> {
    Kind::DETECTED
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| {
            format!("kind = {s:?}: expected \"remote_access\", \"vpn_tunnel\" or \"anonymizer\"")
        })
}

/// `CN=…`, `issuer CN=…`, `issuer O=…` terms joined by ", ", or a DNS suffix.
pub(super) fn cert_rule(s: &str) -> Result<CertRule, String> {
    if !s.contains('=') {
        return DomainRule::parse(s)
            .map(CertRule::Name)
            .map_err(|e| format!("cert {e}; or use CN=, issuer CN=, issuer O="));
    }
    let mut terms = Vec::new();
    for t in s.split(CERT_TERM_SEP) {
        let (attr, value) = t
            .split_once('=')
            .ok_or_else(|| format!("cert term {t:?}: expected ATTRIBUTE=value"))?;
        let value = text("cert value", value, CERT_VALUE_MAX)?;
        terms.push(match attr {
            "CN" => CertTerm::SubjectCn(value),
            "issuer CN" => CertTerm::IssuerCn(value),
            "issuer O" => CertTerm::IssuerO(value),
            other => {
                return Err(format!(
                    "cert attribute {other:?}: expected \"CN\", \"issuer CN\" or \"issuer O\""
                ))
            }
        });
    }
    Ok(CertRule::Attrs {
        terms,
        text: s.to_owned(),
    })
}

/// An ALPN prefix: printable ASCII, 1..=[`ALPN_PREFIX_MAX`] bytes.
pub(super) fn alpn(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > ALPN_PREFIX_MAX || !s.bytes().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "alpn {s:?}: 1 to {ALPN_PREFIX_MAX} printable ASCII characters"
        ));
    }
    Ok(s.to_owned())
}

/// A JA4 (FoxIO): `[tqd]` + version(2) + `d|i` + ciphers(2) + extensions(2) + ALPN(2), then two
/// 12-hex-digit hashes, joined by `_`.
pub(super) fn ja4(s: &str) -> Result<String, String> {
    let parts: Vec<&str> = s.split('_').collect();
    let hex12 = |p: &&str| p.len() == 12 && p.bytes().all(|c| c.is_ascii_hexdigit());
    let ok = s.len() == JA4_LEN
        && matches!(parts.as_slice(), [a, b, c] if a.len() == 10
            && matches!(a.as_bytes().first(), Some(b't' | b'q' | b'd'))
            && a.bytes().all(|c| c.is_ascii_alphanumeric())
            && hex12(b) && hex12(c));
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!(
            "ja4 {s:?}: expected a FoxIO JA4 like \"t13d1516h2_8daaf6152771_e5627efa2ab1\""
        ))
    }
}

/// Parses `tcp`/`udp`.
pub(super) fn transport(s: &str) -> Result<u8, String> {
    match s {
        "tcp" => Ok(ip_proto::TCP),
        "udp" => Ok(ip_proto::UDP),
        other => Err(format!("{other:?}: expected \"tcp\" or \"udp\"")),
    }
}

/// `tcp/5938`, `udp/12400-12409`.
pub(super) fn port_range(s: &str) -> Result<PortRange, String> {
    let bad = || format!("port {s:?}: expected \"tcp/N\", \"udp/N\" or \"tcp/N-M\" (N 1..=65535)");
    let (proto, ports) = s.split_once('/').ok_or_else(bad)?;
    let proto = transport(proto).map_err(|_| bad())?;
    let num = |t: &str| t.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(bad);
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(ports)?, num(ports)?),
    };
    if lo > hi {
        return Err(bad());
    }
    Ok(PortRange { proto, lo, hi })
}
