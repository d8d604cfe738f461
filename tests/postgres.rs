//! The PostgreSQL alert store against a real PostgreSQL server that this test starts (Debian
//! package `postgresql`): same behaviour as SQLite, and two sensors writing to one database keep
//! one intact hash chain. Skips with a printed reason when no server can be started.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::free_port;
use remotewatch::store::{ChainCheck, Filter, Location, Store};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    conn: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file() && b.join("postgres").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// initdb refuses to run as root: as root, run the server as the `postgres` system user.
fn as_server_user(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

fn start() -> Result<Server, String> {
    let bin = pg_bin().ok_or(
        "no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)",
    )?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let data = dir.path().join("data");
    if is_root() {
        let ok = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .map_err(|e| e.to_string())?;
        if !ok.success() {
            return Err("cannot hand the data directory to the postgres user".into());
        }
    }
    let init = as_server_user(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "rw", "--no-sync", "-E", "UTF8"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| e.to_string())?;
    if !init.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&init.stderr)
        ));
    }
    let port = free_port();
    let child = as_server_user(&bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-k"])
        .arg(dir.path())
        .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let conn = format!("host=127.0.0.1 port={port} user=rw dbname=postgres");
    let mut server = Server {
        child,
        conn,
        _dir: dir,
    };
    let start = Instant::now();
    loop {
        if postgres::Client::connect(&server.conn, postgres::NoTls).is_ok() {
            return Ok(server);
        }
        if let Ok(Some(s)) = server.child.try_wait() {
            return Err(format!("postgres exited: {s}"));
        }
        if start.elapsed() > Duration::from_secs(30) {
            return Err("postgres did not accept connections within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_remotewatch"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn postgres_store_behaves_like_sqlite_and_takes_two_sensors() {
    let server = match start() {
        Ok(s) => s,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let loc = Location::Postgres(server.conn.clone());
    // Opening twice migrates once.
    drop(Store::open_at(&loc).unwrap());
    let mut store = Store::open_at(&loc).unwrap();
    assert!(store.query(&Filter::default()).unwrap().is_empty());

    // Two sensors replay different captures into the same database at the same time.
    let dir = tempfile::tempdir().unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pcap");
    let mut daemons = Vec::new();
    for (sensor, capture) in [("sensor-a", "demo-mixed"), ("sensor-b", "ikev2-sa-init")] {
        let cfg = dir.path().join(format!("{sensor}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "[sensor]\nname = \"{sensor}\"\n[store]\npostgres = \"{}\"\n[alerts]\njsonl = \"{sensor}.jsonl\"\n[http]\nlisten = \"\"\n",
                server.conn
            ),
        )
        .unwrap();
        let pcap = fixtures.join(capture).join("capture.pcap");
        daemons.push(
            Command::new(env!("CARGO_BIN_EXE_remotewatch"))
                .args([
                    "run",
                    "--config",
                    cfg.to_str().unwrap(),
                    "--replay",
                    pcap.to_str().unwrap(),
                ])
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    for d in daemons {
        let out = d.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let rows = store.query(&Filter::default()).unwrap();
    let sensors: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r.sensor.as_str()).collect();
    assert_eq!(
        sensors.into_iter().collect::<Vec<_>>(),
        ["sensor-a", "sensor-b"]
    );
    let a_log = std::fs::read_to_string(dir.path().join("sensor-a.jsonl")).unwrap();
    let b_log = std::fs::read_to_string(dir.path().join("sensor-b.jsonl")).unwrap();
    assert_eq!(rows.len(), a_log.lines().count() + b_log.lines().count());
    assert_eq!(a_log.lines().count(), 3);
    let ChainCheck::Intact { rows: n, .. } = store.verify_chain().unwrap() else {
        panic!("chain broken by concurrent writers")
    };
    assert_eq!(n as usize, rows.len());

    // Replaying again adds nothing: ids are known.
    let cfg_a = dir.path().join("sensor-a.toml");
    let out = run(&[
        "run",
        "--config",
        cfg_a.to_str().unwrap(),
        "--replay",
        fixtures.join("demo-mixed/capture.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(store.query(&Filter::default()).unwrap().len(), rows.len());

    // Query and audit export through the command line, configured by the same file.
    let listed = run(&[
        "alerts",
        "--config",
        cfg_a.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(
        String::from_utf8_lossy(&listed.stdout).lines().count(),
        rows.len()
    );
    let export = dir.path().join("export");
    let out = run(&[
        "audit",
        "export",
        "--config",
        cfg_a.to_str().unwrap(),
        "--from",
        "2024-01-01T00:00:00Z",
        "--to",
        "2025-01-01T00:00:00Z",
        "--format",
        "jsonl",
        "--out",
        export.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(run(&["audit", "verify", export.to_str().unwrap()])
        .status
        .success());

    // Tampering in the database is caught, and the export refuses to run.
    let mut client = postgres::Client::connect(&server.conn, postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE alerts SET record = replace(record, 'high', 'low') WHERE seq = 2",
            &[],
        )
        .unwrap();
    assert!(matches!(
        store.verify_chain().unwrap(),
        ChainCheck::Broken { seq: 2, .. }
    ));
    let out = run(&[
        "audit",
        "export",
        "--config",
        cfg_a.to_str().unwrap(),
        "--from",
        "2024-01-01T00:00:00Z",
        "--to",
        "2025-01-01T00:00:00Z",
        "--out",
        dir.path().join("export2").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("breaks at row 2"));
    // The connection string's password (if any) never appears in messages; here, errors name the
    // database as postgresql://user@host:port/db.
    let bad = Store::open_at(&Location::Postgres(
        "host=127.0.0.1 port=1 user=rw password=hunter2 dbname=x connect_timeout=2".into(),
    ));
    let e = bad.err().unwrap().to_string();
    assert!(
        e.contains("postgresql://rw@127.0.0.1:1/x") && !e.contains("hunter2"),
        "{e}"
    );
}
