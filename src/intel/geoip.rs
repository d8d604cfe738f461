//! MaxMind-format databases (MMDB): location, ASN and anonymous-IP flags.
//!
//! Readers accept MaxMind's GeoIP2/GeoLite2 City and Country layouts (`country.iso_code`,
//! `location.latitude`, …), the flat ip-location-db layout (`country_code`, `latitude`, `city`),
//! GeoLite2-ASN (`autonomous_system_number`, `autonomous_system_organization`), and
//! GeoIP2-Anonymous-IP, Anonymous-Plus and IP-Risk. Numbers are read whatever width the database
//! stores them in: the `maxminddb` crate is strict about integer and float widths, and databases
//! from different producers differ (ip-location-db stores latitude as a float, MaxMind as a
//! double).
//!
//! A database that cannot be opened is an error naming the file and the reason; an empty record
//! (an address the database has nothing on) is "no answer", never an error.

use crate::ts::Ts;
use maxminddb::Reader;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Largest database read into memory.
pub const MMDB_BYTES_MAX: u64 = 1 << 30;

/// A number stored as any MMDB numeric type.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_f32<E: de::Error>(self, v: f32) -> Result<Num, E> {
                Ok(Num(f64::from(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    names: BTreeMap<&'a str, &'a str>,
}

/// `city` is an object in MaxMind's layout and a string in ip-location-db's.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CityField<'a> {
    Name(&'a str),
    #[serde(borrow)]
    Object(Names<'a>),
}

#[derive(Debug, Default, Deserialize)]
struct LocationRaw {
    latitude: Option<Num>,
    longitude: Option<Num>,
    accuracy_radius: Option<Num>,
}

#[derive(Debug, Default, Deserialize)]
struct GeoRaw<'a> {
    #[serde(borrow)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow)]
    city: Option<CityField<'a>>,
    location: Option<LocationRaw>,
    country_code: Option<&'a str>,
    latitude: Option<Num>,
    longitude: Option<Num>,
}

#[derive(Debug, Default, Deserialize)]
struct AsnRaw<'a> {
    autonomous_system_number: Option<Num>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct AnonRaw<'a> {
    is_anonymous: Option<bool>,
    is_anonymous_vpn: Option<bool>,
    is_hosting_provider: Option<bool>,
    is_public_proxy: Option<bool>,
    is_residential_proxy: Option<bool>,
    is_tor_exit_node: Option<bool>,
    #[serde(borrow)]
    provider_name: Option<&'a str>,
    anonymizer_confidence: Option<Num>,
    ip_risk: Option<Num>,
}

/// Where an address is, as far as a location database knows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// Country of the address (ISO 3166-1 alpha-2).
    pub country: Option<String>,
    /// Country the block is registered to, when the database says and it differs.
    pub registered_country: Option<String>,
    /// City name (English).
    pub city: Option<String>,
    /// Latitude and longitude in degrees.
    pub lat_lon: Option<(f64, f64)>,
    /// The database's accuracy radius in kilometres.
    pub accuracy_km: Option<f64>,
}

/// The network an address belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asn {
    /// Autonomous system number.
    pub number: u32,
    /// Organisation.
    pub org: Option<String>,
}

/// Anonymity flags of an address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Anonymity {
    /// A commercial VPN exit.
    pub vpn: bool,
    /// A hosting or datacenter address.
    pub hosting: bool,
    /// A public proxy.
    pub public_proxy: bool,
    /// A residential proxy.
    pub residential_proxy: bool,
    /// A Tor exit.
    pub tor: bool,
    /// The provider, when named.
    pub provider: Option<String>,
    /// The database's confidence that the address is an anonymizer (Anonymous-Plus), 0–100.
    pub confidence: Option<f64>,
    /// The address's risk score (IP-Risk), 0.01–99.
    pub risk: Option<f64>,
}

impl Anonymity {
    /// Whether any flag is set.
    pub fn any(&self) -> bool {
        self.vpn || self.hosting || self.public_proxy || self.residential_proxy || self.tor
    }
}

