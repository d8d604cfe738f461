//! Real captures from the labelled corpus (next to the checkout, when present), read with the
//! sensor's own capture and decode stages, the TCP streams kept exactly as the flow table keeps
//! them ([`DirPayload`], first 4096 bytes). Expected values were read from the same files with
//! `tshark -r FILE -Y 'tls.handshake' -V` (Wireshark 4.0); the JA4 values from nDPI's expected
//! output for the file (ntop/nDPI `tests/cfgs/default/result/<file>.out`), an independent
//! implementation of the same fingerprint.

use super::{certificate, client_hello, quic_initial, quic_initials, server_hello, Parse};
use crate::capture::{FileCapture, Step};
use crate::decode::{decode, ip_proto, Decoded};
use crate::flow::{DirPayload, DATAGRAM_PREFIX_MAX};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// One direction of a transport conversation.
type DirKey = (IpAddr, u16, IpAddr, u16);

/// What one capture holds, per direction.
#[derive(Default)]
struct Streams {
    tcp: BTreeMap<DirKey, DirPayload>,
    udp: BTreeMap<DirKey, Vec<Vec<u8>>>,
}

/// The corpus folder, or `None` (with the reason printed) when this machine has none.
fn corpus() -> Option<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let found = [beside, PathBuf::from("/work/shared/corpus")]
        .into_iter()
        .find(|p| p.join("labels.csv").is_file());
    if found.is_none() {
        eprintln!("skipped: no labelled corpus at ../shared/corpus or /work/shared/corpus");
    }
    found
}

/// Reads one capture into per-direction TCP streams and UDP datagrams.
fn read(dir: &Path, name: &str) -> Streams {
    let mut cap = FileCapture::open(&dir.join(name)).unwrap();
    let link = cap.linktype();
    let mut s = Streams::default();
    loop {
        let step = cap
            .pump(|frame| {
                let Decoded::Packet(p) = decode(link, frame) else {
                    return;
                };
                let key = (p.src, p.src_port, p.dst, p.dst_port);
                match (p.proto, p.tcp) {
                    (ip_proto::TCP, Some(t)) if !p.payload.is_empty() => {
                        s.tcp.entry(key).or_default().push_tcp(t.seq, p.payload);
                    }
                    (ip_proto::UDP, _) => {
                        let d = s.udp.entry(key).or_default();
                        if d.len() < 8 {
                            d.push(p.payload.to_vec());
                        }
                    }
                    _ => {}
                }
            })
            .unwrap();
        if !matches!(step, Step::Frames(_)) {
            return s;
        }
    }
}

/// Server names of every ClientHello at the start of a TCP stream (`-` for none), sorted.
fn client_snis(s: &Streams) -> Vec<String> {
    let mut v: Vec<String> = s
        .tcp
        .values()
        .filter_map(|d| client_hello(d.data()).done())
        .map(|ch| ch.sni.unwrap_or_else(|| "-".into()))
        .collect();
    v.sort();
    v
}

#[test]
fn tls_client_hellos_match_tshark() {
    let Some(dir) = corpus() else { return };
    let www_iit = "www.iit.cnr.it".to_string();
    for (file, expected) in [
        ("ndpi__443-curl.pcap", vec!["www.ntop.org".to_string()]),
        ("ndpi__443-git.pcap", vec!["github.com".into()]),
        ("ndpi__firefox.pcap", vec![www_iit.clone(); 6]),
        ("ndpi__safari.pcap", vec![www_iit; 7]),
        // tshark shows an SSLv2-compatible ClientHello (RFC 5246 Appendix E.2), which has no
        // TLS record and no extensions: not parsed.
        ("ndpi__google_ssl.pcap", vec![]),
    ] {
        assert_eq!(client_snis(&read(&dir, file)), expected, "{file}");
    }
}

