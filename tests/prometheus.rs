//! A real Prometheus server scrapes the daemon: the metrics it stores must show the alerts the
//! daemon reported. Also exercises `/healthz`, `/readyz` and `/api/alerts` with pagination.
//! Skips with a printed reason when the `prometheus` binary (Debian package `prometheus`) is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{free_port, http_get, poll, stderr_lines, wait_exit, Killed};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every PromQL expression of the Grafana dashboard and the alerting rules, with the dashboard's
/// `$instance` variable set to all sensors and the rules' final threshold comparison removed (the
/// expression before it must have data; whether it crosses the threshold is the rule tests' job).
fn promql_expressions() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("grafana/remotewatch-dashboard.json")).unwrap(),
    )
    .unwrap();
    let mut out = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().unwrap() {
            out.push(t["expr"].as_str().unwrap().replace("$instance", ".*"));
        }
    }
    let rules = std::fs::read_to_string(root.join("prometheus/remotewatch-rules.yml")).unwrap();
    for line in rules.lines() {
        if let Some(e) = line.trim().strip_prefix("expr: ") {
            out.push(strip_threshold(e));
        }
    }
    for e in &mut out {
        *e = strip_threshold(e);
    }
    assert!(out.len() >= 15, "{out:?}");
    out
}

fn strip_threshold(e: &str) -> String {
    for op in [" == ", " >= ", " <= ", " > ", " < ", " != "] {
        if let Some((lhs, rhs)) = e.rsplit_once(op) {
            if rhs.trim().parse::<f64>().is_ok() {
                return lhs.trim().to_owned();
            }
        }
    }
    e.to_owned()
}

/// `promtool check metrics` accepts the exposition, and every label is from a closed set: no
/// address, no user name, no free text.
fn check_exposition(metrics: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check metrics: {report}");
    let allowed = |name: &str, value: &str| -> bool {
        match name {
            "kind" => [
                "remote_access",
                "vpn_tunnel",
                "anonymizer",
                "vpn_exit",
                "tor_exit",
                "hosting_egress",
                "geo_mismatch",
                "impossible_travel",
                "laptop_farm",
                "off_hours",
                "continuous_session",
                "rtt_implausible",
                "contractor_risk",
            ]
            .contains(&value),
            "result" => ["success", "failure"].contains(&value),
            "tunnel" => ["ipip", "gre", "vxlan", "geneve", "teredo"].contains(&value),
            "severity" => ["info", "low", "medium", "high", "critical"].contains(&value),
            "reason" => [
                "link_header",
                "link_extension",
                "ip_header",
                "ip_extension",
                "tcp_header",
                "truncated",
                "not_ip",
                "fragment",
            ]
            .contains(&value),
            "family" => {
                !value.is_empty()
                    && value.len() <= 32
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }
            "contractor" => ["", "c-demo"].contains(&value),
            "sensor" => value == "test-sensor",
            "version" => value == env!("CARGO_PKG_VERSION"),
            "database" => {
                ["country", "city", "asn"].contains(&value) || value.starts_with("anonymous-")
            }
            "feed" => {
                !value.is_empty()
                    && value.len() <= 64
                    && value.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)
                    })
            }
            _ => false,
        }
    };
    for line in metrics.lines().filter(|l| l.starts_with("remotewatch_")) {
        let Some(labels) = line
            .split_once('{')
            .and_then(|(_, r)| r.split_once('}'))
            .map(|(l, _)| l)
        else {
            continue;
        };
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once("=\"").unwrap();
            let v = v.trim_end_matches('"');
            assert!(
                v.parse::<std::net::IpAddr>().is_err(),
                "address in a label: {line}"
            );
            assert!(
                allowed(k, v),
                "label {k}={v:?} is not from a closed set: {line}"
            );
        }
    }
}

