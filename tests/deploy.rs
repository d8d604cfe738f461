//! The deploy kit stays consistent with the sensor: Prometheus accepts the scrape config and the
//! alerting rules (and their unit tests pass), and every `remotewatch_*` metric the rules and the
//! Grafana dashboard use is one the sensor exports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(p)
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("remotewatch_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        // "remotewatch_" inside other identifiers (e.g. a file name) is not a metric.
        if name.len() > "remotewatch_".len() && !name.ends_with("_rules") {
            out.insert(name.to_owned());
        }
        rest = &tail[end..];
    }
    out
}

#[test]
fn rules_and_dashboard_only_use_exported_metrics() {
    use remotewatch::alert::{Alert, FlowRecord, Severity};
    use remotewatch::detect::{Confidence, Kind};
    let metrics = remotewatch::export::Metrics::new("s", 60);
    // Labelled metrics only appear once they have a series: report one alert.
    let peer: std::net::SocketAddr = "198.51.100.1:3389".parse().unwrap();
    metrics.alert(&Alert {
        ts: remotewatch::ts::Ts::from_secs(100),
        id: "0".repeat(32),
        kind: Kind::RemoteAccess,
        family: "rdp".into(),
        provider: None,
        severity: Severity::High,
        confidence: Confidence::Handshake,
        endpoint: "192.0.2.1".parse().unwrap(),
        contractor: Some("c-1".into()),
        peer: Some(peer),
        flow: Some(FlowRecord::new(
            6,
            "192.0.2.1:5000".parse().unwrap(),
            peer,
            0,
        )),
        evidence: vec![],
    });
    let intel =
        remotewatch::intel::Intel::load(&remotewatch::intel::IntelConfig::default()).unwrap();
    metrics.intel_loaded(&intel, 0.1, 1.0);
    let exported = metrics.render();
    let declared: BTreeSet<String> = exported
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    let dashboard = std::fs::read_to_string(deploy("grafana/remotewatch-dashboard.json")).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&dashboard).unwrap();
    assert!(parsed["panels"].as_array().unwrap().len() >= 8);
    let rules = std::fs::read_to_string(deploy("prometheus/remotewatch-rules.yml")).unwrap();
    let used: BTreeSet<String> = metric_names(&dashboard)
        .union(&metric_names(&rules))
        .cloned()
        .collect();
    assert!(used.len() >= 8, "{used:?}");
    let unknown: Vec<&String> = used.iter().filter(|m| !declared.contains(*m)).collect();
    assert!(
        unknown.is_empty(),
        "not exported by the sensor: {unknown:?}"
    );
}

#[test]
fn promtool_accepts_the_config_and_the_rule_tests_pass() {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("skipped: promtool is not installed (apt-get install prometheus)");
        return;
    }
    let dir = deploy("prometheus");
    for args in [
        vec!["check", "config", "prometheus.yml"],
        vec!["check", "rules", "remotewatch-rules.yml"],
        vec!["test", "rules", "remotewatch-rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
