//! `remotewatch run`: the sensor daemon.
//!
//! The packet path runs on this thread, synchronously, reading the capture itself
//! ([`LiveSocket`]; with `--workers N` on an interface, N pipelines each read a socket of their
//! own, `pipeline::Fanout`). A small tokio runtime on a side thread serves the HTTP endpoints and waits for
//! SIGINT/SIGTERM; a signal raises a stop flag that the packet loop sees within one capture read
//! timeout. It then stops the capture, drains what was already captured, concludes every open flow
//! and flushes the alert outputs before the endpoints close and the process exits, so no alert the
//! sensor had evidence for is lost.

use super::reload::{Outcome, Reloader};
use super::{fail, load_config, privilege, RunArgs, EXIT_INPUT, EXIT_RUNTIME};
use crate::capture::{
    CaptureError, FanoutGroup, FileCapture, Frame, LinkType, LiveOptions, LiveSocket, LiveStats,
    Step,
};
use crate::config::{Config, Problem};
use crate::export::http::{self, HttpState, Token};
use crate::export::{JsonlSink, Metrics, ReportSink};
use crate::identity::session::Tail;
use crate::pipeline::{Fanout, PacketPath, Pipeline, Workers};
use crate::store::Store;
use crate::ts::Ts;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How often the pipeline's counters are copied into the metrics.
const METRICS_EVERY: Duration = Duration::from_secs(1);
/// How often the audit schedule is checked.
const AUDIT_CHECK_EVERY: Duration = Duration::from_secs(60);

enum Source {
    Live(LiveSocket),
    /// One socket per worker, in one fanout group on the interface (`pipeline::Fanout`).
    Fanout(Vec<LiveSocket>),
    File(FileCapture),
}

impl Source {
    fn pump<F: FnMut(&Frame<'_>)>(&mut self, sink: F) -> Result<Step, CaptureError> {
        match self {
            Source::Live(l) => l.pump(sink),
            // Fanout lanes read their sockets themselves (`fanout_loop`).
            Source::Fanout(_) => Ok(Step::End),
            Source::File(f) => f.pump(sink),
        }
    }
}

