//! Live capture end to end: the daemon captures on the loopback interface while a client sends
//! an RDP connection request to a local listener, and the RDP alert appears in its JSONL output.
//! Needs root (or CAP_NET_RAW); skips with a printed reason otherwise. Traffic stays on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{stderr_lines, wait_exit};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// X.224 Connection Request (MS-RDPBCGR 2.2.1.1): TPKT header (version 3, length 46), X.224 CR
/// TPDU (LI 41, code 0xE0, dst-ref 0, src-ref 0, class 0), a routing cookie and RDP_NEG_REQ
/// asking for TLS and CredSSP (requestedProtocols 0x00000003).
fn connection_request() -> Vec<u8> {
    let cookie = b"Cookie: mstshash=livetest\r\n";
    let neg_req = [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00];
    let total = 4 + 7 + cookie.len() + neg_req.len();
    let mut v = vec![
        0x03,
        0x00,
        0x00,
        total as u8,
        (total - 5) as u8,
        0xE0,
        0,
        0,
        0,
        0,
        0,
    ];
    v.extend_from_slice(cookie);
    v.extend_from_slice(&neg_req);
    v
}

/// X.224 Connection Confirm with RDP_NEG_RSP selecting TLS (MS-RDPBCGR 2.2.1.2).
const CONNECTION_CONFIRM: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01,
    0x00, 0x00, 0x00,
];

#[test]
fn live_capture_on_loopback_reports_an_rdp_connection_request() {
    if effective_uid() != Some(0) {
        eprintln!("skipped: live capture on lo needs root (CAP_NET_RAW); run the tests as root");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        format!("[capture]\nbpf = \"tcp port {port}\"\n[alerts]\njsonl = \"alerts.jsonl\"\n[http]\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args([
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--interface",
            "lo",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut daemon);
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.iter().any(|l: &String| l.contains("capture started")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => log.push(l),
            Err(_) => {
                let _ = daemon.kill();
                panic!("daemon did not start capturing: {log:#?}");
            }
        }
    }

    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&CONNECTION_CONFIRM).unwrap();
        n
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(&connection_request()).unwrap();
    let mut reply = [0u8; 19];
    client.read_exact(&mut reply).unwrap();
    assert_eq!(reply, CONNECTION_CONFIRM);
    drop(client);
    assert_eq!(server.join().unwrap(), connection_request().len());

    // Give the capture thread a read timeout to hand the packets over, then stop the daemon.
    std::thread::sleep(Duration::from_millis(700));
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = wait_exit(&mut daemon, Duration::from_secs(15));
    log.extend(rx.try_iter());
    let status = status.unwrap_or_else(|| {
        let _ = daemon.kill();
        panic!("daemon did not stop on SIGTERM: {log:#?}")
    });
    assert!(status.success(), "daemon exit {status:?}: {log:#?}");

    let out = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap_or_default();
    let alerts: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let rdp: Vec<&serde_json::Value> = alerts.iter().filter(|a| a["family"] == "rdp").collect();
    assert_eq!(rdp.len(), 1, "alerts: {alerts:#?}\nlog: {log:#?}");
    let a = rdp[0];
    assert_eq!(a["kind"], "remote_access");
    assert_eq!(a["peer"], format!("127.0.0.1:{port}"));
    assert_eq!(a["endpoint"], "127.0.0.1");
    assert_eq!(
        a["severity"], "high",
        "request and confirm both seen: {a:#}"
    );
    let evidence = a["evidence"].to_string();
    assert!(evidence.contains("mstshash=livetest"), "{evidence}");
    assert!(log.iter().any(|l| l.contains("sensor stopped")), "{log:#?}");
}

/// The `Uid:`/`Gid:` lines of a process: real, effective, saved and filesystem ids.
fn ids_of(pid: u32) -> (Vec<u32>, Vec<u32>, String) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> Vec<u32> {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|v| v.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let groups = status
        .lines()
        .find(|l| l.starts_with("Groups:"))
        .unwrap_or_default()
        .to_owned();
    (field("Uid:"), field("Gid:"), groups)
}

