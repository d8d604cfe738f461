//! Reading alerts back: filters and keyset pagination.

use crate::alert::Severity;
use crate::detect::Kind;
use crate::ts::Ts;

/// Largest page a query returns.
pub const PAGE_MAX: usize = 10_000;

/// Which alerts to read, oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// At or after this time.
    pub since: Option<Ts>,
    /// Before this time.
    pub until: Option<Ts>,
    /// Only this contractor.
    pub contractor: Option<String>,
    /// Only this kind.
    pub kind: Option<Kind>,
    /// Only this family.
    pub family: Option<String>,
    /// At least this severity.
    pub min_severity: Option<Severity>,
    /// Continue after this position (from [`StoredAlert::cursor`]).
    pub after: Option<(u64, String)>,
    /// At most this many (capped at [`PAGE_MAX`]; 0 means the cap).
    pub limit: usize,
}

/// One stored alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAlert {
    /// Insertion order.
    pub seq: i64,
    /// Alert id.
    pub id: String,
    /// Alert time, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// The alert exactly as it was reported (one JSON object).
    pub record: String,
    /// The sensor that reported it.
    pub sensor: String,
}

impl StoredAlert {
    /// The position after this alert, for [`Filter::after`].
    pub fn cursor(&self) -> String {
        format!("{}-{}", self.ts_ns, self.id)
    }
}

/// Parses a cursor made by [`StoredAlert::cursor`].
pub fn parse_cursor(s: &str) -> Option<(u64, String)> {
    let (ts, id) = s.split_once('-')?;
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some((ts.parse().ok()?, id.to_owned()))
}

/// A bound value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Param {
    /// An integer.
    Int(i64),
    /// A string.
    Text(String),
}

/// The `SELECT` for `f` with `?` placeholders and its parameters, in order. Both backends run it
/// (PostgreSQL after numbering the placeholders).
pub(super) fn select(f: &Filter) -> (String, Vec<Param>) {
    let mut sql = String::from("SELECT seq, id, ts_ns, record, sensor FROM alerts WHERE 1 = 1");
    let mut args: Vec<Param> = Vec::new();
    let ns = |t: Ts| Param::Int(i64::try_from(t.0).unwrap_or(i64::MAX));
    if let Some(t) = f.since {
        sql.push_str(" AND ts_ns >= ?");
        args.push(ns(t));
    }
    if let Some(t) = f.until {
        sql.push_str(" AND ts_ns < ?");
        args.push(ns(t));
    }
    if let Some(c) = &f.contractor {
        sql.push_str(" AND contractor = ?");
        args.push(Param::Text(c.clone()));
    }
    if let Some(k) = f.kind {
        sql.push_str(" AND kind = ?");
        args.push(Param::Text(k.as_str().to_owned()));
    }
    if let Some(fam) = &f.family {
        sql.push_str(" AND family = ?");
        args.push(Param::Text(fam.clone()));
    }
    if let Some(min) = f.min_severity {
        let allowed: Vec<&str> = Severity::ALL
            .iter()
            .filter(|s| **s >= min)
            .map(|s| s.as_str())
            .collect();
        sql.push_str(&format!(
            " AND severity IN ({})",
            vec!["?"; allowed.len()].join(", ")
        ));
        args.extend(allowed.into_iter().map(|s| Param::Text(s.to_owned())));
    }
    if let Some((ts, id)) = &f.after {
        sql.push_str(" AND (ts_ns > ? OR (ts_ns = ? AND id > ?))");
        let t = ns(Ts(*ts));
        args.extend([t.clone(), t, Param::Text(id.clone())]);
    }
    let limit = if f.limit == 0 {
        PAGE_MAX
    } else {
        f.limit.min(PAGE_MAX)
    };
    sql.push_str(" ORDER BY ts_ns, id LIMIT ?");
    args.push(Param::Int(i64::try_from(limit).unwrap_or(1)));
    (sql, args)
}
