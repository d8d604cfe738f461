//! The contractor inventory as CSV, for HR/asset exports.
//!
//! Header (order free, names fixed): `id,name,endpoints,country,city,latitude,longitude,radius_km,
//! timezone,approved_tools,egress,accounts`. Only `id` is required; `endpoints`, `approved_tools`,
//! `egress` and `accounts` hold several values separated by `;` or spaces. Every problem is reported with its line.

use super::error::{Problem, Problems};
use super::inventory::{self, Contractor, Residence};
use std::collections::HashMap;
use std::path::Path;

/// Largest accepted inventory file.
pub const INVENTORY_BYTES_MAX: u64 = 64 << 20;

const COLUMNS: [&str; 12] = [
    "id",
    "name",
    "endpoints",
    "country",
    "city",
    "latitude",
    "longitude",
    "radius_km",
    "timezone",
    "approved_tools",
    "egress",
    "accounts",
];

/// Loads the contractors of `path`.
pub(super) fn load(path: &Path) -> Result<Vec<Contractor>, Vec<Problem>> {
    let text = super::error::read_bounded(path, INVENTORY_BYTES_MAX, "contractor inventory")
        .map_err(|p| vec![p])?;
    parse(path, &text)
}

fn parse(path: &Path, text: &str) -> Result<Vec<Contractor>, Vec<Problem>> {
    let mut pr = Problems::new(path, text);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(str::to_ascii_lowercase).collect(),
        Err(e) => {
            pr.line(1, format!("cannot read the header: {e}"));
            return Err(pr.list);
        }
    };
    for h in &header {
        if !COLUMNS.contains(&h.as_str()) {
            pr.line(
                1,
                format!("unknown column {h:?} (known: {})", COLUMNS.join(", ")),
            );
        }
    }
    if !header.iter().any(|h| h == "id") {
        pr.line(1, "the header needs an \"id\" column");
    }
    if !pr.list.is_empty() {
        return Err(pr.list);
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                let row: HashMap<&str, &str> = header
                    .iter()
                    .map(String::as_str)
                    .zip(r.iter())
                    .filter(|(_, v)| !v.is_empty())
                    .collect();
                if let Some(c) = row_contractor(&row, line, &mut pr) {
                    out.push(c);
                }
            }
            Err(e) => {
                let line = e
                    .position()
                    .map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
                pr.line(line, format!("malformed row: {e}"));
            }
        }
    }
    if pr.list.is_empty() {
        Ok(out)
    } else {
        Err(pr.list)
    }
}

