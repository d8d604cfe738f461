//! Reading and validating a catalogue file (format documented at the top of
//! `catalogue/products.toml`).
//!
//! The TOML is read into a mirror with spans (`toml::Spanned`), then every value is checked and
//! every problem collected with its line and column, as the configuration loader does. A TOML
//! syntax error, a wrong type or an unknown key stops parsing at that point (the parser cannot
//! go on); value-level problems (bad kind, bad hex, duplicate id, a product with no matcher, a
//! list without a source) are all reported at once. A product with any problem is left out.

use super::fields::{alpn, cert_rule, ident, ja4, kind, port_range, text, transport};
use super::names::DomainRule;
use super::pattern::{parse_len, Masked, Pattern, PatternDir, OFFSET_MAX};
use super::{CertRule, Matcher, Product, Source};
use crate::config::{read_bounded, Problem, Problems};
use crate::detect::Kind;
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use toml::Spanned;

type S<T> = Spanned<T>;

/// Largest catalogue file accepted (a catalogue is text, not data).
pub(super) const CATALOGUE_BYTES_MAX: u64 = 4 << 20;
/// Most products in one file.
const PRODUCTS_MAX: usize = 1024;
/// Most entries in one matcher list of a product.
const RULES_MAX: usize = 256;
/// Longest product name and pattern name.
const NAME_TEXT_MAX: usize = 80;
/// Longest citation.
pub(super) const CITE_MAX: usize = 240;

/// A file as validated: its mode and its products.
pub(super) struct File {
    /// `mode = "replace"`: the file is the whole catalogue.
    pub(super) replace: bool,
    /// The valid products, in file order.
    pub(super) products: Vec<Product>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    mode: Option<S<String>>,
    #[serde(default)]
    product: Vec<S<RawProduct>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    id: Option<S<String>>,
    name: Option<S<String>>,
    kind: Option<S<String>>,
    provider: Option<S<String>>,
    #[serde(default)]
    sni: Vec<S<String>>,
    #[serde(default)]
    dns: Vec<S<String>>,
    #[serde(default)]
    cert: Vec<S<String>>,
    #[serde(default)]
    alpn: Vec<S<String>>,
    #[serde(default)]
    ja4: Vec<S<String>>,
    #[serde(default)]
    ports: Vec<S<String>>,
    #[serde(default)]
    patterns: Vec<S<RawPattern>>,
    #[serde(default)]
    sources: Vec<S<RawSource>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    name: Option<S<String>>,
    proto: Option<S<String>>,
    dir: Option<S<String>>,
    offset: Option<S<i64>>,
    hex: Option<S<String>>,
    mask: Option<S<String>>,
    suffix: Option<S<String>>,
    len: Option<S<String>>,
    port: Option<S<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    #[serde(default)]
    covers: Vec<S<String>>,
    cite: Option<S<String>>,
}

/// Reads `path`, bounded by [`CATALOGUE_BYTES_MAX`].
pub(super) fn read(path: &Path) -> Result<String, Vec<Problem>> {
    read_bounded(path, CATALOGUE_BYTES_MAX, "catalogue").map_err(|p| vec![p])
}

/// Validates catalogue text read from `path`.
pub(super) fn parse(path: &Path, text: &str) -> Result<File, Vec<Problem>> {
    let mut pr = Problems::new(path, text);
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            pr.at(
                e.span().map_or(0, |s| s.start),
                e.message().trim().to_owned(),
            );
            return Err(pr.list);
        }
    };
    let replace = match raw
        .mode
        .as_ref()
        .map(|m| (m.span().start, m.get_ref().as_str()))
    {
        None | Some((_, "extend")) => false,
        Some((_, "replace")) => true,
        Some((at, other)) => {
            pr.at(
                at,
                format!("mode = {other:?}: expected \"extend\" or \"replace\""),
            );
            false
        }
    };
    if raw.product.len() > PRODUCTS_MAX {
        pr.at(
            0,
            format!(
                "{} products; a catalogue holds at most {PRODUCTS_MAX}",
                raw.product.len()
            ),
        );
        return Err(pr.list);
    }
    let mut products = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut names: HashMap<(Matcher, String), String> = HashMap::new();
    for rp in &raw.product {
        let before = pr.list.len();
        let p = product(rp, &mut pr);
        if let Some(p) = p.filter(|_| pr.list.len() == before) {
            let id_at = rp
                .get_ref()
                .id
                .as_ref()
                .map_or(rp.span().start, |i| i.span().start);
            if !ids.insert(p.id.clone()) {
                pr.at(id_at, format!("product id {:?} is listed twice", p.id));
                continue;
            }
            if unique_names(&p, rp.get_ref(), &mut names, &mut pr) {
                products.push(p);
            }
        }
    }
    if pr.list.is_empty() {
        Ok(File { replace, products })
    } else {
        Err(pr.list)
    }
}

