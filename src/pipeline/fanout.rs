//! Live capture shared out by the kernel: `N` capture sockets in one fanout group on the
//! interface, each read by a lane of its own, and one final stage on the caller's thread.
//!
//! ```text
//! kernel: flow hash ─┬─▶ socket 0 ───▶ lane 0: Pipeline (alerts without dedup) ───┐
//!                    └─▶ socket N-1 ─▶ lane N-1: Pipeline                      ───┴─▶ final stage:
//!                                                                                   merge, dedup,
//!                                                                                   counts, sink
//! ```
//!
//! [`super::Workers`] reads an interface on one thread and routes every frame from there, so
//! that thread sets the pace. Here the kernel routes: every socket of a fanout group
//! (`capture::FANOUT_FLOW`, packet(7)) receives a share of the interface's flows, both
//! directions of a flow on the same socket, and each lane reads its socket and analyses what
//! it receives. No frame is read by one thread and analysed by another, and nothing is routed
//! in user space but the two kinds of frame below. This is how Suricata's `af-packet` (cluster
//! type `cluster_flow`) and Zeek's AF_PACKET plugin use more than one core.
//!
//! Each lane runs an ordinary [`Pipeline`], so a flow is decided as one pipeline decides it,
//! with these differences, all from lanes seeing traffic at their own pace:
//! - DNS names: a lane that receives a DNS response hands a copy to every other lane, which
//!   learns its names before its next batch of frames. A flow that another lane receives in the
//!   same instant as the answer may be judged before the name arrives (one pipeline, and
//!   `Workers`, see the answer first whatever flow it belongs to).
//! - Tunnels: the kernel hashes a VXLAN, Geneve or Teredo datagram by its outer addresses and
//!   ports, and the encapsulating end picks the outer source port per inner flow and direction,
//!   so the two directions of one inner flow may reach different sockets (GRE and IP-in-IP the
//!   kernel may hash either way). A lane hands every tunnelled frame to the lane that the inner
//!   flow's shard hash names ([`Shard`], the hash
//!   `Workers` routes by), so an inner flow's frames meet on one lane whatever socket they
//!   reached. Frames that reached one socket keep their order; the two directions of a flow
//!   that reached two sockets are analysed in the order the lanes read them, which under load
//!   may differ from the order on the wire (`capture.fanout = false` keeps it exact).
//! - Order: alerts are tagged with the time of the packet (or expiry tick) that produced them
//!   and merged in that order once every lane has passed that time. A lane reports when it has
//!   alerts, when its packet time has moved on by [`REPORT_EVERY_NS`], and at every read
//!   timeout on a quiet link (passing the wall clock read at the capture boundary), so the
//!   merge waits at most that long for a lane. Deduplication then runs once, as in `Workers`.
//!   Two alerts produced in the same nanosecond on two lanes may leave in either order.
//! - Limits are split as in `Workers`: each lane tracks up to `flow.max_flows / N` flows.
//!
//! Frames handed between lanes go over bounded queues ([`PASSED_MAX`]). A lane whose peer's
//! queue is full empties its own queue while it waits, so two lanes handing frames to each
//! other never wait for each other forever, and nothing handed over is dropped.
//!
//! Failure policy: a lane whose capture fails ends its flows and delivers its alerts like the
//! others; the run then stops every lane and reports the first capture error. A sink error
//! stops every lane and is returned.

use super::workers::{Merge, Outbox, OutboxSink, Shard, Tag, Tagged, DRAIN};
use super::{AlertSink, Pipeline, Stats, DNS_PORT};
use crate::capture::{CaptureError, Frame, LinkType, LiveSocket, Step};
use crate::config::Config;
use crate::decode::{decode, ip_proto, peek, Decoded};
use crate::ts::Ts;
use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Frames queued for one lane by the others (DNS responses and tunnelled frames): the bound on
/// memory between lanes, each entry a copy of one frame.
pub const PASSED_MAX: usize = 4096;

/// Packet time a busy lane lets pass between reports (alerts aside): how far the final stage's
/// merge may lag behind it, in nanoseconds. Each report wakes the final stage: with a report
/// after every batch, waits and wake-ups of threads were the largest part of the daemon's time
/// on the `benches/live.sh` load (`perf record`).
const REPORT_EVERY_NS: u64 = 100_000_000;

/// How long a lane whose capture has ended waits for frames the other lanes may still hand it
/// before it looks again whether they have ended too.
const DRAIN_POLL: Duration = Duration::from_millis(10);