/// An open database.
pub struct Mmdb {
    reader: Reader<Vec<u8>>,
    /// The file it was read from (or `built-in`).
    pub source: String,
    /// `database_type` from its metadata.
    pub kind: String,
    /// Build time from its metadata.
    pub built: Ts,
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {reason}")]
pub struct MmdbError {
    /// The file.
    pub source_name: String,
    /// Why.
    pub reason: String,
}

impl Mmdb {
    /// Opens the database at `path`, checking it can be read.
    pub fn open(path: &Path) -> Result<Mmdb, MmdbError> {
        let err = |reason: String| MmdbError {
            source_name: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        if meta.len() > MMDB_BYTES_MAX {
            return Err(err(format!(
                "{} bytes; a database is at most {MMDB_BYTES_MAX}",
                meta.len()
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
        Mmdb::from_bytes(bytes, &path.display().to_string())
    }

    /// Opens a database held in memory (`source` names it in messages), verified whole.
    pub fn from_bytes(bytes: Vec<u8>, source: &str) -> Result<Mmdb, MmdbError> {
        Mmdb::from_bytes_checked(bytes, source, true)
    }

    /// Opens a database compiled into the binary: its tree and data were verified when it was
    /// built (`geoip/check.sh`, and the test suite), so only the metadata is read at start.
    pub fn builtin(bytes: &'static [u8], source: &str) -> Result<Mmdb, MmdbError> {
        Mmdb::from_bytes_checked(bytes.to_vec(), source, false)
    }

    fn from_bytes_checked(bytes: Vec<u8>, source: &str, verify: bool) -> Result<Mmdb, MmdbError> {
        let reader = Reader::from_source(bytes).map_err(|e| MmdbError {
            source_name: source.to_owned(),
            reason: format!("not a readable MaxMind database: {e}"),
        })?;
        let kind = reader.metadata().database_type.clone();
        let built = Ts::from_secs(reader.metadata().build_epoch);
        let db = Mmdb {
            reader,
            source: source.to_owned(),
            kind,
            built,
        };
        // A database whose search tree or data section is corrupt may open fine and fail (or
        // answer garbage) later; verify it whole now, so the problem is reported when the
        // database is loaded, never on a packet.
        if !verify {
            return Ok(db);
        }
        db.reader.verify().map_err(|e| MmdbError {
            source_name: source.to_owned(),
            reason: format!("failed verification: {e}"),
        })?;
        Ok(db)
    }

    fn decode<'a, T: Deserialize<'a>>(&'a self, ip: IpAddr) -> Result<Option<T>, String> {
        let r = self.reader.lookup(ip).map_err(|e| e.to_string())?;
        r.decode::<T>().map_err(|e| e.to_string())
    }

    /// The location of `ip`, when the database has one.
    pub fn location(&self, ip: IpAddr) -> Option<Location> {
        let g: GeoRaw<'_> = self.decode(ip).ok()??;
        let country = g
            .country
            .and_then(|c| c.iso_code)
            .or(g.country_code)
            .map(str::to_owned);
        let registered = g
            .registered_country
            .and_then(|c| c.iso_code)
            .map(str::to_owned)
            .filter(|r| Some(r) != country.as_ref());
        let city = match g.city {
            Some(CityField::Name(n)) => Some(n.to_owned()),
            Some(CityField::Object(o)) => o.names.get("en").map(|s| (*s).to_owned()),
            None => None,
        };
        let (lat, lon, acc) = match g.location {
            Some(l) => (l.latitude, l.longitude, l.accuracy_radius),
            None => (g.latitude, g.longitude, None),
        };
        let loc = Location {
            country,
            registered_country: registered,
            city,
            lat_lon: lat.zip(lon).map(|(a, b)| (a.0, b.0)),
            accuracy_km: acc.map(|a| a.0),
        };
        (loc != Location::default()).then_some(loc)
    }

    /// The autonomous system of `ip`.
    pub fn asn(&self, ip: IpAddr) -> Option<Asn> {
        let a: AsnRaw<'_> = self.decode(ip).ok()??;
        let n = a.autonomous_system_number?.0;
        (n >= 1.0 && n <= f64::from(u32::MAX)).then(|| Asn {
            number: n as u32,
            org: a.autonomous_system_organization.map(str::to_owned),
        })
    }

    /// The anonymity flags of `ip` (an all-false answer when the database has nothing).
    pub fn anonymity(&self, ip: IpAddr) -> Option<Anonymity> {
        let a: AnonRaw<'_> = self.decode(ip).ok()??;
        let flags = Anonymity {
            vpn: a.is_anonymous_vpn.unwrap_or(false),
            hosting: a.is_hosting_provider.unwrap_or(false),
            public_proxy: a.is_public_proxy.unwrap_or(false),
            residential_proxy: a.is_residential_proxy.unwrap_or(false),
            tor: a.is_tor_exit_node.unwrap_or(false),
            provider: a.provider_name.map(str::to_owned),
            confidence: a.anonymizer_confidence.map(|n| n.0),
            risk: a.ip_risk.map(|n| n.0),
        };
        // `is_anonymous` alone (no specific flag) still means "some anonymizer".
        let anonymous_only = a.is_anonymous.unwrap_or(false) && !flags.any();
        Some(Anonymity {
            public_proxy: flags.public_proxy || anonymous_only,
            ..flags
        })
    }
}

/// Paths of the databases to open, from configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DbPaths {
    /// Country (or city) database; the built-in one when `None`.
    pub country: Option<PathBuf>,
    /// City database with coordinates and accuracy radius.
    pub city: Option<PathBuf>,
    /// ASN database; the built-in one when `None`.
    pub asn: Option<PathBuf>,
    /// Anonymous-IP, Anonymous-Plus or IP-Risk databases.
    pub anonymous: Vec<PathBuf>,
}

#[cfg(test)]
mod tests;
