//! IP intelligence feeds: address lists (VPN exits, Tor exits, hosting ranges, proxies) and ASN
//! lists, compiled into sorted, merged range sets with the line each range came from, so every
//! verdict can name its source.
//!
//! List format: one address or CIDR per line (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/32`);
//! `#` starts a comment; blank lines are ignored; in CSV-like lines the first field is used.
//! ASN lists: `AS64500 # comment`, or `64500,"Entity"` with an optional `ASN,Entity` header.
//! A line that is none of these is a problem reported with file, line and reason; a list with a
//! problem is not loaded (the previous good copy stays in use on reload).

use crate::config::Problem;
use ipnet::IpNet;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

/// Largest feed file read.
pub const FEED_BYTES_MAX: u64 = 256 << 20;
/// Prefix around a single listed IPv4 exit that counts as its neighbourhood: VPN providers rent
/// addresses by the /24 (RIPE/ARIN minimum routable IPv4 prefix), so other addresses in it are
/// very likely exits of the same provider.
pub const NEIGHBOUR_V4: u8 = 24;
/// The same for IPv6: the /48 a provider is assigned.
pub const NEIGHBOUR_V6: u8 = 48;

/// What a list says about the addresses on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Commercial VPN exits.
    Vpn,
    /// Tor exit relays.
    Tor,
    /// Hosting, cloud and datacenter ranges.
    Hosting,
    /// Open or residential proxies.
    Proxy,
}

impl Category {
    /// Parses `vpn`, `tor`, `hosting`, `proxy`.
    pub fn parse(s: &str) -> Option<Category> {
        Some(match s {
            "vpn" => Category::Vpn,
            "tor" => Category::Tor,
            "hosting" => Category::Hosting,
            "proxy" => Category::Proxy,
            _ => return None,
        })
    }

    /// The verdict kind an address on such a list gets.
    pub fn verdict(self) -> &'static str {
        match self {
            Category::Vpn => "vpn_exit",
            Category::Tor => "tor_exit",
            Category::Hosting => "hosting_egress",
            Category::Proxy => "proxy",
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Vpn => "vpn",
            Category::Tor => "tor",
            Category::Hosting => "hosting",
            Category::Proxy => "proxy",
        }
    }
}

/// One merged address range of a list: inclusive bounds as integers, and the line of the first
/// entry that produced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u128,
    end: u128,
    line: u32,
}

/// A loaded address list.
#[derive(Clone, Debug)]
pub struct Feed {
    /// Short name (`x4b-vpn`, `tor-exits`, …).
    pub name: String,
    /// What the list means.
    pub category: Category,
    /// The VPN or proxy provider, when the list is one provider's.
    pub provider: Option<String>,
    /// Where it was read from.
    pub source: String,
    v4: Vec<Range>,
    v6: Vec<Range>,
    /// Neighbourhoods of single listed addresses: (network start, listed address).
    hoods_v4: Vec<(u128, u128)>,
    hoods_v6: Vec<(u128, u128)>,
    /// Entries read.
    pub entries: usize,
}

/// How an address matched a list.
#[derive(Clone, Debug)]
pub struct FeedHit<'a> {
    /// The list.
    pub feed: &'a Feed,
    /// The listed network that contains the address, or the neighbourhood and the listed exit.
    pub entry: String,
    /// Line of the list the entry is on.
    pub line: u32,
    /// The address is not listed itself but shares a /24 (/48) with a listed single address.
    pub neighbour: bool,
}

fn key(ip: IpAddr) -> (bool, u128) {
    match crate::config::canonical(ip) {
        IpAddr::V4(v) => (true, u128::from(u32::from(v))),
        IpAddr::V6(v) => (false, u128::from(v)),
    }
}

fn merge(mut r: Vec<Range>) -> Vec<Range> {
    r.sort_by_key(|x| (x.start, x.end));
    let mut out: Vec<Range> = Vec::with_capacity(r.len());
    for x in r {
        match out.last_mut() {
            Some(last) if x.start <= last.end.saturating_add(1) => last.end = last.end.max(x.end),
            _ => out.push(x),
        }
    }
    out
}

fn find(ranges: &[Range], k: u128) -> Option<&Range> {
    let i = ranges.partition_point(|r| r.start <= k);
    ranges.get(i.checked_sub(1)?).filter(|r| k <= r.end)
}

/// Parses one list line: the address or network it names, if any.
fn parse_line(raw: &str) -> Result<Option<IpNet>, String> {
    let text = raw.split('#').next().unwrap_or("").trim();
    let field = text
        .split([',', ';', '\t', ' '])
        .next()
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    if field.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = field.parse::<IpNet>() {
        return Ok(Some(n.trunc()));
    }
    field
        .parse::<IpAddr>()
        .map(|ip| Some(IpNet::from(ip)))
        .map_err(|_| format!("{field:?} is not an IP address or CIDR network"))
}

