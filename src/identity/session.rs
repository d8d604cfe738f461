//! Session logs: who logged in from which public address, as a VPN concentrator or identity
//! provider exports it. Each line binds a user (a contractor's id or account) to an address at a
//! time; traffic from that address to a corporate gateway in the following hours is theirs.
//!
//! Line formats (one record per line, mixed freely):
//! - JSON: `{"ts": "2024-03-04T15:02:11Z", "user": "bob", "ip": "198.51.100.7"}`; the time may
//!   also be `time`/`timestamp` and an epoch number of seconds, the user `username`/`account`,
//!   the address `src_ip`/`client_ip`/`remote_ip`.
//! - CSV: `time,user,ip` (a header line with those words is skipped).

use crate::config::Problem;
use crate::ts::Ts;
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Longest line accepted; longer lines are reported and skipped.
pub const LINE_MAX: usize = 4096;
/// Largest session log read at once when analysing a capture (a live tail reads as it grows).
pub const SESSION_LOG_BYTES_MAX: u64 = 256 << 20;
/// Addresses with a remembered login. Past this, the table is cleared (bindings then come back
/// with the next logins) rather than growing without bound.
pub const BOUND_ADDRESSES_MAX: usize = 100_000;
/// Logins remembered per address.
const LOGINS_PER_ADDRESS: usize = 8;
/// A flow may start this long before the login that the identity provider logs for it (the
/// VPN handshake precedes the log line).
pub const LOGIN_SKEW_SECS: u64 = 300;
/// Bytes read per poll of a live session log.
const TAIL_CHUNK: usize = 1 << 20;

/// One login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// When.
    pub ts: Ts,
    /// Account name as logged.
    pub user: String,
    /// Public address.
    pub ip: IpAddr,
    /// Where it was read: file and line.
    pub origin: String,
}

/// Parses one line. `Ok(None)` for blank lines and CSV headers.
pub fn parse_line(line: &str) -> Result<Option<(Ts, String, IpAddr)>, String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return Ok(None);
    }
    if t.len() > LINE_MAX {
        return Err(format!("line longer than {LINE_MAX} bytes"));
    }
    let (ts, user, ip) = if t.starts_with('{') {
        let v: serde_json::Value =
            serde_json::from_str(t).map_err(|e| format!("not a JSON object: {e}"))?;
        let field = |names: &[&str]| names.iter().find_map(|n| v.get(*n));
        let ts = field(&["ts", "time", "timestamp"]).ok_or("no ts/time/timestamp field")?;
        let ts = match ts {
            serde_json::Value::Number(n) => epoch(n.as_f64().unwrap_or(-1.0))?,
            serde_json::Value::String(s) => rfc3339(s)?,
            _ => return Err("the time is neither a string nor a number".into()),
        };
        let user = field(&["user", "username", "account"])
            .and_then(|u| u.as_str())
            .ok_or("no user/username/account string")?;
        let ip = field(&["ip", "src_ip", "client_ip", "remote_ip"])
            .and_then(|u| u.as_str())
            .ok_or("no ip/src_ip/client_ip/remote_ip string")?;
        (ts, user.to_owned(), ip.to_owned())
    } else {
        let f: Vec<&str> = t.split(',').map(str::trim).collect();
        let [time, user, ip] = f.as_slice() else {
            return Err(format!("expected time,user,ip; found {} fields", f.len()));
        };
        if time.eq_ignore_ascii_case("time") || time.eq_ignore_ascii_case("ts") {
            return Ok(None);
        }
        let ts = match time.parse::<f64>() {
            Ok(n) => epoch(n)?,
            Err(_) => rfc3339(time)?,
        };
        (ts, (*user).to_owned(), (*ip).to_owned())
    };
    let user = crate::config::inventory::parse_account(&user)?;
    let ip = ip
        .parse::<IpAddr>()
        .map_err(|_| format!("{ip:?} is not an IP address"))?;
    Ok(Some((ts, user, crate::config::canonical(ip))))
}

fn epoch(n: f64) -> Result<Ts, String> {
    if !(0.0..4.0e9).contains(&n) {
        return Err(format!("{n} is not a Unix time in seconds"));
    }
    let secs = n.trunc();
    Ok(Ts::from_parts(secs as i64, ((n - secs) * 1e9) as u32))
}

fn rfc3339(s: &str) -> Result<Ts, String> {
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|_| format!("{s:?} is not an RFC 3339 time (e.g. 2024-03-04T15:02:11Z)"))?;
    let ns = t.as_nanosecond();
    u64::try_from(ns)
        .map(Ts)
        .map_err(|_| format!("{s:?} is before 1970"))
}

