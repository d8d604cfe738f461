//! Psiphon: a circumvention client whose servers and fronting endpoints are named under
//! Psiphon's own domains.
//!
//! Facts used: nDPI names Psiphon by host (`ndpi_content_match.c.inc`: `psiphon3.net`), matched
//! against every name a flow carries; in its reference capture the TLS client sends no server
//! name at all and the server's certificate lists `psiphon3.net` and `*.psiphon3.net` among its
//! subjectAltNames (RFC 5280 §4.2.1.6). Psiphon Inc. also publishes the client from
//! `psiphon3.com` and `psiphon.ca`. A name under those domains can only be Psiphon's.
//!
//! Where the names come from:
//! - the client's TLS server name (RFC 6066 §3) or its HTTP/1.x `Host` header (RFC 9112 §3.2):
//!   a Signature;
//! - when the client sent no server name (as Psiphon's client does), the server's certificate
//!   (TLS ≤ 1.2 sends it in clear, RFC 5246 §7.4.2): subject CN or a subjectAltName — a
//!   Signature, complete once parsed. A certificate is never read when the client named some
//!   server: shared CDN certificates list many unrelated customers;
//! - the DNS name the server's address was resolved from, when the flow names no server itself:
//!   a Heuristic (a CDN address serves many names).
//!
//! Psiphon's other transports (obfuscated SSH, meek with a fronted name of a large CDN) carry no
//! Psiphon name; the fully encrypted detector sees the first.

use super::tls;
use super::{printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Psiphon's domains: nDPI's host rule, and the publisher's download and company sites.
const DOMAINS: [&str; 3] = ["psiphon3.net", "psiphon3.com", "psiphon.ca"];
/// Bytes of an HTTP request searched for the `Host` header: request line and headers of an
/// ordinary request fit; a longer header block is cut, not searched further.
const HTTP_HEAD_MAX: usize = 2048;
/// The `Host` header name with its colon, matched case-insensitively (RFC 9110 §5.1).
const HOST_HEADER: &[u8] = b"host:";
/// Longest name shown in evidence: a DNS name's text form (RFC 1035 §2.3.4).
const NAME_SHOWN_MAX: usize = 253;
/// HTTP/1.x request methods that open a request line (RFC 9110 §9.3).
const METHODS: [&[u8]; 8] = [
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"CONNECT ",
    b"OPTIONS ",
    b"DELETE ",
    b"PATCH ",
];

/// Recognises flows named under Psiphon's domains.
pub(crate) struct Psiphon;

impl Detector for Psiphon {
    fn name(&self) -> &'static str {
        "psiphon"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        if view.proto != ip_proto::TCP {
            return None;
        }
        let c = view.to_server.data();
        let s = view.to_client.data();
        if c.first() == Some(&tls::CONTENT_HANDSHAKE) || s.first() == Some(&tls::CONTENT_HANDSHAKE)
        {
            return from_tls(view);
        }
        from_http(c)
    }

    fn conclude(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let name = view.server_name?;
        if view.to_server.payload_pkts() == 0 || !psiphon_name(name) || names_itself(view) {
            return None;
        }
        Some(
            Verdict::new(Kind::Anonymizer, "psiphon", Confidence::Heuristic)
                .with(format!("server address resolved from {}", shown(name)))
                .with(format!("{} is a Psiphon domain", owner(name)?)),
        )
    }
}

/// Whether the flow names its server itself (a TLS server name or an HTTP `Host`): then that
/// name, not the address's last DNS name (shared by every site on a CDN address), decides.
fn names_itself(view: &FlowView<'_>) -> bool {
    let c = view.to_server.data();
    view.client_hello().done().is_some_and(|h| h.sni_present) || http_host(c).is_some()
}

