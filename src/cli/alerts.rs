//! `remotewatch alerts` and `remotewatch audit`: reading the alert store.

use super::{fail, load_config, AlertsArgs, AuditCommand, StoreArgs, EXIT_INPUT, EXIT_RUNTIME};
use crate::export::audit::{self, Format};
use crate::export::http::parse_time;
use crate::store::{ChainCheck, Filter, Location, Store, PAGE_MAX};
use crate::ts::Ts;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Evidence shown per alert in the table format.
const TABLE_EVIDENCE_MAX: usize = 80;

fn now() -> Ts {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ts::from_parts(i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos())
}

/// An RFC 3339 time, or a span back from `now` such as `90m`, `24h`, `7d`.
pub(super) fn parse_when(s: &str, now: Ts) -> Result<Ts, String> {
    let t = s.trim();
    let unit = match t.chars().last() {
        Some('s') => Some(1),
        Some('m') => Some(60),
        Some('h') => Some(3600),
        Some('d') => Some(86_400),
        _ => None,
    };
    if let (Some(unit), Some(n)) = (
        unit,
        t.get(..t.len().saturating_sub(1))
            .and_then(|n| n.parse::<u64>().ok()),
    ) {
        return Ok(Ts(now.0.saturating_sub(
            n.saturating_mul(unit).saturating_mul(Ts::NANOS_PER_SEC),
        )));
    }
    parse_time(t).map_err(|e| format!("{e}, or a span back from now such as 24h or 7d"))
}

/// The store named by `--db`, `--data-dir`, or `store.path`/`store.postgres` in `--config`.
fn store_path(s: &StoreArgs) -> Result<Location, i32> {
    if let Some(p) = &s.db {
        return Ok(Location::Sqlite(p.clone()));
    }
    if let Some(d) = &s.data_dir {
        return Ok(Location::Sqlite(d.join("alerts.db")));
    }
    let cfg = load_config(s.config.as_ref())?;
    cfg.store.ok_or_else(|| {
        fail(
            EXIT_INPUT,
            "no alert store: pass --db or a --config with store.path",
        )
    })
}

pub(super) fn alerts(a: &AlertsArgs) -> i32 {
    let path = match store_path(&a.store) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut store = match Store::open_read_only_at(&path) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let now = now();
    let mut f = Filter {
        contractor: a.contractor.clone(),
        family: a.family.clone(),
        limit: a.limit.min(PAGE_MAX),
        ..Filter::default()
    };
    let parsed = (|| -> Result<(), String> {
        f.since = a.since.as_deref().map(|s| parse_when(s, now)).transpose()?;
        f.until = a.until.as_deref().map(|s| parse_when(s, now)).transpose()?;
        f.kind = a.kind.as_deref().map(parse_kind).transpose()?;
        f.min_severity = a.severity.as_deref().map(str::parse).transpose()?;
        Ok(())
    })();
    if let Err(e) = parsed {
        return fail(EXIT_INPUT, e);
    }
    let rows = match store.query(&f) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let mut out = std::io::stdout().lock();
    let written = if a.format == "jsonl" {
        rows.iter().try_for_each(|r| writeln!(out, "{}", r.record))
    } else {
        write_table(
            &mut out,
            rows.iter()
                .filter_map(|r| serde_json::from_str(&r.record).ok()),
        )
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => fail(EXIT_RUNTIME, e),
        _ => 0,
    }
}

fn parse_kind(k: &str) -> Result<crate::detect::Kind, String> {
    crate::detect::Kind::ALL
        .into_iter()
        .find(|x| x.as_str() == k)
        .ok_or_else(|| format!("kind {k:?} is not one of remote_access, vpn_tunnel, anonymizer"))
}

fn write_table(out: &mut impl Write, alerts: impl Iterator<Item = Value>) -> std::io::Result<()> {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
    writeln!(
        out,
        "{:<27} {:<8} {:<13} {:<16} {:<39} {:<12} {:<45} EVIDENCE",
        "TIME", "SEVERITY", "KIND", "FAMILY", "ENDPOINT", "CONTRACTOR", "PEER"
    )?;
    for v in alerts {
        let first = v
            .get("evidence")
            .and_then(|e| e.get(0))
            .and_then(Value::as_str)
            .unwrap_or("")
            .chars()
            .take(TABLE_EVIDENCE_MAX)
            .collect::<String>();
        writeln!(
            out,
            "{:<27} {:<8} {:<13} {:<16} {:<39} {:<12} {:<45} {}",
            s(&v, "ts"),
            s(&v, "severity"),
            s(&v, "kind"),
            s(&v, "family"),
            s(&v, "endpoint"),
            s(&v, "contractor"),
            s(&v, "peer"),
            first
        )?;
    }
    Ok(())
}

