//! Scheduled audit exports: when a day, ISO week or calendar month (UTC) has ended, the daemon
//! writes the export of that period under `audit.dir/<period>/` (e.g. `2026-10/`, `2026-W47/`,
//! `2026-11-22/`), once. An existing export is never rewritten.

use super::audit::{self, Format};
use crate::config::Schedule;
use crate::store::{ChainCheck, Location, Store};
use crate::ts::Ts;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::ToSpan;
use std::path::{Path, PathBuf};

/// The last period of `schedule` that ended at or before `now`: its directory name and bounds.
pub fn last_complete_period(schedule: Schedule, now: Ts) -> Option<(String, Ts, Ts)> {
    let t = jiff::Timestamp::from_nanosecond(i128::from(now.0)).ok()?;
    let today = t.to_zoned(TimeZone::UTC).date();
    let (from, to, name) = match schedule {
        Schedule::Daily => {
            let from = today.checked_sub(1.day()).ok()?;
            (from, today, from.strftime("%Y-%m-%d").to_string())
        }
        Schedule::Weekly => {
            let back = i64::from(today.weekday().to_monday_zero_offset());
            let to = today.checked_sub(back.days()).ok()?;
            let from = to.checked_sub(7.days()).ok()?;
            let w = from.iso_week_date();
            (from, to, format!("{:04}-W{:02}", w.year(), w.week()))
        }
        Schedule::Monthly => {
            let to = today.first_of_month();
            let from = to.checked_sub(1.day()).ok()?.first_of_month();
            (from, to, from.strftime("%Y-%m").to_string())
        }
    };
    Some((name, ts_of(from)?, ts_of(to)?))
}

fn ts_of(d: Date) -> Option<Ts> {
    let z = d.to_zoned(TimeZone::UTC).ok()?;
    u64::try_from(z.timestamp().as_nanosecond()).ok().map(Ts)
}

/// Writes the export of the last complete period if it is not there yet. Returns its directory
/// when one was written.
pub fn run_due(
    store: &Location,
    dir: &Path,
    schedule: Schedule,
    csv: bool,
    now: Ts,
    databases: &[std::collections::BTreeMap<String, String>],
) -> Result<Option<PathBuf>, String> {
    let Some((name, from, to)) = last_complete_period(schedule, now) else {
        return Ok(None);
    };
    let target = dir.join(name);
    if target.join(audit::MANIFEST).exists() {
        return Ok(None);
    }
    let mut s = Store::open_read_only_at(store).map_err(|e| e.to_string())?;
    let head = match s.verify_chain().map_err(|e| e.to_string())? {
        ChainCheck::Intact { head, .. } => Some(head),
        ChainCheck::Broken { seq, id } => {
            return Err(format!(
                "the store's hash chain breaks at row {seq} (alert {id}); not exporting"
            ))
        }
    };
    let rows = s.period(from, to).map_err(|e| e.to_string())?;
    let format = if csv { Format::Csv } else { Format::Jsonl };
    let meta = audit::ExportMeta {
        generated_at: now,
        store_chain_head: head,
        databases: databases.to_vec(),
    };
    audit::export(&rows, from, to, format, &target, meta).map_err(|e| e.to_string())?;
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Ts {
        crate::export::http::parse_time(s).unwrap()
    }

    #[test]
    fn periods_end_at_utc_boundaries() {
        let now = at("2026-11-23T11:17:56Z"); // a Monday
        let (n, f, t) = last_complete_period(Schedule::Daily, now).unwrap();
        assert_eq!(
            (n.as_str(), f, t),
            (
                "2026-11-22",
                at("2026-11-22T00:00:00Z"),
                at("2026-11-23T00:00:00Z")
            )
        );
        let (n, f, t) = last_complete_period(Schedule::Weekly, now).unwrap();
        assert_eq!(
            (n.as_str(), f, t),
            (
                "2026-W47",
                at("2026-11-16T00:00:00Z"),
                at("2026-11-23T00:00:00Z")
            )
        );
        let (n, f, t) = last_complete_period(Schedule::Monthly, now).unwrap();
        assert_eq!(
            (n.as_str(), f, t),
            (
                "2026-10",
                at("2026-10-01T00:00:00Z"),
                at("2026-11-01T00:00:00Z")
            )
        );
        let (n, ..) = last_complete_period(Schedule::Monthly, at("2026-01-05T00:00:00Z")).unwrap();
        assert_eq!(n, "2025-12");
        let (n, ..) = last_complete_period(Schedule::Weekly, at("2026-11-22T23:59:59Z")).unwrap();
        assert_eq!(n, "2026-W46");
    }

    #[test]
    fn exports_once_per_period() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        drop(Store::open(&db).unwrap());
        let out = dir.path().join("exports");
        let now = at("2026-11-23T11:00:00Z");
        let first = run_due(
            &Location::Sqlite(db.clone()),
            &out,
            Schedule::Monthly,
            true,
            now,
            &[],
        )
        .unwrap();
        assert_eq!(first, Some(out.join("2026-10")));
        assert!(out.join("2026-10/manifest.json").is_file());
        assert_eq!(
            run_due(
                &Location::Sqlite(db.clone()),
                &out,
                Schedule::Monthly,
                true,
                now,
                &[],
            )
            .unwrap(),
            None
        );
        assert_eq!(audit::verify(&out.join("2026-10")).unwrap().records, 0);
    }
}