/// Line `n` of the session log `path` as a login (`Ok(None)`: blank or a header), or the
/// problem with it.
fn login_at(path: &Path, n: usize, line: &str) -> Result<Option<Login>, Problem> {
    match parse_line(line) {
        Ok(parsed) => Ok(parsed.map(|(ts, user, ip)| Login {
            ts,
            user,
            ip,
            origin: format!("{}:{n}", path.display()),
        })),
        Err(reason) => Err(Problem {
            file: path.to_owned(),
            line: n,
            col: 0,
            reason,
        }),
    }
}

/// Reads a whole session log (analysis of a capture). Every bad line is a problem.
pub fn read_all(path: &Path) -> Result<Vec<Login>, Vec<Problem>> {
    let text = crate::config::read_bounded(path, SESSION_LOG_BYTES_MAX, "session log")
        .map_err(|p| vec![p])?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match login_at(path, i + 1, line) {
            Ok(Some(l)) => out.push(l),
            Ok(None) => {}
            Err(p) => problems.push(p),
        }
    }
    if problems.is_empty() {
        out.sort_by_key(|l| l.ts);
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Follows a session log as it grows (`tail -F`): reads complete new lines, starts over when the
/// file is truncated or replaced (log rotation).
#[derive(Debug)]
pub struct Tail {
    path: PathBuf,
    offset: u64,
    line: usize,
    #[cfg(unix)]
    inode: u64,
    partial: Vec<u8>,
}

impl Tail {
    /// Follows `path` from its current end (earlier lines were read at start, or belong to the
    /// past), or from the start when `from_start`.
    pub fn new(path: &Path, from_start: bool) -> Tail {
        let meta = std::fs::metadata(path).ok();
        let len = meta.as_ref().map_or(0, std::fs::Metadata::len);
        // Line numbers count from the start of the file, so a problem points at the right line.
        let line = if from_start {
            0
        } else {
            count_lines(path, len)
        };
        Tail {
            path: path.to_owned(),
            offset: if from_start { 0 } else { len },
            line,
            #[cfg(unix)]
            inode: meta.as_ref().map_or(0, inode),
            partial: Vec::new(),
        }
    }

    /// New complete lines since the last poll, each parsed, with its origin.
    pub fn poll(&mut self) -> Vec<Result<Login, Problem>> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Vec::new();
        };
        #[cfg(unix)]
        {
            let ino = inode(&meta);
            if ino != self.inode {
                self.inode = ino;
                self.restart();
            }
        }
        if meta.len() < self.offset {
            self.restart();
        }
        if meta.len() == self.offset {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let read = std::fs::File::open(&self.path).and_then(|mut f| {
            f.seek(SeekFrom::Start(self.offset))?;
            f.take(TAIL_CHUNK as u64).read_to_end(&mut buf)
        });
        let Ok(n) = read else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&buf);
        let mut out = Vec::new();
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let raw: Vec<u8> = self.partial.drain(..=nl).collect();
            self.line += 1;
            let text = String::from_utf8_lossy(&raw);
            if let Some(l) = login_at(&self.path, self.line, &text).transpose() {
                out.push(l);
            }
        }
        if self.partial.len() > LINE_MAX {
            self.partial.clear();
            out.push(Err(Problem {
                file: self.path.clone(),
                line: self.line + 1,
                col: 0,
                reason: format!("line longer than {LINE_MAX} bytes"),
            }));
        }
        out
    }

    fn restart(&mut self) {
        self.offset = 0;
        self.line = 0;
        self.partial.clear();
    }
}