#[test]
fn live_capture_goes_on_after_dropping_to_nobody() {
    if effective_uid() != Some(0) {
        eprintln!("skipped: dropping privileges needs to start as root; run the tests as root");
        return;
    }
    let Some((nobody_uid, nobody_gid)) = passwd_entry("nobody") else {
        eprintln!("skipped: no user nobody on this system");
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    // The user must be able to reach its data directory by path (SIGHUP reopens the log there,
    // `/api/alerts` opens the store there).
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = dir.path().join("data");
    let cfg = dir.path().join("rw.toml");
    let http = format!("127.0.0.1:{}", common::free_port());
    std::fs::write(
        &cfg,
        format!("[sensor]\nrun_as = \"nobody\"\n[capture]\nbpf = \"tcp port {port}\"\n[http]\nlisten = \"{http}\"\n"),
    )
    .unwrap();
    let mut daemon = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_remotewatch"))
            .args([
                "run",
                "--config",
                cfg.to_str().unwrap(),
                "--interface",
                "lo",
            ])
            .arg("--data-dir")
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = stderr_lines(&mut daemon.0);
    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log
        .iter()
        .any(|l: &String| l.contains("privileges dropped"))
    {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => log.push(l),
            Err(_) => panic!("daemon did not drop privileges: {log:#?}"),
        }
    }
    let (uid, gid, groups) = ids_of(daemon.0.id());
    assert_eq!(uid, vec![nobody_uid; 4], "real, effective, saved, fs uid");
    assert_eq!(gid, vec![nobody_gid; 4], "real, effective, saved, fs gid");
    assert_eq!(
        groups.split_whitespace().skip(1).collect::<Vec<_>>(),
        [nobody_gid.to_string()]
    );

    // The capture opened as root still delivers after the switch.
    rdp_exchange(listener, port);
    let alert = common::poll(Duration::from_secs(20), || {
        let out = std::fs::read_to_string(data.join("alerts.jsonl")).ok()?;
        out.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|a| a["family"] == "rdp")
    })
    .unwrap_or_else(|| {
        panic!(
            "no RDP alert after the switch: {:#?}",
            rx.try_iter().collect::<Vec<_>>()
        )
    });
    assert_eq!(alert["peer"], format!("127.0.0.1:{port}"));
    // The store it now writes as nobody is readable through the API (opened by path).
    let (status, body) = common::http_get(&http, "/api/alerts").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("mstshash=livetest"), "{body}");
    // Files the daemon made are private to it: data directory 0750, store and log 0640.
    for (p, mode) in [
        (data.clone(), 0o750),
        (data.join("alerts.db"), 0o640),
        (data.join("alerts.jsonl"), 0o640),
    ] {
        let m = std::fs::metadata(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!((m.mode() & 0o777, m.uid()), (mode, nobody_uid), "{p:?}");
    }

    assert!(Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = wait_exit(&mut daemon.0, Duration::from_secs(15)).expect("stops on SIGTERM");
    log.extend(rx.try_iter());
    assert!(status.success(), "{log:#?}");
}

/// Uid and gid of `user` from /etc/passwd.
fn passwd_entry(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    let line = passwd.lines().find(|l| l.split(':').next() == Some(user))?;
    let f: Vec<&str> = line.split(':').collect();
    Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?))
}

/// One RDP connection request and confirm over loopback to `listener`.
fn rdp_exchange(listener: TcpListener, port: u16) {
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        s.write_all(&CONNECTION_CONFIRM).unwrap();
        n
    });
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(&connection_request()).unwrap();
    let mut reply = [0u8; 19];
    client.read_exact(&mut reply).unwrap();
    drop(client);
    assert_eq!(server.join().unwrap(), connection_request().len());
}
