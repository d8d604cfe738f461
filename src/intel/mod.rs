//! Intel: what is known about an address — where it is, whose network it is, and whether it is a
//! VPN exit, a Tor exit, a hosting address or a proxy — with the source of every verdict.
//!
//! Sources: MaxMind-format databases (location, ASN, anonymous-IP flags) and feeds (address and
//! ASN lists). Special-purpose addresses (private, CGNAT, documentation, …) are never looked up.

pub mod feeds;
pub mod geofeed;
pub mod geoip;
pub mod reserved;

use crate::config::Problem;
use feeds::{AsnList, Category, Feed};
use geoip::{Anonymity, Asn, DbPaths, Location, Mmdb};
use serde::Serialize;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A list named in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSpec {
    /// Short name (appears as the verdict's source).
    pub name: String,
    /// What being on it means.
    pub category: Category,
    /// File.
    pub path: PathBuf,
    /// The provider, when the list is one provider's.
    pub provider: Option<String>,
}

/// Intel configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntelConfig {
    /// Databases.
    pub dbs: DbPaths,
    /// Load the lists shipped in the binary.
    pub builtin_feeds: bool,
    /// Use the country and ASN databases shipped in the binary when none are configured.
    pub builtin_dbs: bool,
    /// Extra address lists.
    pub feeds: Vec<ListSpec>,
    /// Extra ASN lists.
    pub asn_lists: Vec<ListSpec>,
    /// RFC 8805 geofeeds whose locations override the databases'.
    pub geofeeds: Vec<PathBuf>,
    /// Satellite-access networks besides the built-in ones (see [`SATELLITE_ASNS`]).
    pub satellite_asns: Vec<u32>,
}

/// Satellite internet networks (checked against the shipped ASN database): SpaceX Starlink
/// (AS14593) and HughesNet (AS6621). Their egress is located at a ground station or PoP that can
/// be in another country than the user, their addresses are shared by many users (CGNAT), and
/// geostationary links add ~600 ms of round trip: location, shared-egress and RTT findings on
/// such an address are lowered to `low`.
pub const SATELLITE_ASNS: [u32; 2] = [14_593, 6_621];
/// Words in a network's name that mark a satellite operator the ASN list does not know.
const SATELLITE_WORDS: [&str; 7] = [
    "starlink",
    "space exploration technologies",
    "viasat",
    "hughes network",
    "oneweb",
    "inmarsat",
    "eutelsat",
];

impl Default for IntelConfig {
    fn default() -> Self {
        IntelConfig {
            dbs: DbPaths::default(),
            builtin_feeds: true,
            builtin_dbs: true,
            feeds: Vec::new(),
            asn_lists: Vec::new(),
            geofeeds: Vec::new(),
            satellite_asns: Vec::new(),
        }
    }
}

/// One verdict on an address, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IntelVerdict {
    /// `vpn_exit`, `tor_exit`, `hosting_egress` or `proxy`.
    pub kind: &'static str,
    /// The list or database that says so.
    pub source: String,
    /// VPN or proxy provider, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The matching entry: a network, `AS64500 (entity)`, or the database flag.
    pub entry: String,
    /// How it matched: `listed`, `neighbourhood` (same /24 or /48 as a listed exit), `asn`, `database`.
    pub basis: &'static str,
}

/// Everything known about one address.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct IpIntel {
    /// The address.
    pub ip: String,
    /// Country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// Its organisation.
    pub as_org: Option<String>,
    /// Verdicts, strongest basis first.
    pub verdicts: Vec<IntelVerdict>,
    /// City, when a city database is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Latitude and longitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat_lon: Option<(f64, f64)>,
    /// The city database's accuracy radius, km.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy_km: Option<f64>,
    /// Why the address was not looked up (private, CGNAT, documentation, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special: Option<&'static str>,
    /// Context that is not a verdict (e.g. Apple iCloud Private Relay egress).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Which source gave the location (a database, or a geofeed line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub located_by: Option<String>,
    /// A satellite-access network: its location and latency say little about the user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub satellite: bool,
    /// A privacy relay that is not a VPN (Apple iCloud Private Relay): located near the user,
    /// shared by many.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub relay: bool,
}

