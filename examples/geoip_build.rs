//! Builds `geoip/asn.mmdb`, a GeoLite2-ASN-compatible MaxMind DB, from the CSV files of the npm
//! package `@ip-location-db/asn` (`asn-ipv4.csv`, `asn-ipv6.csv`: `start,end,asn,org`, inclusive
//! address ranges), then reads the file back with the `maxminddb` crate and checks every range,
//! every gap between ranges and the IPv4 aliases against the input.
//!
//! ```sh
//! cargo run --release --example geoip_build -- \
//!     --ipv4 asn-ipv4.csv --ipv6 asn-ipv6.csv \
//!     --source-version 2.3.2026061719 --out geoip/asn.mmdb
//! ```
//!
//! `geoip/rebuild.sh` downloads the package and runs this; `geoip/README.md` describes the file.
//!
//! The file layout follows MaxMind's own databases: one IPv6 search tree, IPv4 networks under
//! `::/96`, and the IPv4-mapped (`::ffff:0:0/96`), 6to4 (`2002::/16`) and Teredo (`2001::/32`)
//! ranges aliased to the IPv4 subtree. Each record is a map with `autonomous_system_number`
//! (MMDB uint32) and `autonomous_system_organization` (utf8_string). The MMDB encoding itself is
//! done by the `mmdb-writer` crate; this program only prepares the ranges and checks the result.
//!
//! Input rules, all reported on stderr:
//! - IPv6 rows are clipped out of `::/96` and the three aliased ranges (as MaxMind's writer
//!   does, data cannot live there: those addresses answer with the IPv4 data).
//! - Where rows overlap, the narrower range wins for the addresses they share (ties: the later
//!   row). Every address keeps exactly one answer.
//! - Each resulting range is split into the minimal set of CIDR blocks; the writer then merges
//!   sibling blocks that carry the same record, so the search tree is as small as the data allow.
//!
//! The build epoch written into the metadata is derived from the package version
//! (`MAJOR.MINOR.YYYYMMDDHH`, taken as UTC) unless `--build-epoch` is given, so building the same
//! package version twice gives byte-identical files.

use std::cmp::Reverse;
use std::error::Error;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use clap::Parser;
use ipnet::{IpNet, Ipv4Subnets, Ipv6Subnets};
use maxminddb::geoip2::Asn;
use mmdb_writer::{IpVersion, Ipv4Aliasing, MetadataPointers, ReservedNetworks, Value, Writer};

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

/// `database_type` written to the metadata. It follows DB-IP's convention for its own
/// GeoLite2-compatible files ("DBIP-ASN-Lite (compat=GeoLite2-ASN)"): the data are not MaxMind's,
/// the record layout is GeoLite2-ASN's.
const DATABASE_TYPE: &str = "ip-location-db-ASN (compat=GeoLite2-ASN)";
/// The npm package the CSV files come from.
const SOURCE_PACKAGE: &str = "@ip-location-db/asn";
/// Record field names, as in GeoLite2-ASN.
const FIELD_NUMBER: &str = "autonomous_system_number";
const FIELD_ORGANIZATION: &str = "autonomous_system_organization";

/// IPv6 ranges no IPv6 row may occupy: the IPv4 subtree and the three ranges aliased to it.
const RESERVED_V6: [(&str, u128, u8); 4] = [
    ("::/96 (IPv4 subtree)", 0, 96),
    ("::ffff:0:0/96 (IPv4-mapped alias)", 0xffff_0000_0000, 96),
    ("2001::/32 (Teredo alias)", 0x2001 << 112, 32),
    ("2002::/16 (6to4 alias)", 0x2002 << 112, 16),
];

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Build geoip/asn.mmdb from the @ip-location-db/asn CSV files")]
struct Args {
    /// `asn-ipv4.csv` from the package.
    #[arg(long)]
    ipv4: PathBuf,
    /// `asn-ipv6.csv` from the package.
    #[arg(long)]
    ipv6: PathBuf,
    /// Package version the CSV files come from (e.g. 2.3.2026061719); named in the description.
    #[arg(long)]
    source_version: String,
    /// Build epoch (Unix seconds) for the metadata. Default: the version's YYYYMMDDHH, in UTC.
    #[arg(long)]
    build_epoch: Option<u64>,
    /// Output file (written to a temporary name first, then renamed).
    #[arg(long)]
    out: PathBuf,
}

