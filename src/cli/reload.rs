//! Reload without stopping capture: SIGHUP, or a change to any file the configuration is made of
//! (the configuration, inventory, catalogue, intel databases, lists and geofeeds).
//!
//! Loading runs on its own thread, so a large database never stalls the packet loop; the loop
//! picks up the outcome between batches. A configuration with any problem is refused as a whole:
//! the daemon keeps its last good state, logs every problem with file, line and reason, and
//! exposes the failure in metrics (`remotewatch_reload_last_successful` 0).
//!
//! Files are watched by polling their metadata (size, modification time, inode) once a second
//! rather than with inotify: a handful of `stat` calls cost nothing, and polling sees every way a
//! file gets replaced (in-place write, rename over it, a Kubernetes ConfigMap's symlink swap),
//! where a watch on the file misses renames and a watch on the directory misses symlink targets.

use crate::config::{Config, ConfigError};
use crate::intel::Intel;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How often the watched files are looked at.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// A file being written is read only once it has stopped changing for this long.
const SETTLE: Duration = Duration::from_millis(300);

/// What a reload produced.
pub(super) enum Outcome {
    /// A new configuration and its intel, and how long loading took (seconds).
    Loaded(Box<Config>, Arc<Intel>, f64),
    /// The new files have problems; the old state stays.
    Failed(ConfigError),
}

/// The reload thread.
pub(super) struct Reloader {
    rx: Receiver<Outcome>,
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

type Stamp = Option<(u64, Option<SystemTime>, u64)>;

fn stamp(p: &Path) -> Stamp {
    let m = std::fs::metadata(p).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let ino = 0;
    Some((m.len(), m.modified().ok(), ino))
}

fn stamps(files: &[PathBuf]) -> Vec<Stamp> {
    files.iter().map(|f| stamp(f)).collect()
}

impl Reloader {
    /// Watches the files of `cfg` (loaded from `path`); `request` is raised by SIGHUP.
    pub(super) fn start(
        path: PathBuf,
        cfg: &Config,
        request: Arc<AtomicBool>,
    ) -> std::io::Result<Reloader> {
        let (tx, rx) = mpsc::channel();
        let done = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&done);
        let mut files = cfg.input_files();
        let thread = std::thread::Builder::new()
            .name("reload".into())
            .spawn(move || {
                let mut seen = stamps(&files);
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(POLL_EVERY);
                    let asked = request.swap(false, Ordering::Relaxed);
                    let mut now = stamps(&files);
                    if !asked && now == seen {
                        continue;
                    }
                    // Let a file that is being written finish.
                    let settle_until = Instant::now() + POLL_EVERY * 5;
                    loop {
                        std::thread::sleep(SETTLE);
                        let again = stamps(&files);
                        if again == now || Instant::now() > settle_until {
                            break;
                        }
                        now = again;
                    }
                    let started = Instant::now();
                    let outcome = match load(&path) {
                        Ok((cfg, intel)) => {
                            files = cfg.input_files();
                            Outcome::Loaded(
                                Box::new(cfg),
                                Arc::new(intel),
                                started.elapsed().as_secs_f64(),
                            )
                        }
                        Err(e) => Outcome::Failed(e),
                    };
                    seen = stamps(&files);
                    if tx.send(outcome).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Reloader {
            rx,
            done,
            thread: Some(thread),
        })
    }

    /// The outcome of a reload that finished since the last call, if any.
    pub(super) fn poll(&self) -> Option<Outcome> {
        self.rx.try_recv().ok()
    }
}

impl Drop for Reloader {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads the configuration at `path` and the intel it names; every problem of every file.
fn load(path: &Path) -> Result<(Config, Intel), ConfigError> {
    let cfg = Config::load(path)?;
    let intel = Intel::load(&cfg.intel).map_err(|problems| ConfigError { problems })?;
    Ok((cfg, intel))
}