impl IpIntel {
    /// Whether a verdict says the address hides where the user is (VPN, Tor, proxy, hosting):
    /// its location is then the exit's, not the person's.
    pub fn anonymized(&self) -> bool {
        !self.verdicts.is_empty()
    }
}

/// Lists compiled into the binary (see `feeds/README.md` for sources and licences).
mod builtin {
    pub(super) const VPN_V4: &str = include_str!("../../feeds/x4bnet/vpn-ipv4.txt");
    pub(super) const VPN_V6: &str = include_str!("../../feeds/x4bnet/vpn-ipv6.txt");
    pub(super) const DC_V4: &str = include_str!("../../feeds/x4bnet/datacenter-ipv4.txt");
    pub(super) const DC_V6: &str = include_str!("../../feeds/x4bnet/datacenter-ipv6.txt");
    pub(super) const VPN_ASN: &str = include_str!("../../feeds/x4bnet/vpn-asn.txt");
    pub(super) const DC_ASN: &str = include_str!("../../feeds/x4bnet/datacenter-asn.txt");
    pub(super) const MULLVAD: &str = include_str!("../../feeds/x4bnet/providers/mullvadvpn.txt");
    pub(super) const PIA: &str = include_str!("../../feeds/x4bnet/providers/pia.txt");
    pub(super) const PROTON: &str = include_str!("../../feeds/x4bnet/providers/protonvpn.txt");
    pub(super) const APPLE_RELAY: &str =
        include_str!("../../feeds/x4bnet/providers/apple-icloud-private-relay.txt");
    pub(super) const TOR: &str = include_str!("../../feeds/tor/tor-exit-ips.txt");
    pub(super) const BAD_ASN: &str = include_str!("../../feeds/asn/brianhama-bad-asn-list.csv");
    /// Country database (CC BY 4.0, ip-location-db; see `geoip/NOTICE`).
    pub(super) const COUNTRY_DB: &[u8] = include_bytes!("../../geoip/geo-whois-asn-country.mmdb");
    /// ASN database built from ip-location-db's ASN lists (see `geoip/NOTICE`).
    pub(super) const ASN_DB: &[u8] = include_bytes!("../../geoip/asn.mmdb");
}

/// Databases and lists, ready for lookups.
#[derive(Default)]
pub struct Intel {
    country: Option<Mmdb>,
    city: Option<Mmdb>,
    asn: Option<Mmdb>,
    anonymous: Vec<Mmdb>,
    feeds: Vec<Feed>,
    asn_lists: Vec<AsnList>,
    /// Relays that hide the user but are not VPNs (Apple iCloud Private Relay): context only.
    relays: Vec<Feed>,
    geofeeds: Vec<geofeed::Geofeed>,
    satellite_asns: Vec<u32>,
}

fn builtin_feed(
    name: &str,
    cat: Category,
    provider: Option<&str>,
    text: &str,
) -> Result<Feed, Vec<Problem>> {
    let src = PathBuf::from(format!("built-in:{name}"));
    Feed::parse(name, cat, provider.map(str::to_owned), &src, text)
}