/// Address family of a CSV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// The highest address of the family, as an integer.
    fn max(self) -> u128 {
        match self {
            Family::V4 => u128::from(u32::MAX),
            Family::V6 => u128::MAX,
        }
    }

    fn addr(self, n: u128) -> Result<IpAddr> {
        Ok(match self {
            Family::V4 => IpAddr::V4(Ipv4Addr::from(u32::try_from(n)?)),
            Family::V6 => IpAddr::V6(Ipv6Addr::from(n)),
        })
    }
}

/// One CSV row: an inclusive address range and its AS.
#[derive(Clone, Debug)]
struct Row {
    start: u128,
    end: u128,
    asn: u32,
    org: String,
    /// Line in the CSV file, for messages and as the overlap tie-break.
    line: u64,
}

impl Row {
    fn record(&self) -> Value {
        let mut fields = vec![(FIELD_NUMBER, Value::from(self.asn))];
        if !self.org.is_empty() {
            fields.push((FIELD_ORGANIZATION, Value::from(self.org.as_str())));
        }
        Value::map(fields)
    }
}

/// A resolved range: no two segments of a family overlap.
#[derive(Clone, Copy, Debug)]
struct Segment<'a> {
    start: u128,
    end: u128,
    row: &'a Row,
}

/// What the build did, for the summary line.
#[derive(Debug, Default)]
struct Stats {
    rows: usize,
    clipped: usize,
    dropped: usize,
    overlap_groups: usize,
    segments: usize,
    cidrs: usize,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("geoip_build: error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let epoch = match args.build_epoch {
        Some(epoch) => epoch,
        None => epoch_from_version(&args.source_version)?,
    };
    let description = format!(
        "Autonomous system number and organization for IPv4 and IPv6 networks, converted from \
         the CSV files of the npm package {SOURCE_PACKAGE} {} (RouteViews, NRO and DB-IP data, \
         CC BY 4.0) to MMDB",
        args.source_version
    );

    let mut stats = Stats::default();
    let mut v4_rows = read_csv(&args.ipv4, Family::V4)?;
    let mut v6_rows = read_csv(&args.ipv6, Family::V6)?;
    stats.rows = v4_rows.len() + v6_rows.len();
    v6_rows = clip_reserved_v6(v6_rows, &mut stats);
    v4_rows.sort_by_key(|r| (r.start, r.line));
    v6_rows.sort_by_key(|r| (r.start, r.line));
    let v4 = resolve(&v4_rows, Family::V4, &mut stats)?;
    let v6 = resolve(&v6_rows, Family::V6, &mut stats)?;
    stats.segments = v4.len() + v6.len();

    let mut writer = Writer::builder(DATABASE_TYPE)
        .ip_version(IpVersion::V6)
        .ipv4_aliasing(Ipv4Aliasing::Enabled)
        .reserved_networks(ReservedNetworks::Included)
        .metadata_pointers(MetadataPointers::Disabled)
        .languages(["en"])
        .description(&[("en", description.as_str())])
        .build_epoch(UNIX_EPOCH + Duration::from_secs(epoch))
        .build();
    for (family, segments) in [(Family::V4, &v4), (Family::V6, &v6)] {
        for seg in segments {
            let record = seg.row.record();
            for net in cidrs(family, seg.start, seg.end)? {
                writer.insert_value(net, record.clone())?;
                stats.cidrs += 1;
            }
        }
    }
    let bytes = writer.to_bytes()?;

    let checks = verify(&bytes, &v4, &v6, epoch, &description)?;

