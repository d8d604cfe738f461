//! `remotewatch run`: the sensor daemon.
//!
//! The packet path runs on this thread, synchronously (capture has its own thread inside
//! [`LiveCapture`]). A small tokio runtime on a side thread waits for SIGINT/SIGTERM and raises a
//! stop flag; the packet loop sees it within one capture read timeout, stops the capture, drains
//! what was already captured, concludes every open flow and flushes the alert output before
//! exiting, so no alert the sensor had evidence for is lost.

use super::{fail, load_config, RunArgs, EXIT_INPUT, EXIT_RUNTIME};
use crate::capture::{CaptureError, FileCapture, Frame, LiveCapture, LiveOptions, Step};
use crate::config::Config;
use crate::export::JsonlSink;
use crate::pipeline::{AlertSink, Pipeline};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

enum Source {
    Live(LiveCapture),
    File(FileCapture),
}

impl Source {
    fn pump<F: FnMut(&Frame<'_>)>(&mut self, sink: F) -> Result<Step, CaptureError> {
        match self {
            Source::Live(l) => l.pump(sink),
            Source::File(f) => f.pump(sink),
        }
    }
}

pub(super) fn run(a: &RunArgs) -> i32 {
    let cfg = match load_config(Some(&a.config)) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut sink: Box<dyn AlertSink> = match &cfg.alerts.jsonl {
        None => Box::new(JsonlSink::new(Box::new(std::io::stdout()), true)),
        Some(p) => match JsonlSink::append_to(p) {
            Ok(s) => Box::new(s),
            Err(e) => return fail(EXIT_INPUT, format!("alert output {e}")),
        },
    };
    let mut source = match open_source(a, &cfg) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = watch_signals(Arc::clone(&stop)) {
        return fail(EXIT_RUNTIME, format!("cannot install signal handlers: {e}"));
    }
    let link = match &source {
        Source::Live(l) => l.linktype(),
        Source::File(f) => f.linktype(),
    };
    let mut pipe = Pipeline::new(&cfg, link, sink.as_mut());
    let code = packet_loop(&mut source, &mut pipe, &stop);
    if let Source::Live(l) = &source {
        let s = l.stats();
        tracing::info!(
            received = s.received.load(Ordering::Relaxed),
            dropped = s.dropped.load(Ordering::Relaxed),
            if_dropped = s.if_dropped.load(Ordering::Relaxed),
            "capture stopped"
        );
    }
    let finished = pipe.finish();
    let st = pipe.stats();
    tracing::info!(
        packets = st.frames,
        flows = st.flows.created,
        alerts = st.alerts_total(),
        "sensor stopped"
    );
    match (code, finished) {
        (0, Err(e)) => fail(EXIT_RUNTIME, format!("writing alerts: {e}")),
        (code, _) => code,
    }
}

fn open_source(a: &RunArgs, cfg: &Config) -> Result<Source, i32> {
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
    };
    let live = LiveCapture::open(&opts).map_err(|e| fail(EXIT_INPUT, e))?;
    tracing::info!(interface = %opts.interface, linktype = %live.linktype(), "capture started");
    Ok(Source::Live(live))
}

/// Feeds the pipeline until the source ends or `stop` is raised. Returns the exit code.
fn packet_loop(source: &mut Source, pipe: &mut Pipeline<'_>, stop: &AtomicBool) -> i32 {
    let mut stopping = false;
    loop {
        if stop.load(Ordering::Relaxed) && !stopping {
            stopping = true;
            tracing::info!("shutdown requested: draining capture");
            match source {
                Source::Live(l) => l.stop(),
                Source::File(_) => return 0,
            }
        }
        let mut sink_err = None;
        let step = source.pump(|f| {
            if sink_err.is_none() {
                sink_err = pipe.frame(f).err();
            }
        });
        if let Some(e) = sink_err {
            return fail(EXIT_RUNTIME, format!("writing alerts: {e}"));
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

/// Raises `stop` on SIGINT or SIGTERM, from a side thread running a minimal tokio runtime.
fn watch_signals(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(async move {
                use tokio::signal::unix::{signal, SignalKind};
                let (mut int, mut term) = match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(i), Ok(t)) => (i, t),
                    (Err(e), _) | (_, Err(e)) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
                stop.store(true, Ordering::Relaxed);
            });
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("signal thread exited")))
}
