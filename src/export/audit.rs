//! Audit exports: the alerts of a period as CSV or JSON Lines, with a manifest an auditor can
//! check without trusting the sensor.
//!
//! An export directory holds one data file (`alerts.csv` or `alerts.jsonl`), `chain.txt` and
//! `manifest.json`. The manifest has the period, record counts by kind and severity, the sensors,
//! the SHA-256 of every file, and the head of a hash chain over the data lines
//! (`h0 = SHA-256(seed)`, `h(i) = SHA-256(h(i-1) ‖ "\n" ‖ line i)`), so a removed, reordered or
//! edited record changes the head. `chain.txt` lists every record's chain value with its alert id,
//! which lets [`verify`] name the first record that no longer matches.
//!
//! CSV cells that a spreadsheet would evaluate (starting with `=`, `+`, `-`, `@`, tab or carriage
//! return) are prefixed with `'` (OWASP "CSV injection"), and line breaks inside cells are replaced by
//! spaces so that every record is exactly one line.

use crate::store::{chain_next, hex, StoredAlert};
use crate::ts::Ts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Manifest format version.
pub const MANIFEST_VERSION: u32 = 1;
/// Name of the manifest file.
pub const MANIFEST: &str = "manifest.json";
/// CSV columns, in order.
pub const CSV_COLUMNS: [&str; 17] = [
    "ts",
    "id",
    "kind",
    "family",
    "provider",
    "severity",
    "confidence",
    "endpoint",
    "contractor",
    "peer",
    "proto",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "vlan",
    "evidence",
];

/// Data file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line, exactly as the sensor reported it.
    Jsonl,
    /// `chain.txt`: `<record number> <alert id> <chain value>` per data record.
    Chain,
}

/// Name of the per-record chain file.
pub const CHAIN_FILE: &str = "chain.txt";

impl Format {
    fn file_name(self) -> &'static str {
        match self {
            Format::Csv => "alerts.csv",
            Format::Jsonl => "alerts.jsonl",
            Format::Chain => CHAIN_FILE,
        }
    }
}

/// One file listed in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// File name inside the export directory.
    pub name: String,
    /// Format.
    pub format: Format,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Data records (lines, without the CSV header).
    pub records: u64,
}

/// The hash chain over the data lines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chain {
    /// Always `sha256`.
    pub algorithm: String,
    /// The seed hashed to start the chain.
    pub seed: String,
    /// Chain value after the last record.
    pub head: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version of this manifest.
    pub manifest_version: u32,
    /// Program and version that wrote it.
    pub generator: String,
    /// When it was written (wall clock, RFC 3339 UTC).
    pub generated_at: String,
    /// The period covered: alert times in `[from, to)`.
    pub period: BTreeMap<String, String>,
    /// Sensors whose alerts are included.
    pub sensors: Vec<String>,
    /// Records in all.
    pub records: u64,
    /// Records by kind.
    pub by_kind: BTreeMap<String, u64>,
    /// Records by severity.
    pub by_severity: BTreeMap<String, u64>,
    /// The data file.
    pub files: Vec<FileEntry>,
    /// Hash chain over the data lines.
    pub chain: Chain,
    /// The alert store's own hash chain head when the export was made.
    pub store_chain_head: Option<String>,
    /// IP-intelligence databases in use (name and build date), for reproducibility.
    pub databases: Vec<BTreeMap<String, String>>,
}

/// Why an export or a verification failed.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The output directory already holds an export.
    #[error("{0}: already contains an export ({MANIFEST}); choose an empty directory")]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// File.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The export does not match its manifest.
    #[error("verification failed: {0}")]
    Mismatch(String),
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> AuditError + '_ {
    move |e| AuditError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// The chain seed for a period.
pub fn seed(from: Ts, to: Ts) -> String {
    format!("remotewatch-audit-v1 {} {}", from.rfc3339(), to.rfc3339())
}

/// What a manifest records besides the records themselves.
#[derive(Clone, Debug, Default)]
pub struct ExportMeta {
    /// When the export is made (wall clock).
    pub generated_at: Ts,
    /// The alert store's chain head.
    pub store_chain_head: Option<String>,
    /// The IP-intelligence databases in use (role, source, type, build time).
    pub databases: Vec<BTreeMap<String, String>>,
}