    write_atomically(&args.out, &bytes)?;
    let built = jiff::Timestamp::from_second(i64::try_from(epoch)?)?;
    eprintln!(
        "geoip_build: {} rows read ({} IPv6 rows clipped out of ::/96 and the IPv4 alias ranges, \
         {} of them dropped entirely; {} groups of overlapping rows resolved), {} ranges, {} CIDR \
         blocks inserted",
        stats.rows, stats.clipped, stats.dropped, stats.overlap_groups, stats.segments, stats.cidrs,
    );
    eprintln!(
        "geoip_build: wrote {} ({} bytes, database_type {DATABASE_TYPE:?}, build epoch {epoch} = \
         {built}); read back with maxminddb: verify() passed, {checks} lookups matched the CSV",
        args.out.display(),
        bytes.len(),
    );
    Ok(())
}

/// `2.3.2026061719` → 2026-06-17T19:00:00Z as Unix seconds.
fn epoch_from_version(version: &str) -> Result<u64> {
    let stamp = version.rsplit('.').next().unwrap_or_default();
    if stamp.len() != 10 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "cannot derive a build epoch from version {version:?} (expected MAJOR.MINOR.YYYYMMDDHH); \
             pass --build-epoch"
        )
        .into());
    }
    let n: u64 = stamp.parse()?;
    let (year, month, day, hour) = (n / 1_000_000, n / 10_000 % 100, n / 100 % 100, n % 100);
    let at = jiff::civil::DateTime::new(
        i16::try_from(year)?,
        i8::try_from(month)?,
        i8::try_from(day)?,
        i8::try_from(hour)?,
        0,
        0,
        0,
    )
    .map_err(|e| format!("version {version:?}: {e}"))?;
    let seconds = at
        .to_zoned(jiff::tz::TimeZone::UTC)?
        .timestamp()
        .as_second();
    Ok(u64::try_from(seconds)?)
}

fn read_csv(path: &Path, family: Family) -> Result<Vec<Row>> {
    let at = |line: u64| format!("{}:{line}", path.display());
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = record.position().map_or(0, csv::Position::line);
        let (Some(start), Some(end), Some(asn), Some(org), None) = (
            record.get(0),
            record.get(1),
            record.get(2),
            record.get(3),
            record.get(4),
        ) else {
            return Err(format!(
                "{}: expected 4 fields (start,end,asn,org), found {}",
                at(line),
                record.len()
            )
            .into());
        };
        let start = parse_addr(start, family).map_err(|e| format!("{}: {e}", at(line)))?;
        let end = parse_addr(end, family).map_err(|e| format!("{}: {e}", at(line)))?;
        if start > end {
            return Err(format!("{}: range start is above its end", at(line)).into());
        }
        let asn = asn
            .parse::<u32>()
            .map_err(|e| format!("{}: AS number {asn:?}: {e}", at(line)))?;
        rows.push(Row {
            start,
            end,
            asn,
            org: org.to_owned(),
            line,
        });
    }
    if rows.is_empty() {
        return Err(format!("{}: no rows", path.display()).into());
    }
    Ok(rows)
}

fn parse_addr(text: &str, family: Family) -> Result<u128> {
    match (text.parse::<IpAddr>()?, family) {
        (IpAddr::V4(a), Family::V4) => Ok(u128::from(u32::from(a))),
        (IpAddr::V6(a), Family::V6) => Ok(u128::from(a)),
        _ => Err(format!("{text:?} is not an {} address", family.name()).into()),
    }
}

/// The inclusive integer range of `base/prefix` in the IPv6 space.
fn v6_block(base: u128, prefix: u8) -> (u128, u128) {
    let host_bits = u128::MAX.checked_shr(u32::from(prefix)).unwrap_or(0);
    (base, base | host_bits)
}

