//! Store: the durable record of every alert the sensor reported.
//!
//! Embedded SQLite in WAL mode with `synchronous = FULL`: an alert is committed to disk before it
//! is counted in metrics or written to JSON Lines, so a crash (or `kill -9`) never loses an alert
//! that was reported. Alert ids are the primary key: the same activity re-reported after a restart
//! (same identity, same dedup window) is recognised and not reported twice.
//!
//! Each row also carries a hash chain (`chain = SHA-256(previous chain ‖ record)`) so that edits to
//! or deletions from the table can be detected by [`Store::verify_chain`].
//!
//! The schema is versioned with SQLite's `user_version`; [`Store::open`] applies migrations in
//! order and refuses a database newer than this binary.

mod query;

pub use query::{parse_cursor, Filter, StoredAlert, PAGE_MAX};

use crate::alert::Alert;
use crate::detect::Kind;
use crate::ts::Ts;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Schema version this binary writes.
pub const SCHEMA_VERSION: i64 = 2;

/// Chain value before the first record.
pub const CHAIN_SEED: &str = "remotewatch-store-chain-v1";

/// Migrations, index i brings the schema from version i to i + 1.
const MIGRATIONS: [&str; 2] = [
    r"
CREATE TABLE alerts (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    ts          TEXT NOT NULL,
    ts_ns       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    family      TEXT NOT NULL,
    provider    TEXT,
    severity    TEXT NOT NULL,
    confidence  TEXT NOT NULL,
    endpoint    TEXT NOT NULL,
    contractor  TEXT,
    peer        TEXT NOT NULL,
    sensor      TEXT NOT NULL,
    record      TEXT NOT NULL,
    chain       TEXT NOT NULL
);
CREATE INDEX alerts_by_time ON alerts (ts_ns, id);
CREATE INDEX alerts_by_contractor ON alerts (contractor, ts_ns);
",
    // v2: whether the alert reached the JSON Lines log. Rows from v1 were written before the log.
    r"
ALTER TABLE alerts ADD COLUMN delivered INTEGER NOT NULL DEFAULT 1;
CREATE INDEX alerts_undelivered ON alerts (delivered) WHERE delivered = 0;
",
];

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or created.
    #[error("alert store {path}: {reason}")]
    Open {
        /// Database file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The database was written by a newer remotewatch.
    #[error("alert store {path}: schema version {found} is newer than this binary supports ({SCHEMA_VERSION})")]
    TooNew {
        /// Database file.
        path: PathBuf,
        /// Version found.
        found: i64,
    },
    /// A query failed.
    #[error("alert store: {0}")]
    Sql(#[from] rusqlite::Error),
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
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) the store at `path` for writing and brings its schema up to
    /// date. New files are made readable by owner and group only.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let existed = path.exists();
        let conn = Connection::open(path).map_err(|e| open_err(&e))?;
        if !existed {
            restrict_permissions(path);
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| open_err(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| open_err(&e))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| open_err(&e))?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens an existing store read-only (queries, exports).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Open {
                path: path.to_owned(),
                reason: "no such database file".into(),
            });
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| StoreError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let store = Store {
            conn,
            path: path.to_owned(),
        };
        let v = store.version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: v,
            });
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
            });
        }
        let from = usize::try_from(found).unwrap_or(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(from) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(
                None,
                "user_version",
                i64::try_from(i + 1).unwrap_or(i64::MAX),
            )?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Stores `alert` reported by sensor `sensor`. Returns false when an alert with the same id is
    /// already stored (nothing is written then).
    pub fn insert(&mut self, alert: &Alert, sensor: &str) -> Result<bool, StoreError> {
        let record = alert.to_json();
        let tx = self.conn.transaction()?;
        let known: Option<i64> = tx
            .query_row("SELECT seq FROM alerts WHERE id = ?1", [&alert.id], |r| {
                r.get(0)
            })
            .optional()?;
        if known.is_some() {
            return Ok(false);
        }
        let prev: String = tx
            .query_row(
                "SELECT chain FROM alerts ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_else(|| CHAIN_SEED.to_owned());
        let chain = chain_next(&prev, &record);
        tx.execute(
            "INSERT INTO alerts (id, ts, ts_ns, kind, family, provider, severity, confidence, \
             endpoint, contractor, peer, sensor, record, chain, delivered) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)",
            params![
                alert.id,
                alert.ts.rfc3339(),
                i64::try_from(alert.ts.0).unwrap_or(i64::MAX),
                alert.kind.as_str(),
                alert.family.as_ref(),
                alert.provider.as_deref(),
                alert.severity.as_str(),
                alert.confidence.as_str(),
                alert.endpoint.to_string(),
                alert.contractor.as_deref(),
                alert.peer.to_string(),
                sensor,
                record,
                chain,
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Records that the alert `id` reached every output.
    pub fn mark_delivered(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE alerts SET delivered = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Alerts stored but not yet delivered to the outputs (the process stopped in between), in
    /// insertion order: (id, record).
    pub fn undelivered(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT id, record FROM alerts WHERE delivered = 0 ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// (time, contractor, kind) of every alert at or after `since`, oldest first: used to rebuild
    /// the active-alert gauges after a restart.
    pub fn recent(&self, since: Ts) -> Result<Vec<(Ts, Option<String>, Kind)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT ts_ns, contractor, kind FROM alerts WHERE ts_ns >= ?1 ORDER BY ts_ns",
        )?;
        let rows = st.query_map([i64::try_from(since.0).unwrap_or(i64::MAX)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (ts, contractor, kind) = row?;
            if let Some(k) = Kind::ALL.into_iter().find(|k| k.as_str() == kind) {
                out.push((Ts(u64::try_from(ts).unwrap_or(0)), contractor, k));
            }
        }
        Ok(out)
    }

    /// Every alert in `[from, to)` of alert time, oldest first (for exports: no page limit).
    pub fn period(&self, from: Ts, to: Ts) -> Result<Vec<StoredAlert>, StoreError> {
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
    pub fn verify_chain(&self) -> Result<ChainCheck, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, id, record, chain FROM alerts ORDER BY seq")?;
        let mut rows = st.query([])?;
        let mut head = CHAIN_SEED.to_owned();
        let mut n = 0u64;
        while let Some(r) = rows.next()? {
            let (seq, id, record, chain): (i64, String, String, String) =
                (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            let expect = chain_next(&head, &record);
            if expect != chain {
                return Ok(ChainCheck::Broken { seq, id });
            }
            head = chain;
            n += 1;
        }
        Ok(ChainCheck::Intact { rows: n, head })
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
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Alerts name people and addresses: owner and group only.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}

#[cfg(test)]
mod tests;