pub(super) fn run(a: &RunArgs) -> i32 {
    let mut cfg = match load_config(a.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The account is looked up first, so that a typo fails before anything is created or opened.
    let run_as = match a
        .user
        .as_ref()
        .or(cfg.run_as.as_ref())
        .map(|u| privilege::lookup(u))
    {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => return fail(EXIT_INPUT, e),
    };
    if let Some(d) = &a.data_dir {
        if let Err(e) = create_private_dir(d) {
            return fail(EXIT_INPUT, format!("--data-dir {}: {e}", d.display()));
        }
        cfg.use_data_dir(d);
    }
    if let Some(l) = a.metrics_listen {
        cfg.http.listen = Some(l);
    }
    if cfg.audit.schedule.is_some() && (cfg.store.is_none() || cfg.audit.dir.is_none()) {
        return fail(
            EXIT_INPUT,
            "audit.schedule needs store.path and audit.dir (or --data-dir): exports are read from the store",
        );
    }
    let loading = Instant::now();
    let (intel, (token, tls)) = match (crate::intel::Intel::load(&cfg.intel), http_secrets(&cfg)) {
        (Ok(i), Ok(h)) => (Arc::new(i), h),
        (i, h) => {
            let mut problems = i.err().unwrap_or_default();
            problems.extend(h.err().unwrap_or_default());
            return fail(EXIT_INPUT, crate::config::ConfigError { problems });
        }
    };
    // The session log is followed from its start: logins of the past hours still bind
    // addresses, and findings they make again keep their ids (the store has them already).
    let tail = match &cfg.identity.session_log {
        None => None,
        Some(p) if p.is_file() => Some(Tail::new(p, true)),
        Some(p) => {
            return fail(
                EXIT_INPUT,
                format!("identity.session_log {}: no such file", p.display()),
            )
        }
    };
    let load_secs = loading.elapsed().as_secs_f64();
    let databases = intel.describe_databases();
    tracing::info!(
        databases = databases.len(),
        lists = intel.feeds().len(),
        seconds = load_secs,
        "IP intelligence loaded"
    );
    let contractor_ids: Vec<&str> = cfg
        .inventory
        .contractors()
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    let metrics = Arc::new(Metrics::with_risk(
        &cfg.sensor_name,
        cfg.alerts.active_window_secs,
        cfg.risk.clone(),
        &contractor_ids,
    ));
    // The alert log first: it is locked against a second daemon, which then stops before it
    // touches the store.
    let jsonl = match &cfg.alerts.jsonl {
        None => JsonlSink::new(Box::new(std::io::stdout()), true),
        Some(p) => match JsonlSink::append_to(p) {
            Ok(s) => s,
            Err(e) => return fail(EXIT_INPUT, format!("alert output {e}")),
        },
    };
    let mut store = match &cfg.store {
        None => {
            tracing::warn!("no store.path configured: alerts are not kept in a database");
            None
        }
        Some(loc) => match Store::open_at(loc) {
            Ok(s) => Some(s),
            Err(e) => return fail(EXIT_INPUT, e),
        },
    };
    metrics.intel_loaded(&intel, load_secs, unix_now());
    metrics.loaded_at(unix_now());
    if let Some(s) = &mut store {
        restore_active_alerts(s, &metrics, cfg.alerts.active_window_secs);
    }
    let listener = match cfg.http.listen {
        None => None,
        Some(addr) => match std::net::TcpListener::bind(addr) {
            Ok(l) => Some(l),
            Err(e) => return fail(EXIT_INPUT, format!("http.listen {addr}: {e}")),
        },
    };
    let workers = super::workers_for(a.workers, &cfg);
    let mut source = match open_source(a, &cfg, workers) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(target) = &run_as {
        if let Err(e) = drop_privileges(target, a, &cfg) {
            return fail(EXIT_RUNTIME, e);
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reopen = Arc::new(AtomicBool::new(false));
    let reload_req = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(AtomicBool::new(false));
    let http_state = Arc::new(HttpState {
        metrics: Arc::clone(&metrics),
        store: cfg.store.clone(),
        ready: Arc::clone(&ready),
        token,
    });
    let side = match SideRuntime::start(
        Arc::clone(&stop),
        [Arc::clone(&reopen), Arc::clone(&reload_req)],
        (listener, tls),
        http_state,
    ) {
        Ok(s) => s,
        Err(e) => {
            return fail(
                EXIT_RUNTIME,
                format!("cannot start the signal and HTTP thread: {e}"),
            )
        }
    };
    let link = match &source {
        Source::Live(l) => l.linktype(),
        Source::Fanout(ls) => ls.first().map_or(LinkType::Ethernet, LiveSocket::linktype),
        Source::File(f) => f.linktype(),
    };
    let live_stats = match &source {
        Source::Live(l) => Some(l.stats()),
        // The sum of the lanes' counters, kept by `fanout_loop`.
        Source::Fanout(_) => Some(Arc::new(LiveStats::default())),
        Source::File(_) => None,
    };
    let mut sink = ReportSink::new(store, Arc::clone(&metrics), jsonl, &cfg.sensor_name);
    match sink.redeliver() {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            alerts = n,
            "delivered alerts stored by a previous run that stopped before writing them"
        ),
        Err(e) => return fail(EXIT_RUNTIME, format!("delivering stored alerts: {e}")),
    }
    let ctl = Control {
        stop: &stop,
        reopen: &reopen,
        metrics: &metrics,
        live: live_stats.as_deref(),
        replay_rate: a.replay_rate,
        cfg: &cfg,
        databases: &databases,
    };
    if let Source::Fanout(lanes) = source {
        ready.store(true, Ordering::Relaxed);
        let code = fanout_loop(lanes, link, &mut sink, &ctl);
        ready.store(false, Ordering::Relaxed);
        side.shutdown();
        return code;
    }
    let mut pipe: Box<dyn PacketPath> = if workers > 1 {
        match Workers::start(&cfg, link, workers, &mut sink) {
            Ok(w) => Box::new(w),
            Err(e) => return fail(EXIT_RUNTIME, format!("starting workers: {e}")),
        }
    } else {
        let mut p = Pipeline::new(&cfg, link, &mut sink);
        p.set_intel(Arc::clone(&intel));
        Box::new(p)
    };
    // Reloads apply to one pipeline in line (see `workers_for`).
    let reloader = match (&a.config, workers) {
        (Some(path), 1) => match Reloader::start(path.clone(), &cfg, Arc::clone(&reload_req)) {
            Ok(r) => Some(r),
            Err(e) => return fail(EXIT_RUNTIME, format!("cannot start the reload thread: {e}")),
        },
        _ => None,
    };
    let mut extra = Extra {
        reloader,
        tail,
        last_tail: None,
    };
    ready.store(true, Ordering::Relaxed);
    let code = packet_loop(&mut source, pipe.as_mut(), &ctl, &mut extra);
    if let Some(s) = &live_stats {
        tracing::info!(
            received = s.received.load(Ordering::Relaxed),
            dropped = s.dropped.load(Ordering::Relaxed),
            if_dropped = s.if_dropped.load(Ordering::Relaxed),
            "capture stopped"
        );
    }
    let finished = pipe.finish();
    let st = pipe.stats();
    metrics.observe(&st, live_stats.as_deref());
    tracing::info!(
        packets = st.frames,
        flows = st.flows.created,
        alerts = st.alerts_total(),
        "sensor stopped"
    );
    if code == 0 && finished.is_ok() && a.stay && !stop.load(Ordering::Relaxed) {
        tracing::info!("replay finished; serving until SIGINT/SIGTERM (--stay)");
        let mut last_audit = Instant::now();
        let mut last_metrics_stay = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            // Logins and reloads still apply: identity findings do not need packets.
            if let Err(e) = extra.service(pipe.as_mut(), &metrics) {
                tracing::error!(error = %e, "writing alerts failed");
                break;
            }
            if last_metrics_stay.elapsed() >= METRICS_EVERY {
                last_metrics_stay = Instant::now();
                metrics.observe(&pipe.stats(), None);
            }
            if last_audit.elapsed() >= AUDIT_CHECK_EVERY {
                last_audit = Instant::now();
                scheduled_audit(&cfg, &databases);
            }
        }
    }
    ready.store(false, Ordering::Relaxed);
    side.shutdown();
    match (code, finished) {
        (0, Err(e)) => fail(EXIT_RUNTIME, format!("writing alerts: {e}")),
        (code, _) => code,
    }
}

/// The bearer token and TLS identity of the HTTP endpoints, read from the files the
/// configuration names (before privileges are dropped: they may be readable by root only).
pub(super) fn http_secrets(
    cfg: &Config,
) -> Result<(Option<Token>, Option<TlsConfig>), Vec<Problem>> {
    let mut problems = Vec::new();
    let token = match cfg.http.token_file.as_deref().map(Token::load) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(p)) => {
            problems.push(p);
            None
        }
    };
    let tls = match cfg.http.tls.as_ref().map(http::tls_config) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(mut p)) => {
            problems.append(&mut p);
            None
        }
    };
    if problems.is_empty() {
        Ok((token, tls))
    } else {
        Err(problems)
    }
}