/// A capture one lane reads alone: one socket of a fanout group.
pub trait LaneSource: Send {
    /// Hands the next frames to `sink`, or says the link was idle or the capture ended (as
    /// [`LiveSocket::pump`]).
    fn pump(&mut self, sink: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError>;
    /// Asks the capture to stop: the next calls of `pump` drain it and then return
    /// [`Step::End`].
    fn stop(&mut self);
}

impl LaneSource for LiveSocket {
    fn pump(&mut self, sink: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
        LiveSocket::pump(self, sink)
    }

    fn stop(&mut self) {
        LiveSocket::stop(self);
    }
}

impl<S: LaneSource + ?Sized> LaneSource for Box<S> {
    fn pump(&mut self, sink: &mut dyn FnMut(&Frame<'_>)) -> Result<Step, CaptureError> {
        (**self).pump(sink)
    }

    fn stop(&mut self) {
        (**self).stop();
    }
}

/// A frame one lane hands another: a copy of its bytes.
struct Passed {
    /// Only to learn its DNS names from (every other lane gets these); otherwise the frame is
    /// the receiving lane's to analyse.
    names: bool,
    ts: Ts,
    wire_len: u32,
    data: Vec<u8>,
}

/// A lane's report to the final stage.
struct Report {
    lane: usize,
    alerts: Vec<Tagged>,
    /// The time the lane has passed; `u64::MAX` once it has ended its flows.
    upto: u64,
    stats: Stats,
    /// Why its capture ended, if it failed (with the final report only).
    error: Option<CaptureError>,
}

/// What the lanes share.
struct Shared {
    /// Raised by the final stage: every lane stops its capture and drains it.
    stop: AtomicBool,
    /// Lanes still reading their capture: a lane that has stopped reading keeps taking frames
    /// handed to it until this is zero.
    capturing: AtomicUsize,
}

/// `N` lanes, each reading one socket of a fanout group, and the final stage (see the module
/// documentation).
pub struct Fanout<'s> {
    shared: Arc<Shared>,
    merge: Merge<'s>,
    reports: Receiver<Report>,
    handles: Vec<JoinHandle<()>>,
    /// The first capture error a lane reported.
    error: Option<CaptureError>,
}

impl<'s> Fanout<'s> {
    /// Starts one lane per source, all with framing `link`, configured by `cfg`, delivering
    /// through `sink` on the caller's thread.
    pub fn start<S: LaneSource + 'static>(
        cfg: &Config,
        link: LinkType,
        sources: Vec<S>,
        sink: &'s mut dyn AlertSink,
    ) -> io::Result<Fanout<'s>> {
        let n = sources.len().clamp(1, super::WORKERS_MAX);
        let mut share = cfg.clone();
        share.flow.max_flows = cfg.flow.max_flows.div_ceil(n);
        share.flow.max_inspecting = cfg.flow.max_inspecting.div_ceil(n);
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            capturing: AtomicUsize::new(n),
        });
        let (outs, inboxes): (Vec<SyncSender<Passed>>, Vec<Receiver<Passed>>) =
            (0..n).map(|_| mpsc::sync_channel(PASSED_MAX)).unzip();
        let (report_tx, reports) = mpsc::channel();
        let mut handles = Vec::with_capacity(n);
        for (t, (src, inbox)) in sources.into_iter().zip(inboxes).enumerate() {
            let (share, lane_shared, outs, report) = (
                share.clone(),
                Arc::clone(&shared),
                outs.clone(),
                report_tx.clone(),
            );
            let spawned = std::thread::Builder::new()
                .name(format!("remotewatch-lane-{t}"))
                .spawn(move || {
                    let lane = Lane::new(t, &share, link, n, outs, inbox);
                    lane.run(src, &lane_shared, &report);
                });
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Lanes already started see the stop and end.
                    shared.stop.store(true, Ordering::Relaxed);
                    shared.capturing.fetch_sub(n - t, Ordering::AcqRel);
                    return Err(e);
                }
            }
        }
        Ok(Fanout {
            shared,
            merge: Merge::new(n, cfg, sink),
            reports,
            handles,
            error: None,
        })
    }

    /// Waits up to `wait` for the lanes' reports and delivers every alert no lane can still
    /// precede. Returns whether every lane has ended; the sink's error if delivering failed.
    pub fn pump(&mut self, wait: Duration) -> io::Result<bool> {
        match self.reports.recv_timeout(wait) {
            Ok(r) => self.absorb(r),
            Err(RecvTimeoutError::Timeout) => {}
            // Every lane has gone: those that did not report their end panicked.
            Err(RecvTimeoutError::Disconnected) => {
                if !self.merge.all_finished() {
                    return Err(io::Error::other("a capture lane stopped unexpectedly"));
                }
            }
        }
        while let Ok(r) = self.reports.try_recv() {
            self.absorb(r);
        }
        self.merge.deliver()?;
        if self.lost_lane() {
            self.stop();
            return Err(io::Error::other("a capture lane stopped unexpectedly"));
        }
        Ok(self.merge.all_finished())
    }

    /// Whether a lane's thread has ended without its final report (it panicked). A lane sends
    /// that report before its thread ends, so one found ended is looked for once more.
    fn lost_lane(&mut self) -> bool {
        let ended = |f: &Fanout<'_>| {
            f.handles
                .iter()
                .enumerate()
                .any(|(lane, h)| h.is_finished() && !f.merge.finished(lane))
        };
        if !ended(self) {
            return false;
        }
        while let Ok(r) = self.reports.try_recv() {
            self.absorb(r);
        }
        ended(self)
    }

    fn absorb(&mut self, r: Report) {
        if let Some(e) = r.error {
            self.error.get_or_insert(e);
            self.stop();
        }
        self.merge.report(r.lane, r.alerts, r.upto, r.stats);
    }

    /// Asks every lane to stop its capture, drain it and end its flows.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }

    /// Every lane's counters as last reported, with the alerts as delivered.
    pub fn stats(&self) -> Stats {
        self.merge.stats_of_all()
    }

    /// Frames each lane has analysed so far: how evenly the kernel shares the traffic.
    pub fn lane_frames(&self) -> Vec<u64> {
        self.merge.frames_of_each()
    }

    /// Reopens the sink's file outputs.
    pub fn reopen_outputs(&mut self) -> io::Result<()> {
        self.merge.sink().reopen()
    }

    /// Stops every lane, waits for their last alerts, delivers and flushes them. Returns the
    /// first capture error a lane met (as the outer error) or the sink's.
    pub fn finish(&mut self) -> Result<io::Result<()>, CaptureError> {
        self.stop();
        let mut result = Ok(());
        while result.is_ok() {
            match self.pump(Duration::from_millis(100)) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => result = Err(e),
            }
        }
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        let result = result.and_then(|()| self.merge.sink().flush());
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(result),
        }
    }
}

