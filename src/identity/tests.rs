//! The identity checks against MaxMind's test databases (fixtures/geoip; see the location table in
//! their README: 89.160.20.112 Linköping SE, 216.160.83.56 Milton US, 175.16.199.0/24 Changchun
//! CN; Anonymous-IP: 1.2.0.0/16 VPN, 65.0.0.0/13 Tor exit, 71.160.223.0/24 hosting).

use super::*;
use crate::config::{Contractor, Residence};
use crate::intel::geoip::DbPaths;
use crate::intel::IntelConfig;
use std::path::Path;

fn db(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/geoip")
        .join(name)
}

fn intel_with(f: impl FnOnce(&mut IntelConfig)) -> Arc<Intel> {
    let mut cfg = IntelConfig {
        dbs: DbPaths {
            city: Some(db("GeoIP2-City-Test.mmdb")),
            asn: Some(db("GeoLite2-ASN-Test.mmdb")),
            anonymous: vec![db("GeoIP2-Anonymous-IP-Test.mmdb")],
            ..DbPaths::default()
        },
        builtin_feeds: false,
        builtin_dbs: false,
        ..IntelConfig::default()
    };
    f(&mut cfg);
    Arc::new(Intel::load(&cfg).unwrap())
}

fn intel() -> Arc<Intel> {
    intel_with(|_| {})
}

/// A contractor claiming to live at `home` (country, lat/lon, time zone).
fn person(id: &str, country: &str, at: Option<(f64, f64)>, tz: Option<&str>) -> Contractor {
    Contractor {
        id: id.into(),
        name: id.into(),
        endpoints: vec![],
        residence: Some(Residence {
            country: country.into(),
            city: None,
            lat_lon: at,
            radius_km: Some(20.0),
            timezone: tz.map(str::to_owned),
        }),
        approved_tools: vec![],
        egress: vec![],
        accounts: vec![],
    }
}

const MILTON: (f64, f64) = (47.2513, -122.3149);
const LINKOPING: (f64, f64) = (58.4167, 15.6167);
const STOCKHOLM: (f64, f64) = (59.3293, 18.0686);
const NORRKOPING: (f64, f64) = (58.59, 16.18);
/// 2024-03-04T00:00:00Z, a Monday.
const MONDAY: u64 = 1_709_510_400;

struct T {
    id: Identity,
    inv: Inventory,
}

impl T {
    fn new(people: Vec<Contractor>) -> T {
        T::with(people, IdentityConfig::default(), intel())
    }

    fn with(people: Vec<Contractor>, cfg: IdentityConfig, intel: Arc<Intel>) -> T {
        T {
            id: Identity::new(Arc::new(cfg), intel, RiskWeights::default(), 86_400),
            inv: Inventory::new(people),
        }
    }

    fn login(&mut self, secs: u64, user: &str, ip: &str) -> Vec<Finding> {
        let l = Login {
            ts: Ts::from_secs(secs),
            user: user.into(),
            ip: ip.parse().unwrap(),
            origin: "s.jsonl:1".into(),
        };
        self.id.login(&l, &self.inv);
        self.id.take()
    }

    fn flow(&mut self, secs: u64, client: &str, server: &str, rtt_ms: Option<f64>) -> Vec<Finding> {
        let f = FlowFacts {
            ts: Ts::from_secs(secs),
            proto: 6,
            client: client.parse().unwrap(),
            server: server.parse().unwrap(),
            vlan: 0,
            client_rtt_ns: rtt_ms.map(|m| (m * 1e6) as u64),
        };
        self.id.flow(&f, &self.inv);
        self.id.take()
    }
}

fn kinds(fs: &[Finding]) -> Vec<(Kind, &'static str, Severity)> {
    fs.iter().map(|f| (f.kind, f.family, f.severity)).collect()
}

fn only(fs: &[Finding], kind: Kind) -> Vec<&Finding> {
    fs.iter().filter(|f| f.kind == kind).collect()
}

fn has(f: &Finding, frag: &str) -> bool {
    f.evidence.iter().any(|e| e.contains(frag))
}

