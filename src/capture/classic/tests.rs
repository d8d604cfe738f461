//! The direct reader against libpcap on the same files: every frame alike, whatever the byte
//! order and precision, across many chunks; cut files, oversized records and snap lengths
//! handled as libpcap handles them.

use super::super::{FileCapture, ReadMode, Step};
use super::*;
use std::io::Write;

/// One record: seconds, sub-second part, bytes, original length.
type Rec = (u32, u32, Vec<u8>, u32);

/// A pcap file with `recs`, in the byte order and precision asked, Ethernet, snap length `snap`.
fn pcap_file(recs: &[Rec], big_endian: bool, nanos: bool, snap: u32) -> Vec<u8> {
    let w32 = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(0));
    out.extend_from_slice(&w32(snap));
    out.extend_from_slice(&w32(1));
    for (s, frac, data, orig) in recs {
        out.extend_from_slice(&w32(*s));
        out.extend_from_slice(&w32(*frac));
        out.extend_from_slice(&w32(data.len() as u32));
        out.extend_from_slice(&w32(*orig));
        out.extend_from_slice(data);
    }
    out
}

/// Records of every size from 0 to 1,600 bytes, enough for several chunks.
fn records(nanos: bool) -> Vec<Rec> {
    (0..6000u32)
        .map(|i| {
            let len = (i * 7919) % 1601;
            let data: Vec<u8> = (0..len).map(|j| (i + j) as u8).collect();
            let frac = if nanos {
                i * 100_003 % 1_000_000_000
            } else {
                i * 13 % 1_000_000
            };
            (1_700_000_000 + i / 10, frac, data, len + i % 3)
        })
        .collect()
}

/// A frame as data: time, length on the wire, bytes.
type Seen = (Ts, u32, Vec<u8>);

fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    f
}

/// Every frame of `path` by the reader `mode`, and how the file ended.
fn pumped(path: &Path, mode: ReadMode) -> (Vec<Seen>, Result<Option<String>, String>) {
    let mut cap = FileCapture::open_with(path, mode).unwrap();
    let mut seen = Vec::new();
    let end = loop {
        match cap.pump(|f| seen.push((f.ts, f.wire_len, f.data.to_vec()))) {
            Ok(Step::Frames(_)) => {}
            Ok(Step::Truncated(why)) => break Ok(Some(why)),
            Ok(_) => break Ok(None),
            Err(e) => break Err(e.to_string()),
        }
    };
    (seen, end)
}

/// Every frame of `path` read chunk by chunk, buffers reused, and how the file ended.
fn chunked(path: &Path) -> (Vec<Seen>, Result<Option<String>, String>, usize) {
    let mut cap = FileCapture::open(path).unwrap();
    assert!(cap.chunked());
    let (mut seen, mut chunks, mut spare) = (Vec::new(), 0, None);
    let end = loop {
        match cap.chunk(spare.take()) {
            Ok(ChunkStep::Chunk(c)) => {
                chunks += 1;
                let before = seen.len();
                c.for_each(|f| seen.push((f.ts, f.wire_len, f.data.to_vec())));
                assert_eq!(seen.len() - before, c.frames());
                spare = Some(c.into_buffer());
            }
            Ok(ChunkStep::End) => break Ok(None),
            Ok(ChunkStep::Truncated(why)) => break Ok(Some(why)),
            Err(e) => break Err(e.to_string()),
        }
    };
    (seen, end, chunks)
}

/// Every frame of `path` read in blocks of `block_len` bytes, each block split from where the
/// previous one's records end, and how the file ended. Each block is read before the one
/// before it is split (reading needs nothing from other blocks); buffers are reused as
/// `analyze_file` reuses them.
fn by_blocks(path: &Path, block_len: usize) -> (Vec<Seen>, Result<Option<String>, String>) {
    read_blocks(&Blocks::open_with(path, block_len).unwrap().unwrap())
}

