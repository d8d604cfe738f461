//! Store: the durable record of every alert the sensor reported.
//!
//! Two backends with one schema and one behaviour:
//! - embedded SQLite (default) in WAL mode with `synchronous = FULL`;
//! - PostgreSQL, for many sensors writing to one place.
//!
//! An alert is committed before it is counted in metrics or written to JSON Lines, so a crash (or
//! `kill -9`) never loses an alert that was reported. Alert ids are the primary key: the same
//! activity re-reported after a restart (same identity, same dedup window) is recognised and not
//! reported twice. A `delivered` flag records whether the alert reached the JSON Lines log, so one
//! stored just before a crash is delivered at the next start.
//!
//! Each row carries a hash chain (`chain = SHA-256(previous chain ‖ "\n" ‖ record)`) so that edits
//! to or deletions from the table can be detected by [`Store::verify_chain`]. With several sensors
//! on one PostgreSQL database the chain runs over all of them in commit order (writers serialise on
//! a table lock; alerts are rare, so this costs nothing measurable).
//!
//! The schema is versioned (SQLite `user_version`; a `remotewatch_schema` table in PostgreSQL);
//! opening applies migrations in order and refuses a database newer than this binary.

mod pg;
mod query;
mod sqlite;

pub use query::{parse_cursor, Filter, StoredAlert, PAGE_MAX};

use crate::alert::Alert;
use crate::ts::Ts;
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::PathBuf;

/// Schema version this binary writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Chain value before the first record.
pub const CHAIN_SEED: &str = "remotewatch-store-chain-v1";

/// Where the store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string (`host=… user=… dbname=…` or `postgresql://…`).
    Postgres(String),
}

impl fmt::Display for Location {
    /// The database, without credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(conn) => f.write_str(&pg::describe(conn)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a connection string: it may hold a password.
        write!(f, "Location({self})")
    }
}

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("alert store {what}: {reason}")]
    Open {
        /// The database (no credentials).
        what: String,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer remotewatch.
    #[error("alert store {what}: schema version {found} is newer than this binary supports ({SCHEMA_VERSION})")]
    TooNew {
        /// The database.
        what: String,
        /// Version found.
        found: i64,
    },
    /// An SQLite query failed.
    #[error("alert store: {0}")]
    Sql(#[from] rusqlite::Error),
    /// A PostgreSQL query failed.
    #[error("alert store: {0}")]
    Pg(String),
}

/// Outcome of [`Store::verify_chain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every row's chain value follows from the previous one and its record.
    Intact {
        /// Rows checked.
        rows: u64,
        /// Chain value of the last row (the seed when empty).
        head: String,
    },
    /// The first row whose chain value does not follow.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// Its alert id.
        id: String,
    },
}

/// An open alert store.
pub enum Store {
    /// Embedded SQLite.
    Sqlite(sqlite::Sqlite),
    /// PostgreSQL.
    Postgres(pg::Postgres),
}

macro_rules! both {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e,
            Store::Postgres($s) => $e,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the store for writing and brings its schema up to date.
    pub fn open_at(loc: &Location) -> Result<Store, StoreError> {
        match loc {
            Location::Sqlite(p) => sqlite::Sqlite::open(p).map(Store::Sqlite),
            Location::Postgres(c) => pg::Postgres::open(c).map(Store::Postgres),
        }
    }

    /// Opens an existing store for reading (queries, exports).
    pub fn open_read_only_at(loc: &Location) -> Result<Store, StoreError> {
        match loc {
            Location::Sqlite(p) => sqlite::Sqlite::open_read_only(p).map(Store::Sqlite),
            Location::Postgres(c) => pg::Postgres::open_existing(c).map(Store::Postgres),
        }
    }

    /// Opens (creating if needed) the SQLite store at `path`.
    pub fn open(path: &std::path::Path) -> Result<Store, StoreError> {
        Store::open_at(&Location::Sqlite(path.to_owned()))
    }

    /// Opens an existing SQLite store read-only.
    pub fn open_read_only(path: &std::path::Path) -> Result<Store, StoreError> {
        Store::open_read_only_at(&Location::Sqlite(path.to_owned()))
    }

    /// Stores `alert` reported by sensor `sensor`, undelivered. Returns false when an alert with
    /// the same id is already stored (nothing is written then).
    pub fn insert(&mut self, alert: &Alert, sensor: &str) -> Result<bool, StoreError> {
        both!(self, s => s.insert(alert, sensor))
    }

    /// Records that the alert `id` reached every output.
    pub fn mark_delivered(&mut self, id: &str) -> Result<(), StoreError> {
        both!(self, s => s.mark_delivered(id))
    }

    /// Alerts of `sensor` stored but not yet delivered to the outputs (the process stopped in
    /// between), in insertion order: (id, record).
    pub fn undelivered(&mut self, sensor: &str) -> Result<Vec<(String, String)>, StoreError> {
        both!(self, s => s.undelivered(sensor))
    }

    /// Alerts matching `f`, ordered by time then id.
    pub fn query(&mut self, f: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        both!(self, s => s.query(f))
    }

    /// Every alert in `[from, to)` of alert time, oldest first (for exports: no page limit).
    pub fn period(&mut self, from: Ts, to: Ts) -> Result<Vec<StoredAlert>, StoreError> {
        let mut out = Vec::new();
        let mut f = Filter {
            since: Some(from),
            until: Some(to),
            limit: PAGE_MAX,
            ..Filter::default()
        };
        loop {
            let page = self.query(&f)?;
            let full = page.len() == PAGE_MAX;
            f.after = page.last().map(|r| (r.ts_ns, r.id.clone()));
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Recomputes the hash chain over every row in insertion order.
    pub fn verify_chain(&mut self) -> Result<ChainCheck, StoreError> {
        let rows = both!(self, s => s.chain_rows())?;
        let mut head = CHAIN_SEED.to_owned();
        let mut n = 0u64;
        for (seq, id, record, chain) in rows {
            if chain_next(&head, &record) != chain {
                return Ok(ChainCheck::Broken { seq, id });
            }
            head = chain;
            n += 1;
        }
        Ok(ChainCheck::Intact { rows: n, head })
    }
}

/// The values stored for one alert, shared by both backends.
struct Row<'a> {
    id: &'a str,
    ts: String,
    ts_ns: i64,
    kind: &'static str,
    family: &'a str,
    provider: Option<&'a str>,
    severity: &'static str,
    confidence: &'static str,
    endpoint: String,
    contractor: Option<&'a str>,
    /// Empty for findings without a peer (the column predates them and is NOT NULL).
    peer: String,
    sensor: &'a str,
    record: String,
}

impl<'a> Row<'a> {
    fn of(a: &'a Alert, sensor: &'a str) -> Row<'a> {
        Row {
            id: &a.id,
            ts: a.ts.rfc3339(),
            ts_ns: i64::try_from(a.ts.0).unwrap_or(i64::MAX),
            kind: a.kind.as_str(),
            family: a.family.as_ref(),
            provider: a.provider.as_deref(),
            severity: a.severity.as_str(),
            confidence: a.confidence.as_str(),
            endpoint: a.endpoint.to_string(),
            contractor: a.contractor.as_deref(),
            peer: a.peer.map(|p| p.to_string()).unwrap_or_default(),
            sensor,
            record: a.to_json(),
        }
    }
}

/// The chain value after `record`: SHA-256 over the previous value and the record, hex.
pub fn chain_next(prev: &str, record: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(record.as_bytes());
    hex(&h.finalize())
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    crate::hex::of(bytes)
}

#[cfg(test)]
mod tests;
