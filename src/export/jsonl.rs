//! JSON Lines alert output.

use crate::alert::Alert;
use crate::pipeline::AlertSink;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
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
    /// [`AlertSink::reopen`] reopens the path (for logrotate's SIGHUP).
    pub fn append_to(path: &Path) -> io::Result<JsonlSink> {
        let mut sink = JsonlSink::new(open_append(path)?, true);
        sink.path = Some(path.to_owned());
        Ok(sink)
    }
}

fn open_append(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o640);
    }
    let f = opts
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
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
