//! Self-published geolocation (RFC 8805 "geofeeds"): a network operator's own statement of where
//! its prefixes are used. A company lists its office and corporate-VPN ranges, an ISP its pools;
//! such a statement beats any third-party database, so it overrides the location databases.
//!
//! Format (RFC 8805 §2.1.1): CSV lines `ip_prefix,alpha2code,region,city,postal_code`; only the
//! prefix is required; `#` starts a comment. The region (ISO 3166-2) and postal code are accepted
//! and not used. A bad line is a problem with file, line and reason, and the file is not loaded.

use crate::config::{Problem, Problems};
use ipnet::IpNet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Largest geofeed read. Operators' feeds are small; the largest public ones are a few MB.
pub const GEOFEED_BYTES_MAX: u64 = 64 << 20;
/// Most entries kept from one geofeed (lookups scan the prefix lengths present, then a sorted
/// list, so this bounds memory, not time).
pub const GEOFEED_ENTRIES_MAX: usize = 1_000_000;

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeofeedEntry {
    /// The prefix.
    pub net: IpNet,
    /// ISO 3166-1 alpha-2 country, when given.
    pub country: Option<String>,
    /// City, when given.
    pub city: Option<String>,
    /// 1-based line in the file.
    pub line: usize,
}

/// A loaded geofeed.
#[derive(Clone, Debug)]
pub struct Geofeed {
    /// The file it came from.
    pub source: PathBuf,
    /// Entries, longest prefix first, so the first containing entry is the most specific.
    entries: Vec<GeofeedEntry>,
}

impl Geofeed {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Geofeed, Vec<Problem>> {
        let text =
            crate::config::read_bounded(path, GEOFEED_BYTES_MAX, "geofeed").map_err(|p| vec![p])?;
        Geofeed::parse(path, &text)
    }

    /// Parses `text` as read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Geofeed, Vec<Problem>> {
        let mut pr = Problems::new(path, text);
        let mut entries = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let body = raw.split('#').next().unwrap_or_default().trim();
            if body.is_empty() {
                continue;
            }
            let mut fields = body.split(',').map(str::trim);
            let prefix = fields.next().unwrap_or_default();
            let net = match prefix.parse::<IpNet>() {
                Ok(n) if n.trunc() == n => n,
                Ok(n) => {
                    pr.line(
                        line,
                        format!("prefix {prefix} has host bits set (RFC 8805 §2.1.1.1); did you mean {}?", n.trunc()),
                    );
                    continue;
                }
                Err(_) => match prefix.parse::<IpAddr>() {
                    Ok(a) => IpNet::from(a),
                    Err(_) => {
                        pr.line(line, format!("{prefix:?} is not an IP prefix"));
                        continue;
                    }
                },
            };
            let country = match fields.next().filter(|c| !c.is_empty()) {
                None => None,
                Some(c) => match crate::config::inventory::parse_country(c) {
                    Ok(c) => Some(c),
                    Err(e) => {
                        pr.line(line, e);
                        continue;
                    }
                },
            };
            let _region = fields.next();
            let city = fields
                .next()
                .filter(|c| !c.is_empty())
                .and_then(|c| crate::config::inventory::parse_name("city", c).ok());
            if entries.len() >= GEOFEED_ENTRIES_MAX {
                pr.line(
                    line,
                    format!("more than {GEOFEED_ENTRIES_MAX} entries; split the geofeed"),
                );
                break;
            }
            entries.push(GeofeedEntry {
                net,
                country,
                city,
                line,
            });
        }
        if !pr.list.is_empty() {
            return Err(pr.list);
        }
        entries.sort_by_key(|e| std::cmp::Reverse(e.net.prefix_len()));
        Ok(Geofeed {
            source: path.to_owned(),
            entries,
        })
    }

    /// The most specific entry containing `ip`.
    pub fn get(&self, ip: IpAddr) -> Option<&GeofeedEntry> {
        self.entries.iter().find(|e| e.net.contains(&ip))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the feed has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_prefix_wins_and_empty_fields_are_allowed() {
        let text = "# company geofeed\n\
                    198.51.100.0/24,US,US-IL,Chicago,\n\
                    198.51.100.128/25,DE,DE-BE,Berlin,10115\n\
                    2001:db8::/32,,,,\n";
        let g = Geofeed::parse(Path::new("g.csv"), text).unwrap();
        assert_eq!(g.len(), 3);
        let e = g.get("198.51.100.200".parse().unwrap()).unwrap();
        assert_eq!(
            (e.country.as_deref(), e.city.as_deref(), e.line),
            (Some("DE"), Some("Berlin"), 3)
        );
        let e = g.get("198.51.100.7".parse().unwrap()).unwrap();
        assert_eq!(e.country.as_deref(), Some("US"));
        assert_eq!(g.get("2001:db8::1".parse().unwrap()).unwrap().country, None);
        assert!(g.get("203.0.113.1".parse().unwrap()).is_none());
    }

    #[test]
    fn bad_lines_are_reported_with_their_line_and_reason() {
        let text = "198.51.100.0/24,US\n198.51.100.1/24,US\nnot-a-prefix,US\n203.0.113.0/24,XX\n";
        let err = Geofeed::parse(Path::new("g.csv"), text).unwrap_err();
        let msgs: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(
            msgs[0].starts_with("g.csv:2:") && msgs[0].contains("host bits"),
            "{msgs:?}"
        );
        assert!(msgs[1].starts_with("g.csv:3:") && msgs[1].contains("not an IP prefix"));
        assert!(msgs[2].starts_with("g.csv:4:") && msgs[2].contains("ISO 3166"));
    }
}