/// Records `p`'s SNI, DNS and certificate suffixes; a suffix another product of this file
/// already lists is a problem (which product would it be?).
fn unique_names(
    p: &Product,
    raw: &RawProduct,
    seen: &mut HashMap<(Matcher, String), String>,
    pr: &mut Problems<'_>,
) -> bool {
    let mut ok = true;
    let cert_names = p.cert.iter().map(|c| match c {
        CertRule::Name(d) => Some(d),
        CertRule::Attrs { .. } => None,
    });
    let lists = [
        (
            Matcher::Sni,
            p.sni.iter().map(Some).collect::<Vec<_>>(),
            &raw.sni,
        ),
        (Matcher::Dns, p.dns.iter().map(Some).collect(), &raw.dns),
        (Matcher::Cert, cert_names.collect(), &raw.cert),
    ];
    for (m, rules, raw_list) in lists {
        for (rule, at) in rules.iter().zip(raw_list) {
            let Some(rule) = rule else { continue };
            let key = (m, rule.suffix().to_owned());
            if let Some(other) = seen.get(&key).filter(|o| **o != p.id) {
                pr.at(
                    at.span().start,
                    format!(
                        "{} suffix {:?} is already listed by product {other:?}",
                        m.as_str(),
                        rule.suffix()
                    ),
                );
                ok = false;
            } else {
                seen.insert(key, p.id.clone());
            }
        }
    }
    ok
}

/// Validates one `[[product]]`.
fn product(sp: &S<RawProduct>, pr: &mut Problems<'_>) -> Option<Product> {
    let at = sp.span().start;
    let r = sp.get_ref();
    let id =
        required(pr, at, "id", &r.id).and_then(|s| pr.take(s.span().start, ident(s.get_ref())));
    let name = required(pr, at, "name", &r.name)
        .and_then(|s| pr.take(s.span().start, text("name", s.get_ref(), NAME_TEXT_MAX)));
    let kind =
        required(pr, at, "kind", &r.kind).and_then(|s| pr.take(s.span().start, kind(s.get_ref())));
    let provider = r
        .provider
        .as_ref()
        .and_then(|s| pr.take(s.span().start, ident(s.get_ref())));
    let p = Product {
        id: id.unwrap_or_default(),
        name: name.unwrap_or_default(),
        kind: kind.unwrap_or(Kind::RemoteAccess),
        provider,
        sni: list(pr, &r.sni, DomainRule::parse),
        dns: list(pr, &r.dns, DomainRule::parse),
        cert: list(pr, &r.cert, cert_rule),
        alpn: list(pr, &r.alpn, alpn),
        ja4: list(pr, &r.ja4, ja4),
        ports: list(pr, &r.ports, port_range),
        patterns: r.patterns.iter().filter_map(|p| pattern(p, pr)).collect(),
        sources: r.sources.iter().filter_map(|s| source(s, pr)).collect(),
    };
    let shown = if p.id.is_empty() { "product" } else { &p.id };
    if !(p.uses(Matcher::Sni)
        || p.uses(Matcher::Dns)
        || p.uses(Matcher::Cert)
        || p.uses(Matcher::Alpn)
        || p.uses(Matcher::Ja4)
        || p.uses(Matcher::Patterns))
    {
        pr.at(
            at,
            format!(
                "{shown} has no matcher: give at least one of sni, dns, cert, alpn, ja4, patterns \
                 (ports alone never identify a product)"
            ),
        );
    }
    for m in Matcher::ALL {
        if p.uses(m) && !p.sources.iter().any(|s| s.covers.contains(&m)) {
            pr.at(
                at,
                format!(
                    "{shown} lists {} without a source: add a [[product.sources]] \
                     that covers \"{}\"",
                    m.as_str(),
                    m.as_str()
                ),
            );
        }
    }
    if r.patterns.len() > RULES_MAX {
        pr.at(at, format!("{shown} has more than {RULES_MAX} patterns"));
    }
    Some(p)
}

/// The value of a required key, or a problem at the table.
fn required<'a, T>(
    pr: &mut Problems<'_>,
    at: usize,
    key: &str,
    v: &'a Option<S<T>>,
) -> Option<&'a S<T>> {
    if v.is_none() {
        pr.at(at, format!("missing required key {key:?}"));
    }
    v.as_ref()
}