/// Every frame of `blocks`, as [`by_blocks`].
fn read_blocks(blocks: &Blocks) -> (Vec<Seen>, Result<Option<String>, String>) {
    let (mut first, mut seen, mut spare) = (blocks.first_record(), Vec::new(), None);
    let mut next = (blocks.count() > 0).then(|| blocks.fetch(0, None));
    for b in 0..blocks.count() {
        let this = next.take().unwrap();
        next = (b + 1 < blocks.count()).then(|| blocks.fetch(b + 1, spare.take()));
        let mut places = Vec::new();
        let (chunk, end) = this.split(blocks, first, &mut places);
        let end = end.after(blocks, seen.len() as u64);
        assert_eq!(places.len(), chunk.frames());
        // Walking the chunk's records again finds the frames the places give back.
        let mut k = 0;
        chunk.for_each(|f| {
            let again = chunk.frame(places[k]);
            assert_eq!(
                (again.ts, again.wire_len, again.data),
                (f.ts, f.wire_len, f.data)
            );
            k += 1;
        });
        assert_eq!(k, places.len());
        seen.extend(places.iter().map(|&p| {
            let f = chunk.frame(p);
            (f.ts, f.wire_len, f.data.to_vec())
        }));
        spare = Some(chunk.into_buffer());
        match end {
            BlockEnd::Next(at) => first = at,
            BlockEnd::End => return (seen, Ok(None)),
            BlockEnd::Truncated(why) => return (seen, Ok(Some(why))),
            BlockEnd::Failed(e) => return (seen, Err(e.to_string())),
        }
    }
    (seen, Ok(None))
}

/// Block lengths to read in: shorter than most records (a record covers whole blocks), about
/// two records, and large.
const BLOCK_LENS: [usize; 4] = [100, 1000, 65_536, BLOCK_LEN];

#[test]
fn every_frame_as_libpcap_reads_it_in_either_byte_order_and_precision() {
    for (big_endian, nanos) in [(false, false), (true, false), (false, true), (true, true)] {
        let recs = records(nanos);
        let f = write(&pcap_file(&recs, big_endian, nanos, 65535));
        let (want, want_end) = pumped(f.path(), ReadMode::Libpcap);
        assert_eq!(want.len(), recs.len());
        let (direct, end) = pumped(f.path(), ReadMode::Direct);
        assert!(direct == want, "big_endian {big_endian} nanos {nanos}");
        assert_eq!(end, want_end);
        let (by_chunk, end, chunks) = chunked(f.path());
        assert!(
            by_chunk == want,
            "big_endian {big_endian} nanos {nanos}, chunks"
        );
        assert_eq!(end, Ok(None));
        assert!(chunks > 3, "only {chunks} chunks");
        for len in BLOCK_LENS {
            let (blocked, end) = by_blocks(f.path(), len);
            assert!(
                blocked == want,
                "big_endian {big_endian} nanos {nanos}, blocks of {len}"
            );
            assert_eq!(end, Ok(None));
        }
    }
}

#[test]
fn a_file_cut_inside_a_record_ends_as_libpcap_says_after_every_whole_record() {
    let recs = records(false);
    let whole = pcap_file(&recs, false, false, 65535);
    // Cut inside the last record's header, then inside its data.
    let last = 16 + recs.last().unwrap().2.len();
    for cut in [last - 5, 10] {
        let f = write(&whole[..whole.len() - cut]);
        let (want, want_end) = pumped(f.path(), ReadMode::Libpcap);
        let (direct, end) = pumped(f.path(), ReadMode::Direct);
        assert_eq!(direct.len(), recs.len() - 1);
        assert!(direct == want);
        let why = end.clone().unwrap().unwrap();
        assert!(why.starts_with("truncated dump file"), "{why}");
        assert_eq!(end, want_end);
        let (by_chunk, end, _) = chunked(f.path());
        assert!(by_chunk == want);
        assert_eq!(end, want_end);
        for len in BLOCK_LENS {
            let (blocked, end) = by_blocks(f.path(), len);
            assert!(blocked == want, "cut {cut}, blocks of {len}");
            assert_eq!(end, want_end, "cut {cut}, blocks of {len}");
        }
    }
}

