//! The PostgreSQL backend: the same schema as SQLite, for many sensors writing to one database.

use super::query::{select, Param};
use super::{Filter, Row, StoreError, StoredAlert, SCHEMA_VERSION};
use crate::alert::Alert;
use postgres::types::ToSql;
use postgres::{Client, NoTls};

/// Key of the advisory lock that serialises schema migrations across sensors starting together.
const MIGRATION_LOCK: i64 = 0x7265_6d6f_7465; // "remote"

/// Migrations, index i brings the schema from version i to i + 1 (same versions as SQLite).
const MIGRATIONS: [&str; 2] = [
    r"
CREATE TABLE alerts (
    seq         BIGSERIAL PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    ts          TEXT NOT NULL,
    ts_ns       BIGINT NOT NULL,
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
    r"
ALTER TABLE alerts ADD COLUMN delivered INTEGER NOT NULL DEFAULT 1;
CREATE INDEX alerts_undelivered ON alerts (delivered) WHERE delivered = 0;
",
];

/// A PostgreSQL alert store.
pub struct Postgres {
    client: Client,
    what: String,
}

/// `postgresql://user@host:port/dbname` of a connection string, without the password.
pub(super) fn describe(conn: &str) -> String {
    let Ok(c) = conn.parse::<postgres::Config>() else {
        return "postgresql (unparsable connection string)".into();
    };
    let host = c
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = c.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgresql://{}@{host}:{port}/{}",
        c.get_user().unwrap_or(""),
        c.get_dbname().unwrap_or("")
    )
}

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Pg(e.to_string())
}

impl Postgres {
    fn connect(conn: &str) -> Result<Postgres, StoreError> {
        let what = describe(conn);
        let client = Client::connect(conn, NoTls).map_err(|e| StoreError::Open {
            what: what.clone(),
            reason: e.to_string(),
        })?;
        Ok(Postgres { client, what })
    }

    /// Connects and brings the schema up to date.
    pub(super) fn open(conn: &str) -> Result<Postgres, StoreError> {
        let mut p = Postgres::connect(conn)?;
        p.migrate()?;
        Ok(p)
    }

    /// Connects to a database that must already hold the schema.
    pub(super) fn open_existing(conn: &str) -> Result<Postgres, StoreError> {
        let mut p = Postgres::connect(conn)?;
        let v = p.version()?;
        if v > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                what: p.what,
                found: v,
            });
        }
        if v == 0 {
            return Err(StoreError::Open {
                what: p.what,
                reason: "no remotewatch alert store in this database".into(),
            });
        }
        Ok(p)
    }

    fn version(&mut self) -> Result<i64, StoreError> {
        let exists: bool = self
            .client
            .query_one("SELECT to_regclass('remotewatch_schema') IS NOT NULL", &[])
            .map_err(pg)?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = self
            .client
            .query_opt("SELECT max(version) FROM remotewatch_schema", &[])
            .map_err(pg)?;
        Ok(row.and_then(|r| r.get::<_, Option<i64>>(0)).unwrap_or(0))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let mut tx = self.client.transaction().map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(pg)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS remotewatch_schema (version BIGINT NOT NULL)")
            .map_err(pg)?;
        let found: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM remotewatch_schema",
                &[],
            )
            .map_err(pg)?
            .get(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                what: self.what.clone(),
                found,
            });
        }
        for (i, sql) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(found).unwrap_or(0))
        {
            tx.batch_execute(sql).map_err(pg)?;
            let v = i64::try_from(i + 1).unwrap_or(i64::MAX);
            tx.execute("DELETE FROM remotewatch_schema", &[])
                .map_err(pg)?;
            tx.execute(
                "INSERT INTO remotewatch_schema (version) VALUES ($1)",
                &[&v],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)
    }

    pub(super) fn insert(&mut self, alert: &Alert, sensor: &str) -> Result<bool, StoreError> {
        let r = Row::of(alert, sensor);
        let mut tx = self.client.transaction().map_err(pg)?;
        // One writer at a time keeps the chain linear across sensors; readers are not blocked.
        tx.batch_execute("LOCK TABLE alerts IN SHARE ROW EXCLUSIVE MODE")
            .map_err(pg)?;
        if tx
            .query_opt("SELECT seq FROM alerts WHERE id = $1", &[&r.id])
            .map_err(pg)?
            .is_some()
        {
            return Ok(false);
        }
        let prev: String = tx
            .query_opt("SELECT chain FROM alerts ORDER BY seq DESC LIMIT 1", &[])
            .map_err(pg)?
            .map_or_else(|| super::CHAIN_SEED.to_owned(), |row| row.get(0));
        let chain = super::chain_next(&prev, &r.record);
        tx.execute(
            "INSERT INTO alerts (id, ts, ts_ns, kind, family, provider, severity, confidence, \
             endpoint, contractor, peer, sensor, record, chain, delivered) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0)",
            &[
                &r.id,
                &r.ts,
                &r.ts_ns,
                &r.kind,
                &r.family,
                &r.provider,
                &r.severity,
                &r.confidence,
                &r.endpoint,
                &r.contractor,
                &r.peer,
                &r.sensor,
                &r.record,
                &chain,
            ],
        )
        .map_err(pg)?;
        tx.commit().map_err(pg)?;
        Ok(true)
    }

    pub(super) fn mark_delivered(&mut self, id: &str) -> Result<(), StoreError> {
        self.client
            .execute("UPDATE alerts SET delivered = 1 WHERE id = $1", &[&id])
            .map_err(pg)?;
        Ok(())
    }

    pub(super) fn undelivered(
        &mut self,
        sensor: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT id, record FROM alerts WHERE delivered = 0 AND sensor = $1 ORDER BY seq",
                &[&sensor],
            )
            .map_err(pg)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    pub(super) fn query(&mut self, f: &Filter) -> Result<Vec<StoredAlert>, StoreError> {
        let (sql, args) = select(f);
        let sql = number_placeholders(&sql);
        let boxed: Vec<Box<dyn ToSql + Sync>> = args
            .into_iter()
            .map(|a| -> Box<dyn ToSql + Sync> {
                match a {
                    Param::Int(i) => Box::new(i),
                    Param::Text(t) => Box::new(t),
                }
            })
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = boxed.iter().map(AsRef::as_ref).collect();
        let rows = self.client.query(sql.as_str(), &refs).map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| StoredAlert {
                seq: r.get(0),
                id: r.get(1),
                ts_ns: u64::try_from(r.get::<_, i64>(2)).unwrap_or(0),
                record: r.get(3),
                sensor: r.get(4),
            })
            .collect())
    }

    pub(super) fn chain_rows(&mut self) -> Result<Vec<(i64, String, String, String)>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT seq, id, record, chain FROM alerts ORDER BY seq",
                &[],
            )
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect())
    }
}

/// `?` placeholders as PostgreSQL's `$1`, `$2`, … (the generated SQL has no `?` elsewhere).
fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_and_passwords_never_described() {
        assert_eq!(
            number_placeholders("a = ? AND b IN (?, ?)"),
            "a = $1 AND b IN ($2, $3)"
        );
        let d = describe("host=db.example port=5433 user=rw password=hunter2 dbname=alerts");
        assert_eq!(d, "postgresql://rw@db.example:5433/alerts");
        let d = describe("postgresql://rw:hunter2@db.example/alerts");
        assert!(!d.contains("hunter2"), "{d}");
    }
}
