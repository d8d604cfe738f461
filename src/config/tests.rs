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
fanout = false
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
    assert!(!cfg.capture.fanout);
    assert!(Config::default().capture.fanout);
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

#[test]
fn identity_settings_are_read_and_their_problems_named_with_positions() {
    let cfg = parse(
        r#"
[identity]
session_log = "sessions.jsonl"
session_ttl_secs = 3600
sensor_latitude = 58.59
sensor_longitude = 16.18
watch_countries = ["kp", "ir"]
farm_min = 2
work_start = 9
work_end = 17
[[identity.gateway]]
name = "vpn-gw"
addresses = ["10.0.0.5", "2001:db8::/64"]
ports = [443, 1194]
[[identity.allow]]
net = "198.51.100.0/28"
reason = "corporate VPN egress"
[risk]
alert_at = 70
laptop_farm = 60
[intel]
geofeed = ["geofeed.csv"]
satellite_asns = [64500]

[[contractor]]
id = "bob"
egress = ["203.0.113.7"]
accounts = ["bob.k"]
"#,
    )
    .unwrap();
    let i = &cfg.identity;
    assert_eq!(
        i.session_log.as_deref(),
        Some(Path::new("/etc/remotewatch/sessions.jsonl"))
    );
    assert_eq!(i.session_ttl_secs, 3600);
    assert_eq!(i.sensor_location, Some((58.59, 16.18)));
    assert_eq!(i.watch_countries, ["KP", "IR"]);
    assert_eq!(
        (i.farm_min, i.hours.work_start, i.hours.work_end),
        (2, 9, 17)
    );
    assert_eq!(i.gateways[0].name, "vpn-gw");
    assert_eq!(i.gateways[0].ports, [443, 1194]);
    assert_eq!(i.gateways[0].nets.len(), 2);
    assert_eq!(i.allow[0].reason, "corporate VPN egress");
    assert_eq!(cfg.risk.alert_at, 70.0);
    assert_eq!(cfg.risk.weight(crate::detect::Kind::LaptopFarm), 60.0);
    assert_eq!(
        cfg.intel.geofeeds,
        [PathBuf::from("/etc/remotewatch/geofeed.csv")]
    );
    assert_eq!(cfg.intel.satellite_asns, [64500]);
    let bob = cfg.inventory.by_account("BOB.K").unwrap();
    assert_eq!(bob.id, "bob");
    assert_eq!(
        cfg.inventory
            .lookup_egress("203.0.113.7".parse().unwrap())
            .map(|c| c.id.as_str()),
        Some("bob")
    );
    let files = cfg.input_files();
    assert!(files.contains(&PathBuf::from("/etc/remotewatch/rw.toml")));
    assert!(files.contains(&PathBuf::from("/etc/remotewatch/geofeed.csv")));

    let err = parse(
        r#"[identity]
farm_min = 1
sensor_latitude = 91.0
sensor_longitude = 16.0
watch_countries = ["XX"]
work_start = 18
work_end = 9
[[identity.gateway]]
name = "gw"
ports = [0]
[[identity.allow]]
net = "10.0.0.1/8"
reason = "x"
[risk]
alert_at = 0
tor_exit = 101
[[contractor]]
id = "c"
egress = ["nope"]
"#,
    )
    .unwrap_err();
    let l = lines(&err);
    let want = [
        "rw.toml:2:12: identity.farm_min = 1 is outside 2..=64",
        "rw.toml:3:19: identity.sensor_latitude: latitude 91 is outside -90..90",
        "rw.toml:5:20: identity.watch_countries: country \"XX\"",
        "identity.work_end must be after identity.work_start",
        "gateway \"gw\" needs addresses",
        "identity.gateway.ports = 0 is outside 1..=65535",
        "rw.toml:12:7: identity.allow.net: endpoint \"10.0.0.1/8\" has host bits set",
        "risk.alert_at = 0 must be above 0 and at most 100",
        "risk.tor_exit = 101 is outside 0..=100",
        "egress: endpoint \"nope\" is not an IP address",
    ];
    for w in want {
        assert!(l.iter().any(|x| x.contains(w)), "missing {w:?} in {l:#?}");
    }
}
