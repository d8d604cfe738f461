use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/remotewatch/rw.toml"), text)
}

fn lines(e: &ConfigError) -> Vec<String> {
    e.problems.iter().map(ToString::to_string).collect()
}

#[test]
fn full_config_round_trip() {
    let cfg = parse(
        r#"
[sensor]
name = "edge-1"
[capture]
interface = "eth1"
bpf = "not port 22"
snaplen = 1600
promiscuous = false
[flow]
max_flows = 5000
idle_timeout_secs = 60
inspect_packets = 16
[alerts]
dedup_window_secs = 600
jsonl = "alerts.jsonl"
[policy]
port_hints = false
severity = { ssh = "medium" }

[[contractor]]
id = "c-1001"
name = "Jane Roe"
endpoints = ["10.20.0.15", "10.21.0.0/24"]
approved_tools = ["openvpn"]
residence = { country = "us", city = "Austin", latitude = 30.27, longitude = -97.74, radius_km = 50, timezone = "America/Chicago" }
"#,
    )
    .unwrap();
    assert_eq!(cfg.sensor_name, "edge-1");
    assert_eq!(cfg.capture.interface.as_deref(), Some("eth1"));
    assert_eq!(cfg.capture.snaplen, 1600);
    assert!(!cfg.capture.promiscuous);
    assert_eq!(cfg.flow.max_flows, 5000);
    assert_eq!(cfg.flow.idle_timeout_ns, 60 * Ts::NANOS_PER_SEC);
    assert_eq!(cfg.detect.inspect_packets, 16);
    assert!(!cfg.detect.port_hints);
    assert_eq!(
        cfg.alerts.jsonl.as_deref(),
        Some(Path::new("/etc/remotewatch/alerts.jsonl"))
    );
    assert_eq!(
        cfg.policy.family_severity.get("ssh"),
        Some(&Severity::Medium)
    );
    let c = cfg.inventory.lookup("10.21.0.7".parse().unwrap()).unwrap();
    assert_eq!(c.id, "c-1001");
    let r = c.residence.as_ref().unwrap();
    assert_eq!(r.country, "US");
    assert_eq!(r.lat_lon, Some((30.27, -97.74)));
    assert_eq!(r.timezone.as_deref(), Some("America/Chicago"));
}

#[test]
fn every_value_problem_is_reported_with_line_and_column() {
    let text = "[capture]\nsnaplen = 10\n[flow]\nmax_flows = 0\n\n[[contractor]]\nid = \"ok-1\"\nendpoints = [\"10.0.0.1\", \"10.0.0.300\"]\nresidence = { country = \"XX\", timezone = \"Nowhere/City\" }\n";
    let e = parse(text).unwrap_err();
    let l = lines(&e);
    assert_eq!(l.len(), 5, "{l:?}");
    assert!(
        l[0].starts_with("/etc/remotewatch/rw.toml:2:11: capture.snaplen = 10 is outside"),
        "{l:?}"
    );
    assert!(
        l[1].starts_with("/etc/remotewatch/rw.toml:4:13: flow.max_flows = 0"),
        "{l:?}"
    );
    assert!(
        l[2].starts_with("/etc/remotewatch/rw.toml:8:26: endpoint \"10.0.0.300\""),
        "{l:?}"
    );
    assert!(
        l[3].contains(":9:") && l[3].contains("country \"XX\""),
        "{l:?}"
    );
    assert!(
        l[4].contains(":9:") && l[4].contains("Nowhere/City"),
        "{l:?}"
    );
}

#[test]
fn syntax_and_unknown_keys_are_reported_with_position() {
    let e = parse("[capture]\nsnaplen = \n").unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].line, 2);

    let e = parse("[capture]\nsnaplength = 100\n").unwrap_err();
    let l = lines(&e);
    assert!(l[0].starts_with("/etc/remotewatch/rw.toml:2:1:"), "{l:?}");
    assert!(l[0].contains("snaplength"), "{l:?}");
}

#[test]
fn duplicate_ids_and_overlapping_endpoints_are_refused() {
    let e = parse(
        "[[contractor]]\nid = \"a\"\nendpoints = [\"10.0.0.0/24\"]\n[[contractor]]\nid = \"a\"\nendpoints = [\"10.0.0.5\"]\n",
    )
    .unwrap_err();
    let l = lines(&e);
    assert!(l.iter().any(|s| s.contains("listed twice")), "{l:?}");
    assert!(l.iter().any(|s| s.contains("overlaps")), "{l:?}");
}

#[test]
fn inventory_csv_is_resolved_relative_to_the_config_and_its_errors_surface() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("inv.csv"),
        "id,endpoints,country\nc-9,192.0.2.9,DE\nbad id,,\n",
    )
    .unwrap();
    let cfg_path = dir.path().join("rw.toml");
    std::fs::write(&cfg_path, "[inventory]\ncsv = \"inv.csv\"\n").unwrap();
    let e = Config::load(&cfg_path).unwrap_err();
    let l = lines(&e);
    assert_eq!(l.len(), 1, "{l:?}");
    assert!(l[0].contains("inv.csv:3: column id"), "{l:?}");

    std::fs::write(
        dir.path().join("inv.csv"),
        "id,endpoints,country\nc-9,192.0.2.9,DE\n",
    )
    .unwrap();
    let cfg = Config::load(&cfg_path).unwrap();
    assert_eq!(
        cfg.inventory
            .lookup("192.0.2.9".parse().unwrap())
            .unwrap()
            .id,
        "c-9"
    );
}

#[test]
fn missing_file_is_one_problem_naming_it() {
    let e = Config::load(Path::new("/nonexistent/rw.toml")).unwrap_err();
    assert_eq!(e.problems.len(), 1);
    assert!(e.to_string().contains("/nonexistent/rw.toml"));
}
