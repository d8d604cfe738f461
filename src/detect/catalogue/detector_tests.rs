//! Detector and provider-hook tests, on messages laid out as their protocols define them.

use super::super::testdata::{self, CertNames};
use super::*;
use crate::detect::catalogue::ProviderEnricher;
use crate::detect::testing::ViewBuilder;
use crate::detect::Cascade;
use crate::detect::{Enricher, Kind};
use std::path::Path;

fn builtin() -> ProductDetector {
    ProductDetector::new(Arc::new(Catalogue::builtin()))
}

fn inspect(b: &ViewBuilder) -> Option<Verdict> {
    builtin().inspect(&b.view())
}

fn has(v: &Verdict, needle: &str) -> bool {
    v.evidence.iter().any(|e| e.contains(needle))
}

fn anydesk_client_cert() -> Vec<u8> {
    testdata::certificate(&CertNames {
        subject_cn: Some("AnyDesk Client"),
        issuer_cn: Some("AnyDesk Client"),
        ..CertNames::default()
    })
}

// ------------------------------------------------------------------------------ TLS names

#[test]
fn tls_sni_alone_is_a_signature_with_the_catalogue_entry_and_source() {
    let b = ViewBuilder::tcp(50000, 443).to_server(&testdata::client_hello(
        Some("relay-7c1.net.anydesk.com"),
        &[],
    ));
    let v = inspect(&b).unwrap();
    assert_eq!((v.kind, v.family.as_ref()), (Kind::RemoteAccess, "anydesk"));
    assert_eq!(v.confidence, Confidence::Signature);
    assert!(!v.complete);
    assert_eq!(v.provider, None);
    assert!(
        v.evidence[0].starts_with(
            "TLS SNI relay-7c1.net.anydesk.com matches catalogue anydesk (sni net.anydesk.com; \
             source: nDPI src/lib/ndpi_content_match.c.inc:1096"
        ),
        "{:?}",
        v.evidence
    );
}

#[test]
fn sni_and_certificate_agreeing_are_a_handshake() {
    let b = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(
            Some("relay-7c1.net.anydesk.com"),
            &[],
        ))
        .to_client(&testdata::server_flight(&anydesk_client_cert()));
    let v = inspect(&b).unwrap();
    assert_eq!(v.confidence, Confidence::Handshake);
    assert!(v.complete);
    assert!(has(
        &v,
        "server certificate matches catalogue anydesk (cert CN=AnyDesk Client"
    ));
    assert!(v.evidence[0].starts_with("TLS SNI"));
}

#[test]
fn alpn_and_certificate_without_sni_are_a_handshake() {
    let b = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(None, &["anydesk/6.2.0/linux"]));
    let v = inspect(&b).unwrap();
    assert_eq!(v.confidence, Confidence::Signature);
    assert!(has(
        &v,
        "ALPN \"anydesk/6.2.0/linux\" matches catalogue anydesk (alpn anydesk/"
    ));
    let b = b.to_client(&testdata::server_flight(&anydesk_client_cert()));
    assert_eq!(inspect(&b).unwrap().confidence, Confidence::Handshake);
}

#[test]
fn suffixes_only_match_on_label_boundaries() {
    for sni in [
        "evilanydesk.net",
        "net.anydesk.com.evil.example",
        "xnet.anydesk.co",
    ] {
        let b = ViewBuilder::tcp(50000, 443).to_server(&testdata::client_hello(Some(sni), &[]));
        assert_eq!(inspect(&b), None, "{sni}");
    }
    let b = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(Some("evilanydesk.com"), &[]));
    assert_eq!(inspect(&b), None);
}

#[test]
fn ordinary_tls_is_silent() {
    let google = testdata::certificate(&CertNames {
        subject_cn: Some("www.google.com"),
        issuer_cn: Some("WR2"),
        issuer_o: Some("Google Trust Services"),
        san: &["www.google.com", "*.google.com"],
        ..CertNames::default()
    });
    for sni in [
        "www.google.com",
        "github.com",
        "mail.proton.me",
        "blog.cloudflare.com",
    ] {
        let b = ViewBuilder::tcp(50000, 443)
            .to_server(&testdata::client_hello(Some(sni), &["h2", "http/1.1"]))
            .to_client(&testdata::server_flight(&google));
        assert_eq!(inspect(&b), None, "{sni}");
    }
}