/// Names in a TLS handshake: the client's server name, or, when the client sent none, the
/// server's certificate. A certificate is not read when the client named a server: CDN
/// certificates list many unrelated customers' names, and the client's own choice decides.
fn from_tls(view: &FlowView<'_>) -> Option<Verdict> {
    let hello = view.client_hello().done()?;
    if let Some(sni) = &hello.sni {
        return psiphon_name(sni).then(|| {
            Verdict::new(Kind::Anonymizer, "psiphon", Confidence::Signature)
                .with(format!("client server name {}", shown(sni)))
                .with(format!(
                    "{} is a Psiphon domain",
                    owner(sni).unwrap_or_default()
                ))
        });
    }
    if hello.sni_present {
        return None;
    }
    let cert = view.certificate().done()?;
    let names = cert.subject_cn.iter().chain(cert.san_dns.iter());
    let n = names.map(String::as_str).find(|n| psiphon_name(n))?;
    Some(
        Verdict::new(Kind::Anonymizer, "psiphon", Confidence::Signature)
            .with(format!("server certificate names {}", shown(n)))
            .with(format!("{} is a Psiphon domain", owner(n)?))
            .with("client sent no server name")
            .done(),
    )
}

/// A plaintext HTTP/1.x request naming a Psiphon host.
fn from_http(c: &[u8]) -> Option<Verdict> {
    let bare = http_host(c)?;
    psiphon_name(&bare).then(|| {
        Verdict::new(Kind::Anonymizer, "psiphon", Confidence::Signature)
            .with(format!("HTTP request Host {}", shown(&bare)))
            .with(format!(
                "{} is a Psiphon domain",
                owner(&bare).unwrap_or_default()
            ))
    })
}

/// The `Host` of a plaintext HTTP/1.x request, without its port, lower-cased.
fn http_host(c: &[u8]) -> Option<String> {
    if !METHODS.iter().any(|m| c.starts_with(m)) {
        return None;
    }
    let head = c.get(..c.len().min(HTTP_HEAD_MAX))?;
    let host = head
        .split(|&b| b == b'\n')
        .skip(1)
        .take_while(|l| !l.is_empty() && *l != b"\r")
        .find_map(|l| {
            let (name, value) = l.split_at_checked(HOST_HEADER.len())?;
            name.eq_ignore_ascii_case(HOST_HEADER).then_some(value)
        })?;
    let host = std::str::from_utf8(host).ok()?.trim();
    Some(
        host.rsplit_once(':')
            .map_or(host, |(h, _)| h)
            .to_ascii_lowercase(),
    )
}

/// The Psiphon domain `name` is, or is under (a leading wildcard label ignored).
fn owner(name: &str) -> Option<&'static str> {
    let n = name.trim_start_matches("*.");
    DOMAINS.iter().copied().find(|d| {
        n.len()
            .checked_sub(d.len())
            .and_then(|cut| n.split_at_checked(cut))
            .is_some_and(|(head, tail)| {
                tail.eq_ignore_ascii_case(d) && (head.is_empty() || head.ends_with('.'))
            })
    })
}

/// Whether `name` is a Psiphon domain or under one.
fn psiphon_name(name: &str) -> bool {
    owner(name).is_some()
}

