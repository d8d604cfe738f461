use super::*;
use crate::alert::{AlertKey, FlowRecord, Severity};
use crate::detect::Confidence;
use std::borrow::Cow;

fn alert(secs: u64, contractor: Option<&str>, kind: Kind) -> Alert {
    let key = AlertKey {
        endpoint: "192.0.2.10".parse().unwrap(),
        kind,
        family: Cow::Borrowed("rdp"),
        peer: "198.51.100.1:3389".parse().unwrap(),
        subject: None,
    };
    Alert {
        ts: Ts::from_secs(secs),
        id: key.id(secs),
        kind,
        family: Cow::Borrowed("rdp"),
        provider: None,
        severity: Severity::High,
        confidence: Confidence::Handshake,
        endpoint: key.endpoint,
        contractor: contractor.map(str::to_owned),
        peer: Some(key.peer),
        flow: Some(FlowRecord::new(
            6,
            "192.0.2.10:5000".parse().unwrap(),
            key.peer,
            0,
        )),
        evidence: vec![],
    }
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn every_metric_is_exposed_with_help_and_type() {
    let m = Metrics::new("edge-1", 3600);
    let text = m.render();
    for name in [
        "remotewatch_build_info",
        "remotewatch_frames_total",
        "remotewatch_bytes_total",
        "remotewatch_packets_total",
        "remotewatch_frames_skipped_total",
        "remotewatch_frames_malformed_total",
        "remotewatch_packets_unwrapped_total",
        "remotewatch_flows_total",
        "remotewatch_flows_expired_total",
        "remotewatch_flows_evicted_total",
        "remotewatch_flows_not_inspected_total",
        "remotewatch_flows_active",
        "remotewatch_alerts_suppressed_total",
        "remotewatch_alerts_already_stored_total",
        "remotewatch_capture_received_packets_total",
        "remotewatch_capture_dropped_packets_total",
        "remotewatch_capture_interface_dropped_packets_total",
        "remotewatch_last_packet_timestamp_seconds",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} missing:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} has no type"
        );
    }
    assert_eq!(
        value(
            &text,
            "remotewatch_build_info{sensor=\"edge-1\",version=\"0.1.0\"}"
        ),
        Some(1.0)
    );
    // Every malformed reason is pre-registered at 0, so rate() works from the first scrape.
    assert_eq!(
        value(
            &text,
            "remotewatch_frames_malformed_total{reason=\"truncated\"}"
        ),
        Some(0.0)
    );
}

#[test]
fn observe_adds_deltas_and_never_goes_backwards() {
    let m = Metrics::new("s", 3600);
    let mut s = Stats {
        frames: 10,
        bytes: 1000,
        packets: 9,
        not_ip: 1,
        ..Stats::default()
    };
    s.malformed[Malformed::IpHeader.index()] = 2;
    s.unwrapped[Tunnel::Vxlan.index()] = 5;
    s.flows_active = 4;
    s.last_ts = Some(Ts::from_secs(1_700_000_000));
    m.observe(&s, None);
    s.frames = 25;
    s.malformed[Malformed::IpHeader.index()] = 3;
    s.unwrapped[Tunnel::Vxlan.index()] = 8;
    m.observe(&s, None);
    let live = LiveStats::default();
    live.dropped.store(7, Ordering::Relaxed);
    m.observe(&s, Some(&live));
    m.observe(&s, Some(&live));
    let t = m.render();
    assert_eq!(value(&t, "remotewatch_frames_total"), Some(25.0));
    assert_eq!(
        value(
            &t,
            "remotewatch_frames_malformed_total{reason=\"ip_header\"}"
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&t, "remotewatch_frames_skipped_total{reason=\"not_ip\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&t, "remotewatch_packets_unwrapped_total{tunnel=\"vxlan\"}"),
        Some(8.0)
    );
    assert_eq!(
        value(&t, "remotewatch_packets_unwrapped_total{tunnel=\"gre\"}"),
        Some(0.0)
    );
    assert_eq!(value(&t, "remotewatch_flows_active"), Some(4.0));
    assert_eq!(
        value(&t, "remotewatch_capture_dropped_packets_total"),
        Some(7.0)
    );
    assert_eq!(
        value(&t, "remotewatch_last_packet_timestamp_seconds"),
        Some(1.7e9)
    );
}

#[test]
fn alerts_are_counted_and_active_ones_expire_with_packet_time() {
    let m = Metrics::new("s", 100);
    m.alert(&alert(1000, Some("c-1"), Kind::RemoteAccess));
    m.alert(&alert(1050, Some("c-1"), Kind::RemoteAccess));
    m.alert(&alert(1060, None, Kind::VpnTunnel));
    let t = m.render();
    assert_eq!(
        value(
            &t,
            "remotewatch_alerts_total{family=\"rdp\",kind=\"remote_access\",severity=\"high\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &t,
            "remotewatch_active_alerts{contractor=\"c-1\",kind=\"remote_access\"}"
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &t,
            "remotewatch_active_alerts{contractor=\"\",kind=\"vpn_tunnel\"}"
        ),
        Some(1.0)
    );
    // Packet time moves on past the first alert's window.
    let s = Stats {
        last_ts: Some(Ts::from_secs(1120)),
        ..Stats::default()
    };
    m.observe(&s, None);
    let t = m.render();
    assert_eq!(
        value(
            &t,
            "remotewatch_active_alerts{contractor=\"c-1\",kind=\"remote_access\"}"
        ),
        Some(1.0)
    );
    let s = Stats {
        last_ts: Some(Ts::from_secs(5000)),
        ..Stats::default()
    };
    m.observe(&s, None);
    let t = m.render();
    assert!(!t.contains("remotewatch_active_alerts{"), "{t}");
}

#[test]
fn promtool_accepts_the_exposition() {
    let Ok(out) = std::process::Command::new("promtool")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped: promtool is not installed (Debian package prometheus)");
        return;
    };
    assert!(out.status.success());
    let m = Metrics::new("s", 100);
    m.alert(&alert(1000, Some("c-1"), Kind::RemoteAccess));
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(m.render().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // promtool lints process_* metrics from the process collector only for naming it does not own;
    // none of ours may be reported.
    assert!(!report.contains("remotewatch_"), "promtool: {report}");
    assert!(
        out.status.success() || !report.contains("error"),
        "promtool: {report}"
    );
}

#[test]
fn risk_scores_every_inventory_contractor_from_distinct_findings() {
    let m = Metrics::with_risk(
        "s",
        3600,
        crate::alert::risk::RiskWeights::default(),
        &["c-1", "c-2"],
    );
    m.alert(&alert(1000, Some("c-1"), Kind::RemoteAccess));
    m.alert(&alert(1010, Some("c-1"), Kind::RemoteAccess));
    m.alert(&alert(1020, Some("c-1"), Kind::VpnTunnel));
    m.alert(&alert(1030, None, Kind::Anonymizer));
    let t = m.render();
    // rdp at high (remote access 40) + rdp at high as a VPN finding (25): the same family under
    // two kinds counts twice; repeats once.
    assert_eq!(
        value(&t, "remotewatch_contractor_risk_score{contractor=\"c-1\"}"),
        Some(65.0)
    );
    assert_eq!(
        value(&t, "remotewatch_contractor_risk_score{contractor=\"c-2\"}"),
        Some(0.0)
    );
    assert!(!t.contains("remotewatch_contractor_risk_score{contractor=\"\"}"));
    let (score, parts) = m.risk_of("c-1");
    assert_eq!(score, 65.0);
    assert_eq!(parts[0], ("remote_access/rdp at high".into(), 40.0));
}