#[test]
fn ja4_matches_ndpi() {
    let Some(dir) = corpus() else { return };
    let s = read(&dir, "ndpi__443-curl.pcap");
    let ch = s
        .tcp
        .values()
        .find_map(|d| client_hello(d.data()).done())
        .unwrap();
    // tshark: ALPN h2,http/1.1; JA3 2a26b1a62e40d25d4de3babc9d532f30.
    assert_eq!(ch.alpn, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
    // nDPI's expected output for this file: [JA4: t12d6707h2_2955a3196ffa_c83f907a73d3].
    assert_eq!(ch.ja4(false), "t12d6707h2_2955a3196ffa_c83f907a73d3");

    // nDPI's expected output for firefox.pcap: five flows with one fingerprint, one with
    // another (a first connection with one more extension).
    let s = read(&dir, "ndpi__firefox.pcap");
    let mut ja4: Vec<String> = s
        .tcp
        .values()
        .filter_map(|d| client_hello(d.data()).done())
        .map(|ch| ch.ja4(false))
        .collect();
    ja4.sort();
    let mut expected = vec!["t13d1813h2_e8a523a41297_84e5d5db657c".to_string(); 5];
    expected.push("t13d1814h2_e8a523a41297_d267a5f792d4".into());
    assert_eq!(ja4, expected);

    // nDPI's expected output for quic-29.pcap: [JA4: q13d0512h9_d55e91d5c3b2_cd318bf3b157].
    let s = read(&dir, "ndpi__quic-29.pcap");
    let quic: Vec<String> = s
        .udp
        .values()
        .filter_map(|d| quic_initials(d.iter().map(Vec::as_slice)).done())
        .map(|ch| ch.ja4(true))
        .collect();
    assert_eq!(quic, vec!["q13d0512h9_d55e91d5c3b2_cd318bf3b157"]);
}

#[test]
fn tls12_server_flight_matches_tshark() {
    let Some(dir) = corpus() else { return };
    for (file, cipher, alpn, cn, issuer_cn, issuer_o, sans) in [
        (
            "ndpi__443-curl.pcap",
            0xc02f,
            "h2",
            "www.ntop.org",
            "Let's Encrypt Authority X3",
            "Let's Encrypt",
            vec!["www.ntop.org"],
        ),
        (
            "ndpi__443-git.pcap",
            0xc02f,
            "http/1.1",
            "github.com",
            "DigiCert SHA2 Extended Validation Server CA",
            "DigiCert Inc",
            vec!["github.com", "www.github.com"],
        ),
    ] {
        let s = read(&dir, file);
        let to_client = s
            .tcp
            .iter()
            .find(|(k, _)| k.1 == 443)
            .map(|(_, d)| d)
            .unwrap();
        let sh = server_hello(to_client.data()).done().unwrap();
        assert_eq!((sh.version, sh.cipher_suite), (0x0303, cipher), "{file}");
        assert_eq!(sh.alpn.as_deref(), Some(alpn.as_bytes()), "{file}");
        let c = certificate(to_client.data()).done().unwrap();
        assert_eq!(c.subject_cn.as_deref(), Some(cn), "{file}");
        assert_eq!(c.issuer_cn.as_deref(), Some(issuer_cn), "{file}");
        assert_eq!(c.issuer_o.as_deref(), Some(issuer_o), "{file}");
        assert_eq!(c.san_dns, sans, "{file}");
    }
}

#[test]
fn tls13_server_hello_hides_the_certificate() {
    let Some(dir) = corpus() else { return };
    let s = read(&dir, "ndpi__firefox.pcap");
    let mut seen = 0;
    for d in s.tcp.iter().filter(|(k, _)| k.1 == 443).map(|(_, d)| d) {
        // tshark: ServerHello 0x0303, supported_versions 0x0304, cipher 0x1302.
        let sh = server_hello(d.data()).done().unwrap();
        assert_eq!((sh.version, sh.cipher_suite), (0x0304, 0x1302));
        assert_eq!(certificate(d.data()), Parse::NotTls);
        seen += 1;
    }
    assert_eq!(seen, 6);
}

/// Server names and ALPNs of the QUIC ClientHellos in a capture, per client direction.
fn quic_hellos(s: &Streams) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for dgrams in s.udp.values() {
        let refs = dgrams.iter().map(Vec::as_slice);
        if let Parse::Done(ch) = quic_initials(refs) {
            let alpn = ch
                .alpn
                .first()
                .map(|a| String::from_utf8_lossy(a).into_owned());
            v.push((ch.sni.unwrap_or_default(), alpn.unwrap_or_default()));
        }
    }
    v.sort();
    v
}

#[test]
fn quic_initials_match_tshark() {
    let Some(dir) = corpus() else { return };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    for (file, expected) in [
        ("ndpi__quic-29.pcap", vec![pair("localhost", "h3-29")]),
        (
            "ndpi__quic_t51.pcap",
            vec![pair("www.google.com", "h3-T051")],
        ),
        (
            "zeek__firefox-102.13.0esr-blog-cloudflare-com.pcap",
            vec![pair("blog.cloudflare.com", "h3")],
        ),
        // Google QUIC Q024..Q033 (no TLS): nothing to open.
        ("ndpi__quic.pcap", vec![]),
    ] {
        assert_eq!(quic_hellos(&read(&dir, file)), expected, "{file}");
    }
}

#[test]
fn quic_needs_the_whole_first_datagram() {
    let Some(dir) = corpus() else { return };
    let s = read(&dir, "zeek__firefox-102.13.0esr-blog-cloudflare-com.pcap");
    let first = s
        .udp
        .iter()
        .find(|(k, _)| k.3 == 443)
        .and_then(|(_, d)| d.first())
        .unwrap();
    assert!(quic_initial(first).done().is_some());
    // The flow table keeps whole datagrams up to DATAGRAM_PREFIX_MAX: the first Initial fits, and
    // one cut inside the packet cannot be opened (its AEAD tag is at the end).
    assert!(first.len() <= DATAGRAM_PREFIX_MAX);
    assert_eq!(quic_initial(&first[..512]), Parse::Incomplete);
}