#[test]
fn certificate_rules() {
    let pia = testdata::certificate(&CertNames {
        subject_cn: Some("newjersey402"),
        subject_o: Some("Private Internet Access"),
        issuer_cn: Some("Private Internet Access"),
        issuer_o: Some("Private Internet Access"),
        ..CertNames::default()
    });
    let b = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(None, &[]))
        .to_client(&testdata::server_flight(&pia));
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("pia", Confidence::Signature)
    );
    assert_eq!(v.provider.as_deref(), Some("pia"));
    assert!(has(&v, "cert issuer O=Private Internet Access"));

    // The FortiGate factory certificate: issued by CN=support, O=Fortinet.
    let forti = |issuer_cn| {
        testdata::certificate(&CertNames {
            subject_cn: Some("FWF60E4Q16012050"),
            subject_o: Some("Fortinet"),
            issuer_cn: Some(issuer_cn),
            issuer_o: Some("Fortinet"),
            ..CertNames::default()
        })
    };
    let b = ViewBuilder::tcp(50000, 10443)
        .to_server(&testdata::client_hello(Some("82.81.46.13"), &[]))
        .to_client(&testdata::server_flight(&forti("support")));
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("forticlient", Confidence::Signature)
    );
    assert!(has(
        &v,
        "responder port tcp/10443 is listed for forticlient"
    ));
    // A FortiGate re-signing sites for SSL inspection has another issuer CN: not a VPN.
    let b = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(Some("www.example.org"), &[]))
        .to_client(&testdata::server_flight(&forti("FortiGate CA")));
    assert_eq!(inspect(&b), None);
}

#[test]
fn certificate_dns_names_yield_to_a_contradicting_sni() {
    let bear = testdata::certificate(&CertNames {
        subject_cn: Some("*.tunnelbear.com"),
        issuer_cn: Some("R3"),
        san: &["*.tunnelbear.com", "www.example.org"],
        ..CertNames::default()
    });
    let no_sni = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(None, &[]))
        .to_client(&testdata::server_flight(&bear));
    let v = inspect(&no_sni).unwrap();
    assert_eq!(v.family, "tunnelbear");
    assert!(has(
        &v,
        "server certificate name tunnelbear.com matches catalogue tunnelbear"
    ));
    // A shared certificate on a connection to another site says nothing about the product.
    let other = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(Some("www.example.org"), &[]))
        .to_client(&testdata::server_flight(&bear));
    assert_eq!(inspect(&other), None);
    let same = ViewBuilder::tcp(50000, 443)
        .to_server(&testdata::client_hello(Some("api.tunnelbear.com"), &[]))
        .to_client(&testdata::server_flight(&bear));
    assert_eq!(inspect(&same).unwrap().confidence, Confidence::Handshake);
}

// ------------------------------------------------------------------------------ DNS names

#[test]
fn dns_name_counts_once_the_server_answered() {
    let asked = ViewBuilder::tcp(50000, 6568)
        .named("relay-1.net.anydesk.com")
        .to_server(&[0x5a; 40]);
    assert_eq!(inspect(&asked), None);
    let answered = asked.to_client(&[0xa5; 60]);
    let v = inspect(&answered).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("anydesk", Confidence::Signature)
    );
    assert!(v.evidence[0].starts_with(
        "server address resolved from DNS name relay-1.net.anydesk.com, which matches catalogue \
         anydesk (dns net.anydesk.com; source:"
    ));
    assert!(has(&v, "responder port tcp/6568 is listed for anydesk"));
}

