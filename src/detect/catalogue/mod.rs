//! The product catalogue: remote-access tools, tunnels and VPN brands described as data
//! (`catalogue/products.toml`), and the detector that recognises them.
//!
//! Generic protocol detectors say *what protocol* a flow speaks (WireGuard, RDP, …). A product is
//! usually recognised by *whom* it talks to and *how its own client behaves*, the way nDPI does
//! it: the server name the client asks for in its TLS or QUIC ClientHello (RFC 6066 §3,
//! RFC 9001 §4), the names in the server's certificate (sent in clear up to TLS 1.2, RFC 5246
//! §7.4.2), the DNS name the server's address was resolved from, an ALPN protocol name
//! (RFC 7301), a JA4 fingerprint of the client's hello, and, for proprietary protocols, byte
//! patterns at the start of their messages (TeamViewer's command header, Citrix ICA's detect
//! string, Radmin's fixed headers, NoMachine's and tinc's greetings, SoftEther's NAT-T probe).
//!
//! Why names are reliable: a client must send the name of the host it wants in the SNI, or the
//! CDN or relay in front cannot route it; vendors document these names for firewall allowlists.
//! Suffixes are matched on label boundaries only, so `evilanydesk.com` never matches
//! `anydesk.com`. A certificate is chosen by the server: a name there is independent evidence.
//! A port is a convention, never evidence: it only supports another signal.
//!
//! Layout: [`Catalogue`] and [`Product`] here; loading and validation in `load` and `fields`;
//! the name index in `names`; byte patterns in `pattern`; the detector in `detector`, its
//! signals and evidence lines in `signal`; the hook that names a tunnel's VPN brand in
//! `provider`.
//!
//! Failure policy: the built-in file is validated by a test, so [`Catalogue::builtin`] cannot
//! fail in a released binary (should it ever, it logs and returns an empty catalogue). A
//! configured file is validated completely and every problem is reported with file, line,
//! column and reason.

mod detector;
mod fields;
mod load;
mod names;
mod pattern;
mod provider;
mod signal;

pub(crate) use detector::{ProductDetector, ProductMemo};
pub(crate) use provider::ProviderEnricher;

use crate::config::Problem;
use crate::decode::ip_proto;
use crate::detect::Kind;
use names::{DomainRule, NameIndex};
use pattern::Pattern;
use std::path::Path;

/// The built-in catalogue, compiled into the binary.
const BUILTIN_TOML: &str = include_str!("../../../catalogue/products.toml");
/// The name problems in the built-in file are reported under.
const BUILTIN_PATH: &str = "catalogue/products.toml";

/// A validated set of products with the indexes the detector uses.
#[derive(Debug, Default)]
pub struct Catalogue {
    products: Vec<Product>,
    sni: NameIndex,
    dns: NameIndex,
    cert: NameIndex,
    has_ja4: bool,
}

/// One product: what it is and the facts that recognise it.
#[derive(Clone, Debug)]
pub struct Product {
    id: String,
    name: String,
    kind: Kind,
    provider: Option<String>,
    sni: Vec<DomainRule>,
    dns: Vec<DomainRule>,
    cert: Vec<CertRule>,
    alpn: Vec<String>,
    ja4: Vec<String>,
    ports: Vec<PortRange>,
    patterns: Vec<Pattern>,
    sources: Vec<Source>,
}

/// One certificate rule: all terms must hold, or a DNS suffix for the subject CN and SANs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum CertRule {
    /// `CN=…`, `issuer CN=…`, `issuer O=…` terms, as written.
    Attrs { terms: Vec<CertTerm>, text: String },
    /// A DNS suffix, kept in the certificate name index.
    Name(DomainRule),
}

/// One exact certificate attribute comparison (ASCII case-insensitive).
#[derive(Clone, Debug, PartialEq, Eq)]
enum CertTerm {
    /// Subject commonName (RFC 5280 §4.1.2.6).
    SubjectCn(String),
    /// Issuer commonName (RFC 5280 §4.1.2.4).
    IssuerCn(String),
    /// Issuer organizationName (RFC 5280 §4.1.2.4).
    IssuerO(String),
}

/// A responder port range of one transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PortRange {
    proto: u8,
    lo: u16,
    hi: u16,
}

impl PortRange {
    fn contains(&self, proto: u8, port: u16) -> bool {
        self.proto == proto && (self.lo..=self.hi).contains(&port)
    }
}

impl std::fmt::Display for PortRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = if self.proto == ip_proto::TCP {
            "tcp"
        } else {
            "udp"
        };
        if self.lo == self.hi {
            write!(f, "{p}/{}", self.lo)
        } else {
            write!(f, "{p}/{}-{}", self.lo, self.hi)
        }
    }
}

