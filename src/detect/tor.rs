//! Tor relay connections (the TLS link between a Tor client and its guard or bridge relay).
//!
//! Facts used, from Tor's TLS code (`src/lib/tls/tortls.c`, `tortls_openssl.c`) and the link
//! handshake in tor-spec §2 ("Connections"):
//! - a Tor client sets a random server name in its ClientHello: `www.` + 4 to 25 random
//!   characters + `.com`, the random part being lowercase base32 (RFC 4648 §6 alphabet
//!   `a-z2-7`, `crypto_random_hostname(4, 25, "www.", ".com")`);
//! - a relay's link certificate names a random subject `www.` + 8–20 base32 characters +
//!   `.net`, issued by its identity certificate whose name is `www.` + 8–20 base32 characters +
//!   `.com` (`tor_tls_context_init_certificates`); the names carry no organization and the
//!   certificate no subjectAltName;
//! - Tor clients offer no ALPN (RFC 7301), which every browser does.
//!
//! Confidence: the client's random name and the relay's random certificate names are two
//! independent facts from the two sides, so together they are a Handshake. Either alone is a
//! name-shape guess (a real site may be called `www.abc234.com`): a Heuristic, or a Signature
//! when the relay listens on Tor's default ORPort (9001, `torrc.sample`) — stated in the
//! evidence. When TLS 1.2 shows a certificate that is not Tor's, the client's name shape is
//! contradicted and nothing is reported. Exit-relay address lists are used elsewhere.

use super::tls::{self, Certificate, ClientHello, Parse};
use super::{Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// Prefix of every name Tor makes up (`crypto_random_hostname(…, "www.", …)`).
const NAME_PREFIX: &str = "www.";
/// Suffix of the client's server name and of the relay's identity (issuer) name.
const COM: &str = ".com";
/// Suffix of the relay's link certificate subject name.
const NET: &str = ".net";
/// Random characters in the client's server name (`crypto_random_hostname(4, 25, …)`).
const SNI_RANDOM: std::ops::RangeInclusive<usize> = 4..=25;
/// Random characters in the certificate names (`crypto_random_hostname(8, 20, …)`).
const CERT_RANDOM: std::ops::RangeInclusive<usize> = 8..=20;
/// Tor's default ORPort (`torrc.sample`: "ORPort 9001").
const OR_PORT_DEFAULT: u16 = 9001;
/// ALPN extension type (RFC 7301 §3.1).
const EXT_ALPN: u16 = 0x0010;
/// TLS 1.3 version number (RFC 8446 §4.2.1): its certificate is encrypted.
const TLS13: u16 = 0x0304;

/// Recognises Tor's link TLS by its made-up names.
pub(crate) struct Tor;

impl Detector for Tor {
    fn name(&self) -> &'static str {
        "tor"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        gate(view)?;
        let hello = view.client_hello().done();
        let Some(name) = hello.and_then(tor_sni) else {
            // A client that named some other server is not Tor's (its certificate is not parsed:
            // the miss path of every ordinary TLS flow). Without a client name in view (a
            // capture that missed the hello, or no name sent) the certificate speaks alone.
            if hello.is_some_and(|h| h.sni_present) {
                return None;
            }
            let cert = view.certificate().done()?;
            return Some(
                Verdict::new(Kind::Anonymizer, "tor", Confidence::Heuristic)
                    .with(tor_cert(cert)?)
                    .with("client server name not seen"),
            );
        };
        match view.certificate() {
            Parse::Done(cert) => Some(
                Verdict::new(Kind::Anonymizer, "tor", Confidence::Handshake)
                    .with(sni_fact(name))
                    .with(tor_cert(cert)?)
                    .done(),
            ),
            Parse::Incomplete => None,
            Parse::NotTls => {
                // Only TLS 1.3 hides the certificate; anything else that is not a certificate
                // (a resumed session, another protocol) leaves the name unconfirmed.
                let sh = view.server_hello().done()?;
                if sh.version < TLS13 {
                    return None;
                }
                name_only(view, hello?, name)
            }
        }
    }

    fn conclude(&self, view: &FlowView<'_>) -> Option<Verdict> {
        gate(view)?;
        let hello = view.client_hello().done()?;
        let name = tor_sni(hello)?;
        // Unanswered, or the answer was cut before the certificate: nothing contradicts the name.
        if !view.certificate().is_incomplete() {
            return None;
        }
        name_only(view, hello, name).map(|v| v.with("server certificate not seen"))
    }
}

