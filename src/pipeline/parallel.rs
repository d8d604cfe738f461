//! Sharded analysis of a classic pcap file with the reading shared: `N` pipelines on `N`
//! threads, and every thread reads.
//!
//! ```text
//! blocks:   0        1        2        3        4     ...   (capture::Blocks, read by pread)
//! read by:  whichever thread needs the next block first: read, split into records from where
//!           the first one seems to start, route, then shared with every thread
//! thread t: takes every block in block order: checks where its records start, places the
//!           expiry ticks, analyses its own flows' frames ──▶ final stage on thread 0: merge,
//!           dedup, counts, sink
//! ```
//!
//! [`Workers`](super::Workers) reads on one thread and hands frames to the others, so on a
//! machine with as many cores as pipelines that thread, reading for everyone, sets the pace.
//! Here reading is shared: a thread that is about to need a block nobody has read yet claims
//! it, reads it (the kernel's copy runs on every core), splits it into records, routes every
//! frame to the pipeline of its flow ([`Router`], the same routing as `Workers`: the flow key
//! read from fixed header fields by `decode::peek`, a full decode only of the frames the peek
//! declines), and hands the block to every thread. Every thread then analyses, block after
//! block in file order, the frames of its own flows (decoding each from the shared block), and
//! the expiry ticks and DNS responses every pipeline sees (a response is parsed once, by the
//! thread that routes it, and every pipeline learns its names from that: [`Heard`]), as a
//! worker of `Workers` does: each flow is decided as one pipeline decides it, and the final
//! stage ([`Merge`]) gives the same alerts in the same order. Handing the owner decoded
//! packets instead, so no frame is decoded twice, measured no faster: a decoded packet is as
//! many cache lines to move between cores as the frame's headers.
//!
//! No thread waits for another to read, split or route: a pcap file has no marks where
//! records start, so where a block's first record starts is known for certain only from the
//! block before, but the thread that reads a block splits it from where its records seem to
//! start (`Fetched::guess_first`: the first run of eight record headers that hold together).
//! Every thread takes the blocks in order and checks each guess against where the previous
//! block's records end; on the rare block where they differ (a capture carried in a payload,
//! a block shorter than eight records), it reads and splits that block again itself, as every
//! other thread does. The frame numbers and the expiry schedule run on from block to block in
//! each thread alike. An earlier design passed a relay from block to block, splitting and
//! placing ticks in turn: on the 2 GB benchmark capture with two threads, each slept about
//! 45 ms waiting for its turn (`perf sched`), and the run took 2 % longer. Threads keep
//! [`AHEAD_BLOCKS`] block routed ahead of the one they analyse.
//!
//! Failure policy: an unreadable or corrupt record ends the records there, as a truncated file
//! does; every record before it is analysed, the flows are ended and their alerts delivered,
//! then the error is returned. A sink error stops every thread and is returned.

use super::workers::{
    Merge, Outbox, OutboxSink, Router, Shard, Tag, Tagged, DRAIN, ROUTE_NAMES, ROUTE_OWNER,
};
use super::{AlertSink, Heard, Pipeline, Stats};
use crate::capture::{BlockEnd, Blocks, CaptureError, Chunk, Fetched, FramePlace, LinkType};
use crate::config::Config;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Blocks kept routed ahead of the one a thread analyses: enough that a thread rarely finds
/// its next block missing, few enough that a block is still in the caches when it is
/// analysed. One block: with the one analysed, 1 MiB of a core's 2 MiB second-level cache on
/// the cores measured, the rest left to the pipeline's own state. `--workers 2` on the 2 GB
/// benchmark capture ran 1.5–1.9 % sooner than with two (three paired series of 15 to 21
/// runs), and two had run 2 % sooner than eight; with none, each thread waits for every block
/// it does not read itself.
const AHEAD_BLOCKS: u64 = 1;

/// Most blocks claimed past the slowest thread's: the bound on blocks in flight (each a
/// buffer of [`crate::capture::BLOCK_LEN`] plus the longest record), about 50 MB. Threads do
/// not progress evenly (thread 0 also runs the final stage), and a thread that is ahead reads
/// and routes blocks for the others. Measured on the 2 GB benchmark capture with 2 threads:
/// with a lead of 16 blocks the faster thread waited, and one run in two took up to 1.8 times
/// as long; 64 ran as fast as no bound.
const LEAD_BLOCKS: u64 = 64;