#[test]
fn a_country_outside_the_claimed_one_is_a_mismatch_and_the_watch_list_raises_it() {
    let mut t = T::new(vec![person("bob", "US", None, None)]);
    let fs = t.login(MONDAY, "bob", "89.160.20.112");
    assert_eq!(
        kinds(&fs),
        [(Kind::GeoMismatch, "country", Severity::Medium)]
    );
    assert!(has(
        &fs[0],
        "egress 89.160.20.112 is in SE; contractor bob claims to live in US"
    ));
    assert!(has(&fs[0], "GeoIP2-City-Test.mmdb"), "{:?}", fs[0].evidence);
    let fs = t.login(MONDAY + 86_400, "bob", "175.16.199.1");
    assert_eq!(
        kinds(&fs)[0],
        (Kind::GeoMismatch, "country", Severity::High)
    );
    assert!(has(&fs[0], "CN is on the watch list"));
    // Home is home.
    assert!(t
        .login(MONDAY + 2 * 86_400, "bob", "216.160.83.56")
        .is_empty());
}

#[test]
fn inside_the_country_the_city_radius_and_database_accuracy_decide() {
    // Stockholm is ~174 km from Linköping (flat-earth check: 101.5 km north, 141.0 km east);
    // radius 20 + accuracy 76 leave it outside.
    let mut t = T::new(vec![
        person("sto", "SE", Some(STOCKHOLM), None),
        person("lin", "SE", Some(LINKOPING), None),
    ]);
    let fs = t.login(MONDAY, "sto", "89.160.20.112");
    assert_eq!(kinds(&fs), [(Kind::GeoMismatch, "city", Severity::Low)]);
    assert!(
        has(&fs[0], "located 174 km from contractor sto's claimed home"),
        "{:?}",
        fs[0].evidence
    );
    assert!(t.login(MONDAY, "lin", "89.160.20.112").is_empty());
}

#[test]
fn a_database_without_an_answer_claims_nothing() {
    let mut t = T::new(vec![person("bob", "US", None, None)]);
    // 198.18.0.1 is special-purpose (benchmarking): never looked up; 8.8.8.8 is in no test DB.
    assert!(t.login(MONDAY, "bob", "198.18.0.1").is_empty());
    assert!(t.login(MONDAY, "bob", "8.8.8.8").is_empty());
}

#[test]
fn travel_faster_than_a_plane_is_impossible() {
    let mut t = T::new(vec![person("bob", "US", Some(MILTON), None)]);
    assert!(t.login(MONDAY, "bob", "216.160.83.56").is_empty());
    // Linköping, one hour later: ~7,900 km.
    let fs = t.login(MONDAY + 3_600, "bob", "89.160.20.112");
    let travel = only(&fs, Kind::ImpossibleTravel);
    assert_eq!(travel.len(), 1, "{fs:?}");
    assert_eq!(
        (travel[0].family, travel[0].severity),
        ("speed", Severity::High)
    );
    assert!(has(travel[0], "km/h, faster than 1000 km/h"));
    assert!(has(travel[0], "216.160.83.56 (216.160.83.56: Milton, US"));
    // Twenty hours after that, back home: 395 km/h is a plane, not impossible.
    let fs = t.login(MONDAY + 3_600 + 20 * 3_600, "bob", "216.160.83.56");
    assert!(
        fs.iter().all(|f| f.kind != Kind::ImpossibleTravel),
        "{fs:?}"
    );
}

#[test]
fn without_coordinates_two_countries_inside_the_window_are_impossible_travel() {
    let intel = intel_with(|c| {
        c.dbs.city = None;
        c.dbs.country = Some(db("GeoIP2-Country-Test.mmdb"));
    });
    let mut t = T::with(
        vec![person("bob", "US", None, None)],
        IdentityConfig::default(),
        intel,
    );
    t.login(MONDAY, "bob", "216.160.83.56");
    let fs = t.login(MONDAY + 2 * 3_600, "bob", "89.160.20.112");
    let travel = only(&fs, Kind::ImpossibleTravel);
    assert_eq!(travel.len(), 1, "{fs:?}");
    assert_eq!(
        (travel[0].family, travel[0].severity),
        ("countries", Severity::Medium)
    );
    // Outside the six-hour window: no finding.
    let fs = t.login(MONDAY + 9 * 3_600, "bob", "216.160.83.56");
    assert!(
        fs.iter().all(|f| f.kind != Kind::ImpossibleTravel),
        "{fs:?}"
    );
}