/// TCP with a TLS handshake record opening either direction.
fn gate(view: &FlowView<'_>) -> Option<()> {
    let (c, s) = (view.to_server.data(), view.to_client.data());
    (view.proto == ip_proto::TCP
        && (c.first() == Some(&tls::CONTENT_HANDSHAKE)
            || s.first() == Some(&tls::CONTENT_HANDSHAKE)))
    .then_some(())
}

/// The client's server name when it has Tor's shape.
fn tor_sni(ch: &ClientHello) -> Option<&str> {
    let name = ch.sni.as_deref()?;
    shaped(name, COM, &SNI_RANDOM).then_some(name)
}

/// Evidence for the client's name.
fn sni_fact(name: &str) -> String {
    format!("client server name {name}: Tor's made-up shape (www. + 4–25 base32 characters + .com)")
}

/// The verdict on the client's name alone: it must look random (a digit of the base32 alphabet)
/// and come without ALPN; a Signature on Tor's default ORPort, else a Heuristic.
fn name_only(view: &FlowView<'_>, ch: &ClientHello, name: &str) -> Option<Verdict> {
    let random = random_part(name, COM)?;
    if !random.bytes().any(|b| BASE32_DIGITS.contains(&b)) || ch.extensions.contains(&EXT_ALPN) {
        return None;
    }
    let v = if view.server.port() == OR_PORT_DEFAULT {
        Verdict::new(Kind::Anonymizer, "tor", Confidence::Signature)
            .with(sni_fact(name))
            .with(format!(
                "server port {OR_PORT_DEFAULT} (Tor's default ORPort)"
            ))
    } else {
        Verdict::new(Kind::Anonymizer, "tor", Confidence::Heuristic).with(sni_fact(name))
    };
    Some(v.with("no ALPN offered (browsers always offer one)"))
}

/// Evidence for a Tor link certificate, or `None` when the certificate is not one.
fn tor_cert(cert: &Certificate) -> Option<String> {
    let subject = cert.subject_cn.as_deref()?;
    let issuer = cert.issuer_cn.as_deref()?;
    let ok = shaped(subject, NET, &CERT_RANDOM)
        && shaped(issuer, COM, &CERT_RANDOM)
        && cert.issuer_o.is_none()
        && cert.san_dns.is_empty()
        && !cert.self_issued;
    ok.then(|| {
        format!(
            "server certificate subject {subject} issued by {issuer}: Tor link certificate shape (random www.*.net under random www.*.com, no organization, no subjectAltName)"
        )
    })
}

/// The base32 digits (RFC 4648 §6).
const BASE32_DIGITS: &[u8] = b"234567";

/// The random part of `www.<random><suffix>`.
fn random_part<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    name.strip_prefix(NAME_PREFIX)?.strip_suffix(suffix)
}