/// How many steps ahead a thread asks the CPU to fetch the frames it will analyse. Most of
/// them were read, and so written to the caches, by the other thread's core; a plain load
/// waits for each such line in turn (about 45 ns a frame more than a frame read on the same
/// core, measured with `perf` on the benchmark capture), while a prefetch lets the fetches of
/// the next frames overlap the analysis of this one. 16 steps: 8 and 32 measured the same
/// (±2 %), and without it `--workers 2` took 8–12 % longer.
const PREFETCH_STEPS: usize = 16;

/// How a file analysed by [`analyze_file`] ended.
#[derive(Debug)]
pub enum FileEnd {
    /// At a record boundary.
    End,
    /// Inside a record (libpcap's words); every record before it was analysed.
    Truncated(String),
}

/// Why [`analyze_file`] stopped early.
#[derive(Debug)]
pub enum FileError {
    /// A record could not be read; every record before it was analysed and its alerts
    /// delivered.
    Input(CaptureError),
    /// The sink failed.
    Output(io::Error),
}

/// What the threads share.
struct Shared<'a> {
    blocks: &'a Blocks,
    n: usize,
    link: LinkType,
    /// The next block to claim: blocks are claimed in order, each by one thread.
    claimed: AtomicU64,
    /// Set by a thread that has reached the end of the records: nothing past it is claimed.
    ended: AtomicBool,
    /// Per thread, the block it is analysing (`u64::MAX` once it has stopped): no block is
    /// claimed more than [`LEAD_BLOCKS`] past the slowest thread, so blocks in flight stay
    /// bounded however unevenly the threads progress.
    at: Vec<AtomicU64>,
    /// Buffers and lists of blocks every thread is done with, per thread that read them: a
    /// thread reads into a buffer it read into before, so the kernel's copy writes to lines
    /// already in that core's cache.
    pool: Vec<Mutex<Vec<Spare>>>,
    /// Set when the final stage fails: every thread stops.
    abort: AtomicBool,
}

/// One step of one pipeline, at a frame of the block (its index there).
#[derive(Clone, Copy, Debug)]
enum Step {
    /// Analyse the frame: the pipeline's own.
    Frame(u32),
    /// Learn the DNS names the frame carries (another pipeline's DNS response).
    Names(u32),
}

/// A block read, split and routed by one thread: its records, from where it guessed the first
/// one starts, and per pipeline what that pipeline does with them, in stream order.
struct Spread {
    chunk: Chunk,
    /// Where the split started (`Fetched::guess_first`, or the block's end when nothing in
    /// it looked like a record's start).
    first: u64,
    /// How the records split from `first` end, the frame count of a failure counted from the
    /// block's first frame.
    end: BlockEnd,
    /// Every frame of the block, in file order.
    frames: Vec<FramePlace>,
    /// Per frame, whether it is an IP packet, whose time moves the expiry schedule.
    packets: Vec<bool>,
    /// Per pipeline, its steps in stream order.
    steps: Vec<Vec<Step>>,
    /// Per DNS response (by frame, in order), what it teaches every pipeline's name cache,
    /// parsed once here rather than by every pipeline.
    heard: Vec<(u32, Option<Heard>)>,
    /// The thread that read it (whose pool its buffers go back to).
    reader: usize,
}

/// What a block every thread is done with leaves to be filled again.
struct Spare {
    buf: Box<[u8]>,
    frames: Vec<FramePlace>,
    packets: Vec<bool>,
    steps: Vec<Vec<Step>>,
    heard: Vec<(u32, Option<Heard>)>,
}

/// A spread block on its way to every thread.
struct Block {
    b: u64,
    spread: Arc<Spread>,
}

/// The block a thread analyses: as another thread spread it, or split again here because that
/// thread's guess of its first record was wrong.
enum Settled {
    Shared(Arc<Spread>),
    Own(Box<Spread>),
}

impl Settled {
    fn spread(&self) -> &Spread {
        match self {
            Settled::Shared(s) => s,
            Settled::Own(s) => s,
        }
    }
}