/// Hands the files the daemon keeps writing to `target`, then switches to it.
fn drop_privileges(target: &privilege::Target, a: &RunArgs, cfg: &Config) -> Result<(), String> {
    let mut owned: Vec<std::path::PathBuf> = a.data_dir.iter().cloned().collect();
    if let Some(crate::store::Location::Sqlite(db)) = &cfg.store {
        // SQLite's write-ahead log and shared-memory index live next to the database.
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            owned.push(p.into());
        }
    }
    owned.extend(cfg.alerts.jsonl.iter().cloned());
    owned.extend(cfg.audit.dir.iter().cloned());
    let paths: Vec<&std::path::Path> = owned.iter().map(|p| p.as_path()).collect();
    target.adopt(&paths)?;
    target.switch()?;
    tracing::info!(
        uid = nix::unistd::getuid().as_raw(),
        gid = nix::unistd::getgid().as_raw(),
        "privileges dropped"
    );
    Ok(())
}

/// Creates `dir` (owner and group only) if it does not exist.
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o750);
    }
    b.create(dir)
}

/// Writes the scheduled audit export of the period that just ended, if due.
fn scheduled_audit(cfg: &Config, databases: &[std::collections::BTreeMap<String, String>]) {
    let (Some(schedule), Some(store), Some(dir)) = (cfg.audit.schedule, &cfg.store, &cfg.audit.dir)
    else {
        return;
    };
    match crate::export::schedule::run_due(
        store,
        dir,
        schedule,
        cfg.audit.csv,
        wall_clock(),
        databases,
    ) {
        Ok(Some(path)) => {
            tracing::info!(export = %path.display(), "scheduled audit export written")
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "scheduled audit export failed"),
    }
}

