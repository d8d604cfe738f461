//! DNS suffix rules and the index that finds the rule for a name.
//!
//! A rule `example.com` matches `example.com` and every name below it; `*.example.com` only the
//! names below it. Matching is on label boundaries (RFC 1034 §3.1: a name is a sequence of
//! labels; a suffix of the text that starts inside a label is not a domain of it), so
//! `evilexample.com` never matches `example.com`. Names compared are lower case (DNS names are
//! case-insensitive, RFC 4343 §2); the TLS parser and the name cache already lower-case theirs.
//!
//! Lookup walks the name's suffixes from the longest to the shortest (at most 127 for a
//! 253-character name) and stops at the first listed one, so the most specific rule wins. It
//! never allocates.

use std::collections::HashMap;

/// Longest DNS name in text form (RFC 1035 §2.3.4).
pub(super) const NAME_MAX: usize = 253;
/// Longest label (RFC 1035 §2.3.4).
const LABEL_MAX: usize = 63;
/// Fewest labels in a rule: a bare top-level domain would match half the Internet.
const RULE_LABELS_MIN: usize = 2;
/// The prefix that restricts a rule to names strictly below its suffix.
const SUBDOMAINS_ONLY: &str = "*.";

/// One DNS suffix rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct DomainRule {
    /// The suffix, lower case, without the `*.` prefix.
    suffix: String,
    /// Whether the suffix itself is excluded (`*.` was written).
    subdomains_only: bool,
}

impl DomainRule {
    /// Parses `example.com` or `*.example.com`.
    pub(super) fn parse(s: &str) -> Result<DomainRule, String> {
        let (subdomains_only, rest) = match s.strip_prefix(SUBDOMAINS_ONLY) {
            Some(r) => (true, r),
            None => (false, s),
        };
        let suffix = rest.to_ascii_lowercase();
        if suffix.is_empty() || suffix.len() > NAME_MAX {
            return Err(format!(
                "{s:?} is not a DNS name (1 to {NAME_MAX} characters)"
            ));
        }
        let labels: Vec<&str> = suffix.split('.').collect();
        let label_ok = |l: &&str| {
            (1..=LABEL_MAX).contains(&l.len())
                && l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        };
        if !labels.iter().all(label_ok) {
            return Err(format!(
                "{s:?} is not a DNS name: labels are 1 to {LABEL_MAX} letters, digits, '-' or '_' \
                 separated by single dots (a leading \"*.\" is the only wildcard)"
            ));
        }
        if labels.len() < RULE_LABELS_MIN {
            return Err(format!(
                "{s:?} has a single label; a suffix needs at least {RULE_LABELS_MIN} \
                 (e.g. \"example.com\")"
            ));
        }
        Ok(DomainRule {
            suffix,
            subdomains_only,
        })
    }

    /// The suffix the index is keyed by.
    pub(super) fn suffix(&self) -> &str {
        &self.suffix
    }
}

impl std::fmt::Display for DomainRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.subdomains_only {
            f.write_str(SUBDOMAINS_ONLY)?;
        }
        f.write_str(&self.suffix)
    }
}

/// `s` as a lower-case DNS host name (labels of letters, digits, '-' and '_', 1..=63
/// characters, at most [`NAME_MAX`] in all, one trailing dot allowed), or `None`.
pub(super) fn host_name(s: &str) -> Option<String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    let ok = !s.is_empty()
        && s.len() <= NAME_MAX
        && s.split('.').all(|l| {
            (1..=LABEL_MAX).contains(&l.len())
                && l.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        });
    ok.then(|| s.to_ascii_lowercase())
}

/// Which product and which of its rules a name matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NameHit {
    /// Index of the product in the catalogue.
    pub(super) product: usize,
    /// Index of the rule in the product's list.
    pub(super) rule: usize,
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    hit: NameHit,
    subdomains_only: bool,
}

