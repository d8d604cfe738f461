//! Bad configuration and data: every kind of bad input file (configuration, inventory, product
//! catalogue, address and ASN lists, MaxMind databases) stops `check-config` and the daemon at
//! start with exit 2 and one error that names the file, the line where the file has lines, and
//! the reason. Nothing is captured or written first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A directory holding `rw.toml` and the files it names.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(config: &str) -> Case {
        let c = Case {
            dir: tempfile::tempdir().unwrap(),
        };
        c.file("rw.toml", config.as_bytes());
        c
    }

    fn file(&self, name: &str, bytes: &[u8]) -> &Case {
        std::fs::write(self.dir.path().join(name), bytes).unwrap();
        self
    }

    fn copy_fixture(&self, name: &str, fixture: &str) -> &Case {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(fixture);
        std::fs::copy(src, self.dir.path().join(name)).unwrap();
        self
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    /// Runs `check-config` and `run` (replaying a fixture) on the configuration; both must exit 2
    /// with the same single error, which must contain every one of `expect`. Returns the error.
    fn fails_with(&self, expect: &[&str]) -> String {
        let cfg = self.path("rw.toml");
        let check = remotewatch(&["check-config", "--config", &cfg]);
        let replay: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/pcap/ssh-identification/capture.pcap");
        let data = self.path("data");
        let run = remotewatch(&[
            "run",
            "--config",
            &cfg,
            "--data-dir",
            &data,
            "--metrics-listen",
            "127.0.0.1:0",
            "--replay",
            replay.to_str().unwrap(),
        ]);
        let err = text(&check.stderr);
        for (what, out) in [("check-config", &check), ("run", &run)] {
            let e = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{what}: {e}");
            assert!(out.stdout.is_empty(), "{what} wrote to stdout");
            assert!(!e.contains("panicked"), "{what}: {e}");
            assert!(
                e.starts_with("remotewatch: error: ") && e.contains("configuration problem"),
                "{what}: one error listing problems: {e}"
            );
            for x in expect {
                assert!(e.contains(x), "{what}: {x:?} missing from: {e}");
            }
        }
        assert!(
            !Path::new(&data).join("alerts.jsonl").exists(),
            "nothing is written before the configuration is good"
        );
        err
    }
}

fn remotewatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn toml_syntax_error_names_file_line_column_and_reason() {
    let c = Case::new("[flow\nmax_flows = 1\n");
    c.fails_with(&[&format!("{}:1:6: ", c.path("rw.toml")), "expected `]`"]);
}

#[test]
fn unknown_key_names_the_key_and_the_keys_allowed() {
    let c = Case::new("[flow]\nmax_flow = 1\n");
    c.fails_with(&[
        &format!("{}:2:1: ", c.path("rw.toml")),
        "unknown field `max_flow`",
        "`max_flows`",
    ]);
}

#[test]
fn out_of_range_and_malformed_values_are_all_listed() {
    let c = Case::new(
        "[flow]\nmax_flows = 0\n[capture]\nsnaplen = 10\n[http]\nlisten = \"everywhere\"\n",
    );
    let err = c.fails_with(&[
        &format!("{}:2:13: flow.max_flows = 0 is outside", c.path("rw.toml")),
        &format!(
            "{}:4:11: capture.snaplen = 10 is outside",
            c.path("rw.toml")
        ),
        &format!("{}:6:10: http.listen \"everywhere\"", c.path("rw.toml")),
    ]);
    assert!(err.contains("3 configuration problems"), "{err}");
}

#[test]
fn missing_configuration_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("absent.toml");
    let out = remotewatch(&["check-config", "--config", p.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains(&format!("{}: No such file", p.display())),
        "{err}"
    );
}

