//! A real Prometheus server scrapes the daemon: the metrics it stores must show the alerts the
//! daemon reported. Also exercises `/healthz`, `/readyz` and `/api/alerts` with pagination.
//! Skips with a printed reason when the `prometheus` binary (Debian package `prometheus`) is absent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{free_port, http_get};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
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
    let cfg = dir.path().join("rw.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nname = \"test-sensor\"\n[store]\npath = \"alerts.db\"\n[alerts]\njsonl = \"alerts.jsonl\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args([
            "run",
            "--config",
            cfg.to_str().unwrap(),
            "--replay",
            capture.to_str().unwrap(),
            "--stay",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = daemon.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
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

    // The alert API: three alerts, paged two at a time.
    let (status, body) = http_get(&addr, "/api/alerts?limit=2").unwrap();
    assert_eq!(status, 200, "{body}");
    let page: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(page["alerts"].as_array().unwrap().len(), 2);
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, body) = http_get(&addr, &format!("/api/alerts?limit=2&after={next}")).unwrap();
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
    assert_eq!(families, ["rdp", "wireguard", "ssh"]);
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

    // SIGTERM: the daemon exits cleanly.
    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let mut daemon = daemon;
    let status = poll(Duration::from_secs(15), || {
        daemon.0.try_wait().ok().flatten()
    })
    .expect("daemon did not stop");
    assert!(status.success());
    let stored = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert_eq!(stored.lines().count(), 3);
}
