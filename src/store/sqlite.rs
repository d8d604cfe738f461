//! The SQLite backend.

use super::query::{select, Param};
use super::{Filter, Row, StoreError, StoredAlert, SCHEMA_VERSION};
use crate::alert::Alert;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::{Path, PathBuf};

/// Migrations, index i brings the schema from version i to i + 1.
pub(super) const MIGRATIONS: [&str; 2] = [
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

/// An SQLite alert store.
pub struct Sqlite {
    pub(super) conn: Connection,
    path: PathBuf,
}

impl Sqlite {
    /// Opens (creating if needed) `path` for writing and migrates it. New files are made readable
    /// by owner and group only.
    pub(super) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        let open_err = |e: &dyn std::fmt::Display| StoreError::Open {
            what: path.display().to_string(),
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
        let mut s = Sqlite {
            conn,
            path: path.to_owned(),
        };
        s.migrate()?;
        Ok(s)
    }

    /// Opens an existing `path` read-only.
    pub(super) fn open_read_only(path: &Path) -> Result<Sqlite, StoreError> {
        let open_err = |reason: String| StoreError::Open {
            what: path.display().to_string(),
            reason,
        };
        if !path.is_file() {
            return Err(open_err("no such database file".into()));
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| open_err(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let s = Sqlite {
            conn,
            path: path.to_owned(),
        };
        let v = s.version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                what: path.display().to_string(),
                found: v,
            });
        }
        Ok(s)
    }

    pub(super) fn version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                what: self.path.display().to_string(),
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

    pub(super) fn insert(&mut self, alert: &Alert, sensor: &str) -> Result<bool, StoreError> {
        let r = Row::of(alert, sensor);
        let tx = self.conn.transaction()?;
        let known: Option<i64> = tx
            .query_row("SELECT seq FROM alerts WHERE id = ?1", [r.id], |x| x.get(0))
            .optional()?;
        if known.is_some() {
            return Ok(false);
        }
        let prev: String = tx
            .query_row(
                "SELECT chain FROM alerts ORDER BY seq DESC LIMIT 1",
                [],
                |x| x.get(0),
            )
            .optional()?
            .unwrap_or_else(|| super::CHAIN_SEED.to_owned());
        let chain = super::chain_next(&prev, &r.record);
        tx.execute(
            "INSERT INTO alerts (id, ts, ts_ns, kind, family, provider, severity, confidence, \
             endpoint, contractor, peer, sensor, record, chain, delivered) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, 0)",
            params![
                r.id,
                r.ts,
                r.ts_ns,
                r.kind,
                r.family,
                r.provider,
                r.severity,
                r.confidence,
                r.endpoint,
                r.contractor,
                r.peer,
                r.sensor,
                r.record,
                chain,
            ],
        )?;
        tx.commit()?;
        Ok(true)
    }

    pub(super) fn mark_delivered(&mut self, id: &str) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE alerts SET delivered = 1 WHERE id = ?1", [id])?;
        Ok(())
    }

    pub(super) fn undelivered(
        &mut self,
        sensor: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self.conn.prepare(
            "SELECT id, record FROM alerts WHERE delivered = 0 AND sensor = ?1 ORDER BY seq",
        )?;
        let rows = st.query_map([sensor], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    pub(super) fn query(&mut self, f: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        let (sql, args) = select(f);
        let args: Vec<Value> = args
            .into_iter()
            .map(|a| match a {
                Param::Int(i) => Value::Integer(i),
                Param::Text(t) => Value::Text(t),
            })
            .collect();
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

    pub(super) fn chain_rows(&mut self) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT seq, id, record, chain FROM alerts ORDER BY seq")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Alerts name people and addresses: owner and group only.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o640));
}

#[cfg(not(unix))]
fn restrict_permissions(_path: &Path) {}
