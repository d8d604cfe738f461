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

/// A listener on 127.0.0.1, and in a temporary directory a configuration that captures its
/// port on lo (with `capture` added to the `[capture]` table) and writes alerts to
/// `alerts.jsonl` there. `None`, saying why, when the tests do not run as root.
fn loopback_setup(
    capture: &str,
) -> Option<(TcpListener, u16, tempfile::TempDir, std::path::PathBuf)> {
    if effective_uid() != Some(0) {
        eprintln!("skipped: live capture on lo needs root (CAP_NET_RAW); run the tests as root");
        return None;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        format!("[capture]\nbpf = \"tcp port {port}\"\n{capture}[alerts]\njsonl = \"alerts.jsonl\"\n[http]\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    Some((listener, port, dir, cfg))
}

/// X.224 Connection Confirm with RDP_NEG_RSP selecting TLS (MS-RDPBCGR 2.2.1.2).
const CONNECTION_CONFIRM: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00, 0x01,
    0x00, 0x00, 0x00,
];

#[test]
fn live_capture_on_loopback_reports_an_rdp_connection_request() {
    let Some((listener, port, dir, cfg)) = loopback_setup("") else {
        return;
    };
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

    // Give the kernel a read timeout to hand the last block of frames over, then stop the daemon.
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
        common::whole_lines(&out)
            .lines()
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

/// `n` TCP connections to `listener`, each carrying a short request and reply, one after
/// another; returns the clients' ports.
fn short_exchanges(listener: TcpListener, port: u16, n: usize) -> Vec<u16> {
    let server = std::thread::spawn(move || {
        for _ in 0..n {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let got = s.read(&mut buf).unwrap();
            s.write_all(&buf[..got]).unwrap();
        }
    });
    let ports = (0..n)
        .map(|_| {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.write_all(b"ping").unwrap();
            let mut reply = [0u8; 4];
            c.read_exact(&mut reply).unwrap();
            c.local_addr().unwrap().port()
        })
        .collect();
    server.join().unwrap();
    ports
}

/// What the sensor relies on when it reads an interface with several workers: two sockets in
/// one fanout group (`capture::FANOUT_FLOW`) on lo share the connections between them, and
/// each connection's frames, both directions, reach one socket only.
#[test]
fn a_fanout_group_gives_both_directions_of_each_connection_to_one_socket() {
    use remotewatch::capture::{FanoutGroup, LiveOptions, LiveSocket, Step};
    use remotewatch::decode::{decode, Decoded};
    use std::collections::{BTreeMap, BTreeSet};
    if effective_uid() != Some(0) {
        eprintln!("skipped: live capture on lo needs root (CAP_NET_RAW); run the tests as root");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Ring slots sized for small frames, and many of them: lo's 64 KiB MTU would otherwise
    // leave a few dozen slots, which a burst of connections overflows.
    let opts = LiveOptions {
        interface: "lo".into(),
        bpf: format!("tcp port {port}"),
        snaplen: 2048,
        promiscuous: false,
        buffer_bytes: Some(32 << 20),
        fanout: Some(FanoutGroup::New),
    };
    let first = LiveSocket::open(&opts).unwrap();
    let group = first.fanout_group().expect("in a fanout group");
    let second = LiveSocket::open(&LiveOptions {
        fanout: Some(FanoutGroup::Join(group)),
        ..opts.clone()
    })
    .unwrap();
    assert_eq!(second.fanout_group(), Some(group));
    // Another new group on the same interface gets another id: the sensor never joins a
    // group it did not make.
    let other = LiveSocket::open(&opts).unwrap();
    assert_ne!(other.fanout_group(), Some(group));
    drop(other);
    let mut socks = [first, second];
    let clients = short_exchanges(listener, port, 24);
    // Per client port: the sockets its frames reached, and the directions seen.
    let mut reached: BTreeMap<u16, BTreeSet<usize>> = BTreeMap::new();
    let mut directions: BTreeMap<u16, BTreeSet<bool>> = BTreeMap::new();
    for (i, s) in socks.iter_mut().enumerate() {
        let link = s.linktype();
        let mut stopping = false;
        loop {
            let step = s
                .pump(|f| {
                    if let Decoded::Packet(p) = decode(link, f) {
                        let (client, to_server) = if p.dst_port == port {
                            (p.src_port, true)
                        } else {
                            (p.dst_port, false)
                        };
                        reached.entry(client).or_default().insert(i);
                        directions.entry(client).or_default().insert(to_server);
                    }
                })
                .unwrap();
            match step {
                Step::End => break,
                // Everything sent is read once the socket has been idle for a read timeout.
                Step::Idle(_) if !stopping => {
                    stopping = true;
                    s.stop();
                }
                _ => {}
            }
        }
        assert_eq!(
            s.stats().dropped.load(std::sync::atomic::Ordering::Relaxed),
            0
        );
    }
    for c in &clients {
        assert_eq!(
            directions.get(c).map(BTreeSet::len),
            Some(2),
            "connection from port {c}: both directions captured ({directions:?})"
        );
        assert_eq!(
            reached.get(c).map(BTreeSet::len),
            Some(1),
            "connection from port {c} reached one socket only ({reached:?})"
        );
    }
    let per_socket: Vec<usize> = (0..2)
        .map(|i| reached.values().filter(|s| s.contains(&i)).count())
        .collect();
    // 24 connections all on one socket: one chance in 2^23.
    assert!(per_socket.iter().all(|&n| n > 0), "{per_socket:?}");
}

/// The daemon with `--workers 2` on an interface: two sockets in a fanout group, each read by
/// its own lane; connections are analysed on both, and the RDP alert comes out once.
#[test]
fn live_capture_with_two_workers_shares_the_connections_between_two_sockets() {
    // Ring slots sized for small frames, and many (see the test above).
    let Some((listener, port, dir, cfg)) = loopback_setup("snaplen = 2048\nbuffer_mb = 32\n")
    else {
        return;
    };
    let mut daemon = common::Killed(
        Command::new(env!("CARGO_BIN_EXE_remotewatch"))
            .args(["run", "--config", cfg.to_str().unwrap()])
            .args(["--interface", "lo", "--workers", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let rx = stderr_lines(&mut daemon.0);
    let mut log: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !log.iter().any(|l| l.contains("capture started")) {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => log.push(plain(&l)),
            Err(_) => panic!("daemon did not start capturing: {log:#?}"),
        }
    }
    let started = log.iter().find(|l| l.contains("capture started")).unwrap();
    assert!(started.contains("workers=2"), "{started}");

    // 24 RDP connection requests from as many client ports.
    let server = std::thread::spawn(move || {
        for _ in 0..24 {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).unwrap();
            s.write_all(&CONNECTION_CONFIRM).unwrap();
        }
    });
    for _ in 0..24 {
        let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
        client.write_all(&connection_request()).unwrap();
        let mut reply = [0u8; 19];
        client.read_exact(&mut reply).unwrap();
    }
    server.join().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = wait_exit(&mut daemon.0, Duration::from_secs(15)).expect("stops on SIGTERM");
    log.extend(rx.try_iter().map(|l| plain(&l)));
    assert!(status.success(), "{log:#?}");

    // Both lanes analysed connections: the frames each lane analysed, as the daemon logs them.
    let stopped = log
        .iter()
        .find(|l| l.contains("capture stopped"))
        .unwrap_or_else(|| panic!("{log:#?}"));
    let lanes: Vec<u64> = stopped
        .split("lane_frames=[")
        .nth(1)
        .and_then(|r| r.split(']').next())
        .unwrap_or_else(|| panic!("{stopped}"))
        .split(", ")
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(stopped.contains(" dropped=0 "), "{stopped}");
    assert_eq!(lanes.len(), 2, "{stopped}");
    assert!(lanes.iter().all(|&n| n > 0), "{stopped}");
    let summary = log.iter().find(|l| l.contains("sensor stopped")).unwrap();
    assert!(summary.contains("flows=24"), "{summary} {log:#?}");
    assert!(
        summary.contains(&format!("packets={}", lanes.iter().sum::<u64>())),
        "{summary} / {stopped}"
    );

    // One alert for the 24 connections (one endpoint, one peer: deduplicated once, after the
    // lanes' alerts meet), with the handshake seen.
    let out = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let rdp: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["family"] == "rdp")
        .collect();
    assert_eq!(rdp.len(), 1, "{out}");
    assert_eq!(rdp[0]["severity"], "high", "{}", rdp[0]);
    assert_eq!(rdp[0]["peer"], format!("127.0.0.1:{port}"));
}

/// A log line without its terminal colours.
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('\u{1b}') {
        out.push_str(&rest[..i]);
        rest = rest[i..].find('m').map_or("", |j| &rest[i + j + 1..]);
    }
    out.push_str(rest);
    out
}