#[test]
fn a_file_of_only_a_header_has_no_blocks_and_no_frames() {
    let f = write(&pcap_file(&[], false, false, 65535));
    assert_eq!(Blocks::open(f.path()).unwrap().unwrap().count(), 0);
    assert_eq!(by_blocks(f.path(), 100), (Vec::new(), Ok(None)));
}

#[test]
fn a_record_longer_than_any_capture_is_an_error_and_a_snap_length_cuts() {
    let big = (
        1u32,
        0u32,
        vec![0u8; CAPLEN_MAX as usize + 1],
        CAPLEN_MAX + 1,
    );
    let f = write(&pcap_file(&[(1, 0, vec![1; 60], 60), big], false, false, 0));
    let (frames, end) = pumped(f.path(), ReadMode::Direct);
    assert_eq!(frames.len(), 1);
    let err = end.unwrap_err();
    assert!(
        err.contains("invalid packet capture length 262145"),
        "{err}"
    );
    let (frames, end, _) = chunked(f.path());
    assert_eq!(frames.len(), 1);
    assert!(end.unwrap_err().contains("invalid packet capture length"));
    for len in BLOCK_LENS {
        let (frames, end) = by_blocks(f.path(), len);
        assert_eq!(frames.len(), 1, "blocks of {len}");
        let err = end.unwrap_err();
        assert!(
            err.contains("invalid packet capture length 262145") && err.contains("after 1 "),
            "blocks of {len}: {err}"
        );
    }

    // A record above the file's snap length is cut to it, as libpcap cuts it.
    let f = write(&pcap_file(&[(1, 0, vec![2; 300], 300)], false, false, 100));
    let (want, _) = pumped(f.path(), ReadMode::Libpcap);
    let (direct, _) = pumped(f.path(), ReadMode::Direct);
    assert_eq!(direct[0].2.len(), 100);
    assert!(direct == want);
}

#[test]
fn pcapng_and_odd_headers_go_to_libpcap() {
    // A section header block and an Ethernet interface description, little-endian
    // (draft-ietf-opsawg-pcapng §4.1, §4.2), and no packets.
    let mut ng = Vec::new();
    for v in [
        0x0a0d_0d0a_u32,
        28,
        0x1a2b_3c4d,
        1,
        0xffff_ffff,
        0xffff_ffff,
        28,
    ] {
        ng.extend_from_slice(&v.to_le_bytes());
    }
    ng[12..16].copy_from_slice(&[1, 0, 0, 0]); // major 1, minor 0
    for v in [1u32, 20, 1, 0, 20] {
        ng.extend_from_slice(&v.to_le_bytes());
    }
    let f = write(&ng);
    let cap = FileCapture::open(f.path()).unwrap();
    assert!(!cap.chunked());
    assert_eq!(cap.linktype(), super::super::LinkType::Ethernet);
    // Version 1 is not one this reader knows.
    let mut old = pcap_file(&[(1, 0, vec![1; 60], 60)], false, false, 65535);
    old[4] = 1;
    let f = write(&old);
    assert!(open(f.path()).unwrap().is_none());
}

