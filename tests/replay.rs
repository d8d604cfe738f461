//! Replays every capture under `fixtures/pcap/` through `remotewatch analyze` and compares the
//! alerts with the scenario's hand-written `expected.json`: kind, family, severity, endpoint and
//! peer (and provider and the flow record, where listed) must match exactly, one alert per expected entry and no other, and each listed evidence
//! fragment must appear in the alert's evidence. A scenario with its own `remotewatch.toml`
//! (inventory, session log, databases) is analysed with it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXACT: [&str; 5] = ["kind", "family", "severity", "endpoint", "peer"];

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("expected.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn matches(expected: &Value, actual: &Value) -> bool {
    EXACT
        .iter()
        .all(|k| expected.get(*k).is_none_or(|v| actual.get(*k) == Some(v)))
        && expected
            .get("provider")
            .is_none_or(|v| actual.get("provider") == Some(v))
        && expected
            .get("flow")
            .is_none_or(|v| actual.get("flow") == Some(v))
        && expected["evidence"].as_array().is_none_or(|frags| {
            frags.iter().all(|f| {
                let f = f.as_str().unwrap();
                actual["evidence"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e.as_str().unwrap().contains(f))
            })
        })
}

#[test]
fn every_fixture_yields_exactly_its_expected_alerts() {
    let dirs = scenarios();
    assert!(!dirs.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for dir in &dirs {
        let expected: Value =
            serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_remotewatch"));
        cmd.arg("analyze");
        if dir.join("remotewatch.toml").is_file() {
            cmd.arg("--config").arg(dir.join("remotewatch.toml"));
        }
        let out = cmd.arg(dir.join("capture.pcap")).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut actual: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut missing = Vec::new();
        for e in expected["alerts"].as_array().unwrap() {
            match actual.iter().position(|a| matches(e, a)) {
                Some(i) => {
                    actual.remove(i);
                }
                None => missing.push(e.clone()),
            }
        }
        if !missing.is_empty() || !actual.is_empty() {
            failures.push(format!(
                "{}:\n  expected but not produced: {missing:?}\n  produced but not expected: {actual:?}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
