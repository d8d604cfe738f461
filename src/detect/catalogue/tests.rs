//! Loader tests: the built-in file, every kind of malformed entry, extend and replace.

use super::*;
use std::io::Write;

/// A minimal valid product.
const ONE: &str = r#"
[[product]]
id = "acme_remote"
name = "ACME Remote"
kind = "remote_access"
sni = ["relay.acme-remote.example"]
[[product.sources]]
covers = ["sni"]
cite = "https://acme-remote.example/firewall"
"#;

fn parse(text: &str) -> Result<Catalogue, Vec<Problem>> {
    Catalogue::parse(Path::new("test.toml"), text)
}

fn problems(text: &str) -> Vec<Problem> {
    match load::parse(Path::new("bad.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(p) => p,
    }
}

/// The single problem of `text`, which must be on `line` and mention `reason`.
fn one_problem(text: &str, line: usize, reason: &str) {
    let p = problems(text);
    assert_eq!(p.len(), 1, "{p:?}");
    let p = &p[0];
    assert_eq!(p.file, Path::new("bad.toml"));
    assert_eq!(p.line, line, "{p}");
    assert!(p.col > 0, "{p}");
    assert!(p.reason.contains(reason), "{p}");
}

#[test]
fn builtin_catalogue_loads_and_covers_the_assigned_products() {
    let file =
        load::parse(Path::new(BUILTIN_PATH), BUILTIN_TOML).unwrap_or_else(|p| panic!("{p:#?}"));
    assert!(!file.replace);
    let c = Catalogue::builtin();
    assert_eq!(c.len(), file.products.len());
    for id in [
        "anydesk",
        "teamviewer",
        "chrome_remote_desktop",
        "rustdesk",
        "splashtop",
        "screenconnect",
        "logmein",
        "parsec",
        "nomachine",
        "radmin",
        "citrix",
        "zoho_assist",
        "beyondtrust",
        "atera",
        "kaseya",
        "ngrok",
        "cloudflared",
        "tailscale",
        "zerotier",
        "astrill",
        "nordvpn",
        "expressvpn",
        "protonvpn",
        "mullvad",
        "surfshark",
        "pia",
        "windscribe",
        "tunnelbear",
        "cloudflare_warp",
        "opera_vpn",
        "cisco_anyconnect",
        "forticlient",
        "globalprotect",
        "softether",
        "tinc",
    ] {
        let p = c.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(!p.sources.is_empty(), "{id}");
    }
    let t = c.get("teamviewer").unwrap();
    assert_eq!(t.kind(), Kind::RemoteAccess);
    assert_eq!(t.name(), "TeamViewer");
    assert_eq!(c.get("mullvad").unwrap().provider(), Some("mullvad"));
    assert_eq!(c.get("tinc").unwrap().kind(), Kind::VpnTunnel);
}

/// Every VPN brand names itself as provider, so a tunnel towards it is attributed.
#[test]
fn builtin_vpn_brands_carry_their_provider() {
    let c = Catalogue::builtin();
    for id in [
        "nordvpn",
        "protonvpn",
        "pia",
        "windscribe",
        "tunnelbear",
        "opera_vpn",
    ] {
        assert_eq!(c.get(id).unwrap().provider(), Some(id));
    }
}

/// Names of ordinary services seen in the benign corpus must not belong to any product.
#[test]
fn builtin_suffixes_do_not_cover_ordinary_services() {
    let c = Catalogue::builtin();
    for name in [
        "www.google.com",
        "googleapis.com",
        "www.googleapis.com",
        "instantmessaging-pa.googleapis.com",
        "meet.google.com",
        "www.facebook.com",
        "www.netflix.com",
        "www.dropbox.com",
        "github.com",
        "login.salesforce.com",
        "webex.com",
        "zoom.us",
        "teams.microsoft.com",
        "blog.cloudflare.com",
        "cloudflare.com",
        "cloudflare-dns.com",
        "mail.proton.me",
        "proton.me",
        "zoho.com",
        "mail.zoho.com",
        "www.atera.com.example",
        "goto.com",
        "gotomeeting.com",
    ] {
        for ix in [&c.sni, &c.dns, &c.cert] {
            assert_eq!(ix.lookup(name), None, "{name}");
        }
    }
}

#[test]
fn label_boundaries() {
    let c = parse(
        r#"mode = "replace"
[[product]]
id = "anydesk"
name = "AnyDesk"
kind = "remote_access"
sni = ["anydesk.com"]
[[product.sources]]
covers = ["sni"]
cite = "test"
"#,
    )
    .unwrap();
    assert!(c.sni.lookup("anydesk.com").is_some());
    assert!(c.sni.lookup("relay-7c1.net.anydesk.com").is_some());
    assert_eq!(c.sni.lookup("evilanydesk.com"), None);
    assert_eq!(c.sni.lookup("anydesk.com.evil.example"), None);
}

#[test]
fn bad_kind_is_reported_with_its_line() {
    let text = ONE.replace("kind = \"remote_access\"", "kind = \"remote_desktop\"");
    one_problem(&text, 5, "expected \"remote_access\"");
}

#[test]
fn bad_hex_is_reported_with_its_line() {
    let text = format!(
        "{ONE}[[product.patterns]]\nname = \"x\"\nproto = \"tcp\"\ndir = \"to_server\"\n\
         hex = \"17 2g\"\n"
    );
    let text = text.replace("covers = [\"sni\"]", "covers = [\"sni\", \"patterns\"]");
    one_problem(&text, 14, "is not hex");
}

#[test]
fn unknown_key_is_reported_with_its_line() {
    let text = ONE.replace("kind = ", "colour = \"red\"\nkind = ");
    one_problem(&text, 5, "colour");
}

#[test]
fn duplicate_id_is_reported_at_the_second_entry() {
    let text = format!("{ONE}{}", ONE.replace("relay.acme", "relay2.acme"));
    one_problem(&text, 12, "listed twice");
}

#[test]
fn empty_matcher_set_is_reported() {
    let text = r#"
[[product]]
id = "portonly"
name = "Port only"
kind = "vpn_tunnel"
ports = ["udp/1234"]
[[product.sources]]
covers = ["ports"]
cite = "test"
"#;
    one_problem(text, 2, "no matcher");
}

#[test]
fn a_list_without_a_source_is_reported() {
    let text = ONE.replace("sni = [", "dns = [\"acme-remote.example\"]\nsni = [");
    one_problem(&text, 2, "lists dns without a source");
}

#[test]
fn value_problems_are_all_reported_at_once() {
    let text = r#"
[[product]]
id = "Bad-Id"
name = "x"
kind = "vpn"
sni = ["com", "ok.example"]
ports = ["tcp/0", "sctp/5", "udp/9-1"]
cert = ["OU=FortiGate"]
alpn = [""]
ja4 = ["t13d"]
[[product.patterns]]
name = "p"
proto = "icmp"
dir = "up"
hex = "1"
mask = "ff ff"
len = "9-1"
port = 70000
offset = 99999
[[product.sources]]
covers = ["sni", "nonsense"]
cite = "x"
"#;
    let p = problems(text);
    let lines: Vec<usize> = p.iter().map(|p| p.line).collect();
    for l in [3, 5, 6, 7, 8, 9, 10, 13, 14, 15, 17, 18, 19, 21] {
        assert!(lines.contains(&l), "line {l} not reported: {p:#?}");
    }
}

#[test]
fn a_suffix_listed_by_two_products_of_one_file_is_reported() {
    let text = format!(
        "{ONE}{}",
        ONE.replace("acme_remote", "other").replace("ACME", "Other")
    );
    one_problem(&text, 15, "already listed by product \"acme_remote\"");
}

#[test]
fn syntax_errors_name_the_line() {
    let p = problems("[[product]]\nid = \"x\nname = 1\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].line, 2);
}

#[test]
fn extend_adds_and_overrides_builtin_entries() {
    let builtin = Catalogue::builtin();
    let c = parse(ONE).unwrap();
    assert_eq!(c.len(), builtin.len() + 1);
    assert!(c.get("anydesk").is_some());
    assert!(c.sni.lookup("relay.acme-remote.example").is_some());
    // An entry with a built-in id replaces the built-in one.
    let over = ONE.replace("acme_remote", "teamviewer");
    let c = parse(&over).unwrap();
    assert_eq!(c.len(), builtin.len());
    assert_eq!(c.get("teamviewer").unwrap().name(), "ACME Remote");
    assert!(c.get("teamviewer").unwrap().patterns.is_empty());
}

#[test]
fn a_configured_entry_wins_a_name_a_builtin_entry_lists() {
    // The file overrides anydesk (kept at its place) and adds a product listing teamviewer.com.
    let text = format!(
        "{}{}",
        ONE.replace("acme_remote", "anydesk"),
        ONE.replace("acme_remote", "corp_tv")
            .replace("relay.acme-remote.example", "teamviewer.com")
    );
    let c = parse(&text).unwrap();
    let hit = c.sni.lookup("router1.teamviewer.com").unwrap();
    assert_eq!(c.products()[hit.product].id(), "corp_tv");
    let hit = c.sni.lookup("relay.acme-remote.example").unwrap();
    assert_eq!(c.products()[hit.product].id(), "anydesk");
}

#[test]
fn replace_mode_uses_the_file_alone() {
    let c = parse(&format!("mode = \"replace\"\n{ONE}")).unwrap();
    assert_eq!(c.len(), 1);
    assert!(c.get("anydesk").is_none());
    let p = problems(&format!("mode = \"merge\"\n{ONE}"));
    assert!(p[0].reason.contains("\"extend\" or \"replace\""));
}

#[test]
fn load_reads_a_file_and_reports_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("extra.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(ONE.as_bytes())
        .unwrap();
    let c = Catalogue::load(&path).unwrap();
    assert!(c.get("acme_remote").is_some());
    let missing = Catalogue::load(&dir.path().join("nope.toml")).unwrap_err();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].line, 0);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, ONE.replace("remote_access", "rat")).unwrap();
    let err = Catalogue::load(&bad).unwrap_err();
    assert_eq!(err[0].file, bad);
    assert!(err[0].to_string().contains(":5:"), "{}", err[0]);
}

