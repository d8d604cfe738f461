//! JSON Lines alert output.

use crate::alert::Alert;
use crate::pipeline::AlertSink;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Writes one JSON object per line.
pub struct JsonlSink {
    out: BufWriter<Box<dyn Write + Send>>,
    flush_each: bool,
    /// The file appended to, reopened after log rotation.
    path: Option<PathBuf>,
}

impl JsonlSink {
    /// Alerts to standard output, flushed at the end (batch analysis).
    pub fn stdout() -> JsonlSink {
        JsonlSink::new(Box::new(io::stdout()), false)
    }

    /// Alerts to any writer; `flush_each` flushes after every alert (daemons).
    pub fn new(w: Box<dyn Write + Send>, flush_each: bool) -> JsonlSink {
        JsonlSink {
            out: BufWriter::new(w),
            flush_each,
            path: None,
        }
    }

    /// Alerts appended to `path`, created with mode 0640 if missing, flushed after every alert.
    /// [`AlertSink::reopen`] reopens the path (for logrotate's SIGHUP). The file is locked
    /// against a second writer, and a torn last line left by a killed one is cut (see
    /// `open_append`).
    pub fn append_to(path: &Path) -> io::Result<JsonlSink> {
        let mut sink = JsonlSink::new(open_append(path)?, true);
        sink.path = Some(path.to_owned());
        Ok(sink)
    }
}

/// How much of the log's end is read at a time while looking for the last line break.
const TAIL_CHUNK: usize = 64 * 1024;

/// Cuts the file back to just after its last `\n` and returns how many bytes went.
///
/// Each line goes out in one `write(2)`, but a write to a regular file is not atomic against
/// SIGKILL: Linux copies it page by page and stops at a fatal signal between pages, so a killed
/// daemon can leave a partial line. That alert was stored but not yet marked delivered, so the
/// next start writes it again in full (`ReportSink::redeliver`); what is cut was never a record.
/// Log shippers read up to a line break, so none has consumed the fragment. Leaving it would
/// glue it to the next alert and make one line that is not JSON.
fn cut_torn_tail(f: &mut File) -> io::Result<u64> {
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = vec![0u8; TAIL_CHUNK];
    let keep = loop {
        if end == 0 {
            break 0;
        }
        let take = usize::try_from(end).map_or(TAIL_CHUNK, |e| e.min(TAIL_CHUNK));
        let start = end - take as u64;
        let chunk = buf.get_mut(..take).unwrap_or_default();
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            break start + i as u64 + 1;
        }
        end = start;
    };
    if keep < len {
        f.set_len(keep)?;
    }
    Ok(len - keep)
}

/// Opens the log for appending, created with mode 0640 if missing. A regular file is locked
/// first, then a torn last line is cut (see `cut_torn_tail`); a log on `/dev/stdout` or a pipe
/// is neither.
fn open_append(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    let path_err = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let mut opts = OpenOptions::new();
    // Read access too: the torn tail is found by reading back from the end. Writes still all go
    // to the end (O_APPEND).
    opts.read(true).create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o640);
    }
    let mut f = opts.open(path).map_err(path_err)?;
    if !f.metadata().map_err(path_err)?.is_file() {
        return Ok(Box::new(f));
    }
    // One writer per log: a second daemon appending to it would interleave its alerts with
    // ours, and take the line this one is writing for a torn one. An advisory lock (flock(2)),
    // released when the file is closed: at exit, or when SIGHUP reopens the path after rotation.
    match f.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "{}: another process holds this alert log (is a second remotewatch running \
                     with the same data directory or alerts.jsonl?)",
                    path.display()
                ),
            ))
        }
        Err(TryLockError::Error(e)) => return Err(path_err(e)),
    }
    match cut_torn_tail(&mut f).map_err(path_err)? {
        0 => {}
        cut => tracing::warn!(
            path = %path.display(),
            bytes = cut,
            "cut a partial last line left by a writer that was killed mid-line"
        ),
    }
    Ok(Box::new(f))
}

impl JsonlSink {
    /// Writes one already-serialised alert object as a line.
    pub fn emit_line(&mut self, json: &str) -> io::Result<()> {
        self.out.write_all(json.as_bytes())?;
        self.out.write_all(b"\n")?;
        if self.flush_each {
            self.out.flush()?;
        }
        Ok(())
    }
}

impl AlertSink for JsonlSink {
    fn emit(&mut self, alert: &Alert) -> io::Result<()> {
        self.emit_line(&alert.to_json())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn reopen(&mut self) -> io::Result<()> {
        if let Some(p) = &self.path {
            self.out.flush()?;
            self.out = BufWriter::new(open_append(p)?);
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cut(content: &[u8]) -> (u64, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        std::fs::write(&p, content).unwrap();
        let mut f = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let n = cut_torn_tail(&mut f).unwrap();
        (n, std::fs::read(&p).unwrap())
    }

    #[test]
    fn a_torn_last_line_is_cut_and_whole_lines_are_kept() {
        assert_eq!(
            cut(b"{\"a\":1}\n{\"b\":2}\n"),
            (0, b"{\"a\":1}\n{\"b\":2}\n".to_vec())
        );
        assert_eq!(cut(b"{\"a\":1}\n{\"b\""), (4, b"{\"a\":1}\n".to_vec()));
        assert_eq!(cut(b"{\"a\""), (4, Vec::new()), "no whole line at all");
        assert_eq!(cut(b""), (0, Vec::new()));
    }

    #[test]
    fn the_last_line_break_is_found_across_read_chunks() {
        // The break sits more than two chunks before the end.
        let mut content = b"{}\n".to_vec();
        content.resize(3 + 2 * TAIL_CHUNK + 17, b'x');
        assert_eq!(
            cut(&content),
            ((2 * TAIL_CHUNK + 17) as u64, b"{}\n".to_vec())
        );
        // A break exactly at a chunk edge.
        let mut content = vec![b'x'; TAIL_CHUNK - 1];
        content.push(b'\n');
        content.extend_from_slice(&[b'y'; TAIL_CHUNK]);
        let (n, kept) = cut(&content);
        assert_eq!(n, TAIL_CHUNK as u64);
        assert_eq!(kept.len(), TAIL_CHUNK);
    }

    #[test]
    fn appending_after_a_kill_continues_on_a_fresh_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        std::fs::write(&p, b"{\"id\":\"1\"}\n{\"id\":\"2\",\"sev").unwrap();
        let mut sink = JsonlSink::append_to(&p).unwrap();
        sink.emit_line(r#"{"id":"2","severity":"high"}"#).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"id\":\"1\"}\n{\"id\":\"2\",\"severity\":\"high\"}\n"
        );
    }

    #[test]
    fn a_missing_log_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        JsonlSink::append_to(&p).unwrap().emit_line("{}").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{}\n");
    }

    #[test]
    fn a_second_writer_is_refused_until_the_first_closes_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        let mut first = JsonlSink::append_to(&p).unwrap();
        // The first writer is mid-line: a second opener must neither append nor cut it.
        first.out.write_all(b"{\"id\":").unwrap();
        first.out.flush().unwrap();
        let e = JsonlSink::append_to(&p).err().unwrap();
        assert!(
            e.to_string()
                .contains("another process holds this alert log"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "{\"id\":");
        first.out.write_all(b"\"1\"}\n").unwrap();
        drop(first);
        let mut second = JsonlSink::append_to(&p).unwrap();
        second.emit_line(r#"{"id":"2"}"#).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "{\"id\":\"1\"}\n{\"id\":\"2\"}\n"
        );
    }
}