impl Drop for Fanout<'_> {
    fn drop(&mut self) {
        self.stop();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// A lane still reading its capture, counted in [`Shared::capturing`] until dropped, which
/// happens also when the lane panics, so the other lanes do not wait for it forever.
struct Reading<'a>(&'a AtomicUsize);

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One lane: its pipeline, and what it hands to and takes from the others.
struct Lane {
    t: usize,
    link: LinkType,
    pipe: Pipeline<'static>,
    outbox: Rc<RefCell<Outbox>>,
    shard: Shard,
    /// To every lane (this one's entry unused).
    peers: Vec<SyncSender<Passed>>,
    inbox: Receiver<Passed>,
    /// The time this lane has passed.
    upto: u64,
    /// Its time at its last report.
    reported: u64,
}

impl Lane {
    fn new(
        t: usize,
        cfg: &Config,
        link: LinkType,
        n: usize,
        peers: Vec<SyncSender<Passed>>,
        inbox: Receiver<Passed>,
    ) -> Lane {
        let outbox = Outbox::shared();
        let pipe =
            Pipeline::owning(cfg, link, Box::new(OutboxSink(Rc::clone(&outbox)))).without_dedup();
        Lane {
            t,
            link,
            pipe,
            outbox,
            shard: Shard::even(n),
            peers,
            inbox,
            upto: 0,
            reported: 0,
        }
    }