#[test]
fn exits_are_reported_with_their_source_and_tor_is_high() {
    let mut t = T::new(vec![person("bob", "US", None, None)]);
    let fs = t.login(MONDAY, "bob", "1.2.3.4");
    assert_eq!(
        kinds(&fs),
        [(Kind::VpnExit, "vpn", Severity::Medium)],
        "only the exit: its location is not bob's"
    );
    assert!(has(&fs[0], "is_anonymous_vpn [database]"));
    assert!(has(&fs[0], "bound by session log s.jsonl:1: user bob"));
    let fs = t.login(MONDAY, "bob", "65.0.0.1");
    assert_eq!(kinds(&fs), [(Kind::TorExit, "tor", Severity::High)]);
    let fs = t.login(MONDAY, "bob", "71.160.223.1");
    assert_eq!(
        kinds(&fs),
        [(Kind::HostingEgress, "hosting", Severity::Medium)]
    );
    t.login(MONDAY, "mallory", "1.2.3.4");
    assert_eq!(t.id.stats().unknown_users, 1);
}

#[test]
fn allowlisted_egress_and_geofeed_overrides_silence_findings() {
    let dir = tempfile::tempdir().unwrap();
    let gf = dir.path().join("geofeed.csv");
    std::fs::write(
        &gf,
        "# our US office range\n175.16.199.0/24,US,US-WA,Seattle,\n",
    )
    .unwrap();
    let intel = intel_with(|c| c.geofeeds = vec![gf.clone()]);
    let cfg = IdentityConfig {
        allow: vec![NetNote {
            net: "1.2.0.0/16".parse().unwrap(),
            reason: "corporate VPN egress".into(),
        }],
        ..IdentityConfig::default()
    };
    let mut t = T::with(
        vec![person("bob", "US", None, None)],
        cfg,
        Arc::clone(&intel),
    );
    assert!(t.login(MONDAY, "bob", "1.2.3.4").is_empty());
    assert!(
        t.login(MONDAY, "bob", "175.16.199.1").is_empty(),
        "the geofeed says US"
    );
    let i = intel.lookup("175.16.199.1".parse().unwrap());
    assert_eq!(i.country.as_deref(), Some("US"));
    assert!(i.located_by.unwrap().contains("geofeed.csv line 2"));
}

#[test]
fn satellite_egress_lowers_location_findings_and_mutes_the_latency_ceiling() {
    // AS209 stands in for a satellite network here (its test range is Milton, US).
    let intel = intel_with(|c| c.satellite_asns = vec![209]);
    let cfg = IdentityConfig {
        sensor_location: Some(NORRKOPING),
        gateways: vec![Gateway {
            name: "vpn".into(),
            nets: vec!["10.0.0.5/32".parse().unwrap()],
            ports: vec![],
        }],
        ..IdentityConfig::default()
    };
    let mut sto = person("sto", "SE", Some(STOCKHOLM), None);
    sto.egress = vec!["216.160.83.56/32".parse().unwrap()];
    let mut t = T::with(vec![sto], cfg, intel);
    let fs = t.flow(MONDAY, "216.160.83.56:40000", "10.0.0.5:443", Some(650.0));
    assert_eq!(
        kinds(&fs),
        [(Kind::GeoMismatch, "country", Severity::Low)],
        "{fs:?}"
    );
    assert!(has(&fs[0], "satellite access network"));
}