#[test]
fn a_capture_handed_over_to_blocks_reads_the_file_it_opened_and_only_unread() {
    let recs = records(false);
    let f = write(&pcap_file(&recs, false, false, 65535));
    let (want, want_end) = pumped(f.path(), ReadMode::Libpcap);
    assert_eq!(want.len(), recs.len());
    // The path now names another capture: the blocks still read the file that was opened
    // and checked, not whatever the path names when the blocks are made.
    let cap = FileCapture::open(f.path()).unwrap();
    let other = write(&pcap_file(&recs[..1], true, true, 65535));
    std::fs::rename(other.path(), f.path()).unwrap();
    let Ok(blocks) = cap.into_blocks().unwrap() else {
        panic!("a classic pcap file read directly goes to blocks");
    };
    assert_eq!(blocks.linktype(), 1);
    let (got, end) = read_blocks(&blocks);
    assert!(got == want);
    assert_eq!(end, want_end);

    // A capture that has delivered records, or is read by libpcap, comes back as it was.
    let f = write(&pcap_file(&recs, false, false, 65535));
    let mut cap = FileCapture::open(f.path()).unwrap();
    let mut n = 0;
    assert!(matches!(cap.pump(|_| n += 1), Ok(Step::Frames(1..))));
    let Err(mut cap) = cap.into_blocks().unwrap() else {
        panic!("a capture already read from is not handed over");
    };
    // It goes on where it was: every frame once.
    while let Ok(Step::Frames(_)) = cap.pump(|_| n += 1) {}
    assert_eq!(n, recs.len());
    let cap = FileCapture::open_with(f.path(), ReadMode::Libpcap).unwrap();
    assert!(cap.into_blocks().unwrap().is_err());
}

/// Per block of `blocks` in which a record starts: where the first one starts, as the split in
/// order finds it, and as [`Fetched::guess_first`] guesses it from the block alone.
fn guesses(blocks: &Blocks) -> Vec<(u64, Option<u64>)> {
    let mut first = blocks.first_record();
    let mut out = Vec::new();
    for b in 0..blocks.count() {
        let fetched = blocks.fetch(b, None);
        if first < blocks.block_end(b) {
            out.push((first, fetched.guess_first(blocks)));
        }
        match fetched.split(blocks, first, &mut Vec::new()).1 {
            BlockEnd::Next(at) => first = at,
            _ => break,
        }
    }
    out
}

/// The captures beside the fixtures: the labelled corpus when this machine has it.
fn corpus_captures() -> Vec<PathBuf> {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let Some(dir) = [beside, PathBuf::from("/work/shared/corpus")]
        .into_iter()
        .find(|p| p.join("labels.csv").is_file())
    else {
        eprintln!("skipped the corpus: none at ../shared/corpus or /work/shared/corpus");
        return Vec::new();
    };
    let mut all: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    all.sort();
    all
}

/// How many of the guesses of `files` read in blocks of `block_len` are right, and which are
/// wrong (a place other than the first record's; no guess at all is not wrong, only slow).
fn guessed(files: &[PathBuf], block_len: usize) -> (usize, usize, Vec<String>) {
    let (mut right, mut all, mut wrong) = (0, 0, Vec::new());
    for path in files {
        let Ok(Some(blocks)) = Blocks::open_with(path, block_len) else {
            continue;
        };
        for (truth, guess) in guesses(&blocks) {
            all += 1;
            match guess {
                Some(g) if g == truth => right += 1,
                Some(g) => wrong.push(format!("{}: {g} for {truth}", path.display())),
                None => {}
            }
        }
    }
    (right, all, wrong)
}

/// A block's first record, found from the block's bytes alone, is where the split in order
/// finds it: on every fixture and corpus capture, no guess names another place, and where a
/// block holds eight records whole (blocks of 16 KiB and more) nearly every block is guessed.
#[test]
fn a_blocks_first_record_is_found_from_its_own_bytes() {
    let fixtures = crate::pipeline::fixture_captures();
    assert!(fixtures.len() > 40, "fixtures not found");
    for len in [1000, 4096, 16_384] {
        let (right, all, wrong) = guessed(&fixtures, len);
        assert!(wrong.is_empty(), "blocks of {len}: {wrong:?}");
        if len == 16_384 {
            assert!(right * 100 >= all * 95, "{right} of {all}");
        }
    }
    let corpus = corpus_captures();
    for len in [65_536, BLOCK_LEN] {
        let (right, all, wrong) = guessed(&corpus, len);
        assert!(wrong.is_empty(), "blocks of {len}: {wrong:?}");
        assert!(right * 100 >= all * 95, "{right} of {all}");
    }
}