impl Feed {
    /// Parses list `text` read from `source` (a file name, for messages).
    pub fn parse(
        name: &str,
        category: Category,
        provider: Option<String>,
        source: &Path,
        text: &str,
    ) -> Result<Feed, Vec<Problem>> {
        let mut problems = Vec::new();
        let (mut v4, mut v6, mut hoods_v4, mut hoods_v6) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut entries = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
            match parse_line(raw) {
                Ok(None) => {}
                Ok(Some(net)) => {
                    entries += 1;
                    let (is_v4, start) = key(net.network());
                    let (_, end) = key(net.broadcast());
                    let r = Range { start, end, line };
                    let single = net.prefix_len() == net.max_prefix_len();
                    if is_v4 {
                        v4.push(r);
                        if single {
                            let hood = start & !((1u128 << (32 - NEIGHBOUR_V4)) - 1);
                            hoods_v4.push((hood, start));
                        }
                    } else {
                        v6.push(r);
                        if single {
                            let hood = start & !((1u128 << (128 - NEIGHBOUR_V6)) - 1);
                            hoods_v6.push((hood, start));
                        }
                    }
                }
                Err(reason) => problems.push(Problem {
                    file: source.to_owned(),
                    line: i + 1,
                    col: 0,
                    reason,
                }),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        hoods_v4.sort_unstable();
        hoods_v4.dedup_by_key(|h| h.0);
        hoods_v6.sort_unstable();
        hoods_v6.dedup_by_key(|h| h.0);
        Ok(Feed {
            name: name.to_owned(),
            category,
            provider,
            source: source.display().to_string(),
            v4: merge(v4),
            v6: merge(v6),
            hoods_v4,
            hoods_v6,
            entries,
        })
    }

    /// Reads and parses the list at `path`.
    pub fn load(
        name: &str,
        category: Category,
        provider: Option<String>,
        path: &Path,
    ) -> Result<Feed, Vec<Problem>> {
        let text = read(path)?;
        Feed::parse(name, category, provider, path, &text)
    }

    /// How `ip` matches this list, if it does.
    pub fn hit(&self, ip: IpAddr) -> Option<FeedHit<'_>> {
        let (is_v4, k) = key(ip);
        let (ranges, hoods, hood_len, bits) = if is_v4 {
            (&self.v4, &self.hoods_v4, NEIGHBOUR_V4, 32)
        } else {
            (&self.v6, &self.hoods_v6, NEIGHBOUR_V6, 128)
        };
        if let Some(r) = find(ranges, k) {
            return Some(FeedHit {
                feed: self,
                entry: render(is_v4, r.start, r.end),
                line: r.line,
                neighbour: false,
            });
        }
        let hood = k & !((1u128 << (bits - u32::from(hood_len))) - 1);
        let i = hoods.partition_point(|h| h.0 < hood);
        let (start, listed) = hoods.get(i).filter(|h| h.0 == hood)?;
        let listed_ip = addr(is_v4, *listed);
        let line = find(ranges, *listed).map_or(0, |r| r.line);
        Some(FeedHit {
            feed: self,
            entry: format!(
                "{}/{hood_len} (neighbourhood of listed {listed_ip})",
                addr(is_v4, *start)
            ),
            line,
            neighbour: true,
        })
    }
}

fn addr(is_v4: bool, k: u128) -> IpAddr {
    if is_v4 {
        IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(k).unwrap_or(0)))
    } else {
        IpAddr::V6(std::net::Ipv6Addr::from(k))
    }
}

/// A merged range as text: a single address, a CIDR when it is one, else `start-end`.
fn render(is_v4: bool, start: u128, end: u128) -> String {
    let bits = if is_v4 { 32 } else { 128 };
    let size = end - start;
    if size == 0 {
        return addr(is_v4, start).to_string();
    }
    let span = size + 1;
    if span.is_power_of_two() && start.is_multiple_of(span) {
        let len = bits - span.trailing_zeros();
        return format!("{}/{len}", addr(is_v4, start));
    }
    format!("{}-{}", addr(is_v4, start), addr(is_v4, end))
}

/// A list of autonomous systems and what they are (hosting, VPN).
#[derive(Clone, Debug)]
pub struct AsnList {
    /// Short name.
    pub name: String,
    /// What being on the list means.
    pub category: Category,
    /// Where it was read from.
    pub source: String,
    /// ASN → (line, entity name from the list).
    pub asns: HashMap<u32, (u32, String)>,
}

