//! The command line as a user meets it: bad inputs fail with one clear line and exit 2, a
//! truncated capture is read up to the cut, configurations are checked with file and line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{noise, sa, CaptureBuilder};
use std::path::Path;
use std::process::{Command, Output};

fn remotewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args(args)
        .output()
        .expect("run remotewatch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Exit 2, nothing on stdout, exactly one line on stderr that names `path` and says `what`.
fn assert_one_line_error(out: &Output, path: &str, what: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(out.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(path) && err.contains(what), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

#[test]
fn empty_random_missing_and_directory_inputs_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let random = dir.path().join("random.pcap");
    std::fs::write(&random, noise(7, 4096)).unwrap();
    let missing = dir.path().join("missing.pcap");

    let e = empty.to_str().unwrap();
    assert_one_line_error(&remotewatch(&["analyze", e]), e, "empty file");
    let r = random.to_str().unwrap();
    assert_one_line_error(
        &remotewatch(&["analyze", r]),
        r,
        "not a pcap or pcapng capture",
    );
    let m = missing.to_str().unwrap();
    assert_one_line_error(&remotewatch(&["analyze", m]), m, "No such file");
    let d = dir.path().to_str().unwrap();
    assert_one_line_error(&remotewatch(&["analyze", d]), d, "is a directory");
}

/// Two conversations on the RDP port whose payload is not RDP: each yields a low port hint. The
/// second starts after the first ended (idle), so cutting the file inside the second keeps the
/// first alert.
fn two_port_hint_flows() -> CaptureBuilder {
    let mut cap = CaptureBuilder::new();
    let mut a = cap.tcp(sa("192.0.2.10:50000"), sa("198.51.100.20:3389"));
    a.client_sends(&mut cap, &noise(1, 200));
    a.server_sends(&mut cap, &noise(2, 200));
    a.close(&mut cap);
    cap.wait_ms(5_000);
    let mut b = cap.tcp(sa("192.0.2.11:50001"), sa("198.51.100.21:3389"));
    b.client_sends(&mut cap, &noise(3, 300));
    b.server_sends(&mut cap, &noise(4, 300));
    b.close(&mut cap);
    cap
}

#[test]
fn a_truncated_capture_yields_the_alerts_before_the_cut_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.pcap");
    two_port_hint_flows().write_pcap(&whole);
    let full = remotewatch(&["analyze", whole.to_str().unwrap()]);
    assert_eq!(full.status.code(), Some(0), "{}", text(&full.stderr));
    let full_alerts: Vec<serde_json::Value> = text(&full.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(full_alerts.len(), 2);
    assert!(!text(&full.stderr).contains("truncated"));

    // Cut 10 bytes into the last record.
    let bytes = std::fs::read(&whole).unwrap();
    let cut = dir.path().join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    let out = remotewatch(&["analyze", cut.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("truncated  yes"), "{err}");
    let alerts: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 2, "both flows started before the cut");
    assert_eq!(alerts[0]["endpoint"], "192.0.2.10");
    assert_eq!(alerts[0]["family"], "rdp");
    assert_eq!(alerts[0]["severity"], "low");
    assert_eq!(alerts[0]["id"], full_alerts[0]["id"], "same alert, same id");
}

#[test]
fn analyze_prints_a_summary_with_counts() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.pcap");
    let cap = two_port_hint_flows();
    cap.write_pcap(&p);
    let out = remotewatch(&["analyze", p.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{} frames", cap.frames.len())),
        "{err}"
    );
    assert!(err.contains("flows      2 "), "{err}");
    assert!(
        err.contains("alerts     2 (remote_access 2, vpn_tunnel 0, anonymizer 0"),
        "{err}"
    );
    assert!(err.contains("packets/s"), "{err}");
}

#[test]
fn analyze_with_workers_prints_what_one_pipeline_prints() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/demo-mixed/capture.pcap");
    let demo = demo.to_str().unwrap();
    let one = remotewatch(&["analyze", demo]);
    assert_eq!(one.status.code(), Some(0));
    assert!(text(&one.stdout).lines().count() >= 3);
    for n in ["2", "4"] {
        let many = remotewatch(&["analyze", "--workers", n, demo]);
        assert_eq!(many.status.code(), Some(0), "{}", text(&many.stderr));
        assert_eq!(text(&many.stdout), text(&one.stdout), "--workers {n}");
        let summary = |o: &Output| {
            text(&o.stderr)
                .lines()
                .filter(|l| l.contains("alerts ") || l.contains("frames"))
                .map(|l| l.split(" bytes").next().unwrap_or(l).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(summary(&many), summary(&one));
    }
    let zero = remotewatch(&["analyze", "--workers", "0", demo]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(
        text(&zero.stderr).contains("workers"),
        "{}",
        text(&zero.stderr)
    );
}

#[test]
fn check_config_lists_every_problem_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[[contractor]]\nid = \"c-1\"\nendpoints = [\"192.0.2.10\"]\n",
    )
    .unwrap();
    let out = remotewatch(&["check-config", "--config", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("ok (1 contractor)"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[flow]\nidle_timeout_secs = 0\n[[contractor]]\nid = \"c-1\"\nendpoints = [\"300.1.1.1\"]\nresidence = { country = \"ZZ\" }\n",
    )
    .unwrap();
    let b = bad.to_str().unwrap();
    let out = remotewatch(&["check-config", "--config", b]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("3 configuration problems"), "{err}");
    assert!(
        err.contains(&format!("{b}:2:21: flow.idle_timeout_secs = 0")),
        "{err}"
    );
    assert!(
        err.contains(&format!("{b}:5:")) && err.contains("300.1.1.1"),
        "{err}"
    );
    assert!(
        err.contains(&format!("{b}:6:")) && err.contains("\"ZZ\""),
        "{err}"
    );

    // analyze refuses to run on a bad configuration too.
    let out = remotewatch(&["analyze", "--config", b, "/dev/null"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn shipped_example_config_is_valid() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/remotewatch.toml");
    let out = remotewatch(&["check-config", "--config", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn the_daemon_replays_a_capture_into_its_jsonl_file() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("c.pcap");
    two_port_hint_flows().write_pcap(&cap);
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        "[alerts]\njsonl = \"out/alerts.jsonl\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    // The output directory does not exist: a clear error, exit 2.
    let out = remotewatch(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--replay",
        cap.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("out/alerts.jsonl"),
        "{}",
        text(&out.stderr)
    );

    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = remotewatch(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--replay",
        cap.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let written = std::fs::read_to_string(dir.path().join("out/alerts.jsonl")).unwrap();
    let analyzed = remotewatch(&["analyze", cap.to_str().unwrap()]);
    assert_eq!(written, text(&analyzed.stdout), "daemon and analyze agree");
    assert_eq!(written.lines().count(), 2);
    // A second replay appends.
    remotewatch(&[
        "run",
        "--config",
        cfg.to_str().unwrap(),
        "--replay",
        cap.to_str().unwrap(),
    ]);
    let again = std::fs::read_to_string(dir.path().join("out/alerts.jsonl")).unwrap();
    assert_eq!(again.lines().count(), 4);
}

#[test]
fn stored_alerts_can_be_listed_exported_and_verified() {
    let dir = tempfile::tempdir().unwrap();
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/demo-mixed/capture.pcap");
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        "[store]\npath = \"alerts.db\"\n[alerts]\njsonl = \"alerts.jsonl\"\n[http]\nlisten = \"\"\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let out = remotewatch(&["run", "--config", c, "--replay", capture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Replaying the same capture again reports nothing new: the store knows every id.
    let out = remotewatch(&["run", "--config", c, "--replay", capture.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let jsonl = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count(), 3, "{jsonl}");

    let listed = remotewatch(&["alerts", "--config", c, "--format", "jsonl"]);
    assert_eq!(
        text(&listed.stdout),
        jsonl,
        "the store returns the alerts exactly as reported"
    );
    let table = remotewatch(&[
        "alerts",
        "--config",
        c,
        "--kind",
        "remote_access",
        "--severity",
        "high",
    ]);
    let t = text(&table.stdout);
    assert_eq!(t.lines().count(), 2, "{t}");
    assert!(t.lines().next().unwrap().starts_with("TIME"));
    assert!(
        t.contains(" rdp ") && t.contains("X.224 Connection Request"),
        "{t}"
    );
    let bad = remotewatch(&["alerts", "--config", c, "--since", "yesterday"]);
    assert_eq!(bad.status.code(), Some(2));

    let db = dir.path().join("alerts.db");
    let export = dir.path().join("audit");
    let e = export.to_str().unwrap();
    let out = remotewatch(&[
        "audit",
        "export",
        "--db",
        db.to_str().unwrap(),
        "--from",
        "2024-03-01T00:00:00Z",
        "--to",
        "2024-03-02T00:00:00Z",
        "--format",
        "csv",
        "--out",
        e,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("3 records"));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["records"], 3);
    assert_eq!(manifest["by_severity"]["info"], 1);
    assert_eq!(manifest["sensors"][0], "remotewatch");
    assert!(manifest["store_chain_head"].is_string());
    let dbs: Vec<&str> = manifest["databases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        dbs,
        ["country", "asn"],
        "the manifest names the databases in use"
    );
    let ok = remotewatch(&["audit", "verify", e]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    // Exporting into the same directory again is refused.
    let again = remotewatch(&[
        "audit",
        "export",
        "--db",
        db.to_str().unwrap(),
        "--from",
        "2024-03-01T00:00:00Z",
        "--to",
        "2024-03-02T00:00:00Z",
        "--out",
        e,
    ]);
    assert_eq!(again.status.code(), Some(2));
    // A changed severity fails verification with exit 1.
    let csv_path = export.join("alerts.csv");
    let tampered = std::fs::read_to_string(&csv_path)
        .unwrap()
        .replacen(",high,", ",low,", 1);
    std::fs::remove_file(&csv_path).unwrap();
    std::fs::write(&csv_path, tampered).unwrap();
    let failed = remotewatch(&["audit", "verify", e]);
    assert_eq!(failed.status.code(), Some(1));
    let why = text(&failed.stderr);
    assert!(
        why.contains("record 1 (alert ") && why.contains("line 2 of alerts.csv) was altered"),
        "{why}"
    );
}

#[test]
fn intel_lookup_names_sources_and_check_config_validates_lists() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("exits.txt");
    std::fs::write(&list, "# provider exits\n11.22.33.44\n").unwrap();
    let spec = format!("vpn:examplevpn={}", list.display());
    let out = remotewatch(&[
        "intel",
        "lookup",
        "--feed",
        &spec,
        "11.22.33.44",
        "11.22.33.45",
        "10.1.1.1",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let v = &lines[0]["verdicts"][0];
    assert_eq!(
        (
            v["kind"].as_str(),
            v["source"].as_str(),
            v["provider"].as_str(),
            v["basis"].as_str()
        ),
        (
            Some("vpn_exit"),
            Some("examplevpn"),
            Some("examplevpn"),
            Some("listed")
        )
    );
    assert!(v["entry"].as_str().unwrap().contains("line 2"));
    assert_eq!(lines[1]["verdicts"][0]["basis"], "neighbourhood");
    assert!(lines[2]["special"].as_str().unwrap().contains("private"));
    for key in ["ip", "country", "asn", "as_org", "verdicts"] {
        assert!(lines[0].get(key).is_some(), "missing {key}");
    }

    // A bad list line is reported with file and line, by lookup and by check-config.
    std::fs::write(&list, "11.22.33.44\n999.1.1.1\n").unwrap();
    let out = remotewatch(&["intel", "lookup", "--feed", &spec, "1.1.1.1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(&format!("{}:2:", list.display())),
        "{}",
        text(&out.stderr)
    );
    let cfg = dir.path().join("rw.toml");
    std::fs::write(&cfg, "[[intel.feed]]\nname = \"examplevpn\"\ncategory = \"vpn\"\npath = \"exits.txt\"\n[intel]\ncity_db = \"missing.mmdb\"\n").unwrap();
    let out = remotewatch(&["check-config", "--config", cfg.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("missing.mmdb") && err.contains("exits.txt:2:"),
        "{err}"
    );
}

#[test]
fn a_product_added_to_the_catalogue_is_detected_without_recompiling() {
    let dir = tempfile::tempdir().unwrap();
    let catalogue = dir.path().join("products.toml");
    std::fs::write(
        &catalogue,
        r#"
[[product]]
id = "acme_remote"
name = "ACME Remote Desk"
kind = "remote_access"
[[product.patterns]]
name = "ACME hello"
proto = "tcp"
dir = "to_server"
hex = "41 43 4d 45 2d 52 44 2f 31"
[[product.sources]]
covers = ["patterns"]
cite = "ACME Remote Desk protocol notes, section 2"
"#,
    )
    .unwrap();
    let cfg = dir.path().join("rw.toml");
    std::fs::write(&cfg, "[detect]\ncatalogue = \"products.toml\"\n").unwrap();
    let mut cap = CaptureBuilder::new();
    let mut t = cap.tcp(sa("192.0.2.10:50000"), sa("198.51.100.20:7443"));
    t.client_sends(&mut cap, b"ACME-RD/1 hello");
    t.server_sends(&mut cap, &noise(9, 64));
    t.close(&mut cap);
    let pcap = dir.path().join("acme.pcap");
    cap.write_pcap(&pcap);
    let out = remotewatch(&[
        "analyze",
        "--config",
        cfg.to_str().unwrap(),
        pcap.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let alerts: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["family"], "acme_remote");
    assert!(alerts[0]["evidence"].to_string().contains("ACME hello"));
    // Without the configured catalogue the same capture is silent.
    let out = remotewatch(&["analyze", pcap.to_str().unwrap()]);
    assert!(out.stdout.is_empty());

    // A malformed entry is reported with file, line and reason.
    std::fs::write(
        &catalogue,
        "[[product]]\nid = \"x\"\nname = \"X\"\nkind = \"spyware\"\nsni = [\"x.example\"]\n",
    )
    .unwrap();
    let out = remotewatch(&["check-config", "--config", cfg.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:4:", catalogue.display())) && err.contains("spyware"),
        "{err}"
    );
}

#[test]
fn a_keyboard_layout_from_another_country_than_the_claimed_home_raises_the_alert() {
    let dir = tempfile::tempdir().unwrap();
    let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/pcap/rdp-standard-security-korean-client/capture.pcap");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(capture.with_file_name("expected.json")).unwrap(),
    )
    .unwrap();
    let endpoint = expected["alerts"][0]["endpoint"]
        .as_str()
        .unwrap()
        .to_owned();
    let cfg = dir.path().join("rw.toml");
    let write = |country: &str| {
        std::fs::write(
            &cfg,
            format!("[[contractor]]\nid = \"c-5\"\nendpoints = [\"{endpoint}\"]\nresidence = {{ country = \"{country}\" }}\n"),
        )
        .unwrap();
    };
    write("US");
    let out = remotewatch(&[
        "analyze",
        "--config",
        cfg.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    let a: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(a["contractor"], "c-5");
    assert_eq!(a["severity"], "critical", "{a:#}");
    assert!(
        a["evidence"]
            .to_string()
            .contains("keyboard layout points to KR, contractor c-5 claims to live in US"),
        "{a:#}"
    );
    // A Korean resident with a Korean keyboard: nothing added.
    write("KR");
    let out = remotewatch(&[
        "analyze",
        "--config",
        cfg.to_str().unwrap(),
        capture.to_str().unwrap(),
    ]);
    let a: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(a["severity"], expected["alerts"][0]["severity"]);
    assert!(!a["evidence"].to_string().contains("claims to live"));
}

#[test]
fn a_bad_session_log_or_geofeed_is_refused_with_file_line_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("sessions.jsonl"),
        "{\"ts\":\"2024-03-01T09:00:00Z\",\"user\":\"bob\",\"ip\":\"198.51.100.7\"}\n{\"ts\":\"soon\",\"user\":\"bob\",\"ip\":\"198.51.100.7\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("geofeed.csv"),
        "198.51.100.0/24,US\n198.51.100.0/33,US\n",
    )
    .unwrap();
    let cfg = d.join("rw.toml");
    std::fs::write(
        &cfg,
        "[intel]\ngeofeed = [\"geofeed.csv\"]\nbuiltin_feeds = false\n[identity]\nsession_log = \"sessions.jsonl\"\n[[contractor]]\nid = \"bob\"\n",
    )
    .unwrap();
    let pcap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/ssh-identification/capture.pcap");
    for args in [
        vec![
            "analyze",
            "--config",
            cfg.to_str().unwrap(),
            pcap.to_str().unwrap(),
        ],
        vec!["check-config", "--config", cfg.to_str().unwrap()],
    ] {
        let out = remotewatch(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        // Both files' problems at once.
        let err = text(&out.stderr);
        assert!(err.contains("2 configuration problems"), "{err}");
        assert!(
            err.contains("geofeed.csv:2: \"198.51.100.0/33\" is not an IP prefix"),
            "{err}"
        );
        assert!(
            err.contains("sessions.jsonl:2: \"soon\" is not an RFC 3339 time"),
            "{err}"
        );
    }
}

#[test]
fn identity_work_runs_on_one_pipeline_whatever_workers_are_asked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/three-contractors-gateway");
    let run = |workers: &str| {
        remotewatch(&[
            "analyze",
            "--workers",
            workers,
            "--config",
            dir.join("remotewatch.toml").to_str().unwrap(),
            dir.join("capture.pcap").to_str().unwrap(),
        ])
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.status.code(), Some(0));
    assert_eq!(two.status.code(), Some(0));
    assert_eq!(text(&one.stdout), text(&two.stdout));
    assert_eq!(text(&one.stdout).lines().count(), 6);
    assert!(
        text(&two.stderr).contains("run on one pipeline: using --workers 1"),
        "{}",
        text(&two.stderr)
    );
}