/// Suffix → rule, for one matcher list (SNI, DNS or certificate names).
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    // Hashed with foldhash rather than SipHash: every suffix of every name a flow shows is
    // looked up, and the keys are the catalogue's own, fixed when it is loaded, so the
    // flooding SipHash guards against cannot happen here.
    map: HashMap<Box<str>, Entry, foldhash::fast::RandomState>,
}

impl NameIndex {
    /// Adds `rule` of product `product`; a suffix already present is taken over.
    pub(super) fn insert(&mut self, rule: &DomainRule, product: usize, rule_idx: usize) {
        self.map.insert(
            rule.suffix.as_str().into(),
            Entry {
                hit: NameHit {
                    product,
                    rule: rule_idx,
                },
                subdomains_only: rule.subdomains_only,
            },
        );
    }

    /// The most specific rule matching `name` (lower case, no trailing dot).
    pub(super) fn lookup(&self, name: &str) -> Option<NameHit> {
        if self.map.is_empty() || name.len() > NAME_MAX {
            return None;
        }
        let mut rest = name;
        let mut whole = true;
        loop {
            if let Some(e) = self.map.get(rest) {
                if !(whole && e.subdomains_only) {
                    return Some(e.hit);
                }
            }
            let (_, shorter) = rest.split_once('.')?;
            rest = shorter;
            whole = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(rules: &[&str]) -> NameIndex {
        let mut ix = NameIndex::default();
        for (i, r) in rules.iter().enumerate() {
            ix.insert(&DomainRule::parse(r).unwrap(), i, 0);
        }
        ix
    }

    #[test]
    fn suffixes_match_on_label_boundaries_only() {
        let ix = index(&["anydesk.com"]);
        assert!(ix.lookup("anydesk.com").is_some());
        assert!(ix.lookup("relay-7c1.net.anydesk.com").is_some());
        assert_eq!(ix.lookup("evilanydesk.com"), None);
        assert_eq!(ix.lookup("anydesk.com.evil.example"), None);
        assert_eq!(ix.lookup("nydesk.com"), None);
        assert_eq!(ix.lookup("com"), None);
        assert_eq!(ix.lookup(""), None);
    }

    #[test]
    fn wildcard_rules_exclude_the_suffix_itself() {
        let ix = index(&["*.tunnelbear.com"]);
        assert_eq!(ix.lookup("tunnelbear.com"), None);
        assert!(ix.lookup("api.tunnelbear.com").is_some());
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let ix = index(&["example.com", "net.example.com"]);
        assert_eq!(ix.lookup("a.net.example.com").unwrap().product, 1);
        assert_eq!(ix.lookup("www.example.com").unwrap().product, 0);
    }

    #[test]
    fn rules_are_validated_and_lower_cased() {
        let r = DomainRule::parse("Net.AnyDesk.COM").unwrap();
        assert_eq!(r.suffix(), "net.anydesk.com");
        assert_eq!(r.to_string(), "net.anydesk.com");
        assert_eq!(
            DomainRule::parse("*.x.example").unwrap().to_string(),
            "*.x.example"
        );
        for bad in [
            "", "com", "*.com", "a..b", ".a.b", "a.b.", "a b.com", "*x.com", "a.*.com", "café.fr",
        ] {
            assert!(DomainRule::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(DomainRule::parse(&long).is_err());
    }

    #[test]
    fn host_names() {
        assert_eq!(
            host_name("Relay.Example.COM."),
            Some("relay.example.com".into())
        );
        assert_eq!(
            host_name("_srv.a-b.example"),
            Some("_srv.a-b.example".into())
        );
        for bad in ["", ".", "a..b", "a b", "[2001:db8::1]", "caf\u{e9}.fr"] {
            assert_eq!(host_name(bad), None, "{bad:?}");
        }
        assert_eq!(host_name(&"a".repeat(64)), None);
    }

    #[test]
    fn over_long_names_are_not_looked_up() {
        let ix = index(&["example.com"]);
        let long = format!("{}.example.com", "a.".repeat(200));
        assert_eq!(ix.lookup(&long), None);
    }
}