#[test]
fn dns_name_and_sni_of_another_host_do_not_combine() {
    let b = ViewBuilder::tcp(50000, 443)
        .named("relay-1.net.anydesk.com")
        .to_server(&testdata::client_hello(Some("www.example.org"), &[]))
        .to_client(&[0x16, 0x03, 0x03, 0x00, 0x01, 0x00]);
    assert_eq!(inspect(&b), None);
    let agree = ViewBuilder::tcp(50000, 443)
        .named("relay-1.net.anydesk.com")
        .to_server(&testdata::client_hello(
            Some("relay-1.net.anydesk.com"),
            &[],
        ))
        .to_client(&[0x16, 0x03, 0x03, 0x00, 0x01, 0x00]);
    let v = inspect(&agree).unwrap();
    // Both are what the client asked for: one class, still a signature.
    assert_eq!(v.confidence, Confidence::Signature);
    assert!(has(&v, "TLS SNI") && has(&v, "DNS name"));
}

// ------------------------------------------------------------------------------- patterns

/// TeamViewer command header (nDPI teamviewer.c, libprotoident): 0x1724, command 0x0a
/// (CMD_IDENTIFY), 0x20, then the body; the server answers with 0x1130 headers.
fn tv_identify() -> Vec<u8> {
    let mut m = vec![0x17, 0x24, 0x0a, 0x20];
    m.extend([0u8; 33]);
    m
}

#[test]
fn teamviewer_two_sided_on_any_port_is_a_handshake() {
    let one = ViewBuilder::tcp(50000, 443).to_server(&tv_identify());
    let v = inspect(&one).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("teamviewer", Confidence::Signature)
    );
    assert!(v.evidence[0].starts_with(
        "client→server tcp segment 1 (37 bytes): TeamViewer command header, magic 0x1724, \
         CMD_IDENTIFY [17 24 0a 20 at offset 0] matches catalogue teamviewer (source: nDPI"
    ));
    let both = one.to_client(&[0x11, 0x30, 0x36, 0x00, 0x18, 0x00]);
    let v = inspect(&both).unwrap();
    assert_eq!(v.confidence, Confidence::Handshake);
    assert!(v.complete);
    // The 2-byte header rule matched the same segment: reported once, by the stronger rule.
    assert_eq!(v.evidence.len(), 2, "{:?}", v.evidence);
    assert!(!has(&v, "[17 24 at offset 0]"));
}

#[test]
fn a_short_magic_needs_the_port_or_the_other_side() {
    let weak = |port| ViewBuilder::tcp(50000, port).to_server(&[0x17, 0x24, 0x1b, 0x00, 0x01]);
    assert_eq!(inspect(&weak(40000)), None);
    let v = inspect(&weak(5938)).unwrap();
    assert_eq!(v.confidence, Confidence::Signature);
    assert!(has(
        &v,
        "responder port tcp/5938 is listed for teamviewer (supporting evidence only)"
    ));
    // A port alone: nothing.
    let port_only = ViewBuilder::tcp(50000, 5938)
        .to_server(&[0x42; 20])
        .to_client(&[0x43; 20]);
    assert_eq!(inspect(&port_only), None);
}

#[test]
fn teamviewer_udp_from_both_peers() {
    let mut d = vec![0u8; 11];
    d.extend([0x17, 0x24, 0x47, 0x50]);
    d.extend([0u8; 20]);
    let b = ViewBuilder::udp(34417, 36037).to_server(&d);
    assert_eq!(inspect(&b), None);
    let v = inspect(&b.to_client(&d)).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("teamviewer", Confidence::Handshake)
    );
}

#[test]
fn citrix_ica_detect_strings_both_ways() {
    let ica = b"\x7f\x7fICA\x00";
    let b = ViewBuilder::tcp(45225, 1494).to_client(ica).to_server(ica);
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("citrix", Confidence::Handshake)
    );
    // Followed by more bytes in the same segment: not the 6-byte detect string.
    let long = ViewBuilder::tcp(45225, 1494).to_client(b"\x7f\x7fICA\x00\x01");
    assert_eq!(inspect(&long), None);
    let cgp = ViewBuilder::tcp(50000, 2598)
        .to_server(b"\x1aCGP/01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
    assert_eq!(inspect(&cgp).unwrap().confidence, Confidence::Signature);
}

