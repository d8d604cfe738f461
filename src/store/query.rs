//! Reading alerts back: filters and keyset pagination.

use super::{Store, StoreError};
use crate::alert::Severity;
use crate::detect::Kind;
use crate::ts::Ts;
use rusqlite::types::Value;

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

impl Store {
    /// Alerts matching `f`, ordered by time then id.
    pub fn query(&self, f: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        let mut sql = String::from("SELECT seq, id, ts_ns, record, sensor FROM alerts WHERE 1 = 1");
        let mut args: Vec<Value> = Vec::new();
        let ns = |t: Ts| Value::Integer(i64::try_from(t.0).unwrap_or(i64::MAX));
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
            args.push(Value::Text(c.clone()));
        }
        if let Some(k) = f.kind {
            sql.push_str(" AND kind = ?");
            args.push(Value::Text(k.as_str().to_owned()));
        }
        if let Some(fam) = &f.family {
            sql.push_str(" AND family = ?");
            args.push(Value::Text(fam.clone()));
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
            args.extend(allowed.into_iter().map(|s| Value::Text(s.to_owned())));
        }
        if let Some((ts, id)) = &f.after {
            sql.push_str(" AND (ts_ns > ? OR (ts_ns = ? AND id > ?))");
            let t = ns(Ts(*ts));
            args.extend([t.clone(), t, Value::Text(id.clone())]);
        }
        let limit = if f.limit == 0 {
            PAGE_MAX
        } else {
            f.limit.min(PAGE_MAX)
        };
        sql.push_str(" ORDER BY ts_ns, id LIMIT ?");
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(1)));
        let mut st = self.conn.prepare(&sql)?;
        let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
            Ok(StoredAlert {
                seq: r.get(0)?,
                id: r.get(1)?,
                ts_ns: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                record: r.get(3)?,
                sensor: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
