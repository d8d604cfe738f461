//! The contractor inventory: who is monitored, at which addresses, claiming to live where.
//!
//! Loaded from inline `[[contractor]]` tables or a CSV file. Every field is validated here, once,
//! so later stages (alerting, geo checks) can trust it. A contractor id becomes a metric label,
//! so ids are restricted to a short, safe alphabet.

use ipnet::IpNet;
use std::net::IpAddr;

/// Longest accepted contractor id (it is a metric label and appears in every alert).
pub const ID_MAX: usize = 64;
/// Longest accepted display name or city.
pub const NAME_MAX: usize = 128;
/// Longest accepted approved-tool name.
pub const TOOL_MAX: usize = 64;
/// Largest residence radius: half the Earth's circumference.
pub const RADIUS_MAX_KM: f64 = 20_037.5;

/// ISO 3166-1 alpha-2 codes (iso-codes 4.15, 249 entries).
const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// Where a contractor says they live and work.
#[derive(Clone, Debug, PartialEq)]
pub struct Residence {
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: String,
    /// City name, free text.
    pub city: Option<String>,
    /// Latitude and longitude in degrees (WGS 84).
    pub lat_lon: Option<(f64, f64)>,
    /// Radius around `lat_lon` that counts as home, in kilometres.
    pub radius_km: Option<f64>,
    /// IANA time zone name, e.g. `America/Chicago`.
    pub timezone: Option<String>,
}

/// One monitored contractor.
#[derive(Clone, Debug, PartialEq)]
pub struct Contractor {
    /// Stable identifier (metric label, alert field).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Addresses or networks of the contractor's endpoints.
    pub endpoints: Vec<IpNet>,
    /// Claimed residence.
    pub residence: Option<Residence>,
    /// Remote-access tools and VPNs the company approved for this contractor (family or product
    /// names, lower case).
    pub approved_tools: Vec<String>,
    /// Public addresses or networks the contractor is known to connect from (home line, office).
    /// Traffic from them to a corporate gateway is bound to this contractor. Unlike endpoints,
    /// two contractors may list the same egress; that is itself reported as a shared egress.
    pub egress: Vec<IpNet>,
    /// Account names under which the contractor appears in a session log (VPN, SSO), besides
    /// the id. Compared without regard to case.
    pub accounts: Vec<String>,
}

/// All contractors, with an address index.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    contractors: Vec<Contractor>,
    /// (network, contractor index), longest prefix first.
    nets: Vec<(IpNet, usize)>,
    /// Egress networks, likewise.
    egress: Vec<(IpNet, usize)>,
}

impl Inventory {
    /// Builds the index. Callers have already rejected duplicate ids and overlapping networks.
    pub fn new(contractors: Vec<Contractor>) -> Inventory {
        let mut nets: Vec<(IpNet, usize)> = contractors
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.endpoints.iter().map(move |n| (*n, i)))
            .collect();
        nets.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        let mut egress: Vec<(IpNet, usize)> = contractors
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.egress.iter().map(move |n| (*n, i)))
            .collect();
        egress.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
        Inventory {
            contractors,
            nets,
            egress,
        }
    }

    /// The contractor who lists `ip` as an egress (longest prefix wins; among equal prefixes the
    /// first in file order).
    pub fn lookup_egress(&self, ip: IpAddr) -> Option<&Contractor> {
        let ip = canonical(ip);
        self.egress
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .and_then(|(_, i)| self.contractors.get(*i))
    }

    /// The contractor whose id or one of whose accounts is `user` (case-insensitive).
    pub fn by_account(&self, user: &str) -> Option<&Contractor> {
        self.contractors.iter().find(|c| {
            c.id.eq_ignore_ascii_case(user)
                || c.accounts.iter().any(|a| a.eq_ignore_ascii_case(user))
        })
    }

    /// The contractor with id `id`.
    pub fn by_id(&self, id: &str) -> Option<&Contractor> {
        self.contractors.iter().find(|c| c.id == id)
    }

    /// Whether any contractor lists an egress.
    pub fn has_egress(&self) -> bool {
        !self.egress.is_empty()
    }

    /// The contractor whose endpoint networks contain `ip` (longest prefix wins).
    pub fn lookup(&self, ip: IpAddr) -> Option<&Contractor> {
        let ip = canonical(ip);
        self.nets
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .and_then(|(_, i)| self.contractors.get(*i))
    }

    /// Every contractor, in file order.
    pub fn contractors(&self) -> &[Contractor] {
        &self.contractors
    }

    /// Whether the inventory lists no contractor.
    pub fn is_empty(&self) -> bool {
        self.contractors.is_empty()
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) as the IPv4 address they stand for.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A contractor id: 1–64 characters of `A-Z a-z 0-9 . _ -`.
pub fn parse_id(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > ID_MAX {
        return Err(format!("id must be 1 to {ID_MAX} characters"));
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!(
            "id {s:?} may only use letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(s.to_owned())
}

/// An account name in a session log: 1–128 printable characters without spaces or commas.
pub fn parse_account(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty()
        || t.chars().count() > NAME_MAX
        || t.chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == ',' || c == ';')
    {
        return Err(format!(
            "account {t:?} must be 1 to {NAME_MAX} characters without spaces, commas or semicolons"
        ));
    }
    Ok(t.to_owned())
}

/// A display name or city: non-empty, bounded, no control characters.
pub fn parse_name(what: &str, s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.chars().count() > NAME_MAX || t.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be 1 to {NAME_MAX} characters without control characters"
        ));
    }
    Ok(t.to_owned())
}