#[test]
fn radmin_hello_and_reply() {
    let hello = [0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x08, 0x08];
    let mut reply = vec![
        0x01, 0, 0, 0, 0x25, 0, 0, 0x02, 0x12, 0x08, 0x02, 0, 0, 0x0a,
    ];
    reply.resize(46, 0);
    let b = ViewBuilder::tcp(49736, 4899)
        .to_server(&hello)
        .to_client(&reply);
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("radmin", Confidence::Handshake)
    );
    // The same reply one byte longer is not Radmin's.
    reply.push(0);
    let b = ViewBuilder::tcp(49736, 4899).to_client(&reply);
    assert_eq!(inspect(&b), None);
}

#[test]
fn nomachine_greetings() {
    let b = ViewBuilder::tcp(48084, 4000)
        .to_server(b"NXSH-8.10.1\n")
        .to_client(b"NXD-8.10.1\n");
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("nomachine", Confidence::Handshake)
    );
    assert!(has(&v, "NX client greeting"));
    let no_newline = ViewBuilder::tcp(48084, 4000).to_server(b"NXSH-8.10.1 ");
    assert_eq!(inspect(&no_newline), None);
}

#[test]
fn tinc_id_lines_of_both_protocol_forms() {
    for (a, b) in [
        (&b"0 think 17\n"[..], &b"0 iniz 17\n"[..]),
        (b"0 alpha 17.7\n", b"0 beta 17.0\n"),
    ] {
        let v = inspect(&ViewBuilder::tcp(59244, 655).to_server(a).to_client(b)).unwrap();
        assert_eq!(
            (v.family.as_ref(), v.confidence),
            ("tinc", Confidence::Handshake),
            "{a:?}"
        );
    }
    // Other text lines starting "0 ".
    let b = ViewBuilder::tcp(50000, 655).to_server(b"0 items in queue\n");
    assert_eq!(inspect(&b), None);
}

#[test]
fn softether_nat_t_and_pack() {
    let b = ViewBuilder::udp(51381, 5004)
        .to_server(b"A")
        .to_client(b"IP=90.186.132.133,PORT=51381");
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("softether", Confidence::Handshake)
    );
    // Each half alone is too short to count.
    assert_eq!(
        inspect(&ViewBuilder::udp(51381, 5004).to_server(b"A")),
        None
    );
    let mut pack = vec![0, 0, 0, 0x0c, 0, 0, 0, 0x0a];
    pack.extend(b"host_name\0\0\0\x02\0\0\0\x01\0\0\0\x03vpn");
    let v = inspect(&ViewBuilder::udp(51381, 5004).to_server(&pack)).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("softether", Confidence::Signature)
    );
}

#[test]
fn warp_and_anyconnect_datagrams() {
    let mut init = vec![0xc1, 0, 0, 0, 0, 0x90, 0x83, 0x01];
    init.extend([0x33; 186]);
    let mut resp = vec![0xc2, 0x02, 0x78, 0x00];
    resp.extend([0x44; 100]);
    let b = ViewBuilder::udp(60555, 2408)
        .to_server(&init)
        .to_client(&resp);
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("cloudflare_warp", Confidence::Handshake)
    );
    assert_eq!(v.provider.as_deref(), Some("cloudflare_warp"));

    // DTLS 0x0100 record: type 22, version, epoch 0, sequence 0, length, ClientHello.
    let mut hello = vec![0x16, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x7c, 0x01];
    hello.extend([0x55; 124]);
    let mut verify = vec![0x16, 0x01, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x23, 0x03];
    verify.extend([0x66; 35]);
    let b = ViewBuilder::udp(54107, 443).to_server(&hello);
    assert_eq!(inspect(&b).unwrap().confidence, Confidence::Signature);
    let v = inspect(&b.to_client(&verify)).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("cisco_anyconnect", Confidence::Handshake)
    );
    // Standard DTLS 1.2 (0xfefd), as WebRTC uses it: not AnyConnect.
    hello[1] = 0xfe;
    hello[2] = 0xfd;
    assert_eq!(
        inspect(&ViewBuilder::udp(54107, 443).to_server(&hello)),
        None
    );
}