/// The matcher lists a source can back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Matcher {
    Sni,
    Dns,
    Cert,
    Alpn,
    Ja4,
    Ports,
    Patterns,
}

impl Matcher {
    const ALL: [Matcher; 7] = [
        Matcher::Sni,
        Matcher::Dns,
        Matcher::Cert,
        Matcher::Alpn,
        Matcher::Ja4,
        Matcher::Ports,
        Matcher::Patterns,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Matcher::Sni => "sni",
            Matcher::Dns => "dns",
            Matcher::Cert => "cert",
            Matcher::Alpn => "alpn",
            Matcher::Ja4 => "ja4",
            Matcher::Ports => "ports",
            Matcher::Patterns => "patterns",
        }
    }
}

/// Where some of a product's facts come from.
#[derive(Clone, Debug)]
struct Source {
    covers: Vec<Matcher>,
    cite: String,
}

impl Product {
    /// The product id: lower case, the alert family.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The human-readable product name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What kind of activity the product is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The brand whose service the product reaches, if any.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// Whether the list backing `m` is non-empty.
    fn uses(&self, m: Matcher) -> bool {
        match m {
            Matcher::Sni => !self.sni.is_empty(),
            Matcher::Dns => !self.dns.is_empty(),
            Matcher::Cert => !self.cert.is_empty(),
            Matcher::Alpn => !self.alpn.is_empty(),
            Matcher::Ja4 => !self.ja4.is_empty(),
            Matcher::Ports => !self.ports.is_empty(),
            Matcher::Patterns => !self.patterns.is_empty(),
        }
    }

    /// The citation for facts of list `m` (validation guarantees one exists).
    fn cite(&self, m: Matcher) -> &str {
        self.sources
            .iter()
            .find(|s| s.covers.contains(&m))
            .map_or("", |s| s.cite.as_str())
    }

    /// The listed port range containing the responder's port, if any.
    fn port(&self, proto: u8, port: u16) -> Option<PortRange> {
        self.ports.iter().copied().find(|r| r.contains(proto, port))
    }
}

impl Catalogue {
    /// The built-in catalogue (`catalogue/products.toml`, compiled in).
    pub fn builtin() -> Catalogue {
        match load::parse(Path::new(BUILTIN_PATH), BUILTIN_TOML) {
            Ok(file) => Catalogue::from_products(file.products, &[]),
            Err(problems) => {
                for p in &problems {
                    tracing::error!("built-in product catalogue: {p}");
                }
                Catalogue::default()
            }
        }
    }

    /// Loads a catalogue file. By default its entries extend the built-in catalogue (an entry
    /// with a built-in id replaces it); `mode = "replace"` at its top makes it the whole
    /// catalogue. Every problem found is reported with file, line, column and reason.
    pub fn load(path: &Path) -> Result<Catalogue, Vec<Problem>> {
        let text = load::read(path)?;
        Catalogue::parse(path, &text)
    }

    /// As [`Catalogue::load`], for text already read from `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Catalogue, Vec<Problem>> {
        let file = load::parse(path, text)?;
        if file.replace {
            return Ok(Catalogue::from_products(file.products, &[]));
        }
        let mut products = Catalogue::builtin().products;
        let mut mine = Vec::new();
        for p in file.products {
            mine.push(p.id.clone());
            match products.iter_mut().find(|b| b.id == p.id) {
                Some(slot) => *slot = p,
                None => products.push(p),
            }
        }
        Ok(Catalogue::from_products(products, &mine))
    }

    /// Builds the indexes. A name listed by two products goes to the one indexed last: the
    /// products whose id is in `last` (a configured file's) come after all others.
    fn from_products(products: Vec<Product>, last: &[String]) -> Catalogue {
        let mut c = Catalogue {
            has_ja4: products.iter().any(|p| !p.ja4.is_empty()),
            ..Catalogue::default()
        };
        let (theirs, ours): (Vec<_>, Vec<_>) = products
            .iter()
            .enumerate()
            .partition(|(_, p)| !last.contains(&p.id));
        for (i, p) in theirs.into_iter().chain(ours) {
            for (r, rule) in p.sni.iter().enumerate() {
                c.sni.insert(rule, i, r);
            }
            for (r, rule) in p.dns.iter().enumerate() {
                c.dns.insert(rule, i, r);
            }
            for (r, rule) in p.cert.iter().enumerate() {
                if let CertRule::Name(d) = rule {
                    c.cert.insert(d, i, r);
                }
            }
        }
        c.products = products;
        c
    }

    /// Every product, in file order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// The product with this id.
    pub fn get(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// Number of products.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the catalogue has no product.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
}

#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;