#[test]
fn the_round_trip_cannot_beat_light_nor_take_far_longer_than_a_direct_path() {
    let cfg = IdentityConfig {
        sensor_location: Some(NORRKOPING),
        gateways: vec![Gateway {
            name: "vpn".into(),
            nets: vec!["10.0.0.5/32".parse().unwrap()],
            ports: vec![443],
        }],
        ..IdentityConfig::default()
    };
    let mut lin = person("lin", "SE", Some(LINKOPING), None);
    lin.egress = vec!["89.160.20.112/32".parse().unwrap()];
    let mut far = person("far", "US", Some(MILTON), None);
    far.egress = vec!["216.160.83.56/32".parse().unwrap()];
    let mut t = T::with(vec![lin, far], cfg, intel());
    // Linköping is ~40 km from the sensor: 8 ms is plausible, 250 ms is not.
    assert!(t
        .flow(MONDAY, "89.160.20.112:40000", "10.0.0.5:443", Some(8.0))
        .is_empty());
    let fs = t.flow(
        MONDAY + 60,
        "89.160.20.112:40001",
        "10.0.0.5:443",
        Some(250.0),
    );
    assert_eq!(
        kinds(&fs),
        [(Kind::RttImplausible, "above_bound", Severity::Medium)]
    );
    assert!(has(
        &fs[0],
        "round trip between the sensor and 89.160.20.112 (SYN/ACK → ACK) was 250.0 ms"
    ));
    assert!(has(&fs[0], "suggests a relay"));
    // Milton is ~7,900 km away: at least ~79 ms there and back in fibre; 5 ms is impossible.
    let fs = t.flow(MONDAY, "216.160.83.56:40000", "10.0.0.5:443", Some(5.0));
    assert_eq!(
        kinds(&fs),
        [(Kind::RttImplausible, "below_bound", Severity::Medium)]
    );
    assert!(has(&fs[0], "nearer the sensor than claimed"));
    // Not a gateway port: not an egress observation... but the inventory egress binds it.
    let fs = t.flow(MONDAY, "216.160.83.56:40000", "10.0.0.5:22", Some(5.0));
    assert_eq!(fs.len(), 1);
    assert!(has(&fs[0], "flow from 216.160.83.56:40000 to 10.0.0.5:22"));
}

#[test]
fn a_working_day_in_the_wrong_time_zone_is_off_hours_once_a_day() {
    // Claims Chicago (UTC−6 in early March) but works 09:00–16:00 in UTC+9.
    let mut t = T::new(vec![person("bob", "US", None, Some("America/Chicago"))]);
    let mut found = Vec::new();
    for day in 0..7u64 {
        for h in 0..7u64 {
            found.extend(t.login(
                MONDAY + day * 86_400 + h * 3_600 + 60,
                "bob",
                "216.160.83.56",
            ));
        }
    }
    let off: Vec<&Finding> = found.iter().filter(|f| f.kind == Kind::OffHours).collect();
    // Judged from day 5 (min_days), once per day: days 5, 6, 7.
    assert_eq!(off.len(), 3, "{:?}", kinds(&found));
    assert!(
        has(
            off[0],
            "0 % of them fall inside 08:00–18:00 in the claimed time zone America/Chicago (UTC−6)"
        ),
        "{:?}",
        off[0].evidence
    );
    assert!(has(off[0], "fits UTC+"));
    assert_eq!(off[0].subject.as_deref(), Some("bob"));
    // Someone who works Chicago hours (15:00–22:00 UTC) is not flagged.
    let mut t = T::new(vec![person("ann", "US", None, Some("America/Chicago"))]);
    for day in 0..7u64 {
        for h in 15..22u64 {
            let fs = t.login(MONDAY + day * 86_400 + h * 3_600, "ann", "216.160.83.56");
            assert!(fs.iter().all(|f| f.kind != Kind::OffHours));
        }
    }
}

#[test]
fn an_endpoint_talking_to_an_exit_is_reported_but_a_hosted_peer_is_not() {
    let mut c = person("bob", "US", None, None);
    c.endpoints = vec!["10.1.2.3/32".parse().unwrap()];
    let mut t = T::new(vec![c]);
    let fs = t.flow(MONDAY, "10.1.2.3:50000", "1.2.3.4:443", None);
    assert_eq!(kinds(&fs), [(Kind::VpnExit, "vpn", Severity::Medium)]);
    assert_eq!(fs[0].endpoint.to_string(), "10.1.2.3");
    assert_eq!(fs[0].peer.unwrap().to_string(), "1.2.3.4:443");
    assert!(has(
        &fs[0],
        "contractor bob endpoint 10.1.2.3 exchanged traffic with 1.2.3.4:443, a VPN exit"
    ));
    assert!(
        t.flow(MONDAY, "10.1.2.3:50001", "71.160.223.1:443", None)
            .is_empty(),
        "every SaaS is hosted"
    );
    assert!(t
        .flow(MONDAY, "10.1.2.3:50002", "89.160.20.112:443", None)
        .is_empty());
}