/// Removes the IPv4 subtree and the aliased ranges from the IPv6 rows.
fn clip_reserved_v6(rows: Vec<Row>, stats: &mut Stats) -> Vec<Row> {
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut pieces = vec![(row.start, row.end)];
        let mut cut = Vec::new();
        for (name, base, prefix) in RESERVED_V6 {
            let (lo, hi) = v6_block(base, prefix);
            let mut next = Vec::with_capacity(pieces.len() + 1);
            for (s, e) in pieces {
                if e < lo || s > hi {
                    next.push((s, e));
                    continue;
                }
                cut.push(name);
                if s < lo {
                    next.push((s, lo - 1));
                }
                if e > hi {
                    next.push((hi + 1, e));
                }
            }
            pieces = next;
        }
        if !cut.is_empty() {
            stats.clipped += 1;
            if pieces.is_empty() {
                stats.dropped += 1;
            }
            eprintln!(
                "geoip_build: IPv6 line {}: AS{} {:?}: {} removed from {} .. {} ({} piece(s) kept)",
                row.line,
                row.asn,
                row.org,
                cut.join(", "),
                Ipv6Addr::from(row.start),
                Ipv6Addr::from(row.end),
                pieces.len()
            );
        }
        for (start, end) in pieces {
            out.push(Row {
                start,
                end,
                ..row.clone()
            });
        }
    }
    out
}

/// Turns rows sorted by start into disjoint segments: inside a group of overlapping rows each
/// address goes to the narrowest row covering it (ties: the later row).
fn resolve<'a>(rows: &'a [Row], family: Family, stats: &mut Stats) -> Result<Vec<Segment<'a>>> {
    let mut segments = Vec::with_capacity(rows.len());
    let mut group: Vec<&'a Row> = Vec::new();
    let mut group_end = 0u128;
    for row in rows {
        if row.end > family.max() {
            return Err(format!("line {}: address out of range", row.line).into());
        }
        if !group.is_empty() && row.start > group_end {
            resolve_group(&group, group_end, family, &mut segments, stats)?;
            group.clear();
        }
        group_end = if group.is_empty() {
            row.end
        } else {
            group_end.max(row.end)
        };
        group.push(row);
    }
    resolve_group(&group, group_end, family, &mut segments, stats)?;
    Ok(segments)
}

fn resolve_group<'a>(
    group: &[&'a Row],
    group_end: u128,
    family: Family,
    segments: &mut Vec<Segment<'a>>,
    stats: &mut Stats,
) -> Result<()> {
    let [only] = group else {
        if group.is_empty() {
            return Ok(());
        }
        stats.overlap_groups += 1;
        // Elementary intervals: cut at every row start and after every row end.
        let mut cuts: Vec<u128> = group
            .iter()
            .flat_map(|r| [Some(r.start), r.end.checked_add(1)])
            .flatten()
            .filter(|&c| c <= group_end)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let mut resolved: Vec<Segment<'a>> = Vec::new();
        for (i, &lo) in cuts.iter().enumerate() {
            let hi = cuts.get(i + 1).map_or(group_end, |next| next - 1);
            let winner = group
                .iter()
                .filter(|r| r.start <= lo && hi <= r.end)
                .min_by_key(|r| (r.end - r.start, Reverse(r.line)))
                .ok_or("overlap resolution left a hole")?;
            match resolved.last_mut() {
                Some(last) if std::ptr::eq(last.row, *winner) && last.end + 1 == lo => {
                    last.end = hi
                }
                _ => resolved.push(Segment {
                    start: lo,
                    end: hi,
                    row: winner,
                }),
            }
        }
        let lines: Vec<String> = group
            .iter()
            .map(|r| {
                Ok(format!(
                    "line {} AS{} {}..{}",
                    r.line,
                    r.asn,
                    family.addr(r.start)?,
                    family.addr(r.end)?
                ))
            })
            .collect::<Result<_>>()?;
        let kept: Vec<String> = resolved
            .iter()
            .map(|s| {
                Ok(format!(
                    "{}..{} AS{}",
                    family.addr(s.start)?,
                    family.addr(s.end)?,
                    s.row.asn
                ))
            })
            .collect::<Result<_>>()?;
        eprintln!(
            "geoip_build: {} rows overlap ({}); narrower range wins: {}",
            family.name(),
            lines.join("; "),
            kept.join(", ")
        );
        segments.extend(resolved);
        return Ok(());
    };
    segments.push(Segment {
        start: only.start,
        end: only.end,
        row: only,
    });
    Ok(())
}

