use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/geoip")
        .join(name)
}

fn test_intel() -> Intel {
    let cfg = IntelConfig {
        dbs: DbPaths {
            country: Some(fixture("GeoIP2-Country-Test.mmdb")),
            city: Some(fixture("GeoIP2-City-Test.mmdb")),
            asn: Some(fixture("GeoLite2-ASN-Test.mmdb")),
            anonymous: vec![fixture("GeoIP2-Anonymous-IP-Test.mmdb")],
        },
        ..IntelConfig::default()
    };
    Intel::load(&cfg).unwrap()
}

#[test]
fn lookup_combines_location_asn_lists_and_databases_with_sources() {
    let intel = test_intel();
    let r = intel.lookup("81.2.69.142".parse().unwrap());
    assert_eq!(r.country.as_deref(), Some("GB"));
    assert_eq!(r.city.as_deref(), Some("London"));
    let kinds: Vec<(&str, &str)> = r.verdicts.iter().map(|v| (v.kind, v.basis)).collect();
    assert!(kinds.contains(&("vpn_exit", "database")), "{kinds:?}");
    assert!(kinds.contains(&("tor_exit", "database")), "{kinds:?}");
    assert!(r
        .verdicts
        .iter()
        .all(|v| !v.source.is_empty() && !v.entry.is_empty()));

    let google = intel.lookup("1.0.0.1".parse().unwrap());
    assert_eq!(
        (google.asn, google.as_org.as_deref()),
        (Some(15169), Some("Google Inc."))
    );

    let private = intel.lookup("192.168.1.1".parse().unwrap());
    assert!(private.special.is_some() && private.verdicts.is_empty() && private.country.is_none());
}

#[test]
fn builtin_lists_give_listed_and_asn_verdicts() {
    let intel = Intel::load(&IntelConfig::default()).unwrap();
    // A Tor exit from the shipped list (first line of feeds/tor/tor-exit-ips.txt).
    let first = builtin::TOR.lines().next().unwrap().trim();
    let r = intel.lookup(first.parse().unwrap());
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == "tor_exit" && v.source == "tor-exits" && v.entry.contains("line 1")),
        "{r:?}"
    );
    // A datacenter range from the shipped list.
    let dc = builtin::DC_V4.lines().next().unwrap().trim();
    let net: ipnet::IpNet = dc.parse().unwrap();
    let r = intel.lookup(net.network());
    assert!(
        r.verdicts
            .iter()
            .any(|v| v.kind == "hosting_egress" && v.basis == "listed"),
        "{r:?}"
    );
}

#[test]
fn added_single_ip_lists_cover_their_neighbourhood() {
    let mut intel = Intel::load(&IntelConfig {
        builtin_feeds: false,
        ..IntelConfig::default()
    })
    .unwrap();
    let f = Feed::parse(
        "astrill",
        Category::Vpn,
        Some("astrill".into()),
        Path::new("a.txt"),
        "11.22.33.44\n",
    )
    .unwrap();
    intel.add_feed(f);
    let exact = intel.lookup("11.22.33.44".parse().unwrap());
    assert_eq!(exact.verdicts[0].basis, "listed");
    assert_eq!(exact.verdicts[0].provider.as_deref(), Some("astrill"));
    let near = intel.lookup("11.22.33.200".parse().unwrap());
    assert_eq!(near.verdicts[0].basis, "neighbourhood");
    assert!(near.verdicts[0]
        .entry
        .contains("neighbourhood of listed 11.22.33.44"));
    assert!(intel
        .lookup("11.22.34.1".parse().unwrap())
        .verdicts
        .is_empty());
}

#[test]
fn bad_databases_and_lists_are_all_reported() {
    let dir = tempfile::tempdir().unwrap();
    let bad_list = dir.path().join("bad.txt");
    std::fs::write(&bad_list, "1.2.3.4\nbogus\n").unwrap();
    let cfg = IntelConfig {
        dbs: DbPaths {
            city: Some(fixture("GeoIP2-City-Test-Broken-Double-Format.mmdb")),
            ..DbPaths::default()
        },
        builtin_feeds: false,
        builtin_dbs: false,
        geofeeds: vec![],
        satellite_asns: vec![],
        feeds: vec![ListSpec {
            name: "b".into(),
            category: Category::Vpn,
            path: bad_list.clone(),
            provider: None,
        }],
        asn_lists: vec![],
    };
    let e = Intel::load(&cfg).err().unwrap();
    let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    assert!(
        shown[0].contains("Broken-Double-Format") && shown[0].contains("verification"),
        "{shown:?}"
    );
    assert!(shown[1].contains("bad.txt:2:"), "{shown:?}");
}

#[test]
fn hosting_names_match_words_not_fragments() {
    for (org, word) in [
        ("FDCservers.net", Some("server")),
        ("GTHost", Some("host")),
        ("Hostgator Brasil Ltda", Some("host")),
        ("Binary Racks Limited", Some("racks")),
        ("Ace Data Centers, Inc.", Some("data center")),
        ("Cloud Colo LLC", Some("cloud")),
        ("Colorado Telephone Co", None),
        ("VICTORIAN RAIL TRACK", None),
        ("Comcast Cable Communications, LLC", None),
        ("Deutsche Telekom AG", None),
        ("Ghostnet GmbH", None),
    ] {
        assert_eq!(hosting_word(org), word, "{org}");
    }
}

#[test]
fn builtin_databases_answer_country_and_asn() {
    let intel = Intel::load(&IntelConfig::default()).unwrap();
    // Answers checked against the source CSV by geoip/check.sh.
    let r = intel.lookup("8.8.8.8".parse().unwrap());
    assert_eq!((r.country.as_deref(), r.asn), (Some("US"), Some(15169)));
    assert_eq!(r.as_org.as_deref(), Some("Google LLC"));
    // IPv4-mapped IPv6 is looked up as IPv4 (the country file has no ::ffff: alias).
    let m = intel.lookup("::ffff:8.8.8.8".parse().unwrap());
    assert_eq!((m.country.as_deref(), m.asn), (Some("US"), Some(15169)));
    let v6 = intel.lookup("2606:4700:4700::1111".parse().unwrap());
    assert_eq!(v6.asn, Some(13335));
    let dbs = intel.databases();
    assert_eq!(
        dbs.iter().map(|d| d.0.as_str()).collect::<Vec<_>>(),
        ["country", "asn"]
    );
    assert_eq!(
        intel.describe_databases()[1]["built"],
        "2026-06-17T19:00:00.000000Z"
    );
    // The built-in files pass full verification too.
    assert!(Mmdb::from_bytes(builtin::ASN_DB.to_vec(), "asn").is_ok());
}