pub(super) fn audit(cmd: &AuditCommand) -> i32 {
    match cmd {
        AuditCommand::Export {
            store,
            from,
            to,
            format,
            out,
        } => {
            let path = match store_path(store) {
                Ok(p) => p,
                Err(code) => return code,
            };
            // The manifest names the databases this configuration uses.
            let databases = load_config(store.config.as_ref())
                .ok()
                .and_then(|c| crate::intel::Intel::load(&c.intel).ok())
                .map(|i| i.describe_databases())
                .unwrap_or_default();
            export(
                &path,
                from,
                to,
                format,
                out.as_deref(),
                store.data_dir.as_deref(),
                &databases,
            )
        }
        AuditCommand::Verify { dir } => match audit::verify(dir) {
            Ok(v) => {
                eprintln!(
                    "{}: ok ({} records, chain head {})",
                    dir.display(),
                    v.records,
                    v.head
                );
                0
            }
            Err(e @ audit::AuditError::Mismatch(_)) => {
                fail(EXIT_RUNTIME, format!("{}: {e}", dir.display()))
            }
            Err(e) => fail(EXIT_INPUT, e),
        },
    }
}

fn export(
    path: &Location,
    from: &str,
    to: &str,
    format: &str,
    out: Option<&Path>,
    data_dir: Option<&Path>,
    databases: &[std::collections::BTreeMap<String, String>],
) -> i32 {
    let now = now();
    let (from, to) = match (parse_when(from, now), parse_when(to, now)) {
        (Ok(f), Ok(t)) if f < t => (f, t),
        (Ok(_), Ok(_)) => return fail(EXIT_INPUT, "--from must be before --to"),
        (Err(e), _) | (_, Err(e)) => return fail(EXIT_INPUT, e),
    };
    let default_out;
    let out = match (out, data_dir) {
        (Some(o), _) => o,
        (None, Some(d)) => {
            let stamp = |t: Ts| t.rfc3339().replace(':', "");
            default_out = d
                .join("exports")
                .join(format!("{}_{}", stamp(from), stamp(to)));
            &default_out
        }
        (None, None) => return fail(EXIT_INPUT, "--out is required without --data-dir"),
    };
    let format = match format {
        "csv" => Format::Csv,
        "jsonl" => Format::Jsonl,
        other => {
            return fail(
                EXIT_INPUT,
                format!("--format {other:?} is not csv or jsonl"),
            )
        }
    };
    let mut store = match Store::open_read_only_at(path) {
        Ok(s) => s,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let head = match store.verify_chain() {
        Ok(ChainCheck::Intact { head, .. }) => Some(head),
        Ok(ChainCheck::Broken { seq, id }) => {
            return fail(
                EXIT_RUNTIME,
                format!("{}: the store's hash chain breaks at row {seq} (alert {id}): it was altered; not exporting", path),
            )
        }
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let rows = match store.period(from, to) {
        Ok(r) => r,
        Err(e) => return fail(EXIT_RUNTIME, e),
    };
    let meta = audit::ExportMeta {
        generated_at: now,
        store_chain_head: head,
        databases: databases.to_vec(),
    };
    match audit::export(&rows, from, to, format, out, meta) {
        Ok(m) => {
            eprintln!(
                "{}: {} records {} .. {}, chain head {}",
                out.display(),
                m.records,
                from.rfc3339(),
                to.rfc3339(),
                m.chain.head
            );
            0
        }
        Err(e @ audit::AuditError::Exists(_)) => fail(EXIT_INPUT, e),
        Err(e) => fail(EXIT_RUNTIME, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn when_accepts_rfc3339_and_spans() {
        let now = Ts::from_secs(1_000_000);
        assert_eq!(
            parse_when("24h", now),
            Ok(Ts::from_secs(1_000_000 - 86_400))
        );
        assert_eq!(parse_when("90m", now), Ok(Ts::from_secs(1_000_000 - 5400)));
        assert_eq!(
            parse_when("1970-01-02T00:00:00Z", now),
            Ok(Ts::from_secs(86_400))
        );
        assert!(parse_when("yesterday", now).unwrap_err().contains("24h"));
    }
}