/// A name for evidence, bounded.
fn shown(name: &str) -> String {
    printable(name.as_bytes(), NAME_SHOWN_MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::anon_testdata::{
        certificate, client_hello, random, tls12_server_flight, tls13_server_flight, CertNames,
    };
    use crate::detect::testing::ViewBuilder;

    const CIPHERS: [u16; 3] = [0xc02b, 0xc02f, 0x1301];

    /// The reference capture's shape: no SNI, a CDN certificate listing Psiphon's names.
    #[test]
    fn certificate_names_are_a_complete_signature() {
        let cert = certificate(&CertNames {
            issuer_cn: Some("Cloudflare Inc ECC CA-3"),
            issuer_o: Some("Cloudflare, Inc."),
            subject_cn: Some("sni.cloudflaressl.com"),
            subject_o: Some("Cloudflare, Inc."),
            san: &["sni.cloudflaressl.com", "psiphon3.net", "*.psiphon3.net"],
        });
        let b = ViewBuilder::tcp(40557, 443)
            .to_server(&client_hello(None, &["h2", "http/1.1"], &CIPHERS))
            .to_client(&tls12_server_flight(0xc02b, &[cert]));
        let v = Psiphon.inspect(&b.view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (Kind::Anonymizer, "psiphon", Confidence::Signature, true)
        );
        assert!(v.evidence[0].contains("psiphon3.net"));
        assert!(v.evidence.iter().any(|e| e.contains("no server name")));
    }

    #[test]
    fn a_shared_certificate_does_not_name_another_sites_flow() {
        let cert = certificate(&CertNames {
            issuer_cn: Some("Cloudflare Inc ECC CA-3"),
            issuer_o: Some("Cloudflare, Inc."),
            subject_cn: Some("sni.cloudflaressl.com"),
            subject_o: Some("Cloudflare, Inc."),
            san: &["sni.cloudflaressl.com", "shop.example.com", "psiphon3.net"],
        });
        let b = ViewBuilder::tcp(40557, 443)
            .to_server(&client_hello(Some("shop.example.com"), &["h2"], &CIPHERS))
            .to_client(&tls12_server_flight(0xc02b, &[cert]))
            .named("psiphon3.net");
        assert_eq!(Psiphon.inspect(&b.view()), None);
        assert_eq!(Psiphon.conclude(&b.view()), None);
    }

    #[test]
    fn server_name_and_http_host_are_signatures() {
        let b = ViewBuilder::tcp(40557, 443)
            .to_server(&client_hello(Some("a1.psiphon3.com"), &[], &CIPHERS))
            .to_client(&tls13_server_flight(0x1301, 800));
        let v = Psiphon.inspect(&b.view()).unwrap();
        assert_eq!((v.confidence, v.complete), (Confidence::Signature, false));
        let b = ViewBuilder::tcp(40557, 80)
            .to_server(b"GET /x HTTP/1.1\r\nhost: www.Psiphon.ca:80\r\n\r\n");
        let v = Psiphon.inspect(&b.view()).unwrap();
        assert!(v.evidence[0].contains("www.psiphon.ca"), "{:?}", v.evidence);
    }

    #[test]
    fn resolved_name_alone_is_a_heuristic() {
        let b = ViewBuilder::tcp(40557, 443)
            .to_server(&random(1, 200))
            .named("x.psiphon3.net");
        assert_eq!(Psiphon.inspect(&b.view()), None);
        let v = Psiphon.conclude(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
    }

    #[test]
    fn lookalike_names_do_not_match() {
        for n in [
            "notpsiphon3.net",
            "psiphon3.net.example.com",
            "psiphon3.network",
            "psiphon.com",
            "www.example.com",
        ] {
            assert!(!psiphon_name(n), "{n}");
        }
        for n in [
            "psiphon3.net",
            "*.psiphon3.net",
            "a.b.PSIPHON3.NET",
            "psiphon.ca",
        ] {
            assert!(psiphon_name(n), "{n}");
        }
        let b = ViewBuilder::tcp(1, 443)
            .to_server(&client_hello(Some("www.example.com"), &[], &CIPHERS))
            .to_client(&tls13_server_flight(0x1301, 800))
            .named("www.example.com");
        assert_eq!(Psiphon.inspect(&b.view()), None);
        assert_eq!(Psiphon.conclude(&b.view()), None);
    }

    #[test]
    fn other_protocols_and_prefixes_never_panic() {
        let hello = client_hello(Some("psiphon3.net"), &[], &CIPHERS);
        for cut in 0..hello.len() {
            let b = ViewBuilder::tcp(1, 443).to_server(&hello[..cut]);
            assert_eq!(Psiphon.inspect(&b.view()), None);
        }
        let req = b"GET / HTTP/1.1\r\nHost: psiphon3.net\r\n\r\n";
        for cut in 0..req.len() - 4 {
            let b = ViewBuilder::tcp(1, 80).to_server(&req[..cut]);
            let _ = Psiphon.inspect(&b.view());
        }
        for p in [random(2, 300), b"SSH-2.0-OpenSSH_9.6\r\n".to_vec()] {
            let b = ViewBuilder::tcp(1, 443).to_server(&p).to_client(&p);
            assert_eq!(Psiphon.inspect(&b.view()), None);
        }
    }
}
