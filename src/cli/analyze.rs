//! `remotewatch analyze`: capture files in, JSON Lines alerts out.

use super::{fail, load_config, summary, AnalyzeArgs, EXIT_INPUT, EXIT_RUNTIME};
use crate::capture::{ChunkStep, FileCapture, Step};
use crate::export::JsonlSink;
use crate::pipeline::{analyze_file, FileEnd, FileError, PacketPath, Pipeline, Workers};
use std::io::IsTerminal;
use std::time::Instant;

/// Inputs smaller than this finish before a progress bar would help.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

pub(super) fn run(a: &AnalyzeArgs) -> i32 {
    let cfg = match load_config(a.config.as_ref()) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // Check every input before reading any, so a typo in the last path fails fast and alone.
    let mut captures = Vec::with_capacity(a.paths.len());
    for p in &a.paths {
        match FileCapture::open(p) {
            Ok(c) => captures.push(c),
            Err(e) => return fail(EXIT_INPUT, e),
        }
    }
    let (intel, logins) = match super::identity_inputs(&cfg, false) {
        Ok(x) => x,
        Err(e) => return fail(EXIT_INPUT, e),
    };
    let workers = super::workers_for(a.workers, &cfg);
    let mut sink = JsonlSink::stdout();
    let show_progress = !a.no_progress && std::io::stderr().is_terminal();
    for (path, cap) in a.paths.iter().zip(captures) {
        let started = Instant::now();
        let bar =
            (show_progress && cap.size() >= PROGRESS_MIN_BYTES).then(|| progress_bar(cap.size()));
        let link = cap.linktype();
        // Classic pcap with several pipelines: every pipeline's thread reads its share of the
        // file, opened once above.
        let read_in_blocks = if workers > 1 {
            match cap.into_blocks() {
                Ok(b) => b,
                Err(e) => return fail(EXIT_INPUT, e),
            }
        } else {
            Err(cap)
        };
        let mut cap = match read_in_blocks {
            Err(cap) => cap,
            Ok(blocks) => {
                let progress = |at: u64| {
                    if let Some(b) = &bar {
                        b.set_position(at);
                    }
                };
                let ran = analyze_file(&cfg, &blocks, link, workers, &mut sink, &progress);
                if let Some(b) = bar {
                    b.finish_and_clear();
                }
                match ran {
                    Ok((stats, end)) => {
                        let truncated = match end {
                            FileEnd::End => None,
                            FileEnd::Truncated(why) => Some(why),
                        };
                        summary::print(path, &stats, started.elapsed(), truncated.as_deref());
                        continue;
                    }
                    Err(FileError::Input(e)) => return fail(EXIT_INPUT, e),
                    Err(FileError::Output(e)) => return output_failed(&e),
                }
            }
        };
        let mut pipe: Box<dyn PacketPath> = if workers > 1 {
            match Workers::start(&cfg, cap.linktype(), workers, &mut sink) {
                Ok(w) => Box::new(w),
                Err(e) => return fail(EXIT_RUNTIME, format!("starting workers: {e}")),
            }
        } else {
            let mut p = Pipeline::new(&cfg, cap.linktype(), &mut sink);
            p.set_intel(std::sync::Arc::clone(&intel));
            p.queue_logins(logins.clone());
            Box::new(p)
        };
        let mut sink_err = None;
        let truncated = if cap.chunked() {
            // Whole runs of records, read once and (with workers) shared by every thread.
            let mut spare = None;
            loop {
                let step = cap.chunk(spare.take());
                if let Some(b) = &bar {
                    b.set_position(cap.consumed());
                }
                match step {
                    Ok(ChunkStep::Chunk(c)) => match pipe.chunk(c) {
                        Ok(free) => spare = free,
                        Err(e) => {
                            sink_err = Some(e);
                            break None;
                        }
                    },
                    Ok(ChunkStep::End) => break None,
                    Ok(ChunkStep::Truncated(why)) => break Some(why),
                    Err(e) => {
                        drop(pipe);
                        return fail(EXIT_INPUT, e);
                    }
                }
            }
        } else {
            loop {
                let step = cap.pump(|f| {
                    if sink_err.is_none() {
                        if let Err(e) = pipe.frame(f) {
                            sink_err = Some(e);
                        }
                    }
                });
                if let Some(b) = &bar {
                    b.set_position(cap.consumed());
                }
                match step {
                    Ok(Step::Frames(_)) if sink_err.is_none() => continue,
                    Ok(Step::Frames(_) | Step::Idle(_) | Step::End) => break None,
                    Ok(Step::Truncated(why)) => break Some(why),
                    Err(e) => {
                        drop(pipe);
                        return fail(EXIT_INPUT, e);
                    }
                }
            }
        };
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        if let Some(e) = sink_err.or_else(|| pipe.finish().err()) {
            return output_failed(&e);
        }
        summary::print(path, &pipe.stats(), started.elapsed(), truncated.as_deref());
    }
    0
}

/// The exit code when writing alerts failed: none when the reader went away (`| head`).
fn output_failed(e: &std::io::Error) -> i32 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return 0;
    }
    fail(EXIT_RUNTIME, format!("writing alerts: {e}"))
}

fn progress_bar(len: u64) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style);
    }
    bar
}