/// The minimal set of CIDR blocks covering `start..=end`.
fn cidrs(family: Family, start: u128, end: u128) -> Result<Vec<IpNet>> {
    Ok(match family {
        Family::V4 => Ipv4Subnets::new(
            Ipv4Addr::from(u32::try_from(start)?),
            Ipv4Addr::from(u32::try_from(end)?),
            0,
        )
        .map(IpNet::V4)
        .collect(),
        Family::V6 => Ipv6Subnets::new(Ipv6Addr::from(start), Ipv6Addr::from(end), 0)
            .map(IpNet::V6)
            .collect(),
    })
}

/// Reads the built file back with the `maxminddb` crate (the reader remotewatch uses) and
/// checks the metadata, both ends of every range, both ends of every gap between ranges, and
/// the IPv4-mapped, 6to4, Teredo and `::a.b.c.d` forms of the first address of every IPv4 range.
/// Returns the number of lookups checked.
fn verify(
    bytes: &[u8],
    v4: &[Segment<'_>],
    v6: &[Segment<'_>],
    epoch: u64,
    description: &str,
) -> Result<usize> {
    let reader = maxminddb::Reader::from_source(bytes)?;
    reader.verify()?;
    let md = reader.metadata();
    if md.database_type != DATABASE_TYPE
        || md.ip_version != 6
        || md.build_epoch != epoch
        || md.description.get("en").map(String::as_str) != Some(description)
        || md.languages != ["en"]
    {
        return Err(format!("metadata read back differs from what was written: {md:?}").into());
    }

    let mut checks = 0usize;
    let mut check = |ip: IpAddr, want: Option<&Row>| -> Result<()> {
        checks += 1;
        let got: Option<Asn<'_>> = reader.lookup(ip)?.decode()?;
        let ok = match (&got, want) {
            (None, None) => true,
            (Some(got), Some(row)) => {
                let org = (!row.org.is_empty()).then_some(row.org.as_str());
                got.autonomous_system_number == Some(row.asn)
                    && got.autonomous_system_organization == org
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            let want = want.map(|r| (r.line, r.asn, r.org.as_str()));
            Err(format!("{ip}: read back {got:?}, expected (line, asn, org) {want:?}").into())
        }
    };

    for (family, segments) in [(Family::V4, v4), (Family::V6, v6)] {
        let mut next_free = 0u128;
        for seg in segments {
            check(family.addr(seg.start)?, Some(seg.row))?;
            check(family.addr(seg.end)?, Some(seg.row))?;
            if seg.start > next_free {
                check_gap(family, next_free, seg.start - 1, &mut check)?;
            }
            next_free = seg.end.saturating_add(1);
            if family == Family::V4 {
                let v4 = u32::try_from(seg.start)?;
                let v4_bits = u128::from(v4);
                for alias in [
                    0xffff_0000_0000 | v4_bits,      // ::ffff:a.b.c.d
                    (0x2002 << 112) | v4_bits << 80, // 2002:aabb:ccdd::
                    (0x2001 << 112) | v4_bits << 64, // 2001:0:aabb:ccdd::
                    v4_bits,                         // ::a.b.c.d
                ] {
                    check(IpAddr::V6(Ipv6Addr::from(alias)), Some(seg.row))?;
                }
            }
        }
        if let Some(last) = segments.last() {
            if last.end < family.max() {
                check_gap(family, last.end + 1, family.max(), &mut check)?;
            }
        }
    }
    Ok(checks)
}

/// A gap between ranges must have no data, except where it lies in `::/96` or an aliased range
/// (those answer with IPv4 data and are covered by the IPv4 checks).
fn check_gap(
    family: Family,
    lo: u128,
    hi: u128,
    check: &mut impl FnMut(IpAddr, Option<&Row>) -> Result<()>,
) -> Result<()> {
    if family == Family::V6
        && RESERVED_V6.iter().any(|&(_, base, prefix)| {
            let (r_lo, r_hi) = v6_block(base, prefix);
            lo <= r_hi && r_lo <= hi
        })
    {
        return Ok(());
    }
    check(family.addr(lo)?, None)?;
    check(family.addr(hi)?, None)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, bytes).map_err(|e| format!("{}: {e}", tmp.display()))?;
    fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(())
}