#[test]
fn inline_inventory_problems_name_line_and_value() {
    let c = Case::new(
        "[[contractor]]\nid = \"c 1\"\nendpoints = [\"300.1.1.1\"]\nresidence = { country = \"ZZ\" }\n",
    );
    let cfg = c.path("rw.toml");
    c.fails_with(&[
        &format!("{cfg}:2:"),
        "\"c 1\"",
        &format!("{cfg}:3:"),
        "\"300.1.1.1\" is not an IP address or CIDR network",
        &format!("{cfg}:4:"),
        "\"ZZ\" is not an ISO 3166-1 alpha-2 code",
    ]);
}

#[test]
fn overlapping_endpoints_of_two_contractors_are_refused() {
    let c = Case::new(
        "[[contractor]]\nid = \"a\"\nendpoints = [\"10.0.0.0/24\"]\n[[contractor]]\nid = \"b\"\nendpoints = [\"10.0.0.5\"]\n",
    );
    c.fails_with(&[
        &c.path("rw.toml"),
        "endpoint 10.0.0.0/24 of contractor \"a\" overlaps 10.0.0.5/32 of contractor \"b\"",
    ]);
}

#[test]
fn inventory_csv_problems_name_the_csv_line_and_column() {
    let c = Case::new("[inventory]\ncsv = \"inv.csv\"\n");
    c.file(
        "inv.csv",
        b"id,name,endpoints,country\nc-1,A,10.0.0.1,US\nc-2,B,10.0.0.x,ZZ\n",
    );
    let csv = c.path("inv.csv");
    c.fails_with(&[
        &format!("{csv}:3: column endpoints: endpoint \"10.0.0.x\" is not an IP address"),
        &format!("{csv}:3: column country: country \"ZZ\""),
    ]);
}

#[test]
fn missing_inventory_csv_is_named() {
    let c = Case::new("[inventory]\ncsv = \"absent.csv\"\n");
    c.fails_with(&[&format!("{}: No such file", c.path("absent.csv"))]);
}

#[test]
fn catalogue_problems_name_the_catalogue_line_and_reason() {
    let c = Case::new("[detect]\ncatalogue = \"products.toml\"\n");
    c.file(
        "products.toml",
        b"[[product]]\nid = \"x\"\nname = \"X\"\nkind = \"spyware\"\nsni = [\"x.example\"]\n",
    );
    c.fails_with(&[&format!("{}:4:", c.path("products.toml")), "spyware"]);
}

#[test]
fn missing_catalogue_is_named() {
    let c = Case::new("[detect]\ncatalogue = \"absent.toml\"\n");
    c.fails_with(&[&format!("{}: No such file", c.path("absent.toml"))]);
}

#[test]
fn address_list_problems_name_the_list_line_and_entry() {
    let c =
        Case::new("[[intel.feed]]\nname = \"exits\"\ncategory = \"vpn\"\npath = \"exits.txt\"\n");
    c.file("exits.txt", b"# exits\n11.22.33.44\n11.22.33.444\n");
    c.fails_with(&[
        &format!("{}:3: ", c.path("exits.txt")),
        "\"11.22.33.444\" is not an IP address or CIDR network",
    ]);
}

#[test]
fn missing_address_list_and_bad_category_are_named() {
    let c =
        Case::new("[[intel.feed]]\nname = \"exits\"\ncategory = \"vpnx\"\npath = \"absent.txt\"\n");
    c.fails_with(&[
        &format!("{}:3:12: ", c.path("rw.toml")),
        "\"vpnx\" is not vpn, tor, hosting or proxy",
    ]);
    let c =
        Case::new("[[intel.feed]]\nname = \"exits\"\ncategory = \"vpn\"\npath = \"absent.txt\"\n");
    c.fails_with(&[&format!("{}: No such file", c.path("absent.txt"))]);
}

#[test]
fn asn_list_problems_name_the_list_line_and_entry() {
    let c = Case::new(
        "[[intel.asn_list]]\nname = \"hosting\"\ncategory = \"hosting\"\npath = \"asn.txt\"\n",
    );
    c.file("asn.txt", b"AS64500 # example\nASX\n");
    c.fails_with(&[
        &format!("{}:2: ", c.path("asn.txt")),
        "\"ASX\" is not an AS number",
    ]);
}

