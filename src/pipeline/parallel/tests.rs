use super::*;
use crate::alert::Alert;
use crate::capture::{FileCapture, Frame, Step, BLOCK_LEN};
use crate::pipeline::{PacketPath, VecSink, Workers};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Every fixture capture that is a classic pcap file.
fn fixtures() -> Vec<PathBuf> {
    crate::pipeline::fixture_captures()
        .into_iter()
        .filter(|p| Blocks::open(p).unwrap().is_some())
        .collect()
}

fn lines(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(Alert::to_json).collect()
}

/// One pipeline over every frame of `path` (read by libpcap's reader path), finished.
fn one_pipeline(cfg: &Config, path: &Path) -> (Vec<Alert>, Stats, Option<String>) {
    let mut cap = FileCapture::open(path).unwrap();
    let mut sink = VecSink::default();
    let mut pipe = Pipeline::new(cfg, cap.linktype(), &mut sink);
    let end = loop {
        match cap.pump(|f| pipe.frame(f).unwrap()) {
            Ok(Step::Frames(_)) => {}
            Ok(Step::Truncated(why)) => break Some(why),
            Ok(_) => break None,
            Err(e) => panic!("{}: {e}", path.display()),
        }
    };
    pipe.finish().unwrap();
    let stats = pipe.stats();
    drop(pipe);
    (sink.0, stats, end)
}

/// `analyze_file` over `path` in blocks of `block_len` with `n` threads.
fn shared(
    cfg: &Config,
    path: &Path,
    n: usize,
    block_len: usize,
) -> (Vec<Alert>, Result<(Stats, FileEnd), FileError>) {
    let blocks = Blocks::open_with(path, block_len).unwrap().unwrap();
    let link = LinkType::from_dlt(blocks.linktype()).unwrap();
    let mut sink = VecSink::default();
    let ran = analyze_file(cfg, &blocks, link, n, &mut sink, &|_| {});
    (sink.0, ran)
}

