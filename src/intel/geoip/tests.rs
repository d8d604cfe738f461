//! Against MaxMind's own test databases (fixtures/geoip, from maxmind/MaxMind-DB, Apache-2.0/MIT);
//! expected answers are from that repository's source JSON.

use super::*;

fn db(name: &str) -> Mmdb {
    Mmdb::open(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/geoip")
            .join(name),
    )
    .unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn city_answers_country_city_coordinates_and_radius() {
    let city = db("GeoIP2-City-Test.mmdb");
    assert_eq!(city.kind, "GeoIP2-City");
    let l = city.location(ip("81.2.69.142")).unwrap();
    assert_eq!(l.country.as_deref(), Some("GB"));
    assert_eq!(l.registered_country.as_deref(), Some("US"));
    assert_eq!(l.city.as_deref(), Some("London"));
    assert_eq!(l.lat_lon, Some((51.5142, -0.0931)));
    assert_eq!(l.accuracy_km, Some(10.0));
    let l = city.location(ip("175.16.199.1")).unwrap();
    assert_eq!(
        (l.country.as_deref(), l.city.as_deref()),
        (Some("CN"), Some("Changchun"))
    );
    // IPv4-mapped IPv6 reaches the IPv4 data; an address outside every network has no answer.
    assert_eq!(
        city.location(ip("::ffff:81.2.69.142"))
            .unwrap()
            .country
            .as_deref(),
        Some("GB")
    );
    assert_eq!(city.location(ip("10.0.0.1")), None);
}

#[test]
fn country_asn_and_anonymity() {
    let c = db("GeoIP2-Country-Test.mmdb");
    assert_eq!(
        c.location(ip("2001:218::1")).unwrap().country.as_deref(),
        Some("JP")
    );
    let a = db("GeoLite2-ASN-Test.mmdb");
    assert_eq!(
        a.asn(ip("1.128.0.1")),
        Some(Asn {
            number: 1221,
            org: Some("Telstra Pty Ltd".into())
        })
    );
    let anon = db("GeoIP2-Anonymous-IP-Test.mmdb");
    let f = anon.anonymity(ip("81.2.69.1")).unwrap();
    assert!(f.vpn && f.hosting && f.public_proxy && f.residential_proxy && f.tor);
    let f = anon.anonymity(ip("71.160.223.1")).unwrap();
    assert!(f.hosting && !f.vpn && !f.tor);
    // Outside its networks the database answers an empty map: no flag.
    assert!(!anon
        .anonymity(ip("8.8.8.8"))
        .map(|a| a.any())
        .unwrap_or(false));
    let plus = db("GeoIP-Anonymous-Plus-Test.mmdb");
    let f = plus.anonymity(ip("1.2.0.1")).unwrap();
    assert!(f.vpn);
    assert_eq!(
        (f.provider.as_deref(), f.confidence),
        (Some("foo"), Some(30.0))
    );
    let risk = db("GeoIP2-IP-Risk-Test.mmdb");
    let f = risk.anonymity(ip("6.1.2.1")).unwrap();
    assert!(f.vpn);
    assert_eq!(
        (f.provider.as_deref(), f.confidence, f.risk),
        (Some("Test VPN Service"), Some(95.0), Some(75.0))
    );
}

#[test]
fn corrupt_databases_are_refused_with_the_file_and_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/geoip");
    for name in [
        "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "GeoIP2-City-Test-Broken-Double-Format.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb",
    ] {
        let e = Mmdb::open(&dir.join(name)).err().unwrap().to_string();
        assert!(e.contains(name), "{e}");
    }
    let e = Mmdb::open(&dir.join("LICENSE-MIT"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("not a readable MaxMind database"), "{e}");
    assert!(Mmdb::open(&dir.join("missing.mmdb")).is_err());
}
