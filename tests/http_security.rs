//! The HTTP endpoints' protections, against the real daemon: `/api/alerts` answers 401 without
//! the bearer token or with a wrong one and 200 with it; the endpoints can be served over TLS
//! only (a certificate made by the test); the token never appears in the daemon's log; a token
//! or certificate that cannot be used stops the daemon at start with the file and the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{free_port, http_get, poll, stderr_lines, wait_exit, Killed};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls;

const TOKEN: &str = "3f9c1d2e8a7b6c5d4e3f2a1b0c9d8e7f";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/pcap/{name}/capture.pcap"))
}

/// Starts `run --replay … --stay` on `cfg` with a store in `data`, debug logging on; waits until
/// `ready` says the endpoints answer.
fn daemon(
    cfg: &Path,
    data: &Path,
    ready: impl Fn() -> bool,
) -> (Killed, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args(["run", "--stay", "--config"])
        .arg(cfg)
        .arg("--data-dir")
        .arg(data)
        .arg("--replay")
        .arg(fixture("rdp-x224-cookie-nla"))
        .env("REMOTEWATCH_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let d = Killed(child);
    assert!(
        poll(Duration::from_secs(20), || ready().then_some(())).is_some(),
        "endpoints did not come up: {:?}",
        rx.try_iter().collect::<Vec<_>>()
    );
    (d, rx)
}

/// An HTTP/1.0 GET with extra header lines: status, headers and body.
fn get(addr: &str, path: &str, headers: &str) -> (u16, String, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    split_response(&buf)
}

fn split_response(buf: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}

/// Stops the daemon with SIGTERM and returns everything it logged.
fn stop(mut d: Killed, rx: std::sync::mpsc::Receiver<String>) -> String {
    assert!(Command::new("kill")
        .args(["-TERM", &d.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = wait_exit(&mut d.0, Duration::from_secs(20)).expect("daemon stops");
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(100));
    rx.try_iter().collect::<Vec<_>>().join("\n")
}

#[test]
fn api_alerts_needs_the_bearer_token_and_the_token_is_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), format!("{TOKEN}\n")).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        format!("[http]\nlisten = \"{addr}\"\ntoken_file = \"token\"\n"),
    )
    .unwrap();
    let (d, rx) = daemon(&cfg, &dir.path().join("data"), || {
        http_get(&addr, "/readyz").is_some_and(|(s, _)| s == 200)
    });
    // Wait for the replay's alert to be stored, asking with the token.
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let body = poll(Duration::from_secs(20), || {
        let (status, _, body) = get(&addr, "/api/alerts", &auth);
        (status == 200 && body.contains("\"rdp\"")).then_some(body)
    })
    .expect("/api/alerts with the token: 200 and the RDP alert");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"][0]["family"], "rdp");

    let wrong_same_length = format!("Authorization: Bearer {}\r\n", TOKEN.replace('3', "4"));
    let cases = [
        ("no Authorization header", String::new()),
        ("a wrong token of the same length", wrong_same_length),
        (
            "a prefix of the token",
            format!("Authorization: Bearer {}\r\n", &TOKEN[..16]),
        ),
        (
            "the token with another scheme",
            format!("Authorization: Basic {TOKEN}\r\n"),
        ),
        (
            "the token plus a byte",
            format!("Authorization: Bearer {TOKEN}x\r\n"),
        ),
    ];
    for (what, header) in &cases {
        let (status, head, body) = get(&addr, "/api/alerts", header);
        assert_eq!(status, 401, "{what}: {head}\n{body}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{what}: {head}"
        );
        assert!(!body.contains("rdp"), "{what}: no alert content: {body}");
    }
    // The scrape and probe endpoints stay open.
    assert_eq!(get(&addr, "/metrics", "").0, 200);
    assert_eq!(get(&addr, "/healthz", "").0, 200);

    let log = stop(d, rx);
    assert!(log.contains("sensor stopped"), "{log}");
    assert!(!log.contains(TOKEN), "the token appears in the log:\n{log}");
    assert!(
        !log.contains(&TOKEN[..16]),
        "part of the token appears in the log"
    );
}