/// An endpoint: an address (`10.1.2.3`, `2001:db8::1`) or a network (`10.1.0.0/16`).
pub fn parse_endpoint(s: &str) -> Result<IpNet, String> {
    let t = s.trim();
    if let Ok(net) = t.parse::<IpNet>() {
        if net.trunc() != net {
            return Err(format!(
                "endpoint {t:?} has host bits set; did you mean {}?",
                net.trunc()
            ));
        }
        return Ok(net);
    }
    t.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("endpoint {t:?} is not an IP address or CIDR network"))
}

/// An ISO 3166-1 alpha-2 country code (case-insensitive; stored upper case).
pub fn parse_country(s: &str) -> Result<String, String> {
    let up = s.trim().to_ascii_uppercase();
    if ISO_3166_ALPHA2.binary_search(&up.as_str()).is_ok() {
        Ok(up)
    } else {
        Err(format!(
            "country {s:?} is not an ISO 3166-1 alpha-2 code (e.g. \"US\", \"DE\")"
        ))
    }
}

/// An IANA time zone name known to the bundled tz database.
pub fn parse_timezone(s: &str) -> Result<String, String> {
    let t = s.trim();
    jiff::tz::TimeZone::get(t)
        .map(|_| t.to_owned())
        .map_err(|_| format!("timezone {t:?} is not an IANA time zone (e.g. \"America/Chicago\")"))
}

/// An approved tool: a family or product name, lower case `a-z 0-9 . _ -`.
pub fn parse_tool(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty()
        || t.len() > TOOL_MAX
        || !t
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
    {
        return Err(format!(
            "approved tool {t:?} must be a lower-case family or product name (e.g. \"openvpn\", \"anydesk\")"
        ));
    }
    Ok(t.to_owned())
}

/// A latitude in degrees.
pub fn check_latitude(v: f64) -> Result<f64, String> {
    if (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("latitude {v} is outside -90..90"))
    }
}

/// A longitude in degrees.
pub fn check_longitude(v: f64) -> Result<f64, String> {
    if (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("longitude {v} is outside -180..180"))
    }
}

/// A radius in kilometres.
pub fn check_radius(v: f64) -> Result<f64, String> {
    if v > 0.0 && v <= RADIUS_MAX_KM {
        Ok(v)
    } else {
        Err(format!(
            "radius_km {v} must be above 0 and at most {RADIUS_MAX_KM}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_list_is_sorted_for_binary_search() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(parse_country("us").as_deref(), Ok("US"));
        assert!(parse_country("XX").is_err());
        assert!(parse_country("KP").is_ok());
    }

    #[test]
    fn endpoints_accept_hosts_and_networks_and_refuse_host_bits() {
        assert_eq!(
            parse_endpoint("10.1.2.3").unwrap().to_string(),
            "10.1.2.3/32"
        );
        assert_eq!(
            parse_endpoint("2001:db8::/32").unwrap().to_string(),
            "2001:db8::/32"
        );
        assert!(parse_endpoint("10.1.2.3/24")
            .unwrap_err()
            .contains("10.1.2.0/24"));
        assert!(parse_endpoint("10.1.2").is_err());
    }

    #[test]
    fn timezones_and_ids() {
        assert!(parse_timezone("America/Chicago").is_ok());
        assert!(parse_timezone("Mars/Olympus").is_err());
        assert!(parse_id("c-1001").is_ok());
        assert!(parse_id("bad id").is_err());
        assert!(parse_id(&"x".repeat(65)).is_err());
        assert!(parse_tool("OpenVPN").is_err());
    }

    #[test]
    fn lookup_prefers_longest_prefix_and_unmaps_v4_in_v6() {
        let c = |id: &str, nets: &[&str]| Contractor {
            id: id.into(),
            name: id.into(),
            endpoints: nets.iter().map(|n| parse_endpoint(n).unwrap()).collect(),
            residence: None,
            approved_tools: vec![],
            egress: vec![],
            accounts: vec![],
        };
        let inv = Inventory::new(vec![c("wide", &["10.0.0.0/8"]), c("narrow", &["10.1.2.3"])]);
        assert_eq!(
            inv.lookup("10.1.2.3".parse().unwrap()).unwrap().id,
            "narrow"
        );
        assert_eq!(inv.lookup("10.9.9.9".parse().unwrap()).unwrap().id, "wide");
        assert_eq!(
            inv.lookup("::ffff:10.1.2.3".parse().unwrap()).unwrap().id,
            "narrow"
        );
        assert!(inv.lookup("192.0.2.1".parse().unwrap()).is_none());
    }
}
