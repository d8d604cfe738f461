//! Hot reload under a running daemon: a swapped feed takes effect without a restart, and a broken
//! database is refused with its file and reason while the last good state keeps working.
//!
//! The daemon replays a small capture and stays up (`--stay`); identity findings come from
//! session-log lines the test appends, so no privilege and no network traffic are needed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{free_port, http_get, poll, stderr_lines, wait_exit, Killed};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn fixture(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// Replaces `path` atomically (write aside, rename over), as deploy tools do.
fn replace(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn append(path: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    writeln!(f, "{line}").unwrap();
}

/// The value of the metric line starting with `name` (labels included), if exposed.
fn metric(addr: &str, name: &str) -> Option<f64> {
    let (status, body) = http_get(addr, "/metrics")?;
    assert_eq!(status, 200);
    body.lines()
        .find(|l| l.starts_with(name) && l.as_bytes().get(name.len()) == Some(&b' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn vpn_exits(alerts: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(alerts)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|a| a["kind"] == "vpn_exit")
        .collect()
}

#[test]
fn a_swapped_feed_applies_and_a_broken_database_keeps_the_last_good_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feed = d.join("feed.txt");
    std::fs::write(&feed, "45.67.89.0/24\n").unwrap();
    let city = d.join("city.mmdb");
    std::fs::copy(fixture("fixtures/geoip/GeoIP2-City-Test.mmdb"), &city).unwrap();
    let sessions = d.join("sessions.log");
    std::fs::write(&sessions, "").unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let cfg = d.join("rw.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[alerts]
jsonl = "alerts.jsonl"
[http]
listen = "{addr}"
[intel]
city_db = "city.mmdb"
builtin_feeds = false
[[intel.feed]]
name = "testvpn"
category = "vpn"
path = "feed.txt"
[identity]
session_log = "sessions.log"
[[contractor]]
id = "bob"
[contractor.residence]
country = "SE"
"#
        ),
    )
    .unwrap();
    let alerts = d.join("alerts.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--replay")
        .arg(fixture("fixtures/pcap/ssh-identification/capture.pcap"))
        .arg("--stay")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let daemon = Killed(child);
    let pid = daemon.0.id().to_string();
    let mut log: Vec<String> = Vec::new();
    let wait_log = |what: &str, log: &mut Vec<String>| {
        poll(Duration::from_secs(30), || {
            while let Ok(l) = rx.try_recv() {
                log.push(l);
            }
            log.iter().any(|l| l.contains(what)).then_some(())
        })
        .unwrap_or_else(|| panic!("no {what:?} in the daemon's log:\n{}", log.join("\n")))
    };
    wait_log("serving until", &mut log);

    // A login from an address no list names: bound, looked up, nothing to report.
    append(&sessions, "2024-03-04T10:00:00Z,bob,89.160.20.112");
    poll(Duration::from_secs(20), || {
        (metric(&addr, "remotewatch_session_logins_total")? >= 1.0).then_some(())
    })
    .expect("the login was not read");
    assert!(vpn_exits(&alerts).is_empty());
    // A line the log cannot mean is skipped, named and counted; the next ones still count.
    append(&sessions, "2024-03-04T10:05:00Z,bob");
    poll(Duration::from_secs(20), || {
        (metric(&addr, "remotewatch_session_log_errors_total")? >= 1.0).then_some(())
    })
    .expect("the bad line was not counted");
    wait_log("sessions.log:2: expected time,user,ip", &mut log);

    // The provider's list now covers that network: swap the file and signal.
    replace(&feed, b"89.160.20.0/24\n");
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    poll(Duration::from_secs(20), || {
        (metric(&addr, "remotewatch_reloads_total{result=\"success\"}")? >= 1.0).then_some(())
    })
    .expect("no successful reload");
    append(&sessions, "2024-03-04T11:30:00Z,bob,89.160.20.112");
    let found = poll(Duration::from_secs(20), || {
        let v = vpn_exits(&alerts);
        (!v.is_empty()).then_some(v)
    })
    .expect("the reloaded list was not applied");
    assert_eq!(found[0]["contractor"], "bob");
    let ev = found[0]["evidence"].to_string();
    assert!(
        ev.contains("testvpn: 89.160.20.0/24 (line 1) [listed]"),
        "{ev}"
    );
    assert!(ev.contains("Linköping"), "the city database answers: {ev}");

    // A broken database replaces the good one; the file watch notices without a signal.
    replace(
        &city,
        &std::fs::read(fixture(
            "fixtures/geoip/GeoIP2-City-Test-Broken-Double-Format.mmdb",
        ))
        .unwrap(),
    );
    poll(Duration::from_secs(20), || {
        (metric(&addr, "remotewatch_reloads_total{result=\"failure\"}")? >= 1.0).then_some(())
    })
    .expect("the broken database was not noticed");
    assert_eq!(
        metric(&addr, "remotewatch_reload_last_successful"),
        Some(0.0)
    );
    wait_log("reload refused", &mut log);
    let refusal = log.iter().find(|l| l.contains("reload refused")).unwrap();
    assert!(
        log.iter().any(|l| l.contains("city.mmdb:")),
        "the file is named:\n{}",
        log.join("\n")
    );
    assert!(
        refusal.contains("previous configuration stays in use"),
        "{refusal}"
    );

    // Still running, still on the last good data (list and city database).
    append(&sessions, "2024-03-04T13:00:00Z,bob,89.160.20.112");
    let found = poll(Duration::from_secs(20), || {
        let v = vpn_exits(&alerts);
        (v.len() >= 2).then_some(v)
    })
    .expect("no finding after the refused reload");
    assert!(found[1]["evidence"].to_string().contains("Linköping"));
    let (status, _) = http_get(&addr, "/healthz").unwrap();
    assert_eq!(status, 200);

    let mut daemon = daemon;
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = wait_exit(&mut daemon.0, Duration::from_secs(20)).expect("daemon did not stop");
    assert!(status.success(), "{status:?}");
}