// ------------------------------------------------------------------------------ QUIC, JA4

fn test_catalogue(extra: &str) -> Arc<Catalogue> {
    let text = format!(
        "mode = \"replace\"\n[[product]]\nid = \"example_tool\"\nname = \"Example\"\n\
         kind = \"remote_access\"\n{extra}\n[[product.sources]]\ncovers = [\"sni\", \"ja4\"]\n\
         cite = \"RFC 9001 Appendix A.2\"\n"
    );
    Arc::new(Catalogue::parse(Path::new("test.toml"), &text).unwrap())
}

#[test]
fn quic_initial_sni_with_a_test_catalogue() {
    let initial = testdata::hex(testdata::RFC9001_CLIENT_INITIAL);
    let b = ViewBuilder::udp(50000, 443).to_server(&initial);
    assert_eq!(inspect(&b), None, "example.com is in no built-in entry");
    let d = ProductDetector::new(test_catalogue("sni = [\"example.com\"]"));
    let v = d.inspect(&b.view()).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("example_tool", Confidence::Signature)
    );
    assert!(
        v.evidence[0].starts_with("QUIC Initial SNI example.com matches catalogue example_tool")
    );
}

#[test]
fn ja4_alone_is_a_heuristic() {
    let hello = testdata::client_hello(Some("www.example.org"), &["h2"]);
    let fp = tls::client_hello(&hello).done().unwrap().ja4(false);
    let d = ProductDetector::new(test_catalogue(&format!("ja4 = [\"{fp}\"]")));
    let v = d
        .inspect(&ViewBuilder::tcp(50000, 443).to_server(&hello).view())
        .unwrap();
    assert_eq!(v.confidence, Confidence::Heuristic);
    assert!(has(&v, &format!("JA4 {fp} matches catalogue example_tool")));
}

// ------------------------------------------------------------------------ foreign traffic