/// Shared reading changes nothing a reader of the output can see: on every fixture, with 2
/// and 3 threads and blocks from far shorter than a record to the default, the alerts are one
/// pipeline's, in the order `Workers` gives them, and the counts are one pipeline's.
#[test]
fn shared_reading_gives_one_pipelines_alerts_in_the_workers_order() {
    let cfg = Config::defaults();
    let all = fixtures();
    assert!(all.len() > 40, "fixtures not found");
    let mut alerts_seen = 0;
    for path in &all {
        let (one, single, _) = one_pipeline(&cfg, path);
        alerts_seen += one.len();
        for n in [2, 3] {
            let mut by_workers = VecSink::default();
            {
                let cap = FileCapture::open(path).unwrap();
                let mut w = Workers::start(&cfg, cap.linktype(), n, &mut by_workers).unwrap();
                let mut cap = cap;
                while let Ok(Step::Frames(_)) = cap.pump(|f: &Frame<'_>| w.frame(f).unwrap()) {}
                w.finish().unwrap();
            }
            for block_len in [100, 4096, BLOCK_LEN] {
                let what = format!("{}, {n} threads, blocks of {block_len}", path.display());
                let (got, ran) = shared(&cfg, path, n, block_len);
                let (st, end) = ran.unwrap();
                assert!(matches!(end, FileEnd::End), "{what}");
                assert_eq!(lines(&got), lines(&by_workers.0), "{what}");
                let (mut sorted, mut want) = (lines(&got), lines(&one));
                sorted.sort();
                want.sort();
                assert_eq!(sorted, want, "{what}");
                st.assert_counts_as(&single, &what);
            }
        }
    }
    assert!(alerts_seen > 40);
}

/// The fixture with the most alerts, and its bytes.
fn busiest() -> (PathBuf, Vec<u8>) {
    let cfg = Config::defaults();
    let path = fixtures()
        .into_iter()
        .max_by_key(|p| one_pipeline(&cfg, p).0.len())
        .unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// A file cut inside its last record: every record before the cut is analysed, the flows
/// ended, and the file reported truncated in libpcap's words, as one pipeline reports it.
#[test]
fn a_cut_file_is_analysed_to_the_cut_and_reported_truncated() {
    let cfg = Config::defaults();
    let (_, bytes) = busiest();
    let cut = write(&bytes[..bytes.len() - 5]);
    let (one, single, want_end) = one_pipeline(&cfg, cut.path());
    let want_end = want_end.unwrap();
    for block_len in [100, BLOCK_LEN] {
        let (got, ran) = shared(&cfg, cut.path(), 2, block_len);
        let (st, end) = ran.unwrap();
        let FileEnd::Truncated(why) = end else {
            panic!("blocks of {block_len}: not truncated");
        };
        assert_eq!(why, want_end);
        assert_eq!(st.frames, single.frames);
        let (mut got, mut want) = (lines(&got), lines(&one));
        got.sort();
        want.sort();
        assert_eq!(got, want, "blocks of {block_len}");
    }
}

/// A corrupt record (a captured length no capture has) after the file's records: everything
/// before it is analysed and its alerts delivered, then the error names the frames before it.
#[test]
fn a_corrupt_record_ends_the_run_with_an_error_after_every_record_before_it() {
    let cfg = Config::defaults();
    let (path, mut bytes) = busiest();
    let (one, single, _) = one_pipeline(&cfg, &path);
    assert!(!one.is_empty());
    // A record header in the file's byte order (the fixtures are little-endian) whose
    // captured length is above `CAPLEN_MAX`.
    assert_eq!(&bytes[..4], &0xa1b2_c3d4_u32.to_le_bytes());
    for v in [1u32, 0, 300_000, 300_000] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    let bad = write(&bytes);
    for block_len in [100, BLOCK_LEN] {
        let (got, ran) = shared(&cfg, bad.path(), 2, block_len);
        let Err(FileError::Input(e)) = ran else {
            panic!("blocks of {block_len}: no input error");
        };
        let words = e.to_string();
        assert!(
            words.contains(&format!("after {} frames", single.frames))
                && words.contains("invalid packet capture length 300000"),
            "{words}"
        );
        let (mut got, mut want) = (lines(&got), lines(&one));
        got.sort();
        want.sort();
        assert_eq!(got, want, "blocks of {block_len}");
    }
}

/// A sink that fails: the run stops with the sink's error instead of running on or hanging.
#[test]
fn a_failing_sink_stops_every_thread() {
    struct Broken;
    impl AlertSink for Broken {
        fn emit(&mut self, _: &Alert) -> io::Result<()> {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "gone"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let cfg = Config::defaults();
    let (path, _) = busiest();
    for n in [2, 4] {
        let blocks = Blocks::open_with(&path, 100).unwrap().unwrap();
        let link = LinkType::from_dlt(blocks.linktype()).unwrap();
        let ran = analyze_file(&cfg, &blocks, link, n, &mut Broken, &|_| {});
        let Err(FileError::Output(e)) = ran else {
            panic!("{n} threads: the sink's error was lost");
        };
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}

/// `bytes` (a little-endian classic pcap file) and, an hour later, its first record again:
/// every flow has gone idle by then, but only the pipeline of that record's flow sees a
/// packet.
fn then_one_an_hour_later(bytes: &[u8]) -> Vec<u8> {
    let field = |o: usize| u32::from_le_bytes(bytes[24 + o..24 + o + 4].try_into().unwrap());
    let mut rec = bytes[24..24 + 16 + field(8) as usize].to_vec();
    let last_secs = {
        // The last record's seconds: walk the records.
        let (mut at, mut secs) = (24, 0);
        while at + 16 <= bytes.len() {
            let f = |o: usize| u32::from_le_bytes(bytes[at + o..at + o + 4].try_into().unwrap());
            secs = f(0);
            at += 16 + f(8) as usize;
        }
        secs
    };
    rec[..4].copy_from_slice(&(last_secs + 3600).to_le_bytes());
    let mut out = bytes.to_vec();
    out.extend_from_slice(&rec);
    out
}

/// Idle flows end where one pipeline ends them: every thread places the expiry ticks on one
/// pipeline's schedule, so flows expire on the pipelines that see no packet after the hour's
/// gap too, and their alerts come where the workers put them.
#[test]
fn idle_flows_end_at_the_same_place_in_the_stream_as_in_one_pipeline() {
    let cfg = Config::defaults();
    let (_, bytes) = busiest();
    let f = write(&then_one_an_hour_later(&bytes));
    let (one, single, _) = one_pipeline(&cfg, f.path());
    assert!(single.flows.expired > 1, "{}", single.flows.expired);
    let mut by_workers = VecSink::default();
    {
        let mut cap = FileCapture::open(f.path()).unwrap();
        let mut w = Workers::start(&cfg, cap.linktype(), 2, &mut by_workers).unwrap();
        while let Ok(Step::Frames(_)) = cap.pump(|f: &Frame<'_>| w.frame(f).unwrap()) {}
        w.finish().unwrap();
    }
    for block_len in [100, BLOCK_LEN] {
        let (got, ran) = shared(&cfg, f.path(), 2, block_len);
        let (st, _) = ran.unwrap();
        assert_eq!(
            st.flows.expired, single.flows.expired,
            "blocks of {block_len}"
        );
        assert_eq!(lines(&got), lines(&by_workers.0), "blocks of {block_len}");
        assert_eq!(got.len(), one.len());
    }
}

/// `bytes` (a little-endian classic pcap file) with one more record first: a frame of no IP
/// (EtherType 0x88b5, for local experiments) whose payload carries a capture of its own, eight
/// records of 60 bytes, the first of them `at` bytes into the file.
fn with_a_capture_in_a_payload(bytes: &[u8], at: usize) -> Vec<u8> {
    let mut data = vec![0x02; 12];
    data.extend_from_slice(&[0x88, 0xb5]);
    // The record's data starts after the file header and the record header.
    data.resize(at - 24 - 16, 0);
    for _ in 0..8 {
        for v in [1_600_000_000u32, 0, 60, 60] {
            data.extend_from_slice(&v.to_le_bytes());
        }
        data.extend_from_slice(&[0x55; 60]);
    }
    data.extend_from_slice(&[0; 100]);
    let mut out = bytes[..24].to_vec();
    out.extend_from_slice(&bytes[24..28]);
    for v in [0u32, data.len() as u32, data.len() as u32] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&data);
    out.extend_from_slice(&bytes[24..]);
    out
}

/// A block's records are found from where the previous block's end, whatever a thread
/// guessed: a capture carried in a payload, across the start of a block, passes for that
/// block's records, and the run still gives one pipeline's alerts and counts.
#[test]
fn a_wrong_guess_of_where_a_blocks_records_start_changes_nothing() {
    let cfg = Config::defaults();
    let (_, bytes) = busiest();
    let block_len = 4096;
    // Block 1 starts right after the file header's 24 bytes and block 0.
    let inside = 24 + block_len + 30;
    let f = write(&with_a_capture_in_a_payload(&bytes, inside));
    let blocks = Blocks::open_with(f.path(), block_len).unwrap().unwrap();
    let guess = blocks.fetch(1, None).guess_first(&blocks);
    assert_eq!(guess, Some(inside as u64), "the payload's records pass");
    let (one, single, _) = one_pipeline(&cfg, f.path());
    assert!(!one.is_empty());
    assert_eq!(single.frames, 1 + one_pipeline(&cfg, &busiest().0).1.frames);
    for n in [2, 3] {
        let what = format!("{n} threads");
        let (got, ran) = shared(&cfg, f.path(), n, block_len);
        let (st, end) = ran.unwrap();
        assert!(matches!(end, FileEnd::End), "{what}");
        st.assert_counts_as(&single, &what);
        let (mut got, mut want) = (lines(&got), lines(&one));
        got.sort();
        want.sort();
        assert_eq!(got, want, "{what}");
    }
}