/// Rebuilds the active-alert window (gauges, risk scores) from the store after a restart.
fn restore_active_alerts(store: &mut Store, metrics: &Metrics, window_secs: u64) {
    let now = wall_clock();
    let since = Ts(now
        .0
        .saturating_sub(window_secs.saturating_mul(Ts::NANOS_PER_SEC)));
    match store.period(since, Ts(u64::MAX / 2)) {
        Ok(rows) => {
            for r in rows {
                metrics.remember(&r.record);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read recent alerts from the store"),
    }
}

fn unix_now() -> f64 {
    wall_clock().0 as f64 / Ts::NANOS_PER_SEC as f64
}

fn wall_clock() -> Ts {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Ts::from_parts(i64::try_from(d.as_secs()).unwrap_or(0), d.subsec_nanos())
}

fn open_source(a: &RunArgs, cfg: &Config, workers: usize) -> Result<Source, i32> {
    if let Some(path) = &a.replay {
        let f = FileCapture::open(path).map_err(|e| fail(EXIT_INPUT, e))?;
        tracing::info!(file = %path.display(), linktype = %f.linktype(), "replay started");
        return Ok(Source::File(f));
    }
    let Some(interface) = a
        .interface
        .clone()
        .or_else(|| cfg.capture.interface.clone())
    else {
        return Err(fail(
            EXIT_INPUT,
            "no interface: set capture.interface in the configuration or pass --interface",
        ));
    };
    let opts = LiveOptions {
        interface,
        bpf: cfg.capture.bpf.clone(),
        snaplen: cfg.capture.snaplen,
        promiscuous: cfg.capture.promiscuous,
        buffer_bytes: cfg.capture.buffer_bytes,
        fanout: None,
    };
    if workers > 1 && cfg.capture.fanout {
        match open_fanout(&opts, workers) {
            Ok(lanes) => {
                tracing::info!(
                    interface = %opts.interface,
                    linktype = %lanes.first().map_or(LinkType::Ethernet, LiveSocket::linktype),
                    workers,
                    group = lanes.first().and_then(LiveSocket::fanout_group).unwrap_or(0),
                    "capture started"
                );
                return Ok(Source::Fanout(lanes));
            }
            Err(e) => {
                // A kernel without packet fanout or kernel-chosen group ids (Linux 4.3): one
                // socket, its frames routed in user space (`Workers`).
                tracing::warn!(
                    error = %e,
                    "capture fanout unavailable: one socket is read and its frames routed to the workers"
                );
            }
        }
    }
    let live = LiveSocket::open(&opts).map_err(|e| fail(EXIT_INPUT, e))?;
    tracing::info!(interface = %opts.interface, linktype = %live.linktype(), "capture started");
    Ok(Source::Live(live))
}

/// One socket per worker on `opts.interface`, all in one new fanout group (the first socket
/// makes it, the kernel picking an id no other program uses; the others join it by that id).
fn open_fanout(opts: &LiveOptions, workers: usize) -> Result<Vec<LiveSocket>, CaptureError> {
    let mut opts = opts.clone();
    opts.fanout = Some(FanoutGroup::New);
    let first = LiveSocket::open(&opts)?;
    let group = first.fanout_group().ok_or_else(|| CaptureError::Live {
        interface: opts.interface.clone(),
        reason: "the socket is in no fanout group".into(),
    })?;
    opts.fanout = Some(FanoutGroup::Join(group));
    std::iter::once(Ok(first))
        .chain((1..workers).map(|_| LiveSocket::open(&opts)))
        .collect()
}

/// Runs the lanes of a fanout group until SIGINT/SIGTERM or a capture error, delivering their
/// alerts through `sink`. Returns the exit code.
fn fanout_loop(
    lanes: Vec<LiveSocket>,
    link: LinkType,
    sink: &mut ReportSink,
    ctl: &Control<'_>,
) -> i32 {
    let each: Vec<Arc<LiveStats>> = lanes.iter().map(LiveSocket::stats).collect();
    let sum_live = || {
        if let Some(total) = ctl.live {
            for (field, of) in [
                (
                    &total.frames,
                    (|s: &LiveStats| &s.frames) as fn(&LiveStats) -> &AtomicU64,
                ),
                (&total.received, |s| &s.received),
                (&total.dropped, |s| &s.dropped),
                (&total.if_dropped, |s| &s.if_dropped),
            ] {
                let n = each.iter().map(|s| of(s).load(Ordering::Relaxed)).sum();
                field.store(n, Ordering::Relaxed);
            }
        }
    };
    let mut fan = match Fanout::start(ctl.cfg, link, lanes, sink) {
        Ok(f) => f,
        Err(e) => return fail(EXIT_RUNTIME, format!("starting capture lanes: {e}")),
    };
    let mut last_metrics = Instant::now();
    let mut last_audit: Option<Instant> = None;
    let mut code = 0;
    loop {
        if ctl.stop.load(Ordering::Relaxed) {
            tracing::info!("shutdown requested: draining capture");
            break;
        }
        if ctl.reopen.swap(false, Ordering::Relaxed) {
            match fan.reopen_outputs() {
                Ok(()) => tracing::info!("SIGHUP: alert log reopened"),
                Err(e) => {
                    code = fail(EXIT_RUNTIME, format!("reopening the alert log: {e}"));
                    break;
                }
            }
        }
        match fan.pump(METRICS_EVERY / 10) {
            // Every lane ended before a stop was asked for: a capture failed.
            Ok(true) => break,
            Ok(false) => {}
            Err(e) => {
                code = fail(EXIT_RUNTIME, format!("writing alerts: {e}"));
                break;
            }
        }
        if last_metrics.elapsed() >= METRICS_EVERY {
            last_metrics = Instant::now();
            sum_live();
            ctl.metrics.observe(&fan.stats(), ctl.live);
        }
        if last_audit.is_none_or(|t| t.elapsed() >= AUDIT_CHECK_EVERY) {
            last_audit = Some(Instant::now());
            scheduled_audit(ctl.cfg, ctl.databases);
        }
    }
    let finished = fan.finish();
    let (st, lane_frames) = (fan.stats(), fan.lane_frames());
    drop(fan);
    sum_live();
    ctl.metrics.observe(&st, ctl.live);
    if let Some(s) = ctl.live {
        tracing::info!(
            received = s.received.load(Ordering::Relaxed),
            dropped = s.dropped.load(Ordering::Relaxed),
            if_dropped = s.if_dropped.load(Ordering::Relaxed),
            lane_frames = ?lane_frames,
            "capture stopped"
        );
    }
    tracing::info!(
        packets = st.frames,
        flows = st.flows.created,
        alerts = st.alerts_total(),
        "sensor stopped"
    );
    match finished {
        Err(e) if code == 0 => code = fail(EXIT_RUNTIME, e),
        Ok(Err(e)) if code == 0 => code = fail(EXIT_RUNTIME, format!("writing alerts: {e}")),
        _ => {}
    }
    code
}

/// What the packet loop watches besides the packets.
struct Control<'a> {
    stop: &'a AtomicBool,
    reopen: &'a AtomicBool,
    metrics: &'a Metrics,
    live: Option<&'a LiveStats>,
    replay_rate: Option<u32>,
    cfg: &'a Config,
    databases: &'a [std::collections::BTreeMap<String, String>],
}

/// What the packet loop services between batches besides signals: reloads and the session log.
struct Extra {
    reloader: Option<Reloader>,
    tail: Option<Tail>,
    last_tail: Option<Instant>,
}

/// How often the session log is read for new lines.
const TAIL_EVERY: Duration = Duration::from_millis(250);

impl Extra {
    /// Applies a finished reload and new session-log lines. Errors are the alert sink's.
    fn service(&mut self, pipe: &mut dyn PacketPath, metrics: &Metrics) -> std::io::Result<()> {
        if let Some(outcome) = self.reloader.as_ref().and_then(Reloader::poll) {
            match outcome {
                Outcome::Loaded(cfg, intel, secs) => {
                    pipe.reload(&cfg, Arc::clone(&intel));
                    metrics.intel_loaded(&intel, secs, unix_now());
                    let ids: Vec<&str> = cfg
                        .inventory
                        .contractors()
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect();
                    metrics.reloaded(cfg.risk.clone(), &ids, unix_now());
                    tracing::info!(
                        contractors = ids.len(),
                        databases = intel.databases().len(),
                        lists = intel.feeds().len(),
                        seconds = secs,
                        "reloaded inventory, identity settings, lists and databases"
                    );
                }
                Outcome::Failed(e) => {
                    metrics.reload_failed();
                    tracing::error!("reload refused, the previous configuration stays in use: {e}");
                }
            }
        }
        if self.last_tail.is_none_or(|t| t.elapsed() >= TAIL_EVERY) {
            self.last_tail = Some(Instant::now());
            if let Some(t) = &mut self.tail {
                for line in t.poll() {
                    match line {
                        Ok(login) => pipe.login(&login)?,
                        Err(problem) => {
                            metrics.session_log_error();
                            tracing::warn!("session log line skipped: {problem}");
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Feeds the pipeline until the source ends or `stop` is raised. Returns the exit code.
fn packet_loop(
    source: &mut Source,
    pipe: &mut dyn PacketPath,
    ctl: &Control<'_>,
    extra: &mut Extra,
) -> i32 {
    let mut stopping = false;
    let mut last_metrics = Instant::now();
    let mut last_audit: Option<Instant> = None;
    let pace = Pace::new(ctl.replay_rate);
    loop {
        if ctl.stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            tracing::info!("shutdown requested: draining capture");
            match source {
                Source::Live(l) => l.stop(),
                Source::Fanout(_) | Source::File(_) => return 0,
            }
        }
        if ctl.reopen.swap(false, Ordering::Relaxed) {
            match pipe.reopen_outputs() {
                Ok(()) => tracing::info!("SIGHUP: alert log reopened"),
                Err(e) => return fail(EXIT_RUNTIME, format!("reopening the alert log: {e}")),
            }
        }
        let mut sink_err = None;
        let (stop, reopen) = (ctl.stop, ctl.reopen);
        let step = source.pump(|f| {
            if sink_err.is_some() {
                return;
            }
            // A paced replay checks the signal flags per frame so that SIGTERM and SIGHUP are not
            // held up by a batch that takes seconds to play.
            if pace.active() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                if reopen.swap(false, Ordering::Relaxed) {
                    if let Err(e) = pipe.reopen_outputs() {
                        sink_err = Some(e);
                        return;
                    }
                    tracing::info!("SIGHUP: alert log reopened");
                }
                pace.wait();
            }
            sink_err = pipe.frame(f).err();
        });
        if let Some(e) = sink_err.or_else(|| extra.service(pipe, ctl.metrics).err()) {
            return fail(EXIT_RUNTIME, format!("writing alerts: {e}"));
        }
        if last_metrics.elapsed() >= METRICS_EVERY {
            last_metrics = Instant::now();
            ctl.metrics.observe(&pipe.stats(), ctl.live);
        }
        if last_audit.is_none_or(|t| t.elapsed() >= AUDIT_CHECK_EVERY) {
            last_audit = Some(Instant::now());
            scheduled_audit(ctl.cfg, ctl.databases);
        }
        let result = match step {
            Ok(Step::Frames(_)) => Ok(()),
            Ok(Step::Idle(now)) => pipe.idle(now),
            Ok(Step::End) => return 0,
            Ok(Step::Truncated(why)) => {
                tracing::warn!(reason = %why, "replay file is truncated; stopping at the cut");
                return 0;
            }
            Err(e) => return fail(EXIT_RUNTIME, e),
        };
        if let Err(e) = result {
            return fail(EXIT_RUNTIME, format!("writing alerts: {e}"));
        }
    }
}

/// Paces a replay at a fixed packet rate.
struct Pace {
    interval: Option<Duration>,
    start: Instant,
    n: std::cell::Cell<u32>,
}

impl Pace {
    fn new(rate: Option<u32>) -> Pace {
        Pace {
            interval: rate.filter(|r| *r > 0).map(|r| Duration::from_secs(1) / r),
            start: Instant::now(),
            n: std::cell::Cell::new(0),
        }
    }

    fn active(&self) -> bool {
        self.interval.is_some()
    }

    /// Sleeps until the next packet is due.
    fn wait(&self) {
        let Some(iv) = self.interval else { return };
        let n = self.n.get();
        self.n.set(n.saturating_add(1));
        let due = self.start + iv.saturating_mul(n);
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
    }
}

/// The side thread: signal handling and the HTTP endpoints on a small tokio runtime.
struct SideRuntime {
    done: tokio::sync::watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl SideRuntime {
    fn start(
        stop: Arc<AtomicBool>,
        hup: [Arc<AtomicBool>; 2],
        listener: (Option<std::net::TcpListener>, Option<TlsConfig>),
        state: Arc<HttpState>,
    ) -> std::io::Result<SideRuntime> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (done, done_rx) = tokio::sync::watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("signals-http".into())
            .spawn(move || rt.block_on(side_main(stop, hup, listener, state, done_rx, ready_tx)))?;
        ready_rx
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("side thread exited")))?;
        Ok(SideRuntime { done, thread })
    }

    /// Closes the HTTP endpoints and waits for the thread.
    fn shutdown(self) {
        let _ = self.done.send(true);
        let _ = self.thread.join();
    }
}

/// The HTTPS server configuration, when the endpoints are served over TLS.
type TlsConfig = Arc<tokio_rustls::rustls::ServerConfig>;

async fn side_main(
    stop: Arc<AtomicBool>,
    hup_flags: [Arc<AtomicBool>; 2],
    (listener, tls): (Option<std::net::TcpListener>, Option<TlsConfig>),
    state: Arc<HttpState>,
    mut done: tokio::sync::watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<std::io::Result<()>>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut int, mut term, mut hup) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) {
        (Ok(i), Ok(t), Ok(h)) => (i, t, h),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let server = listener.map(|l| {
        let addr = l
            .local_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        let mut rx = done.clone();
        let shutdown = async move {
            let _ = rx.wait_for(|d| *d).await;
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(listen = %addr, scheme, "HTTP endpoints up: /metrics /healthz /readyz /api/alerts");
        tokio::spawn(http::serve(l, state, tls, shutdown))
    });
    let _ = ready.send(Ok(()));
    loop {
        tokio::select! {
            _ = int.recv() => stop.store(true, Ordering::Relaxed),
            _ = term.recv() => stop.store(true, Ordering::Relaxed),
            // SIGHUP: reopen the alert log (logrotate) and reload the configuration.
            _ = hup.recv() => {
                for f in &hup_flags {
                    f.store(true, Ordering::Relaxed);
                }
                continue;
            }
            _ = done.wait_for(|d| *d) => {}
        }
        break;
    }
    // A signal stops the packet loop; the endpoints stay up until it has flushed everything.
    let _ = done.wait_for(|d| *d).await;
    if let Some(s) = server {
        match s.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "HTTP server task failed"),
            Ok(Ok(())) => {}
        }
    }
}