/// Writes `rows` (the alerts of `[from, to)`) into `dir` as `format`, with a manifest.
pub fn export(
    rows: &[StoredAlert],
    from: Ts,
    to: Ts,
    format: Format,
    dir: &Path,
    meta: ExportMeta,
) -> Result<Manifest, AuditError> {
    let ExportMeta {
        generated_at,
        store_chain_head,
        databases,
    } = meta;
    if dir.join(MANIFEST).exists() {
        return Err(AuditError::Exists(dir.to_owned()));
    }
    let mut lines: Vec<String> = Vec::with_capacity(rows.len() + 1);
    if format == Format::Csv {
        lines.push(CSV_COLUMNS.join(","));
    }
    let mut by_kind = BTreeMap::new();
    let mut by_severity = BTreeMap::new();
    let mut sensors = std::collections::BTreeSet::new();
    for r in rows {
        let v: Value = serde_json::from_str(&r.record).unwrap_or(Value::Null);
        *by_kind.entry(str_field(&v, "kind")).or_insert(0) += 1;
        *by_severity.entry(str_field(&v, "severity")).or_insert(0) += 1;
        sensors.insert(r.sensor.clone());
        lines.push(match format {
            Format::Jsonl | Format::Chain => r.record.clone(),
            Format::Csv => csv_row(&v),
        });
    }
    let data_lines = match format {
        Format::Csv => lines.get(1..).unwrap_or_default(),
        Format::Jsonl | Format::Chain => &lines[..],
    };
    let seed = seed(from, to);
    let mut head = hex(&Sha256::digest(seed.as_bytes()));
    let mut chain_txt = String::new();
    for (i, (line, row)) in data_lines.iter().zip(rows).enumerate() {
        head = chain_next(&head, line);
        chain_txt.push_str(&format!("{} {} {head}\n", i + 1, row.id));
    }
    let mut body = lines.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    let manifest = Manifest {
        manifest_version: MANIFEST_VERSION,
        generator: format!("remotewatch {}", env!("CARGO_PKG_VERSION")),
        generated_at: generated_at.rfc3339(),
        period: BTreeMap::from([
            ("from".to_owned(), from.rfc3339()),
            ("to".to_owned(), to.rfc3339()),
        ]),
        sensors: sensors.into_iter().collect(),
        records: rows.len() as u64,
        by_kind,
        by_severity,
        files: vec![
            FileEntry {
                name: format.file_name().to_owned(),
                format,
                sha256: hex(&Sha256::digest(body.as_bytes())),
                bytes: body.len() as u64,
                records: rows.len() as u64,
            },
            FileEntry {
                name: CHAIN_FILE.to_owned(),
                format: Format::Chain,
                sha256: hex(&Sha256::digest(chain_txt.as_bytes())),
                bytes: chain_txt.len() as u64,
                records: rows.len() as u64,
            },
        ],
        chain: Chain {
            algorithm: "sha256".into(),
            seed,
            head,
        },
        store_chain_head,
        databases,
    };
    let mut json = serde_json::to_string_pretty(&manifest).map_err(|e| AuditError::Io {
        path: dir.join(MANIFEST),
        reason: e.to_string(),
    })?;
    json.push('\n');
    publish(
        dir,
        &[
            (format.file_name(), body.as_bytes()),
            (CHAIN_FILE, chain_txt.as_bytes()),
            (MANIFEST, json.as_bytes()),
        ],
    )?;
    Ok(manifest)
}

/// The staging directory inside an existing export directory (see [`publish`]).
const STAGING: &str = ".export.partial";

/// Writes an export's `files` (the manifest last) so that it appears whole or not at all.
///
/// Each file is written and synced in a staging directory first. A new `dir` is that staging
/// directory (`.<name>.partial` beside it) renamed as a whole. Into an existing `dir` (one the
/// caller made, or one an interrupted export left) the files are renamed one by one, the
/// manifest last: a directory without a manifest holds no export, so files that an export
/// killed before its manifest left there (a crash, a full disk) are replaced and the next
/// attempt completes it; a directory with a manifest is refused before this. A staging
/// directory left by an interrupted attempt is removed first.
fn publish(dir: &Path, files: &[(&str, &[u8])]) -> Result<(), AuditError> {
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fresh = !dir.exists();
    let staging = if fresh {
        let name = dir.file_name().ok_or_else(|| AuditError::Io {
            path: dir.to_owned(),
            reason: "not a directory name".into(),
        })?;
        std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        parent.join(format!(".{}.partial", name.to_string_lossy()))
    } else {
        dir.join(STAGING)
    };
    match std::fs::remove_dir_all(&staging) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io_err(&staging)(e)),
        _ => {}
    }
    std::fs::create_dir(&staging).map_err(io_err(&staging))?;
    for (name, bytes) in files {
        write_private(&staging.join(name), bytes)?;
    }
    sync_dir(&staging)?;
    if fresh {
        std::fs::rename(&staging, dir).map_err(io_err(dir))?;
        sync_dir(parent)
    } else {
        // Only `dir`'s entries change: the parent's stay as they were.
        for (name, _) in files {
            let to = dir.join(name);
            std::fs::rename(staging.join(name), &to).map_err(io_err(&to))?;
        }
        std::fs::remove_dir(&staging).map_err(io_err(&staging))?;
        sync_dir(dir)
    }
}

/// Makes a directory's entries (files created or renamed in it) durable.
fn sync_dir(dir: &Path) -> Result<(), AuditError> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// What [`verify`] checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Records checked.
    pub records: u64,
    /// Chain head recomputed (equal to the manifest's).
    pub head: String,
}