impl Intel {
    /// Opens the databases and loads the lists of `cfg` (paths relative to `base`). Every problem
    /// is returned, with file, line and reason.
    pub fn load(cfg: &IntelConfig) -> Result<Intel, Vec<Problem>> {
        let mut problems = Vec::new();
        let open = |p: &Option<PathBuf>, problems: &mut Vec<Problem>| {
            p.as_ref().and_then(|p| {
                Mmdb::open(p)
                    .map_err(|e| {
                        problems.push(Problem {
                            file: p.clone(),
                            line: 0,
                            col: 0,
                            reason: e.reason,
                        })
                    })
                    .ok()
            })
        };
        let mut intel = Intel {
            country: open(&cfg.dbs.country, &mut problems),
            city: open(&cfg.dbs.city, &mut problems),
            asn: open(&cfg.dbs.asn, &mut problems),
            ..Intel::default()
        };
        // Built-in databases unless the configuration names others.
        if cfg.dbs.country.is_none() && cfg.builtin_dbs {
            intel.country =
                Mmdb::builtin(builtin::COUNTRY_DB, "built-in:geo-whois-asn-country.mmdb").ok();
        }
        if cfg.dbs.asn.is_none() && cfg.builtin_dbs {
            intel.asn = Mmdb::builtin(builtin::ASN_DB, "built-in:asn.mmdb").ok();
        }
        for p in &cfg.dbs.anonymous {
            if let Some(db) = open(&Some(p.clone()), &mut problems) {
                intel.anonymous.push(db);
            }
        }
        let take = |r: Result<Feed, Vec<Problem>>,
                    into: &mut Vec<Feed>,
                    problems: &mut Vec<Problem>| match r {
            Ok(f) => into.push(f),
            Err(mut e) => problems.append(&mut e),
        };
        if cfg.builtin_feeds {
            use builtin::*;
            for (name, cat, provider, text) in [
                ("x4b-vpn", Category::Vpn, None, VPN_V4),
                ("x4b-vpn-v6", Category::Vpn, None, VPN_V6),
                ("mullvad", Category::Vpn, Some("mullvad"), MULLVAD),
                ("pia", Category::Vpn, Some("pia"), PIA),
                ("protonvpn", Category::Vpn, Some("protonvpn"), PROTON),
                ("tor-exits", Category::Tor, None, TOR),
                ("x4b-datacenter", Category::Hosting, None, DC_V4),
                ("x4b-datacenter-v6", Category::Hosting, None, DC_V6),
            ] {
                take(
                    builtin_feed(name, cat, provider, text),
                    &mut intel.feeds,
                    &mut problems,
                );
            }
            take(
                builtin_feed(
                    "apple-private-relay",
                    Category::Proxy,
                    Some("apple"),
                    APPLE_RELAY,
                ),
                &mut intel.relays,
                &mut problems,
            );
            for (name, cat, text) in [
                ("x4b-vpn-asn", Category::Vpn, VPN_ASN),
                ("x4b-datacenter-asn", Category::Hosting, DC_ASN),
                ("bad-asn-list", Category::Hosting, BAD_ASN),
            ] {
                match AsnList::parse(name, cat, Path::new(&format!("built-in:{name}")), text) {
                    Ok(l) => intel.asn_lists.push(l),
                    Err(mut e) => problems.append(&mut e),
                }
            }
        }
        for f in &cfg.feeds {
            take(
                Feed::load(&f.name, f.category, f.provider.clone(), &f.path),
                &mut intel.feeds,
                &mut problems,
            );
        }
        for a in &cfg.asn_lists {
            match AsnList::load(&a.name, a.category, &a.path) {
                Ok(l) => intel.asn_lists.push(l),
                Err(mut e) => problems.append(&mut e),
            }
        }
        for g in &cfg.geofeeds {
            match geofeed::Geofeed::load(g) {
                Ok(f) => intel.geofeeds.push(f),
                Err(mut e) => problems.append(&mut e),
            }
        }
        intel.satellite_asns = SATELLITE_ASNS
            .iter()
            .chain(&cfg.satellite_asns)
            .copied()
            .collect();
        if problems.is_empty() {
            Ok(intel)
        } else {
            Err(problems)
        }
    }

    /// Adds an address list after loading (e.g. `--feed` on the command line).
    pub fn add_feed(&mut self, feed: Feed) {
        self.feeds.push(feed);
    }