/// Whether `name` is `www.` + base32 characters in `len` + `suffix`.
fn shaped(name: &str, suffix: &str, len: &std::ops::RangeInclusive<usize>) -> bool {
    random_part(name, suffix).is_some_and(|r| {
        len.contains(&r.len())
            && r.bytes()
                .all(|b| b.is_ascii_lowercase() || BASE32_DIGITS.contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::anon_testdata::{
        certificate, client_hello, random, tls12_server_flight, tls13_server_flight, CertNames,
    };
    use crate::detect::testing::ViewBuilder;

    /// The cipher list of the Tor client in the corpus capture starts with these.
    const CIPHERS: [u16; 4] = [0xc00a, 0xc014, 0x0039, 0x002f];

    fn tor_hello() -> Vec<u8> {
        client_hello(Some("www.ct7ctrgb6cr7.com"), &[], &CIPHERS)
    }

    fn tor_link_cert() -> Vec<u8> {
        certificate(&CertNames {
            issuer_cn: Some("www.xkgk7fdx362yyyxib.com"),
            issuer_o: None,
            subject_cn: Some("www.g6ghvisevf3ibuu5.net"),
            subject_o: None,
            san: &[],
        })
    }

    #[test]
    fn name_and_certificate_shapes_are_a_handshake() {
        let b = ViewBuilder::tcp(51110, 443)
            .to_server(&tor_hello())
            .to_client(&tls12_server_flight(0xc013, &[tor_link_cert()]));
        let v = Tor.inspect(&b.view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (Kind::Anonymizer, "tor", Confidence::Handshake, true)
        );
        assert!(v.evidence[0].contains("www.ct7ctrgb6cr7.com"));
        assert!(v.evidence[1].contains("www.g6ghvisevf3ibuu5.net"));
    }

    #[test]
    fn a_real_certificate_contradicts_the_name() {
        let cert = certificate(&CertNames {
            issuer_cn: Some("R11"),
            issuer_o: Some("Let's Encrypt"),
            subject_cn: Some("www.abc234.com"),
            subject_o: None,
            san: &["www.abc234.com"],
        });
        let b = ViewBuilder::tcp(51110, 443)
            .to_server(&client_hello(Some("www.abc234.com"), &[], &CIPHERS))
            .to_client(&tls12_server_flight(0xc02f, &[cert]));
        assert_eq!(Tor.inspect(&b.view()), None);
        assert_eq!(Tor.conclude(&b.view()), None);
    }

    #[test]
    fn tls13_name_alone_is_a_heuristic_or_a_signature_on_the_orport() {
        let flight = tls13_server_flight(0x1301, 900);
        let b = ViewBuilder::tcp(51110, 443)
            .to_server(&tor_hello())
            .to_client(&flight);
        let v = Tor.inspect(&b.view()).unwrap();
        assert_eq!((v.confidence, v.complete), (Confidence::Heuristic, false));
        let b = ViewBuilder::tcp(51110, OR_PORT_DEFAULT)
            .to_server(&tor_hello())
            .to_client(&flight);
        let v = Tor.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Signature);
        assert!(v.evidence.iter().any(|e| e.contains("ORPort")));
    }

    #[test]
    fn browser_like_or_word_like_names_are_not_enough() {
        let flight = tls13_server_flight(0x1301, 900);
        for (sni, alpn) in [
            ("www.ct7ctrgb6cr7.com", &["h2", "http/1.1"][..]),
            ("www.facebook.com", &[][..]),
            ("www.google.com", &[][..]),
            ("www.ct7ctrgb6cr7.org", &[][..]),
            ("ct7ctrgb6cr7.com", &[][..]),
            ("www.ct7ctrgb6cr8.com", &[][..]),
            ("www.abc.com", &[][..]),
        ] {
            let b = ViewBuilder::tcp(51110, OR_PORT_DEFAULT)
                .to_server(&client_hello(Some(sni), alpn, &CIPHERS))
                .to_client(&flight);
            assert_eq!(Tor.inspect(&b.view()), None, "{sni}");
            assert_eq!(Tor.conclude(&b.view()), None, "{sni}");
        }
    }

    #[test]
    fn certificate_alone_is_a_heuristic() {
        let b = ViewBuilder::tcp(51110, 443)
            .to_server(&client_hello(None, &[], &CIPHERS))
            .to_client(&tls12_server_flight(0xc013, &[tor_link_cert()]));
        let v = Tor.inspect(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        // A client that named another server is not judged on the certificate.
        let b = ViewBuilder::tcp(51110, 443)
            .to_server(&client_hello(Some("mail.example.org"), &[], &CIPHERS))
            .to_client(&tls12_server_flight(0xc013, &[tor_link_cert()]));
        assert_eq!(Tor.inspect(&b.view()), None);
    }

    #[test]
    fn unanswered_name_is_concluded_as_a_heuristic() {
        let b = ViewBuilder::tcp(51110, 443).to_server(&tor_hello());
        assert_eq!(Tor.inspect(&b.view()), None);
        let v = Tor.conclude(&b.view()).unwrap();
        assert_eq!(v.confidence, Confidence::Heuristic);
        assert!(v.evidence.iter().any(|e| e.contains("not seen")));
    }

    #[test]
    fn other_protocols_and_prefixes_are_ignored() {
        let hello = tor_hello();
        let flight = tls12_server_flight(0xc013, &[tor_link_cert()]);
        for cut in 0..flight.len() {
            let b = ViewBuilder::tcp(51110, 443)
                .to_server(&hello)
                .to_client(&flight[..cut]);
            // The certificate is whole once only ServerHelloDone (4 bytes) is missing.
            let whole = cut >= flight.len() - 4;
            let v = Tor.inspect(&b.view());
            assert!(v.is_none() || whole, "cut {cut}");
        }
        for cut in 0..hello.len() {
            let b = ViewBuilder::tcp(51110, 443).to_server(&hello[..cut]);
            assert_eq!(Tor.inspect(&b.view()), None);
        }
        for p in [
            b"GET / HTTP/1.1\r\nHost: www.ct7ctrgb6cr7.com\r\n\r\n".to_vec(),
            random(1, 300),
        ] {
            let b = ViewBuilder::tcp(51110, 443).to_server(&p).to_client(&p);
            assert_eq!(Tor.inspect(&b.view()), None);
            assert_eq!(Tor.conclude(&b.view()), None);
        }
        let b = ViewBuilder::udp(51110, 443).to_server(&hello);
        assert_eq!(Tor.inspect(&b.view()), None);
    }
}