/// Recomputes every file's SHA-256, record count and the hash chain against `dir/manifest.json`.
pub fn verify(dir: &Path) -> Result<Verified, AuditError> {
    let mpath = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&mpath).map_err(io_err(&mpath))?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| AuditError::Io {
        path: mpath.clone(),
        reason: format!("not a manifest: {e}"),
    })?;
    if m.manifest_version != MANIFEST_VERSION {
        return Err(AuditError::Mismatch(format!(
            "manifest version {} is not {MANIFEST_VERSION}",
            m.manifest_version
        )));
    }
    let mut files = Vec::with_capacity(m.files.len());
    for f in &m.files {
        if f.name.contains('/') || f.name.contains('\\') || f.name == ".." {
            return Err(AuditError::Mismatch(format!(
                "file name {:?} leaves the export directory",
                f.name
            )));
        }
        let path = dir.join(&f.name);
        files.push((f, std::fs::read(&path).map_err(io_err(&path))?));
    }
    let data = files
        .iter()
        .find(|(f, _)| f.format != Format::Chain)
        .ok_or_else(|| AuditError::Mismatch("the manifest lists no data file".into()))?;
    let text = String::from_utf8_lossy(&data.1);
    let mut lines: Vec<&str> = text.lines().collect();
    let first_line = if data.0.format == Format::Csv {
        if !lines.is_empty() {
            lines.remove(0);
        }
        2
    } else {
        1
    };
    if let Some((_, chain_bytes)) = files.iter().find(|(f, _)| f.format == Format::Chain) {
        first_altered(&m.chain.seed, &lines, chain_bytes, &data.0.name, first_line)?;
    }
    for (f, bytes) in &files {
        let sum = hex(&Sha256::digest(bytes));
        if sum != f.sha256 {
            return Err(AuditError::Mismatch(format!(
                "{}: SHA-256 {sum} differs from the manifest's {}",
                f.name, f.sha256
            )));
        }
    }
    let total = lines.len() as u64;
    if total != data.0.records || total != m.records {
        return Err(AuditError::Mismatch(format!(
            "{}: {total} records, the manifest says {}",
            data.0.name, m.records
        )));
    }
    let head = lines
        .iter()
        .fold(hex(&Sha256::digest(m.chain.seed.as_bytes())), |h, l| {
            chain_next(&h, l)
        });
    if head != m.chain.head {
        return Err(AuditError::Mismatch(format!(
            "hash chain ends in {head}, the manifest says {}",
            m.chain.head
        )));
    }
    Ok(Verified {
        records: total,
        head,
    })
}

/// Recomputes the chain over `lines` and names the first record whose value differs from the one
/// `chain.txt` recorded at export time.
fn first_altered(
    seed: &str,
    lines: &[&str],
    chain_txt: &[u8],
    file: &str,
    first_line: usize,
) -> Result<(), AuditError> {
    let text = String::from_utf8_lossy(chain_txt);
    let recorded: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| {
            let mut it = l.split(' ');
            let _number = it.next()?;
            Some((it.next()?, it.next()?))
        })
        .collect();
    let mut h = hex(&Sha256::digest(seed.as_bytes()));
    for (i, line) in lines.iter().enumerate() {
        h = chain_next(&h, line);
        match recorded.get(i) {
            Some((_, c)) if *c == h => {}
            Some((id, _)) => {
                return Err(AuditError::Mismatch(format!(
                    "record {} (alert {id}, line {} of {file}) was altered, or a record before it was removed or reordered",
                    i + 1,
                    i + first_line
                )))
            }
            None => {
                return Err(AuditError::Mismatch(format!(
                    "record {} (line {} of {file}) was added",
                    i + 1,
                    i + first_line
                )))
            }
        }
    }
    if let Some((id, _)) = recorded.get(lines.len()) {
        return Err(AuditError::Mismatch(format!(
            "record {} (alert {id}) and any after it were removed from {file}",
            lines.len() + 1
        )));
    }
    Ok(())
}

fn str_field(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or("").to_owned()
}

/// One CSV row for an alert object, safe for spreadsheets.
fn csv_row(v: &Value) -> String {
    let flow = v.get("flow").cloned().unwrap_or(Value::Null);
    let text = |x: Option<&Value>| match x {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let evidence = v
        .get("evidence")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default();
    let cells: Vec<String> = [
        text(v.get("ts")),
        text(v.get("id")),
        text(v.get("kind")),
        text(v.get("family")),
        text(v.get("provider")),
        text(v.get("severity")),
        text(v.get("confidence")),
        text(v.get("endpoint")),
        text(v.get("contractor")),
        text(v.get("peer")),
        text(flow.get("proto")),
        text(flow.get("src_ip")),
        text(flow.get("src_port")),
        text(flow.get("dst_ip")),
        text(flow.get("dst_port")),
        text(flow.get("vlan")),
        evidence,
    ]
    .into_iter()
    .map(|c| csv_cell(&c))
    .collect();
    cells.join(",")
}

/// Neutralises formula triggers and line breaks, then quotes per RFC 4180 when needed.
pub fn csv_cell(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        s.insert(0, '\'');
    }
    if s.contains([',', '"', ' ']) || s.starts_with('\'') {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o640);
    }
    let mut f = opts.open(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

#[cfg(test)]
mod tests;