/// A blocking HTTPS GET trusting only `ca` (PEM): status and body, or the TLS/IO error.
fn https_get(addr: &str, ca_pem: &str, path: &str, header: &str) -> Result<(u16, String), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem.as_bytes()).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(|e| e.to_string())?;
    let tcp = std::net::TcpStream::connect(addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.0\r\nHost: localhost\r\n{header}\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    // A server may close without close_notify after an HTTP/1.0 response: keep what was read.
    if let Err(e) = tls.read_to_end(&mut buf) {
        if buf.is_empty() {
            return Err(e.to_string());
        }
    }
    let (status, _, body) = split_response(&buf);
    Ok((status, body))
}

#[test]
fn endpoints_are_served_over_tls_with_a_certificate_from_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let issued =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_pem = issued.cert.pem();
    std::fs::write(dir.path().join("cert.pem"), &cert_pem).unwrap();
    std::fs::write(
        dir.path().join("key.pem"),
        issued.signing_key.serialize_pem(),
    )
    .unwrap();
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[http]\nlisten = \"{addr}\"\ntoken_file = \"token\"\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n"
        ),
    )
    .unwrap();
    let (d, rx) = daemon(&cfg, &dir.path().join("data"), || {
        https_get(&addr, &cert_pem, "/readyz", "").is_ok_and(|(s, _)| s == 200)
    });
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let body = poll(Duration::from_secs(20), || {
        let (status, body) = https_get(&addr, &cert_pem, "/api/alerts", &auth).ok()?;
        (status == 200 && body.contains("\"rdp\"")).then_some(body)
    })
    .expect("/api/alerts over TLS with the token");
    assert!(body.contains("mstshash=alice"), "{body}");
    assert_eq!(
        https_get(&addr, &cert_pem, "/api/alerts", "").unwrap().0,
        401
    );
    // Plain HTTP on the TLS port gets no HTTP answer.
    assert!(
        http_get(&addr, "/metrics").is_none_or(|(s, _)| s != 200),
        "plain HTTP served on the TLS port"
    );
    // A client that does not trust this certificate refuses the connection.
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let err = https_get(&addr, &other.cert.pem(), "/healthz", "").unwrap_err();
    assert!(err.to_lowercase().contains("certificate"), "{err}");
    let log = stop(d, rx);
    assert!(
        log.contains("\"https\""),
        "the log says the endpoints are HTTPS: {log}"
    );
}

#[test]
fn unusable_token_or_certificate_files_stop_the_daemon_at_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("short"), "abc\n").unwrap();
    std::fs::write(dir.path().join("spaced"), format!("{TOKEN} {TOKEN}\n")).unwrap();
    std::fs::write(dir.path().join("cert.pem"), "not a certificate\n").unwrap();
    std::fs::write(dir.path().join("key.pem"), "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let cases: [(&str, &[&str]); 4] = [
        (
            "[http]\ntoken_file = \"short\"\n",
            &["short: the token has 3 characters; at least 32"],
        ),
        (
            "[http]\ntoken_file = \"spaced\"\n",
            &["spaced: the token must be one line"],
        ),
        (
            "[http]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n",
            &[
                "cert.pem: no CERTIFICATE block",
                "key.pem: no usable PEM private key",
            ],
        ),
        (
            "[http]\ntls_cert = \"cert.pem\"\n",
            &["rw.toml:2:", "http.tls_cert and http.tls_key go together"],
        ),
    ];
    for (config, expect) in cases {
        let cfg = dir.path().join("rw.toml");
        std::fs::write(&cfg, config).unwrap();
        for args in [
            vec!["check-config", "--config", cfg.to_str().unwrap()],
            vec![
                "run",
                "--config",
                cfg.to_str().unwrap(),
                "--replay",
                fixture("ssh-identification").to_str().unwrap(),
            ],
        ] {
            let out = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
                .args(&args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
            for x in expect {
                assert!(err.contains(x), "{args:?}: {x:?} missing from {err}");
            }
            assert!(!err.contains(TOKEN), "the token appears in an error");
        }
    }
}