    /// (role, source, database type, build time) of every open database. Roles are `country`,
    /// `city`, `asn` and `anonymous-N`: a closed set, usable as a metric label.
    pub fn databases(&self) -> Vec<(String, &str, &str, crate::ts::Ts)> {
        let named = [
            ("country", &self.country),
            ("city", &self.city),
            ("asn", &self.asn),
        ];
        named
            .into_iter()
            .filter_map(|(role, d)| d.as_ref().map(|d| (role.to_owned(), d)))
            .chain(
                self.anonymous
                    .iter()
                    .enumerate()
                    .map(|(i, d)| (format!("anonymous-{i}"), d)),
            )
            .map(|(role, d)| (role, d.source.as_str(), d.kind.as_str(), d.built))
            .collect()
    }

    /// The databases as audit manifests list them.
    pub fn describe_databases(&self) -> Vec<std::collections::BTreeMap<String, String>> {
        self.databases()
            .into_iter()
            .map(|(role, source, kind, built)| {
                std::collections::BTreeMap::from([
                    ("role".to_owned(), role),
                    ("source".to_owned(), source.to_owned()),
                    ("type".to_owned(), kind.to_owned()),
                    ("built".to_owned(), built.rfc3339()),
                ])
            })
            .collect()
    }

    /// (name, category, entries) of every address list in use.
    pub fn feeds(&self) -> Vec<(&str, Category, usize)> {
        self.feeds
            .iter()
            .map(|f| (f.name.as_str(), f.category, f.entries))
            .collect()
    }

    /// Everything known about `ip`.
    pub fn lookup(&self, ip: IpAddr) -> IpIntel {
        let ip = crate::config::canonical(ip);
        let mut out = IpIntel {
            ip: ip.to_string(),
            ..IpIntel::default()
        };
        if let Some(why) = reserved::special(ip) {
            out.special = Some(why);
            return out;
        }
        let loc: Option<Location> = self
            .city
            .as_ref()
            .and_then(|d| d.location(ip))
            .or_else(|| self.country.as_ref().and_then(|d| d.location(ip)));
        if let Some(l) = loc {
            out.country = l.country;
            out.city = l.city;
            out.lat_lon = l.lat_lon;
            out.accuracy_km = l.accuracy_km;
            out.located_by = self
                .city
                .as_ref()
                .filter(|_| out.city.is_some() || out.lat_lon.is_some())
                .or(self.country.as_ref())
                .map(|d| d.source.clone());
        }
        // The operator's own statement wins over third-party databases (RFC 8805 §1).
        if let Some((g, e)) = self.geofeeds.iter().find_map(|g| g.get(ip).map(|e| (g, e))) {
            out.country = e.country.clone();
            out.city = e.city.clone();
            out.lat_lon = None;
            out.accuracy_km = None;
            out.located_by = Some(format!(
                "geofeed {} line {} ({})",
                g.source.display(),
                e.line,
                e.net
            ));
        }
        let asn: Option<Asn> = self.asn.as_ref().and_then(|d| d.asn(ip));
        if let Some(a) = &asn {
            out.asn = Some(a.number);
            out.as_org = a.org.clone();
            let org = a.org.as_deref().unwrap_or_default().to_ascii_lowercase();
            out.satellite = self.satellite_asns.contains(&a.number)
                || SATELLITE_WORDS.iter().any(|w| org.contains(w));
        }
        for f in &self.feeds {
            if let Some(h) = f.hit(ip) {
                // A neighbourhood only means something for provider exits, not for hosting
                // ranges (already networks) or Tor relays (run one by one by volunteers).
                if h.neighbour && f.category != Category::Vpn && f.category != Category::Proxy {
                    continue;
                }
                out.verdicts.push(IntelVerdict {
                    kind: f.category.verdict(),
                    source: f.name.clone(),
                    provider: f.provider.clone(),
                    entry: if h.line > 0 {
                        format!("{} (line {})", h.entry, h.line)
                    } else {
                        h.entry
                    },
                    basis: if h.neighbour {
                        "neighbourhood"
                    } else {
                        "listed"
                    },
                });
            }
        }
        if let Some(a) = &asn {
            for l in &self.asn_lists {
                if let Some((line, label)) = l.asns.get(&a.number) {
                    out.verdicts.push(IntelVerdict {
                        kind: l.category.verdict(),
                        source: l.name.clone(),
                        provider: None,
                        entry: format!("AS{} {label} (line {line})", a.number),
                        basis: "asn",
                    });
                }
            }
        }
        if let Some(a) = &asn {
            let listed = out.verdicts.iter().any(|v| v.basis == "asn");
            if let (false, Some(org), Some(word)) =
                (listed, &a.org, a.org.as_deref().and_then(hosting_word))
            {
                out.verdicts.push(IntelVerdict {
                    kind: "hosting_egress",
                    source: "as-name".into(),
                    provider: None,
                    entry: format!("AS{} {org} (the network's name says {word:?})", a.number),
                    basis: "as_name",
                });
            }
        }
        for db in &self.anonymous {
            if let Some(a) = db.anonymity(ip) {
                push_anonymity(&mut out.verdicts, &a, &db.source);
            }
        }
        for r in &self.relays {
            if let Some(h) = r.hit(ip) {
                if !h.neighbour {
                    out.relay = true;
                    out.notes.push(format!(
                        "Apple iCloud Private Relay egress ({}, {}): a privacy relay, not a VPN",
                        h.entry, r.name
                    ));
                }
            }
        }
        let rank = |b: &str| match b {
            "listed" => 0,
            "database" => 1,
            "asn" => 2,
            _ => 3,
        };
        out.verdicts.sort_by_key(|v| (rank(v.basis), v.kind));
        out
    }
}