impl AsnList {
    /// Parses an ASN list.
    pub fn parse(
        name: &str,
        category: Category,
        source: &Path,
        text: &str,
    ) -> Result<AsnList, Vec<Problem>> {
        let mut asns = HashMap::new();
        let mut problems = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let (body, comment) = raw.split_once('#').unwrap_or((raw, ""));
            let mut fields = body.splitn(2, ',');
            let first = fields.next().unwrap_or("").trim().trim_matches('"');
            if first.is_empty() || (i == 0 && first.eq_ignore_ascii_case("asn")) {
                continue;
            }
            let digits = first
                .strip_prefix("AS")
                .or_else(|| first.strip_prefix("as"))
                .unwrap_or(first);
            match digits.parse::<u32>() {
                Ok(n) => {
                    let label = fields
                        .next()
                        .map_or(comment, |e| e)
                        .trim()
                        .trim_matches('"')
                        .trim();
                    let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
                    asns.entry(n)
                        .or_insert((line, label.chars().take(80).collect()));
                }
                Err(_) => problems.push(Problem {
                    file: source.to_owned(),
                    line: i + 1,
                    col: 0,
                    reason: format!("{first:?} is not an AS number (e.g. AS64500 or 64500)"),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(AsnList {
            name: name.to_owned(),
            category,
            source: source.display().to_string(),
            asns,
        })
    }

    /// Reads and parses the list at `path`.
    pub fn load(name: &str, category: Category, path: &Path) -> Result<AsnList, Vec<Problem>> {
        let text = read(path)?;
        AsnList::parse(name, category, path, &text)
    }
}

/// Reads a feed file, bounded by [`FEED_BYTES_MAX`].
fn read(path: &Path) -> Result<String, Vec<Problem>> {
    crate::config::read_bounded(path, FEED_BYTES_MAX, "feed").map_err(|p| vec![p])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(text: &str) -> Feed {
        Feed::parse("t", Category::Vpn, None, Path::new("t.txt"), text).unwrap()
    }

    #[test]
    fn cidrs_singles_comments_and_merging() {
        let f = feed("# header\n198.51.100.0/25\n198.51.100.128/25 # adjacent\n\n203.0.113.7\n2001:db8:1::/48\n192.0.2.5, extra\n");
        assert_eq!(f.entries, 5);
        let hit = f.hit("198.51.100.200".parse().unwrap()).unwrap();
        assert_eq!(
            (hit.entry.as_str(), hit.line, hit.neighbour),
            ("198.51.100.0/24", 2, false)
        );
        assert_eq!(
            f.hit("203.0.113.7".parse().unwrap()).unwrap().entry,
            "203.0.113.7"
        );
        assert_eq!(
            f.hit("::ffff:203.0.113.7".parse().unwrap()).unwrap().line,
            5
        );
        assert_eq!(
            f.hit("2001:db8:1:ff::9".parse().unwrap()).unwrap().entry,
            "2001:db8:1::/48"
        );
        assert!(f.hit("8.8.8.8".parse().unwrap()).is_none());
    }

    #[test]
    fn neighbours_of_single_exits_are_flagged_as_such() {
        let f = feed("203.0.113.7\n198.51.100.0/24\n");
        let n = f.hit("203.0.113.99".parse().unwrap()).unwrap();
        assert!(n.neighbour);
        assert_eq!(
            n.entry,
            "203.0.113.0/24 (neighbourhood of listed 203.0.113.7)"
        );
        assert_eq!(n.line, 1);
        // Networks do not make neighbourhoods, and the next /24 is not one.
        assert!(f.hit("198.51.101.1".parse().unwrap()).is_none());
        assert!(f.hit("203.0.114.1".parse().unwrap()).is_none());
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line() {
        let e = Feed::parse(
            "t",
            Category::Tor,
            None,
            Path::new("/f/tor.txt"),
            "1.2.3.4\nnot-an-ip\n5.6.7.8/33\n",
        )
        .unwrap_err();
        let shown: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2);
        assert!(
            shown[0].starts_with("/f/tor.txt:2: \"not-an-ip\""),
            "{shown:?}"
        );
        assert!(shown[1].starts_with("/f/tor.txt:3:"), "{shown:?}");
    }

    #[test]
    fn asn_lists_in_both_formats() {
        let x4b = AsnList::parse(
            "x",
            Category::Vpn,
            Path::new("a.txt"),
            "AS9009 # M247, GB (NordVPN)\nAS209854 # Surfshark\n",
        )
        .unwrap();
        assert_eq!(x4b.asns[&9009], (1, "M247, GB (NordVPN)".into()));
        let csv = AsnList::parse(
            "b",
            Category::Hosting,
            Path::new("b.csv"),
            "ASN,Entity\n198375,\"INULOGIC SARL, FR\"\n51447, \"RootLayer Web Services Ltd, NL\"\n",
        )
        .unwrap();
        assert_eq!(csv.asns[&51447].1, "RootLayer Web Services Ltd, NL");
        assert_eq!(csv.asns[&198375].0, 2);
        let bad = AsnList::parse(
            "b",
            Category::Hosting,
            Path::new("b.csv"),
            "ASN,Entity\nfoo,bar\n",
        )
        .unwrap_err();
        assert_eq!(bad[0].line, 2);
    }
}