    /// Reads `src` until it ends (after the final stage's stop, or a capture error), reporting
    /// after every batch; then takes what other lanes still hand it, ends its flows and reports
    /// a last time.
    fn run(mut self, mut src: impl LaneSource, shared: &Shared, report: &Sender<Report>) {
        let reading = Reading(&shared.capturing);
        let mut stopping = false;
        let mut error = None;
        loop {
            if !stopping && shared.stop.load(Ordering::Relaxed) {
                stopping = true;
                src.stop();
            }
            self.take_passed();
            let mut due = false;
            match src.pump(&mut |f| self.frame(f)) {
                Ok(Step::Frames(_)) => {}
                Ok(Step::Idle(now)) => {
                    self.set_tag(now, 0);
                    // The outbox cannot fail, so neither can the pipeline.
                    let _ = self.pipe.idle(now);
                    self.upto = self.upto.max(now.0);
                    due = true;
                }
                Ok(Step::End | Step::Truncated(_)) => break,
                Err(e) => {
                    // Every lane stops: the run ends with this error once all have drained.
                    shared.stop.store(true, Ordering::Relaxed);
                    error = Some(e);
                    break;
                }
            }
            // Each report wakes the final stage: a busy lane reports when it has alerts or its
            // time has moved on by `REPORT_EVERY_NS`, not after every batch.
            due |= !self.outbox.borrow().alerts.is_empty()
                || self.upto >= self.reported.saturating_add(REPORT_EVERY_NS);
            if due {
                self.reported = self.upto;
                if report.send(self.report(self.upto, None)).is_err() {
                    // The final stage is gone: nobody is left to deliver to.
                    shared.stop.store(true, Ordering::Relaxed);
                }
            }
        }
        drop(reading);
        // Frames are handed over only by lanes still reading, so once none is, whatever was
        // handed to this lane is in its queue.
        loop {
            let last = shared.capturing.load(Ordering::Acquire) == 0;
            self.take_passed();
            if last {
                break;
            }
            std::thread::sleep(DRAIN_POLL);
        }
        self.outbox.borrow_mut().tag = DRAIN;
        let _ = self.pipe.finish();
        let _ = report.send(self.report(u64::MAX, error));
    }

    fn set_tag(&self, ts: Ts, step: u8) {
        self.outbox.borrow_mut().tag = Tag { seq: ts.0, step };
    }

    /// One frame read from this lane's socket: analysed here, unless it is tunnelled and its
    /// inner flow lives on another lane; a DNS response's names go to every other lane too.
    fn frame(&mut self, f: &Frame<'_>) {
        self.upto = self.upto.max(f.ts.0);
        // The common frame (a plain TCP or UDP packet that is not from port 53) needs nothing
        // but this lane: the kernel's flow hash sent both its directions here.
        let plain = peek(self.link, f.data)
            .is_some_and(|k| !(k.proto == ip_proto::UDP && k.src.1 == DNS_PORT));
        if plain {
            self.set_tag(f.ts, 1);
            let _ = self.pipe.frame(f);
            return;
        }
        let d = decode(self.link, f);
        if let Decoded::Packet(p) = &d {
            if super::is_dns_response(p) {
                for peer in 0..self.peers.len() {
                    if peer != self.t {
                        self.pass(peer, true, f);
                    }
                }
            }
            if p.tunnel.is_some() {
                let owner = self.shard.owner_of(p);
                if owner != self.t {
                    self.pass(owner, false, f);
                    return;
                }
            }
        }
        self.set_tag(f.ts, 1);
        let _ = self.pipe.decoded(f, d);
    }

    /// Hands lane `to` a copy of `f`, taking frames handed to this lane while `to`'s queue is
    /// full (see the module documentation).
    fn pass(&mut self, to: usize, names: bool, f: &Frame<'_>) {
        let Some(tx) = self.peers.get(to).cloned() else {
            return;
        };
        let mut item = Passed {
            names,
            ts: f.ts,
            wire_len: f.wire_len,
            data: f.data.to_vec(),
        };
        loop {
            match tx.try_send(item) {
                // A lane that has ended takes no more; it ended after every lane stopped reading,
                // so this lane is not reading either and nothing is lost.
                Ok(()) | Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    item = back;
                    if !self.take_passed() {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Analyses the frames other lanes have handed this one, or learns their names. Whether
    /// there were any.
    fn take_passed(&mut self) -> bool {
        let mut any = false;
        while let Ok(p) = self.inbox.try_recv() {
            any = true;
            let f = Frame {
                ts: p.ts,
                data: &p.data,
                wire_len: p.wire_len,
            };
            if p.names {
                self.pipe.learn_names(&f);
            } else {
                self.set_tag(f.ts, 1);
                let _ = self.pipe.frame(&f);
            }
        }
        any
    }

    fn report(&self, upto: u64, error: Option<CaptureError>) -> Report {
        Report {
            lane: self.t,
            alerts: std::mem::take(&mut self.outbox.borrow_mut().alerts),
            upto,
            stats: self.pipe.stats(),
            error,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