#[test]
fn cert_rules_parse_terms_and_names() {
    let text = ONE.replace(
        "sni = [\"relay.acme-remote.example\"]",
        "cert = [\"issuer CN=support, issuer O=Fortinet\", \"CN=ACME\", \"*.acme.example\"]",
    );
    let text = text.replace("covers = [\"sni\"]", "covers = [\"cert\"]");
    let c = parse(&format!("mode = \"replace\"\n{text}")).unwrap();
    let p = c.get("acme_remote").unwrap();
    assert_eq!(
        p.cert[0],
        CertRule::Attrs {
            terms: vec![
                CertTerm::IssuerCn("support".into()),
                CertTerm::IssuerO("Fortinet".into())
            ],
            text: "issuer CN=support, issuer O=Fortinet".into()
        }
    );
    assert!(matches!(&p.cert[2], CertRule::Name(d) if d.to_string() == "*.acme.example"));
    assert!(c.cert.lookup("x.acme.example").is_some());
}

#[test]
fn ports_parse_ranges() {
    assert_eq!(
        load_port("tcp/6783-6785"),
        PortRange {
            proto: ip_proto::TCP,
            lo: 6783,
            hi: 6785
        }
    );
    assert_eq!(load_port("udp/3478").to_string(), "udp/3478");
    assert_eq!(load_port("tcp/1-2").to_string(), "tcp/1-2");
    assert!(load_port("udp/12400-12409").contains(ip_proto::UDP, 12405));
    assert!(!load_port("udp/12400-12409").contains(ip_proto::TCP, 12405));
}

fn load_port(s: &str) -> PortRange {
    let text = ONE.replace("sni = [", &format!("ports = [\"{s}\"]\nsni = ["));
    let text = text.replace("covers = [\"sni\"]", "covers = [\"sni\", \"ports\"]");
    let c = parse(&format!("mode = \"replace\"\n{text}")).unwrap();
    c.get("acme_remote").unwrap().ports[0]
}