/// Newlines in the first `len` bytes of `path`.
fn count_lines(path: &Path, len: u64) -> usize {
    let Ok(f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut r = std::io::BufReader::new(f.take(len));
    let mut n = 0;
    let mut buf = [0u8; 64 * 1024];
    while let Ok(k) = r.read(&mut buf) {
        if k == 0 {
            break;
        }
        n += buf.iter().take(k).filter(|b| **b == b'\n').count();
    }
    n
}

#[cfg(unix)]
fn inode(m: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(m)
}

/// Logins by address: who was on an address at a time.
#[derive(Debug, Default)]
pub struct Bindings {
    by_ip: HashMap<IpAddr, VecDeque<(Ts, String, String)>>,
}

impl Bindings {
    /// Remembers that contractor `id` logged in from `ip` at `ts` (`origin`: file and line).
    pub fn learn(&mut self, ip: IpAddr, ts: Ts, id: &str, origin: &str) {
        if self.by_ip.len() >= BOUND_ADDRESSES_MAX && !self.by_ip.contains_key(&ip) {
            self.by_ip.clear();
        }
        let q = self.by_ip.entry(ip).or_default();
        if q.len() >= LOGINS_PER_ADDRESS {
            q.pop_front();
        }
        let at = q.iter().position(|(t, _, _)| *t > ts).unwrap_or(q.len());
        q.insert(at, (ts, id.to_owned(), origin.to_owned()));
    }

    /// The contractor whose latest login from `ip` at or before `ts` (allowing
    /// [`LOGIN_SKEW_SECS`]) is at most `ttl_secs` old, with the login's origin.
    pub fn bind(&self, ip: IpAddr, ts: Ts, ttl_secs: u64) -> Option<(&str, &str, Ts)> {
        let q = self.by_ip.get(&ip)?;
        let limit = ts.plus(LOGIN_SKEW_SECS * Ts::NANOS_PER_SEC);
        q.iter()
            .rev()
            .find(|(t, _, _)| *t <= limit)
            .filter(|(t, _, _)| ts.since(*t) <= ttl_secs.saturating_mul(Ts::NANOS_PER_SEC))
            .map(|(t, id, o)| (id.as_str(), o.as_str(), *t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_and_csv_lines_parse_and_bad_ones_say_why() {
        let (ts, user, ip) =
            parse_line(r#"{"ts":"2024-03-04T15:02:11Z","user":"bob","ip":"::ffff:198.51.100.7"}"#)
                .unwrap()
                .unwrap();
        assert_eq!(ts.rfc3339(), "2024-03-04T15:02:11.000000Z");
        assert_eq!(
            (user.as_str(), ip.to_string().as_str()),
            ("bob", "198.51.100.7")
        );
        let (ts, user, _) = parse_line(
            r#"{"timestamp":1709564531.5,"username":"alice","client_ip":"203.0.113.9"}"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!((ts.secs(), user.as_str()), (1_709_564_531, "alice"));
        assert_eq!(parse_line("time,user,ip").unwrap(), None);
        let (_, user, ip) = parse_line("2024-03-04T15:02:11Z, carol ,203.0.113.9")
            .unwrap()
            .unwrap();
        assert_eq!(
            (user.as_str(), ip.to_string().as_str()),
            ("carol", "203.0.113.9")
        );
        assert!(parse_line("2024-03-04T15:02:11Z,carol")
            .unwrap_err()
            .contains("time,user,ip"));
        assert!(
            parse_line(r#"{"ts":"yesterday","user":"b","ip":"1.2.3.4"}"#)
                .unwrap_err()
                .contains("RFC 3339")
        );
        assert!(parse_line(r#"{"ts":1,"user":"b","ip":"1.2.3"}"#)
            .unwrap_err()
            .contains("not an IP"));
        assert!(parse_line(r#"{"ts":1,"ip":"1.2.3.4"}"#)
            .unwrap_err()
            .contains("user"));
        assert!(parse_line("{nope").unwrap_err().contains("JSON"));
    }

    #[test]
    fn a_login_binds_its_address_for_the_ttl_and_the_latest_login_wins() {
        let mut b = Bindings::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let t0 = Ts::from_secs(1_000_000);
        b.learn(ip, t0, "bob", "s:1");
        b.learn(ip, Ts::from_secs(1_003_600), "carol", "s:2");
        assert_eq!(
            b.bind(ip, Ts::from_secs(1_001_000), 3_600).unwrap().0,
            "bob"
        );
        assert_eq!(
            b.bind(ip, Ts::from_secs(1_004_000), 3_600).unwrap().0,
            "carol"
        );
        // A flow shortly before the login that logs it.
        assert_eq!(b.bind(ip, Ts::from_secs(999_900), 3_600).unwrap().0, "bob");
        assert!(b.bind(ip, Ts::from_secs(999_000), 3_600).is_none());
        assert!(
            b.bind(ip, Ts::from_secs(1_003_600 + 3_601), 3_600)
                .is_none(),
            "expired"
        );
        assert!(b.bind("198.51.100.8".parse().unwrap(), t0, 3_600).is_none());
    }

    #[test]
    fn a_tail_reads_complete_lines_and_starts_over_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.log");
        std::fs::write(&p, "2024-03-04T15:00:00Z,old,203.0.113.1\n").unwrap();
        let mut t = Tail::new(&p, false);
        assert!(t.poll().is_empty(), "existing lines belong to the past");
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"2024-03-04T15:01:00Z,bob,203.0.113.2\n2024-03-04T15:02:00Z,ca")
            .unwrap();
        let got = t.poll();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().user, "bob");
        f.write_all(b"rol,203.0.113.3\nbad line\n").unwrap();
        let got = t.poll();
        assert_eq!(got[0].as_ref().unwrap().user, "carol");
        let e = got[1].as_ref().unwrap_err();
        assert_eq!(e.line, 4, "line numbers count from the file's start: {e}");
        drop(f);
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "2024-03-04T16:00:00Z,dave,203.0.113.4\n").unwrap();
        let got = t.poll();
        assert_eq!(got.len(), 1, "a replaced file is read from its start");
        assert_eq!(
            got[0].as_ref().unwrap().origin,
            format!("{}:1", p.display())
        );
    }
}