/// A thread's report to the final stage: its alerts since the last, the position it has
/// passed (`u64::MAX` once drained) and its counters.
struct Report {
    pipeline: usize,
    alerts: Vec<Tagged>,
    upto: u64,
    stats: Stats,
    /// The file offset past the block just analysed.
    reached: u64,
}

/// Analyses the classic pcap file `blocks` (frames of framing `link`) with `n` pipelines
/// configured by `cfg`, delivering to `sink`: the caller's thread and `n - 1` more, all of them
/// reading (see the module documentation). `progress` is told the file
/// offset reached after each block. Returns the counters and how the file ended.
pub fn analyze_file(
    cfg: &Config,
    blocks: &Blocks,
    link: LinkType,
    n: usize,
    sink: &mut dyn AlertSink,
    progress: &dyn Fn(u64),
) -> Result<(Stats, FileEnd), FileError> {
    let n = n.clamp(1, super::WORKERS_MAX);
    let mut share = cfg.clone();
    share.flow.max_flows = cfg.flow.max_flows.div_ceil(n);
    share.flow.max_inspecting = cfg.flow.max_inspecting.div_ceil(n);
    let shared = Shared {
        blocks,
        n,
        link,
        claimed: AtomicU64::new(0),
        ended: AtomicBool::new(false),
        at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        pool: (0..n).map(|_| Mutex::new(Vec::new())).collect(),
        abort: AtomicBool::new(false),
    };
    // Spread blocks, to every thread, in the order they are read.
    let (outs, inboxes): (Vec<Sender<Block>>, Vec<Receiver<Block>>) =
        (0..n).map(|_| mpsc::channel()).unzip();
    let (report_tx, reports) = mpsc::channel::<Report>();
    let mut merge = Merge::new(n, cfg, sink);
    let abort = || shared.abort.store(true, Ordering::Relaxed);
    let (result, end) = std::thread::scope(|scope| {
        let mut lanes = inboxes.into_iter().enumerate();
        let Some((_, own_in)) = lanes.next() else {
            return Err(FileError::Output(io::Error::other(
                "no pipeline to analyse with",
            )));
        };
        for (t, inb) in lanes {
            let (shared, share, report, out) = (&shared, &share, report_tx.clone(), outs.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("remotewatch-reader-{t}"))
                .spawn_scoped(scope, move || {
                    Lane::new(t, shared, share, out, inb)
                        .run(|r| {
                            // The final stage gone means the run was aborted.
                            let _ = report.send(r);
                            Ok(())
                        })
                        .map(|_| ())
                });
            if let Err(e) = spawned {
                abort();
                return Err(FileError::Output(e));
            }
        }
        drop(report_tx);
        let mut own_stats = Stats::default();
        let ran = Lane::new(0, &shared, &share, outs, own_in).run(|r| {
            if r.upto == u64::MAX {
                own_stats = r.stats.clone();
            } else {
                progress(r.reached);
            }
            merge.report(0, r.alerts, r.upto, r.stats);
            while let Ok(o) = reports.try_recv() {
                merge.report(o.pipeline, o.alerts, o.upto, o.stats);
            }
            merge.deliver()
        });
        let end = match ran {
            Ok(end) => end,
            Err(e) => {
                abort();
                return Err(FileError::Output(e));
            }
        };
        // Every other thread reports its drain as it ends.
        for o in &reports {
            merge.report(o.pipeline, o.alerts, o.upto, o.stats);
        }
        if !merge.all_finished() {
            return Err(FileError::Output(io::Error::other(
                "an analysis thread stopped unexpectedly",
            )));
        }
        merge.deliver().map_err(FileError::Output)?;
        merge.sink().flush().map_err(FileError::Output)?;
        Ok((merge.stats(&own_stats), end))
    })?;
    match end {
        BlockEnd::End | BlockEnd::Next(_) => Ok((result, FileEnd::End)),
        BlockEnd::Truncated(why) => Ok((result, FileEnd::Truncated(why))),
        BlockEnd::Failed(e) => Err(FileError::Input(e)),
    }
}

/// Spins (`std::hint::spin_loop`, tens of nanoseconds each) a thread waits for a block before
/// it sleeps. What it waits for is usually another thread's read of that block, a fraction of
/// a millisecond away: sooner than a sleep and a wake-up cost both threads.
const SPINS: u32 = 1 << 10;