fn row_contractor(
    row: &HashMap<&str, &str>,
    line: usize,
    pr: &mut Problems<'_>,
) -> Option<Contractor> {
    let before = pr.list.len();
    let mut col = |name: &str, r: Result<String, String>| match r {
        Ok(v) => Some(v),
        Err(e) => {
            pr.line(line, format!("column {name}: {e}"));
            None
        }
    };
    let id = col(
        "id",
        row.get("id")
            .map_or(Err("id is empty".into()), |v| inventory::parse_id(v)),
    );
    let name = match row.get("name") {
        Some(v) => col("name", inventory::parse_name("name", v)),
        None => id.clone(),
    };
    let tools: Vec<String> = split(row.get("approved_tools"))
        .filter_map(|t| col("approved_tools", inventory::parse_tool(t)))
        .collect();
    let country = row
        .get("country")
        .and_then(|v| col("country", inventory::parse_country(v)));
    let city = row
        .get("city")
        .and_then(|v| col("city", inventory::parse_name("city", v)));
    let timezone = row
        .get("timezone")
        .and_then(|v| col("timezone", inventory::parse_timezone(v)));
    let mut num = |name: &str, check: fn(f64) -> Result<f64, String>| {
        row.get(name).and_then(|v| match v.parse::<f64>() {
            Ok(x) => check(x)
                .map_err(|e| pr.line(line, format!("column {name}: {e}")))
                .ok(),
            Err(_) => {
                pr.line(line, format!("column {name}: {v:?} is not a number"));
                None
            }
        })
    };
    let lat = num("latitude", inventory::check_latitude);
    let lon = num("longitude", inventory::check_longitude);
    let radius_km = num("radius_km", inventory::check_radius);
    let mut endpoints = Vec::new();
    for e in split(row.get("endpoints")) {
        match inventory::parse_endpoint(e) {
            Ok(n) => endpoints.push(n),
            Err(msg) => pr.line(line, format!("column endpoints: {msg}")),
        }
    }
    let mut egress = Vec::new();
    for e in split(row.get("egress")) {
        match inventory::parse_endpoint(e) {
            Ok(n) => egress.push(n),
            Err(msg) => pr.line(line, format!("column egress: {msg}")),
        }
    }
    let accounts: Vec<String> = split(row.get("accounts"))
        .filter_map(|a| match inventory::parse_account(a) {
            Ok(v) => Some(v),
            Err(e) => {
                pr.line(line, format!("column accounts: {e}"));
                None
            }
        })
        .collect();
    if row.contains_key("latitude") != row.contains_key("longitude") {
        pr.line(line, "latitude and longitude go together");
    }
    let has_residence_fields = ["city", "latitude", "longitude", "radius_km", "timezone"]
        .iter()
        .any(|k| row.contains_key(k));
    if has_residence_fields && !row.contains_key("country") {
        pr.line(line, "a residence needs a country");
    }
    if pr.list.len() > before {
        return None;
    }
    Some(Contractor {
        id: id?,
        name: name?,
        endpoints,
        residence: country.map(|country| Residence {
            country,
            city,
            lat_lon: lat.zip(lon),
            radius_km,
            timezone,
        }),
        approved_tools: tools,
        egress,
        accounts,
    })
}

fn split<'a>(v: Option<&&'a str>) -> impl Iterator<Item = &'a str> {
    v.copied()
        .unwrap_or_default()
        .split(|c: char| c == ';' || c.is_whitespace())
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_reports_each_bad_one_with_its_line() {
        let text = "id,name,endpoints,country,timezone,approved_tools\n\
                    c-1,Ann,10.0.0.1;10.0.1.0/24,US,America/Chicago,openvpn ssh\n\
                    c-2,Bob,10.0.2.1,ZZ,Mars/Base,\n\
                    c 3,,nope,,,\n";
        let err = parse(Path::new("inv.csv"), text).unwrap_err();
        let shown: Vec<String> = err.iter().map(ToString::to_string).collect();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("inv.csv:3: column country")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("inv.csv:3: column timezone")),
            "{shown:?}"
        );
        assert!(
            shown.iter().any(|s| s.starts_with("inv.csv:4: column id")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("inv.csv:4: column endpoints")),
            "{shown:?}"
        );
        assert!(
            !shown.iter().any(|s| s.starts_with("inv.csv:2")),
            "{shown:?}"
        );

        let good = parse(
            Path::new("inv.csv"),
            "id,endpoints,country,approved_tools\nc-1,10.0.0.1;10.0.1.0/24,us,openvpn;ssh\n",
        )
        .unwrap();
        assert_eq!(good.len(), 1);
        assert_eq!(good[0].endpoints.len(), 2);
        assert_eq!(good[0].approved_tools, ["openvpn", "ssh"]);
        assert_eq!(good[0].residence.as_ref().unwrap().country, "US");
    }

    #[test]
    fn unknown_columns_and_missing_id_are_refused() {
        let err = parse(Path::new("i.csv"), "name,shoe_size\nA,44\n").unwrap_err();
        assert_eq!(err.len(), 2);
        assert!(err[0].to_string().contains("unknown column \"shoe_size\""));
        assert!(err[1].to_string().contains("\"id\" column"));
    }
}