#[test]
fn other_protocols_are_silent() {
    let stun = [
        0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
    ];
    let dns = [
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l',
        b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
    let quic_v1 = testdata::hex(testdata::RFC9001_CLIENT_INITIAL);
    let random: Vec<u8> = (0..200u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (name, b) in [
        (
            "http",
            ViewBuilder::tcp(50000, 80)
                .to_server(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
                .to_client(b"HTTP/1.1 200 OK\r\n\r\n"),
        ),
        (
            "dns",
            ViewBuilder::udp(50000, 53).to_server(&dns).to_client(&dns),
        ),
        (
            "stun",
            ViewBuilder::udp(50000, 3478)
                .to_server(&stun)
                .to_client(&stun),
        ),
        ("quic", ViewBuilder::udp(50000, 443).to_server(&quic_v1)),
        (
            "random-tcp",
            ViewBuilder::tcp(50000, 5938)
                .to_server(&random)
                .to_client(&random),
        ),
        (
            "random-udp",
            ViewBuilder::udp(50000, 2408)
                .to_server(&random)
                .to_client(&random),
        ),
        (
            "ssh",
            ViewBuilder::tcp(50000, 22)
                .to_server(b"SSH-2.0-OpenSSH_9.6\r\n")
                .to_client(b"SSH-2.0-OpenSSH_9.6\r\n"),
        ),
    ] {
        assert_eq!(inspect(&b), None, "{name}");
    }
}

#[test]
fn every_prefix_of_a_positive_message_is_weaker_or_nothing() {
    let hello = testdata::client_hello(Some("relay-7c1.net.anydesk.com"), &["anydesk/7"]);
    let flight = testdata::server_flight(&anydesk_client_cert());
    let full = inspect(
        &ViewBuilder::tcp(50000, 443)
            .to_server(&hello)
            .to_client(&flight),
    )
    .unwrap();
    assert_eq!(full.confidence, Confidence::Handshake);
    for n in 0..hello.len() {
        let v = inspect(&ViewBuilder::tcp(50000, 443).to_server(&hello[..n]));
        assert_eq!(v, None, "hello prefix {n}");
    }
    for n in 0..flight.len() {
        let v = inspect(
            &ViewBuilder::tcp(50000, 443)
                .to_server(&hello)
                .to_client(&flight[..n]),
        )
        .unwrap();
        assert!(v.confidence <= full.confidence, "flight prefix {n}");
    }
    let ica = b"\x7f\x7fICA\x00";
    for n in 0..ica.len() {
        assert_eq!(
            inspect(
                &ViewBuilder::tcp(1, 1494)
                    .to_server(&ica[..n])
                    .to_client(&ica[..n])
            ),
            None
        );
    }
}

fn bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
}

proptest::proptest! {
    #[test]
    fn arbitrary_payloads_never_panic(a in bytes(), b in bytes()) {
        let d = builtin();
        let tcp = ViewBuilder::tcp(1, 443).named("x.net.anydesk.com");
        let _ = d.inspect(&tcp.to_server(&a).to_client(&b).view());
        let _ = d.inspect(&ViewBuilder::udp(1, 443).to_server(&a).to_client(&b).view());
    }
}

/// Payloads that carry catalogue patterns of either direction (TeamViewer, Citrix, Radmin,
/// NoMachine, the UDP ones), or nothing.
fn pattern_payloads() -> Vec<Vec<u8>> {
    let mut tv_udp = vec![0u8; 11];
    tv_udp.extend([0x17, 0x24, 0x47, 0x50]);
    let mut radmin_reply = vec![
        0x01, 0, 0, 0, 0x25, 0, 0, 0x02, 0x12, 0x08, 0x02, 0, 0, 0x0a,
    ];
    radmin_reply.resize(46, 0);
    vec![
        tv_identify(),
        vec![0x11, 0x30, 0x36, 0x00],
        vec![0x17, 0x24, 0x1b, 0x00, 0x01],
        b"\x7f\x7fICA\x00".to_vec(),
        b"\x1aCGP/01".to_vec(),
        vec![0x01, 0, 0, 0, 0x01, 0, 0, 0, 0x08, 0x08],
        radmin_reply,
        vec![0x01, 0, 0, 0, 0x05, 0, 0, 0, 0x27, 0x27, 0, 0, 0, 0],
        b"NXSH-1.5.0\n".to_vec(),
        b"NXD-1.5.0\n".to_vec(),
        tv_udp,
        vec![0xc1, 0, 0, 0, 0, 1, 2],
        vec![0xc2, 9],
        vec![0x42; 12],
        b"GET / HTTP/1.1\r\nHost: master1.teamviewer.com\r\n\r\n".to_vec(),
        b"GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n".to_vec(),
    ]
}

proptest::proptest! {
    /// What the flow's memo keeps from packet to packet (the pattern search so far, the Host
    /// and DNS-name facts) makes the verdict a look at every kept segment from scratch makes,
    /// whatever the packets and their order.
    #[test]
    fn resumed_pattern_search_equals_a_search_from_scratch(
        udp in proptest::prelude::any::<bool>(),
        port in proptest::sample::select(vec![443u16, 1494, 4000, 4899, 5938, 2408]),
        named in proptest::sample::select(vec![None, Some("router9.teamviewer.com"), Some("example.net")]),
        pkts in proptest::collection::vec(
            (proptest::prelude::any::<bool>(), 0usize..16, 0usize..3),
            1..14,
        ),
    ) {
        let d = builtin();
        let payloads = pattern_payloads();
        let mut b = if udp { ViewBuilder::udp(50000, port) } else { ViewBuilder::tcp(50000, port) };
        if let Some(name) = named {
            b = b.named(name);
        }
        let mut kept = crate::detect::HandshakeMemo::default();
        for (to_server, which, copies) in pkts {
            let mut payload = payloads[which].clone();
            for _ in 0..copies {
                payload.extend_from_slice(&payloads[which]);
            }
            b = if to_server { b.to_server(&payload) } else { b.to_client(&payload) };
            let scratch = d.inspect(&b.view());
            let mut v = b.view();
            let lens = |s: &Side<'_>| (s.data().len(), s.segments().len());
            kept.sync(lens(&v.to_server), lens(&v.to_client));
            v.memo = &kept;
            proptest::prop_assert_eq!(d.inspect(&v), scratch);
        }
    }
}

// ------------------------------------------------------------------------- provider hook

fn wireguard_verdict() -> Verdict {
    Verdict::new(Kind::VpnTunnel, "wireguard", Confidence::Handshake).with("handshake")
}

#[test]
fn provider_hook_names_the_brand_of_a_generic_tunnel() {
    let hook = ProviderEnricher::new(Arc::new(Catalogue::builtin()));
    let b = ViewBuilder::udp(50000, 51820).named("se-mma-wg-001.mullvad.net");
    let mut v = wireguard_verdict();
    hook.enrich(&b.view(), &mut v);
    assert_eq!(v.provider.as_deref(), Some("mullvad"));
    assert_eq!(v.family, "wireguard");
    assert!(v.evidence[1].starts_with(
        "provider mullvad: server address resolved from DNS name se-mma-wg-001.mullvad.net, \
         which matches catalogue mullvad (dns mullvad.net; source: nDPI"
    ));
    // Idempotent: a second run adds nothing.
    hook.enrich(&b.view(), &mut v);
    assert_eq!(v.evidence.len(), 2);
    // A provider already known (Tailscale disco) is kept.
    let mut ts = wireguard_verdict();
    ts.provider = Some("tailscale".into());
    hook.enrich(&b.view(), &mut ts);
    assert_eq!(ts.provider.as_deref(), Some("tailscale"));
    // Remote access is never given a VPN provider; nor is a name of a non-brand product.
    let mut rdp = Verdict::new(Kind::RemoteAccess, "rdp", Confidence::Handshake);
    hook.enrich(&b.view(), &mut rdp);
    assert_eq!(rdp.provider, None);
    let mut wg = wireguard_verdict();
    hook.enrich(
        &ViewBuilder::udp(1, 2).named("relay.net.anydesk.com").view(),
        &mut wg,
    );
    hook.enrich(
        &ViewBuilder::udp(1, 2).named("vpn.example.org").view(),
        &mut wg,
    );
    hook.enrich(&ViewBuilder::udp(1, 2).view(), &mut wg);
    assert_eq!(wg.provider, None);
}

#[test]
fn provider_hook_reads_the_sni_of_a_tunnel_over_tls() {
    let hook = ProviderEnricher::new(Arc::new(Catalogue::builtin()));
    let b = ViewBuilder::tcp(50000, 443).to_server(&testdata::client_hello(
        Some("us-nyc.prod.surfshark.com"),
        &[],
    ));
    let mut v = Verdict::new(Kind::VpnTunnel, "openvpn", Confidence::Signature);
    hook.enrich(&b.view(), &mut v);
    assert_eq!(v.provider.as_deref(), Some("surfshark"));
    assert!(v.evidence[0].starts_with(
        "provider surfshark: TLS SNI us-nyc.prod.surfshark.com matches catalogue surfshark"
    ));
}

#[test]
fn the_standard_cascade_runs_the_hook_after_the_detectors() {
    // WireGuard handshake initiation (148 bytes) and response (92 bytes) tied by the index.
    let mut init = vec![1, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
    init.extend([0x5a; 140]);
    let mut resp = vec![2, 0, 0, 0, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x44];
    resp.extend([0x6b; 80]);
    let b = ViewBuilder::udp(50000, 51820)
        .named("nl-free-01.protonvpn.net")
        .to_server(&init)
        .to_client(&resp);
    let mut best = None;
    Cascade::standard().inspect(&b.view(), &mut best);
    let v = best.unwrap();
    assert_eq!(v.family, "wireguard");
    assert_eq!(v.provider.as_deref(), Some("protonvpn"));
    let mut none = None;
    Cascade::of(vec![]).inspect(&b.view(), &mut none);
    assert_eq!(none, None);
}

// ------------------------------------------------------------------ independent sources

#[test]
fn sni_and_alpn_of_one_hello_stay_a_signature() {
    let b = ViewBuilder::tcp(50000, 443).to_server(&testdata::client_hello(
        Some("relay-7c1.net.anydesk.com"),
        &["anydesk/8.0.8/linux"],
    ));
    let v = inspect(&b).unwrap();
    assert_eq!(v.confidence, Confidence::Signature);
    assert!(has(&v, "TLS SNI") && has(&v, "ALPN"));
}

#[test]
fn a_pattern_and_the_dns_name_are_a_handshake() {
    let b = ViewBuilder::tcp(50000, 443)
        .named("router7.teamviewer.com")
        .to_server(&tv_identify())
        .to_client(&[0x42; 30]);
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("teamviewer", Confidence::Handshake)
    );
    assert!(has(&v, "CMD_IDENTIFY") && has(&v, "DNS name router7.teamviewer.com"));
}

#[test]
fn a_tls_or_quic_flow_past_its_handshake_reports_nothing_new() {
    // Without the hello at hand, the DNS name could be contradicted by the SNI: stay silent.
    let mut b = ViewBuilder::tcp(50000, 443)
        .named("relay-1.net.anydesk.com")
        .to_server(&testdata::client_hello(Some("www.example.org"), &[]))
        .to_client(&[0x16, 0x03, 0x03, 0x00, 0x01, 0x00]);
    for _ in 0..TLS_PKTS_MAX {
        b = b.to_server(&[0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb]);
    }
    assert_eq!(inspect(&b), None);
    let mut q = ViewBuilder::udp(50000, 443).named("relay-1.net.anydesk.com");
    for _ in 0..=QUIC_CLIENT_PKTS_MAX {
        q = q.to_server(&[0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8]);
    }
    assert_eq!(inspect(&q.to_client(&[0x40; 30])), None);
    // An opaque flow is not TLS: the DNS name still counts there.
    let mut o = ViewBuilder::tcp(50000, 6568).named("relay-1.net.anydesk.com");
    for _ in 0..=TLS_PKTS_MAX {
        o = o.to_server(&[0x5a; 20]).to_client(&[0xa5; 20]);
    }
    assert_eq!(inspect(&o).unwrap().family, "anydesk");
}

// ----------------------------------------------------------------------------- HTTP Host

#[test]
fn http_host_is_matched_like_an_sni() {
    let b = ViewBuilder::tcp(37504, 80).to_server(
        b"POST /vpnsvc/connect.cgi HTTP/1.1\r\n\
          host: X0.x0.dev.open.servers.ddns.softether-network.net:80\r\n\r\n",
    );
    let v = inspect(&b).unwrap();
    assert_eq!(
        (v.family.as_ref(), v.confidence),
        ("softether", Confidence::Signature)
    );
    assert!(v.evidence[0].starts_with(
        "HTTP Host x0.x0.dev.open.servers.ddns.softether-network.net matches catalogue softether"
    ));
    // Another site on an address resolved from a product name (a shared CDN address).
    let other = ViewBuilder::tcp(50000, 80)
        .named("api.tunnelbear.com")
        .to_server(b"GET / HTTP/1.1\r\nHost: www.example.org\r\n\r\n")
        .to_client(b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(inspect(&other), None);
}

#[test]
fn http_host_parsing() {
    assert_eq!(
        http_host(b"GET / HTTP/1.1\r\nUser-Agent: x\r\nHOST:  Example.ORG:8080 \r\n\r\n"),
        Some("example.org".into())
    );
    assert_eq!(
        http_host(b"GET / HTTP/1.1\r\n\r\nHost: after.body.example\r\n"),
        None
    );
    assert_eq!(
        http_host(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n"),
        None
    );
    assert_eq!(
        http_host(b"get / HTTP/1.1\r\nHost: example.org\r\n\r\n"),
        None
    );
    assert_eq!(http_host(b"SSH-2.0-x\r\nHost: example.org\r\n"), None);
    assert_eq!(http_host(b"GET / HTTP/1.1\r\nHost: exa mple.org\r\n"), None);
    // A head cut inside a multi-byte character still yields the Host before it.
    assert_eq!(
        http_host(b"GET / HTTP/1.1\r\nHost: example.org\r\nX: \xc3"),
        Some("example.org".into())
    );
}