/// Words in a network's registered name that mark a hosting or server business. Matching is on
/// the lower-cased name; short, ambiguous words only as whole words (`colo` must not match
/// "Colorado", `rack` not "track"). Small hosting companies are too many for any list, and this
/// is how they name themselves.
const HOSTING_SUBSTRINGS: [&str; 6] = [
    "hosting",
    "server",
    "cloud",
    "datacenter",
    "data center",
    "dedicated",
];
const HOSTING_WORDS: [&str; 6] = ["host", "colo", "colocation", "vps", "rack", "racks"];

/// The hosting word in `org`, if any.
pub fn hosting_word(org: &str) -> Option<&'static str> {
    let lower = org.to_ascii_lowercase();
    if let Some(w) = HOSTING_SUBSTRINGS.iter().find(|w| lower.contains(*w)) {
        return Some(w);
    }
    // Glued brand names: "AltunHOST", "GTHost", "Hostgator".
    if lower.ends_with("host") || lower.starts_with("host") {
        return Some("host");
    }
    lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .find_map(|t| HOSTING_WORDS.iter().find(|w| **w == t).copied())
}

fn push_anonymity(v: &mut Vec<IntelVerdict>, a: &Anonymity, source: &str) {
    let mut add = |kind: &'static str, flag: &str| {
        v.push(IntelVerdict {
            kind,
            source: source.to_owned(),
            provider: a.provider.clone(),
            entry: match (a.confidence, a.risk) {
                (Some(c), _) => format!("{flag} (confidence {c})"),
                (None, Some(r)) => format!("{flag} (risk {r})"),
                _ => flag.to_owned(),
            },
            basis: "database",
        })
    };
    if a.vpn {
        add("vpn_exit", "is_anonymous_vpn");
    }
    if a.tor {
        add("tor_exit", "is_tor_exit_node");
    }
    if a.hosting {
        add("hosting_egress", "is_hosting_provider");
    }
    if a.public_proxy {
        add("proxy", "is_public_proxy");
    }
    if a.residential_proxy {
        add("proxy", "is_residential_proxy");
    }
}

#[cfg(test)]
mod tests;