/// Validates each entry of a list with `f`, keeping the valid ones.
fn list<T>(
    pr: &mut Problems<'_>,
    raw: &[S<String>],
    f: impl Fn(&str) -> Result<T, String>,
) -> Vec<T> {
    if let Some(extra) = raw.get(RULES_MAX) {
        pr.at(
            extra.span().start,
            format!("more than {RULES_MAX} entries in one list"),
        );
    }
    raw.iter()
        .take(RULES_MAX)
        .filter_map(|s| pr.take(s.span().start, f(s.get_ref())))
        .collect()
}

/// Validates one `[[product.patterns]]`.
fn pattern(sp: &S<RawPattern>, pr: &mut Problems<'_>) -> Option<Pattern> {
    let at = sp.span().start;
    let r = sp.get_ref();
    let before = pr.list.len();
    let name = required(pr, at, "name", &r.name).and_then(|s| {
        pr.take(
            s.span().start,
            text("pattern name", s.get_ref(), NAME_TEXT_MAX),
        )
    });
    let proto = required(pr, at, "proto", &r.proto)
        .and_then(|s| pr.take(s.span().start, transport(s.get_ref())));
    let dir = required(pr, at, "dir", &r.dir).and_then(|s| {
        let d = match s.get_ref().as_str() {
            "to_server" => Ok(PatternDir::ToServer),
            "to_client" => Ok(PatternDir::ToClient),
            "either" => Ok(PatternDir::Either),
            other => Err(format!(
                "dir = {other:?}: expected \"to_server\", \"to_client\" or \"either\""
            )),
        };
        pr.take(s.span().start, d)
    });
    let offset = r.offset.as_ref().map_or(Some(0), |o| {
        let v = *o.get_ref();
        let r = if (-OFFSET_MAX..=OFFSET_MAX).contains(&v) {
            Ok(v)
        } else {
            Err(format!(
                "offset {v} is outside -{OFFSET_MAX}..={OFFSET_MAX}"
            ))
        };
        pr.take(o.span().start, r)
    });
    let mut head = required(pr, at, "hex", &r.hex)
        .and_then(|s| pr.take(s.span().start, Masked::parse(s.get_ref())));
    if let (Some(h), Some(m)) = (head.clone(), r.mask.as_ref()) {
        let narrowed = Masked::parse(m.get_ref()).and_then(|mask| h.with_mask(&mask));
        head = pr.take(m.span().start, narrowed);
    }
    let suffix = r.suffix.as_ref().map_or(Some(Masked::default()), |s| {
        pr.take(s.span().start, Masked::parse(s.get_ref()))
    });
    let len = r
        .len
        .as_ref()
        .map(|l| pr.take(l.span().start, parse_len(l.get_ref())));
    let port = r.port.as_ref().map(|p| {
        let v = *p.get_ref();
        let r = u16::try_from(v)
            .ok()
            .filter(|&x| x > 0)
            .ok_or_else(|| format!("port {v} is outside 1..=65535"));
        pr.take(p.span().start, r)
    });
    if head.as_ref().is_some_and(|h| h.bits() == 0) {
        pr.at(
            at,
            "pattern compares no bit (hex is all \"??\" or masked out)",
        );
    }
    if pr.list.len() > before {
        return None;
    }
    Some(Pattern {
        name: name?,
        proto: proto?,
        dir: dir?,
        offset: offset?,
        head: head?,
        suffix: suffix?,
        len: len.flatten(),
        port: port.flatten(),
    })
}

/// Validates one `[[product.sources]]`.
fn source(sp: &S<RawSource>, pr: &mut Problems<'_>) -> Option<Source> {
    let at = sp.span().start;
    let r = sp.get_ref();
    let cite = required(pr, at, "cite", &r.cite)
        .and_then(|s| pr.take(s.span().start, text("cite", s.get_ref(), CITE_MAX)));
    if r.covers.is_empty() {
        pr.at(
            at,
            "source covers nothing: list the matchers it backs in covers",
        );
    }
    let mut covers = Vec::new();
    for c in &r.covers {
        match Matcher::ALL.into_iter().find(|m| m.as_str() == c.get_ref()) {
            Some(m) => covers.push(m),
            None => pr.at(
                c.span().start,
                format!(
                    "covers {:?}: expected sni, dns, cert, alpn, ja4, ports or patterns",
                    c.get_ref()
                ),
            ),
        }
    }
    Some(Source {
        covers,
        cite: cite?,
    })
}
