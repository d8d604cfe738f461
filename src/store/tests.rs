use super::*;
use rusqlite::Connection;
use sqlite::MIGRATIONS;

/// The SQLite connection behind a store, to tamper with it as an attacker with file access would.
fn raw(s: &Store) -> &Connection {
    match s {
        Store::Sqlite(x) => &x.conn,
        Store::Postgres(_) => unreachable!(),
    }
}

use crate::alert::{AlertKey, FlowRecord, Severity};
use crate::detect::{Confidence, Kind};
use std::borrow::Cow;

fn alert(secs: u64, family: &'static str, contractor: Option<&str>, sev: Severity) -> Alert {
    let key = AlertKey {
        endpoint: "192.0.2.10".parse().unwrap(),
        kind: Kind::RemoteAccess,
        family: Cow::Borrowed(family),
        peer: format!("198.51.100.1:{}", 1000 + secs).parse().unwrap(),
        subject: None,
    };
    Alert {
        ts: Ts::from_secs(secs),
        id: key.id(secs),
        kind: Kind::RemoteAccess,
        family: Cow::Borrowed(family),
        provider: None,
        severity: sev,
        confidence: Confidence::Handshake,
        endpoint: key.endpoint,
        contractor: contractor.map(str::to_owned),
        peer: Some(key.peer),
        flow: Some(FlowRecord::new(
            6,
            "192.0.2.10:5000".parse().unwrap(),
            key.peer,
            0,
        )),
        evidence: vec!["e".into()],
    }
}

#[test]
fn inserts_once_per_id_survives_reopen_and_keeps_the_record_verbatim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let a = alert(10, "rdp", Some("c-1"), Severity::High);
    {
        let mut s = Store::open(&path).unwrap();
        assert!(s.insert(&a, "s1").unwrap());
        assert!(!s.insert(&a, "s1").unwrap(), "same id again");
    }
    let mut s = Store::open(&path).unwrap();
    assert!(!s.insert(&a, "s1").unwrap(), "dedup survives a restart");
    let rows = s.query(&Filter::default()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].record, a.to_json());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
}

#[test]
fn filters_and_pages_in_time_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("a.db")).unwrap();
    for (t, fam, c, sev) in [
        (30, "vnc", Some("c-2"), Severity::Medium),
        (10, "rdp", Some("c-1"), Severity::High),
        (20, "ssh", None, Severity::Info),
        (40, "rdp", Some("c-1"), Severity::Low),
    ] {
        s.insert(&alert(t, fam, c, sev), "s1").unwrap();
    }
    let ts = |s: &mut Store, f: &Filter| -> Vec<u64> {
        s.query(f)
            .unwrap()
            .iter()
            .map(|r| r.ts_ns / Ts::NANOS_PER_SEC)
            .collect()
    };
    assert_eq!(ts(&mut s, &Filter::default()), [10, 20, 30, 40]);
    assert_eq!(
        ts(
            &mut s,
            &Filter {
                contractor: Some("c-1".into()),
                ..Filter::default()
            }
        ),
        [10, 40]
    );
    assert_eq!(
        ts(
            &mut s,
            &Filter {
                since: Some(Ts::from_secs(20)),
                until: Some(Ts::from_secs(40)),
                ..Filter::default()
            }
        ),
        [20, 30]
    );
    assert_eq!(
        ts(
            &mut s,
            &Filter {
                min_severity: Some(Severity::Medium),
                ..Filter::default()
            }
        ),
        [10, 30]
    );
    assert_eq!(
        ts(
            &mut s,
            &Filter {
                family: Some("ssh".into()),
                ..Filter::default()
            }
        ),
        [20]
    );
    let page1 = s
        .query(&Filter {
            limit: 2,
            ..Filter::default()
        })
        .unwrap();
    let after = parse_cursor(&page1[1].cursor()).unwrap();
    assert_eq!(
        ts(
            &mut s,
            &Filter {
                limit: 2,
                after: Some(after),
                ..Filter::default()
            }
        ),
        [30, 40]
    );
    assert!(parse_cursor("12-nothex").is_none());
}

#[test]
fn the_hash_chain_detects_edits_and_deletions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    let mut s = Store::open(&path).unwrap();
    for t in 1..=5 {
        s.insert(&alert(t, "rdp", None, Severity::High), "s1")
            .unwrap();
    }
    let ChainCheck::Intact { rows, head } = s.verify_chain().unwrap() else {
        panic!("broken")
    };
    assert_eq!(rows, 5);
    assert_ne!(head, CHAIN_SEED);
    raw(&s)
        .execute(
            "UPDATE alerts SET record = replace(record, 'high', 'low') WHERE seq = 3",
            [],
        )
        .unwrap();
    assert!(matches!(
        s.verify_chain().unwrap(),
        ChainCheck::Broken { seq: 3, .. }
    ));
    let mut s2 = Store::open(&dir.path().join("b.db")).unwrap();
    for t in 1..=3 {
        s2.insert(&alert(t, "rdp", None, Severity::High), "s1")
            .unwrap();
    }
    raw(&s2)
        .execute("DELETE FROM alerts WHERE seq = 2", [])
        .unwrap();
    assert!(matches!(
        s2.verify_chain().unwrap(),
        ChainCheck::Broken { seq: 3, .. }
    ));
}

#[test]
fn a_newer_schema_is_refused_and_read_only_needs_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    {
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = Store::open(&path).err().unwrap().to_string();
    assert!(e.contains("schema version 99 is newer"), "{e}");
    assert!(Store::open_read_only(&dir.path().join("missing.db")).is_err());
}

#[test]
fn delivery_is_tracked_and_a_v1_database_is_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&dir.path().join("a.db")).unwrap();
    let a = alert(5, "rdp", None, Severity::High);
    s.insert(&a, "s").unwrap();
    assert_eq!(
        s.undelivered("s").unwrap(),
        vec![(a.id.clone(), a.to_json())]
    );
    assert!(
        s.undelivered("another-sensor").unwrap().is_empty(),
        "each sensor redelivers its own"
    );
    s.mark_delivered(&a.id).unwrap();
    assert!(s.undelivered("s").unwrap().is_empty());

    // A database written by schema v1 (no delivery column): its rows count as delivered.
    let old = dir.path().join("v1.db");
    {
        let c = Connection::open(&old).unwrap();
        c.execute_batch(MIGRATIONS[0]).unwrap();
        c.pragma_update(None, "user_version", 1).unwrap();
        c.execute(
            "INSERT INTO alerts (id, ts, ts_ns, kind, family, severity, confidence, endpoint, peer, sensor, record, chain) \
             VALUES ('x', 't', 1, 'remote_access', 'rdp', 'high', 'handshake', 'e', 'p', 's', '{}', 'c')",
            [],
        )
        .unwrap();
    }
    let mut s = Store::open(&old).unwrap();
    assert_eq!(
        match &s {
            Store::Sqlite(x) => x.version().unwrap(),
            Store::Postgres(_) => 0,
        },
        SCHEMA_VERSION
    );
    assert!(s.undelivered("s").unwrap().is_empty());
    assert_eq!(s.query(&Filter::default()).unwrap().len(), 1);
}