#[test]
fn prometheus_scrapes_the_daemon_and_sees_its_alerts() {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no prometheus binary (apt-get install prometheus)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/demo-mixed/capture.pcap");
    // The demo laptop belongs to a contractor, so per-contractor series exist.
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nname = \"test-sensor\"\n[[contractor]]\nid = \"c-demo\"\nendpoints = [\"192.0.2.10\"]\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args([
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--replay",
            capture.to_str().unwrap(),
            "--stay",
        ])
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "--metrics-listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut daemon);
    let daemon = Killed(daemon);
    let mut log = Vec::new();
    let addr = poll(Duration::from_secs(20), || {
        log.extend(rx.try_iter());
        log.iter().find_map(|l: &String| {
            let plain = l
                .replace("\u{1b}[3m", "")
                .replace("\u{1b}[0m", "")
                .replace("\u{1b}[2m", "");
            plain
                .split("listen=")
                .nth(1)
                .map(|r| r.split_whitespace().next().unwrap_or("").to_owned())
        })
    })
    .unwrap_or_else(|| panic!("no HTTP address in the log: {log:#?}"));
    // The replay is short: wait until it is done and the daemon is serving.
    poll(Duration::from_secs(20), || {
        log.extend(rx.try_iter());
        log.iter().any(|l| l.contains("--stay")).then_some(())
    })
    .unwrap_or_else(|| panic!("replay did not finish: {log:#?}"));

    assert_eq!(http_get(&addr, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(http_get(&addr, "/readyz").map(|r| r.0), Some(200));
    let (status, metrics) = http_get(&addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains(
            "remotewatch_alerts_total{family=\"rdp\",kind=\"remote_access\",severity=\"high\"} 1"
        ),
        "{metrics}"
    );
    check_exposition(&metrics);
    // The contractor's risk: rdp at high (40) + wireguard at high (25) + ssh at info (0).
    assert!(
        metrics.contains("remotewatch_contractor_risk_score{contractor=\"c-demo\"} 65"),
        "{metrics}"
    );
    // The built-in databases' build times and the lists' sizes are exported.
    assert!(
        metrics.contains(
            "remotewatch_intel_database_build_timestamp_seconds{database=\"asn\"} 1781722800"
        ),
        "{metrics}"
    );
    assert!(metrics.lines().any(|l| l
        .starts_with("remotewatch_intel_feed_entries{feed=\"tor-exits\"}")
        && !l.ends_with(" 0")));
    // The alert counters, the store and the JSONL log agree.
    let counted: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("remotewatch_alerts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    let stored = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args([
            "alerts",
            "--data-dir",
            data.to_str().unwrap(),
            "--format",
            "jsonl",
        ])
        .output()
        .unwrap();
    let stored = String::from_utf8(stored.stdout).unwrap();
    let logged = std::fs::read_to_string(data.join("alerts.jsonl")).unwrap();
    // rdp, wireguard, ssh, and the contractor_risk alert their score of 65 (≥ 60) raised.
    assert_eq!(counted, 4.0);
    assert_eq!(stored.lines().count(), 4);
    assert!(
        metrics.contains(
            "remotewatch_alerts_total{family=\"score\",kind=\"contractor_risk\",severity=\"high\"} 1"
        ),
        "{metrics}"
    );
    // The same records; the log in delivery order, the store by (time, id).
    let mut stored_lines: Vec<&str> = stored.lines().collect();
    let mut logged_lines: Vec<&str> = logged.lines().collect();
    stored_lines.sort_unstable();
    logged_lines.sort_unstable();
    assert_eq!(stored_lines, logged_lines);

    // The alert API: four alerts, paged three at a time.
    let (status, body) = http_get(&addr, "/api/alerts?limit=3").unwrap();
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["alerts"].as_array().unwrap().len(), 3);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, body) = http_get(&addr, &format!("/api/alerts?limit=3&after={next}")).unwrap();
    let page2: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page2["alerts"].as_array().unwrap().len(), 1);
    assert!(page2["next"].is_null());
    let families: Vec<String> = page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["alerts"].as_array().unwrap())
        .map(|a| a["family"].as_str().unwrap().to_owned())
        .collect();
    // By time, then id: the risk alert shares the WireGuard alert's time and sorts first.
    assert_eq!(families, ["rdp", "score", "wireguard", "ssh"]);
    let (_, body) = http_get(&addr, "/api/alerts?kind=vpn_tunnel").unwrap();
    let vpn: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(vpn["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(
        http_get(&addr, "/api/alerts?limit=0").map(|r| r.0),
        Some(400)
    );
    assert_eq!(
        http_get(&addr, "/api/alerts?bogus=1").map(|r| r.0),
        Some(400)
    );

    // A real Prometheus scraping it every second.
    let prom_port = free_port();
    let prom_cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &prom_cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: remotewatch\n    static_configs:\n      - targets: ['{addr}']\n"),
    )
    .unwrap();
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", prom_cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prom = Killed(prom);
    let prom_addr = format!("127.0.0.1:{prom_port}");
    let query = "/api/v1/query?query=remotewatch_alerts_total%7Bfamily%3D%22rdp%22%7D";
    let result = poll(Duration::from_secs(60), || {
        let (status, body) = http_get(&prom_addr, query)?;
        let v: Value = serde_json::from_str(&body).ok()?;
        let r = v["data"]["result"].as_array()?.first()?.clone();
        (status == 200).then_some(r)
    })
    .expect("Prometheus never stored remotewatch_alerts_total");
    assert_eq!(result["value"][1], "1");
    assert_eq!(result["metric"]["severity"], "high");
    assert_eq!(result["metric"]["job"], "remotewatch");
    let (_, body) = http_get(
        &prom_addr,
        "/api/v1/query?query=up%7Bjob%3D%22remotewatch%22%7D",
    )
    .unwrap();
    let up: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(up["data"]["result"][0]["value"][1], "1");
    let (_, body) = http_get(&prom_addr, "/api/v1/query?query=remotewatch_build_info").unwrap();
    assert!(body.contains("test-sensor"), "{body}");
    // Enough scrapes for rate() and increase() over the dashboard's and rules' windows.
    poll(Duration::from_secs(60), || {
        let (_, body) = http_get(
            &prom_addr,
            "/api/v1/query?query=count_over_time(up%5B5m%5D)",
        )?;
        let v: Value = serde_json::from_str(&body).ok()?;
        let n: f64 = v["data"]["result"][0]["value"][1].as_str()?.parse().ok()?;
        (n >= 4.0).then_some(())
    })
    .expect("Prometheus did not scrape enough samples");
    for expr in promql_expressions() {
        let (status, body) = http_get(
            &prom_addr,
            &format!("/api/v1/query?query={}", encode(&expr)),
        )
        .unwrap();
        let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let n = v["data"]["result"].as_array().map_or(0, Vec::len);
        assert!(status == 200 && n > 0, "no data for {expr:?}: {body}");
    }

    // SIGTERM: the daemon exits cleanly.
    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut daemon = daemon;
    let status = wait_exit(&mut daemon.0, Duration::from_secs(15)).expect("daemon did not stop");
    assert!(status.success());
    let stored = std::fs::read_to_string(data.join("alerts.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 4);
}