#[test]
fn several_contractors_on_one_line_or_network_are_a_farm_and_known_shared_egress_is_low() {
    let cfg = IdentityConfig {
        farm_min: 2,
        shared: vec![NetNote {
            net: "89.160.20.0/24".parse().unwrap(),
            reason: "coworking space".into(),
        }],
        ..IdentityConfig::default()
    };
    let mut t = T::with(
        vec![person("a", "US", None, None), person("b", "US", None, None)],
        cfg,
        intel(),
    );
    assert!(t.login(MONDAY, "a", "216.160.83.56").is_empty());
    let fs = t.login(MONDAY + 60, "b", "216.160.83.57");
    assert_eq!(
        kinds(&fs),
        [
            (Kind::LaptopFarm, "shared_network", Severity::Medium),
            (Kind::LaptopFarm, "shared_network", Severity::Medium)
        ]
    );
    assert!(has(&fs[0], "2 contractors egress from 216.160.83.0/24"));
    // Known shared egress (geo mismatch aside: the contractors claim US).
    t.login(MONDAY, "a", "89.160.20.112");
    let fs = t.login(MONDAY + 60, "b", "89.160.20.112");
    let farm = only(&fs, Kind::LaptopFarm);
    assert_eq!(farm.len(), 2);
    assert!(farm
        .iter()
        .all(|f| f.severity == Severity::Low && has(f, "coworking space")));
}

#[test]
fn an_endpoint_controlled_from_several_places_is_a_farm() {
    let mut c = person("bob", "US", None, None);
    c.endpoints = vec!["10.1.2.3/32".parse().unwrap()];
    let cfg = IdentityConfig {
        farm_min: 2,
        ..IdentityConfig::default()
    };
    let mut t = T::with(vec![c], cfg, intel());
    let rdp = |from: &str, secs: u64| Alert {
        ts: Ts::from_secs(secs),
        id: String::new(),
        kind: Kind::RemoteAccess,
        family: "rdp".into(),
        provider: None,
        severity: Severity::High,
        confidence: Confidence::Handshake,
        endpoint: "10.1.2.3".parse().unwrap(),
        contractor: Some("bob".into()),
        peer: Some(SocketAddr::new(from.parse().unwrap(), 0)),
        flow: Some(FlowRecord::new(
            6,
            SocketAddr::new(from.parse().unwrap(), 50000),
            "10.1.2.3:3389".parse().unwrap(),
            0,
        )),
        evidence: vec![],
    };
    t.id.alerted(&rdp("198.51.100.1", MONDAY), &t.inv);
    t.id.alerted(&rdp("198.51.100.1", MONDAY + 10), &t.inv);
    assert!(t.id.take().is_empty());
    t.id.alerted(&rdp("203.0.113.9", MONDAY + 20), &t.inv);
    let fs = t.id.take();
    assert_eq!(
        kinds(&fs),
        [(Kind::LaptopFarm, "shared_endpoint", Severity::High)]
    );
    assert!(has(&fs[0], "remote-controlled from 2 different addresses"));
}

#[test]
fn the_risk_score_alerts_at_the_threshold_and_again_when_critical() {
    let mut t = T::new(vec![person("bob", "US", None, None)]);
    let a = |kind: Kind, family: &'static str, secs: u64| Alert {
        ts: Ts::from_secs(secs),
        id: String::new(),
        kind,
        family: family.into(),
        provider: None,
        severity: Severity::High,
        confidence: Confidence::Handshake,
        endpoint: "216.160.83.56".parse().unwrap(),
        contractor: Some("bob".into()),
        peer: None,
        flow: None,
        evidence: vec![],
    };
    t.id.alerted(&a(Kind::RemoteAccess, "rdp", MONDAY), &t.inv);
    assert!(t.id.take().is_empty(), "40 < 60");
    t.id.alerted(&a(Kind::VpnExit, "vpn", MONDAY + 1), &t.inv);
    let fs = t.id.take();
    assert_eq!(
        kinds(&fs),
        [(Kind::ContractorRisk, "score", Severity::High)]
    );
    assert!(has(&fs[0], "risk score 65 of 100"));
    t.id.alerted(
        &a(Kind::ContinuousSession, "remote_control", MONDAY + 2),
        &t.inv,
    );
    assert!(t.id.take().is_empty(), "still high: no repeat");
    t.id.alerted(&a(Kind::TorExit, "tor", MONDAY + 3), &t.inv);
    let fs = t.id.take();
    assert_eq!(
        kinds(&fs),
        [(Kind::ContractorRisk, "score", Severity::Critical)]
    );
    // A day and more later, the old findings have left the window.
    t.id.alerted(&a(Kind::RemoteAccess, "rdp", MONDAY + 2 * 86_400), &t.inv);
    assert!(t.id.take().is_empty());
}