#[test]
fn corrupt_and_missing_databases_are_each_named_with_the_reason() {
    let c = Case::new(
        "[intel]\ncountry_db = \"broken.mmdb\"\ncity_db = \"nodes.mmdb\"\nasn_db = \"random.mmdb\"\nanonymous_db = [\"absent.mmdb\"]\n",
    );
    c.copy_fixture(
        "broken.mmdb",
        "fixtures/geoip/MaxMind-DB-test-broken-pointers-24.mmdb",
    )
    .copy_fixture(
        "nodes.mmdb",
        "fixtures/geoip/GeoIP2-City-Test-Invalid-Node-Count.mmdb",
    )
    .file("random.mmdb", &[0x5a; 512]);
    let err = c.fails_with(&[
        &format!("{}: failed verification", c.path("broken.mmdb")),
        "data pointer resolves to an invalid location",
        &format!("{}: not a readable MaxMind database", c.path("nodes.mmdb")),
        "search tree extends beyond the metadata section",
        &format!("{}: not a readable MaxMind database", c.path("random.mmdb")),
        "could not find MaxMind DB metadata",
        &format!("{}: ", c.path("absent.mmdb")),
    ]);
    assert!(err.contains("4 configuration problems"), "{err}");
}

#[test]
fn problems_in_the_configuration_and_every_file_it_names_come_in_one_error() {
    let c = Case::new(
        "[flow]\nidle_timeout_secs = 0\n[inventory]\ncsv = \"inv.csv\"\n[detect]\ncatalogue = \"products.toml\"\n",
    );
    c.file("inv.csv", b"id,name,endpoints,country\nc-2,B,10.0.0.1,ZZ\n")
        .file(
            "products.toml",
            b"[[product]]\nid = \"x\"\nname = \"X\"\nkind = \"spyware\"\nsni = [\"x.example\"]\n",
        );
    let err = c.fails_with(&[
        &format!("{}:2:", c.path("rw.toml")),
        &format!("{}:2: column country", c.path("inv.csv")),
        &format!("{}:4:", c.path("products.toml")),
        "lists sni without a source",
    ]);
    assert!(err.contains("4 configuration problems"), "{err}");
    // Lists and databases are checked together too.
    let c = Case::new(
        "[intel]\ncity_db = \"absent.mmdb\"\n[[intel.feed]]\nname = \"x\"\ncategory = \"vpn\"\npath = \"exits.txt\"\n",
    );
    c.file("exits.txt", b"1.2.3.4\nnot-an-address\n");
    let err = c.fails_with(&[
        &c.path("absent.mmdb"),
        &format!("{}:2: ", c.path("exits.txt")),
    ]);
    assert!(err.contains("2 configuration problems"), "{err}");
}

#[test]
fn run_as_must_be_a_user_name_and_the_user_must_exist() {
    let c = Case::new("[sensor]\nrun_as = \"no body\"\n");
    c.fails_with(&[
        &format!("{}:2:10: ", c.path("rw.toml")),
        "sensor.run_as \"no body\" is not a user name",
    ]);
    // A well-formed name that is not in the user database stops `run` before anything opens.
    let c = Case::new("[sensor]\nrun_as = \"remotewatch-no-such-user\"\n");
    let replay =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap/ssh-identification/capture.pcap");
    let data = c.path("data");
    let out = remotewatch(&[
        "run",
        "--config",
        &c.path("rw.toml"),
        "--data-dir",
        &data,
        "--replay",
        replay.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("run_as \"remotewatch-no-such-user\": no such user"),
        "{err}"
    );
    assert!(
        !Path::new(&data).exists(),
        "nothing created before the check"
    );
}