/// How long a thread too far ahead to claim its next block sleeps before it looks again.
const HELD_BACK: Duration = Duration::from_micros(100);

/// How long a thread waiting for a block sleeps before it looks whether the run was aborted
/// (a thread that stopped may have claimed the block it waits for).
const ABORT_POLL: Duration = Duration::from_millis(20);

/// One thread: its pipeline, and its part in reading.
struct Lane<'a> {
    t: usize,
    shared: &'a Shared<'a>,
    pipe: Pipeline<'static>,
    outbox: Rc<RefCell<Outbox>>,
    /// Routes the blocks this thread reads, and keeps the expiry schedule of the blocks it
    /// analyses.
    router: Router,
    /// To every thread (this one included).
    out: Vec<Sender<Block>>,
    inbox: Receiver<Block>,
    /// Blocks received before their turn (another thread read them sooner).
    early: Vec<Block>,
    /// Where the next block's first record starts: the previous block's answer.
    first: u64,
    /// Frames before the next block.
    seq: u64,
    /// The frames of the block being analysed every pipeline runs an expiry tick before.
    ticks: Vec<u32>,
}

impl<'a> Lane<'a> {
    fn new(
        t: usize,
        shared: &'a Shared<'a>,
        cfg: &Config,
        out: Vec<Sender<Block>>,
        inbox: Receiver<Block>,
    ) -> Lane<'a> {
        let outbox = Outbox::shared();
        let pipe = Pipeline::owning(cfg, shared.link, Box::new(OutboxSink(Rc::clone(&outbox))))
            .without_dedup();
        Lane {
            t,
            shared,
            pipe,
            outbox,
            router: Router::new(shared.link, Shard::even(shared.n)),
            out,
            inbox,
            early: Vec::new(),
            first: shared.blocks.first_record(),
            seq: 0,
            ticks: Vec::new(),
        }
    }

    /// Reads, routes and analyses until the records end, reporting after every block and once
    /// drained; stops at once when `report` fails or the run is aborted. Returns how the
    /// records ended.
    fn run(mut self, mut report: impl FnMut(Report) -> io::Result<()>) -> io::Result<BlockEnd> {
        let sh = self.shared;
        let mut b = 0u64;
        let mut end = BlockEnd::End;
        while !sh.abort.load(Ordering::Relaxed) {
            if let Some(at) = sh.at.get(self.t) {
                at.store(b, Ordering::Release);
            }
            // Keep blocks routed ahead, then take this one (routing it if nobody has).
            while self.claim(b + AHEAD_BLOCKS) {}
            let Some(block) = self.next(b) else {
                break;
            };
            let (settled, ended) = self.settle(b, block);
            let first = self.seq;
            self.place_ticks(settled.spread());
            self.analyse(settled.spread(), first);
            // The stream position this pipeline has passed is the frames before the next block.
            self.seq += settled.spread().frames.len() as u64;
            self.recycle(settled);
            report(self.report(self.seq, sh.blocks.block_end(b)))?;
            if let Some(e) = ended {
                end = e;
                sh.ended.store(true, Ordering::Relaxed);
                break;
            }
            b += 1;
        }
        if let Some(at) = sh.at.get(self.t) {
            at.store(u64::MAX, Ordering::Release);
        }
        self.outbox.borrow_mut().tag = DRAIN;
        // The outbox cannot fail, so neither can the pipeline.
        let _ = self.pipe.finish();
        report(self.report(u64::MAX, 0))?;
        Ok(end)
    }

    /// Block `b`: as soon as it is spread, spreading it here if no thread has claimed it yet;
    /// `None` when none will come (the records ended before it, or the run was aborted).
    fn next(&mut self, b: u64) -> Option<Block> {
        let sh = self.shared;
        loop {
            while let Ok(block) = self.inbox.try_recv() {
                self.early.push(block);
            }
            if let Some(i) = self.early.iter().position(|k| k.b == b) {
                return Some(self.early.swap_remove(i));
            }
            if self.claim(b) {
                continue;
            }
            let reading = sh.claimed.load(Ordering::Acquire) > b;
            let ended = sh.ended.load(Ordering::Relaxed) || b >= sh.blocks.count();
            if sh.abort.load(Ordering::Relaxed) || (!reading && ended) {
                return None;
            }
            // Another thread is reading it, or this thread is too far ahead of the slowest
            // one to claim it: that one will move on.
            for _ in 0..SPINS {
                if let Ok(block) = self.inbox.try_recv() {
                    self.early.push(block);
                    break;
                }
                std::hint::spin_loop();
            }
            if self.early.iter().any(|k| k.b == b) {
                continue;
            }
            let wait = if reading { ABORT_POLL } else { HELD_BACK };
            match self.inbox.recv_timeout(wait) {
                Ok(block) => self.early.push(block),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        }
    }

    /// Claims the next block to read if it is not past block `upto` and the records have not
    /// ended, and reads, splits, routes and sends it. Whether it claimed one.
    fn claim(&mut self, upto: u64) -> bool {
        let sh = self.shared;
        let slowest = sh
            .at
            .iter()
            .map(|a| a.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let upto = upto.min(slowest.saturating_add(LEAD_BLOCKS));
        let mut b = sh.claimed.load(Ordering::Acquire);
        loop {
            if b > upto
                || b >= sh.blocks.count()
                || sh.ended.load(Ordering::Relaxed)
                || sh.abort.load(Ordering::Relaxed)
            {
                return false;
            }
            match sh
                .claimed
                .compare_exchange_weak(b, b + 1, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => b = now,
            }
        }
        let spread = self.spread(b, None);
        let spread = Arc::new(spread);
        for tx in &self.out {
            // A thread that has stopped (aborted run) no longer needs blocks.
            let _ = tx.send(Block {
                b,
                spread: Arc::clone(&spread),
            });
        }
        true
    }

    /// Reads block `b`, splits it from `first` (the previous block's answer) or, without one,
    /// from where its first record seems to start, and routes its frames. Needs nothing from
    /// other blocks, so threads read, split and route blocks at once without waiting for each
    /// other.
    fn spread(&mut self, b: u64, first: Option<u64>) -> Spread {
        let sh = self.shared;
        let (spare, mut frames, mut packets, mut steps, mut heard) = match sh
            .pool
            .get(self.t)
            .and_then(|p| p.lock().unwrap_or_else(PoisonError::into_inner).pop())
        {
            Some(s) => (Some(s.buf), s.frames, s.packets, s.steps, s.heard),
            None => (
                None,
                Vec::new(),
                Vec::new(),
                (0..sh.n).map(|_| Vec::new()).collect(),
                Vec::new(),
            ),
        };
        let fetched: Fetched = sh.blocks.fetch(b, spare);
        let first = first
            .or_else(|| fetched.guess_first(sh.blocks))
            .unwrap_or_else(|| sh.blocks.block_end(b));
        let (chunk, end) = fetched.split(sh.blocks, first, &mut frames);
        let router = &self.router;
        for (i, &place) in frames.iter().enumerate() {
            // A block holds fewer frames than `u32::MAX` (its bytes are fewer).
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            let f = chunk.frame(place);
            let (route, packet) = router.place_frame(&f);
            packets.push(packet);
            if route & ROUTE_NAMES != 0 {
                // A DNS response (rare): decoded once more, to be parsed once for everyone.
                heard.push((i, router.heard(&f)));
            }
            let owner = usize::from(route & ROUTE_OWNER);
            for (t, list) in steps.iter_mut().enumerate() {
                if t == owner {
                    list.push(Step::Frame(i));
                } else if route & ROUTE_NAMES != 0 {
                    list.push(Step::Names(i));
                }
            }
        }
        Spread {
            chunk,
            first,
            end,
            frames,
            packets,
            steps,
            heard,
            reader: self.t,
        }
    }

    /// Block `b` as split from where the previous block's records end: as spread when its
    /// reader's guess was right (nearly always), otherwise read and split again here (every
    /// thread finds the same wrong guess and splits alike). Moves the answer on to the next
    /// block, and returns how the records end if they end in this block.
    fn settle(&mut self, b: u64, block: Block) -> (Settled, Option<BlockEnd>) {
        let sh = self.shared;
        let settled = if block.spread.first == self.first {
            Settled::Shared(block.spread)
        } else {
            drop(block);
            Settled::Own(Box::new(self.spread(b, Some(self.first))))
        };
        let end = settled.spread().end.after(sh.blocks, self.seq);
        match end {
            BlockEnd::Next(next) => {
                self.first = next;
                (settled, None)
            }
            other => (settled, Some(other)),
        }
    }

    /// The expiry ticks of a block, on one pipeline's schedule run on from the previous block:
    /// every thread places them alike, from the same times.
    fn place_ticks(&mut self, s: &Spread) {
        self.ticks.clear();
        for (i, (p, &packet)) in s.frames.iter().zip(&s.packets).enumerate() {
            if packet && self.router.expiry_due(p.ts()) {
                self.ticks.push(u32::try_from(i).unwrap_or(u32::MAX));
            }
        }
    }

    /// Gives a block's buffers back to the pool of the thread that read it, once no thread
    /// holds it.
    fn recycle(&self, settled: Settled) {
        let s = match settled {
            Settled::Shared(s) => Arc::into_inner(s),
            Settled::Own(s) => Some(*s),
        };
        let Some(s) = s else {
            return;
        };
        let (mut frames, mut packets, mut steps, mut heard) =
            (s.frames, s.packets, s.steps, s.heard);
        frames.clear();
        packets.clear();
        steps.iter_mut().for_each(Vec::clear);
        heard.clear();
        if let Some(pool) = self.shared.pool.get(s.reader) {
            pool.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Spare {
                    buf: s.chunk.into_buffer(),
                    frames,
                    packets,
                    steps,
                    heard,
                });
        }
    }

    /// Runs this pipeline's steps of a block whose first frame follows `first` frames, and
    /// every expiry tick in its place.
    fn analyse(&mut self, s: &Spread, first: u64) {
        let outbox = &self.outbox;
        let set_tag = |i: u32, step: u8| {
            outbox.borrow_mut().tag = Tag {
                seq: first + u64::from(i) + 1,
                step,
            };
        };
        let frame = |i: u32| s.frames.get(i as usize);
        let pipe = &mut self.pipe;
        let mut ticks = self.ticks.iter().copied().peekable();
        // The outbox cannot fail, so neither can the pipeline.
        let mut tick_upto = |pipe: &mut Pipeline<'_>, upto: u32| {
            while let Some(k) = ticks.next_if(|&k| k <= upto) {
                if let Some(p) = frame(k) {
                    set_tag(k, 0);
                    let _ = pipe.idle(p.ts());
                }
            }
        };
        // What the DNS responses teach, met in frame order: one comparison a step.
        let mut heard = s.heard.iter();
        let mut next = heard.next();
        let mut next_at = next.map_or(u32::MAX, |h| h.0);
        let mut told = |i: u32| {
            if i != next_at {
                return None;
            }
            let now = next.map(|h| h.1.as_ref());
            next = heard.next();
            next_at = next.map_or(u32::MAX, |h| h.0);
            now
        };
        let steps = s.steps.get(self.t).map(Vec::as_slice).unwrap_or_default();
        for (k, &step) in steps.iter().enumerate() {
            if let Some(&(Step::Frame(j) | Step::Names(j))) = steps.get(k + PREFETCH_STEPS) {
                if let Some(&p) = frame(j) {
                    s.chunk.prefetch(p);
                }
            }
            match step {
                Step::Frame(i) => {
                    tick_upto(pipe, i);
                    if let Some(&p) = frame(i) {
                        set_tag(i, 1);
                        let f = s.chunk.frame(p);
                        let _ = match told(i) {
                            Some(h) => pipe.frame_heard(&f, h),
                            None => pipe.frame(&f),
                        };
                    }
                }
                Step::Names(i) => {
                    tick_upto(pipe, i);
                    match told(i) {
                        Some(Some(h)) => pipe.learn_heard(h),
                        Some(None) => {}
                        None => {
                            if let Some(&p) = frame(i) {
                                pipe.learn_names(&s.chunk.frame(p));
                            }
                        }
                    }
                }
            }
        }
        tick_upto(pipe, u32::MAX);
    }

    fn report(&self, upto: u64, reached: u64) -> Report {
        Report {
            pipeline: self.t,
            alerts: std::mem::take(&mut self.outbox.borrow_mut().alerts),
            upto,
            stats: self.pipe.stats(),
            reached,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
