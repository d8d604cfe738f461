//! A classic pcap file read by several threads at once, each reading its own blocks.
//!
//! One thread reading a file copies every byte on one core: with analysis spread over the
//! others, that thread sets the pace. Here the file is cut into fixed blocks of bytes that any
//! thread may read (`pread(2)`, no shared file position), so the kernel's copy is spread too.
//! A pcap file has no marks where records start, so a block's records are known for certain
//! only from the end of the block before: [`Fetched::split`] takes where the first record
//! starts (the previous block's answer) and gives where the next block's first record starts.
//! Waiting for that answer would make the threads take turns, so a block's first record is
//! also found without it ([`Fetched::guess_first`]): the first place in the block where a run
//! of record headers holds together. The guess is only a guess. A reader that splits from it
//! keeps what it guessed, and whoever takes the blocks in order checks each guess against the
//! previous block's answer and splits again where they differ (`pipeline::parallel`).
//!
//! A block's records are those that start inside it. The last of them usually runs past the
//! block's end: its missing bytes are read on their own (one or two small reads), so a record
//! is always whole in one buffer, and each byte of the file is still read about once.
//!
//! Checks and words are [`Classic`](super::Classic)'s, so a file reads alike either way: a
//! captured length above [`CAPLEN_MAX`] is an error counting the frames before it, and a file
//! that ends inside a record is a truncation after every record before it.

use super::{
    open_header, truncation, CaptureError, Chunk, Format, FramePlace, Record, CAPLEN_MAX,
    FILE_HEADER_LEN, RECORD_HEADER_LEN,
};
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Record headers in a row that must hold together, whole in the bytes of a block, for
/// [`Fetched::guess_first`] to take the first of them as a record's start. Eight records of a
/// common capture take a few kilobytes of a block's 512 KiB; a header read a byte or two off
/// its place, or random bytes, pass as one record now and then, never as eight in a row.
const GUESS_RECORDS: usize = 8;

/// The shortest captured length [`Fetched::guess_first`] takes for a record's: an Ethernet
/// header, shorter than the link and IP headers of every link type read.
const GUESS_CAPLEN_MIN: u32 = 14;

/// Most seconds between the first two records of [`Fetched::guess_first`]'s run: a day.
const GUESS_SPAN_SECS: u32 = 86_400;

/// Bytes per block: large enough that the hand-over of a block costs nothing per packet,
/// small enough that a block is still in the reading core's cache when it is split and routed.
pub const BLOCK_LEN: usize = 1 << 19;

/// A classic pcap file open for reading in blocks from any thread.
#[derive(Debug)]
pub struct Blocks {
    file: File,
    path: PathBuf,
    format: Format,
    linktype: i32,
    /// The file's size when opened: a file that grows later is read to this size.
    size: u64,
    block_len: usize,
}

/// How the records of a block end.
#[derive(Debug)]
pub enum BlockEnd {
    /// The next block's first record starts at this offset of the file.
    Next(u64),
    /// The file ends after the block's last record.
    End,
    /// The file ends inside a record (libpcap's words); the records before it are whole.
    Truncated(String),
    /// A record cannot be read; the records before it are whole.
    Failed(CaptureError),
}

/// A block's bytes, read but not yet split into records.
#[derive(Debug)]
pub struct Fetched {
    block: u64,
    buf: Box<[u8]>,
    /// File offset of `buf[0]`: the block's start.
    start: u64,
    /// Bytes of the block read into `buf`.
    got: usize,
    /// Why the read stopped short, if it failed.
    failed: Option<String>,
}

impl Blocks {
    /// Opens `path` for reading in blocks when it is a classic pcap file with an ordinary header
    /// (as [`FileCapture`](super::super::FileCapture) reads directly); `None` otherwise.
    pub fn open(path: &Path) -> Result<Option<Blocks>, CaptureError> {
        Blocks::open_with(path, BLOCK_LEN)
    }

    /// As [`Blocks::open`] with blocks of `block_len` bytes (at least one).
    pub fn open_with(path: &Path, block_len: usize) -> Result<Option<Blocks>, CaptureError> {
        let Some((file, format, linktype)) = open_header(path)? else {
            return Ok(None);
        };
        Blocks::of_file(file, path, format, linktype, block_len).map(Some)
    }

    /// Blocks of the classic pcap file `file` (at `path`), whose header gave `format` and
    /// `linktype`.
    pub(super) fn of_file(
        file: File,
        path: &Path,
        format: Format,
        linktype: i32,
        block_len: usize,
    ) -> Result<Blocks, CaptureError> {
        let size = file
            .metadata()
            .map_err(|e| CaptureError::Unreadable {
                path: path.to_owned(),
                reason: e.to_string(),
            })?
            .len();
        Ok(Blocks {
            file,
            path: path.to_owned(),
            format,
            linktype,
            size,
            block_len: block_len.max(1),
        })
    }

    /// The file header's LINKTYPE.
    pub fn linktype(&self) -> i32 {
        self.linktype
    }

    /// How many blocks the records take.
    pub fn count(&self) -> u64 {
        self.size
            .saturating_sub(FILE_HEADER_LEN as u64)
            .div_ceil(self.block_len as u64)
    }

    /// Where the first record starts: right after the file header, in the first block.
    pub fn first_record(&self) -> u64 {
        FILE_HEADER_LEN as u64
    }

    /// The file offset just past block `b`.
    pub fn block_end(&self, b: u64) -> u64 {
        (FILE_HEADER_LEN as u64)
            .saturating_add(b.saturating_add(1).saturating_mul(self.block_len as u64))
            .min(self.size)
    }

    /// The buffer size a block needs: the block and the longest record that can start at its
    /// last byte.
    fn buf_len(&self) -> usize {
        self.block_len + RECORD_HEADER_LEN + CAPLEN_MAX as usize
    }

    /// Reads block `b` into `spare` (a buffer an earlier block gave back) or a new buffer.
    /// Needs nothing from other blocks, so threads read their blocks at once.
    pub fn fetch(&self, b: u64, spare: Option<Box<[u8]>>) -> Fetched {
        let mut buf = match spare {
            Some(s) if s.len() == self.buf_len() => s,
            _ => vec![0u8; self.buf_len()].into_boxed_slice(),
        };
        let start = (FILE_HEADER_LEN as u64)
            .saturating_add(b.saturating_mul(self.block_len as u64))
            .min(self.size);
        let want = usize::try_from(self.block_end(b) - start).unwrap_or(0);
        let (got, failed) =
            match read_at(&self.file, buf.get_mut(..want).unwrap_or_default(), start) {
                Ok(got) => (got, None),
                Err((got, e)) => (got, Some(e.to_string())),
            };
        Fetched {
            block: b,
            buf,
            start,
            got,
            failed,
        }
    }

    fn failed(&self, frames: u64, reason: String) -> BlockEnd {
        BlockEnd::Failed(CaptureError::Read {
            path: self.path.clone(),
            frames,
            reason,
        })
    }
}

impl BlockEnd {
    /// The same end for a block split as if no frame came before it, with a failure's frame
    /// count (the frames before the failure) counted from the file's start: `frames_before`
    /// records start before the block.
    pub fn after(&self, blocks: &Blocks, frames_before: u64) -> BlockEnd {
        match self {
            BlockEnd::Next(at) => BlockEnd::Next(*at),
            BlockEnd::End => BlockEnd::End,
            BlockEnd::Truncated(why) => BlockEnd::Truncated(why.clone()),
            BlockEnd::Failed(CaptureError::Read { frames, reason, .. }) => {
                blocks.failed(frames_before + frames, reason.clone())
            }
            BlockEnd::Failed(e) => blocks.failed(frames_before, e.to_string()),
        }
    }
}

impl Fetched {
    /// Where this block's first record starts, found from the block's bytes alone: the first
    /// offset from which eight record headers in a row hold together, each record whole in
    /// the bytes read (or fewer that end the file). A header holds when its time is past
    /// January 1970 with a fraction below one second, and its captured length is at least an
    /// Ethernet header's and at most its original length, itself at most [`CAPLEN_MAX`]; the
    /// first two records must also be less than a day apart. The first block's is known: it
    /// starts right after the file header. `None` when no offset of the block qualifies, as in
    /// a block shorter than eight records.
    ///
    /// A payload can hold bytes that read as such a run (a capture file carried in a flow),
    /// and a real record can fail the test (an empty one, or one before a jump of days where
    /// two captures were joined): the result must be checked against the previous block's
    /// [`BlockEnd::Next`] before it is relied on.
    pub fn guess_first(&self, blocks: &Blocks) -> Option<u64> {
        if self.block == 0 {
            return Some(blocks.first_record());
        }
        let bytes = self.buf.get(..self.got).unwrap_or_default();
        let ends_file = self.start + self.got as u64 >= blocks.size;
        let stop = usize::try_from(blocks.block_end(self.block) - self.start)
            .unwrap_or(0)
            .min(bytes.len());
        (0..stop)
            .find(|&at| holds_together(blocks.format, bytes, at, ends_file))
            .map(|at| self.start + at as u64)
    }

    /// The records that start in this block, the first at file offset `first` (the previous
    /// block's [`BlockEnd::Next`], or [`Blocks::first_record`]). A failure counts the frames
    /// before it from the block's first ([`BlockEnd::after`] counts them from the file's
    /// start). Reads the rest of a record that runs past the block's end. Appends the place of
    /// every frame of the chunk to `places`, in file order: the walk that finds where the
    /// records end is the only one over them.
    pub fn split(
        mut self,
        blocks: &Blocks,
        first: u64,
        places: &mut Vec<FramePlace>,
    ) -> (Chunk, BlockEnd) {
        let end = blocks.block_end(self.block);
        let format = blocks.format;
        let empty = |buf| Chunk {
            buf,
            from: 0,
            len: 0,
            format,
            frames: 0,
        };
        if first >= end {
            // A record from an earlier block covers this one (only with blocks shorter than a
            // record), or the file ends here.
            let next = if first >= blocks.size {
                BlockEnd::End
            } else {
                BlockEnd::Next(first)
            };
            return (empty(self.buf), next);
        }
        let Some(from) = first
            .checked_sub(self.start)
            .and_then(|o| usize::try_from(o).ok())
        else {
            return (empty(self.buf), BlockEnd::Next(first));
        };
        let stop = usize::try_from(end - self.start).unwrap_or(0);
        let (mut at, mut frames) = (from, 0usize);
        let outcome = loop {
            if at >= stop {
                break if self.start + at as u64 >= blocks.size {
                    BlockEnd::End
                } else {
                    BlockEnd::Next(self.start + at as u64)
                };
            }
            let avail = self.buf.get(at..self.got).unwrap_or_default();
            match format.record(avail) {
                Record::Whole(used, f) => {
                    places.push(FramePlace::of(at - from, &f));
                    at += used;
                    frames += 1;
                }
                Record::TooLong(caplen) => {
                    break blocks.failed(
                        frames as u64,
                        format!(
                            "invalid packet capture length {caplen}, bigger than maximum of {CAPLEN_MAX}"
                        ),
                    )
                }
                Record::Partial => {
                    if let Some(reason) = self.failed.take() {
                        break blocks.failed(frames as u64, reason);
                    }
                    if let Err(why) = self.complete(blocks, at, frames as u64) {
                        break why;
                    }
                    // Whole now (or too long, found above on the next turn).
                    if matches!(
                        format.record(self.buf.get(at..self.got).unwrap_or_default()),
                        Record::Partial
                    ) {
                        break BlockEnd::Truncated(truncation(
                            format,
                            self.buf.get(at..self.got).unwrap_or_default(),
                        ));
                    }
                }
            }
        };
        let chunk = Chunk {
            buf: self.buf,
            from,
            len: at - from,
            format,
            frames,
        };
        (chunk, outcome)
    }

    /// Reads the rest of the record that starts at `buf[at]` and runs past what was read: its
    /// header first if that is cut, then its captured bytes; `frames` were before it. Stops at
    /// the end of the file (the caller finds the record still partial).
    fn complete(&mut self, blocks: &Blocks, at: usize, frames: u64) -> Result<(), BlockEnd> {
        for _ in 0..2 {
            let have = self.got.saturating_sub(at);
            let need = if have < RECORD_HEADER_LEN {
                RECORD_HEADER_LEN
            } else {
                let caplen = blocks
                    .format
                    .field(self.buf.get(at..).unwrap_or_default(), 8);
                if caplen > CAPLEN_MAX {
                    // Reported by the caller as the record's error.
                    return Ok(());
                }
                RECORD_HEADER_LEN + caplen as usize
            };
            if need <= have {
                return Ok(());
            }
            let target = self.buf.get_mut(self.got..at + need).unwrap_or_default();
            let len = target.len();
            match read_at(&blocks.file, target, self.start + self.got as u64) {
                Ok(got) => {
                    self.got += got;
                    if got < len {
                        return Ok(());
                    }
                }
                Err((_, e)) => return Err(blocks.failed(frames, e.to_string())),
            }
        }
        Ok(())
    }
}

/// Whether the record headers from `bytes[at]` on read as a run of records (see
/// [`Fetched::guess_first`]); `ends_file` when the file ends where `bytes` do.
fn holds_together(format: Format, bytes: &[u8], mut at: usize, ends_file: bool) -> bool {
    let frac_max = if format.nanos {
        1_000_000_000
    } else {
        1_000_000
    };
    let mut first_secs = None;
    for whole in 0..GUESS_RECORDS {
        if at == bytes.len() && ends_file && whole > 0 {
            return true;
        }
        let Some(header) = bytes.get(at..at + RECORD_HEADER_LEN) else {
            return false;
        };
        let (secs, frac) = (format.field(header, 0), format.field(header, 4));
        let (caplen, wire_len) = (format.field(header, 8), format.field(header, 12));
        // Seconds below `frac_max` would put the capture in January 1970 (or before September
        // 2001 for nanoseconds), where no capture is; what they rule out is a header read four,
        // eight or twelve bytes past its place, whose "seconds" are its fraction or a length
        // (with captured and original lengths equal, such a misreading runs on for ever).
        let plausible = secs >= frac_max
            && frac < frac_max
            && (GUESS_CAPLEN_MIN..=CAPLEN_MAX).contains(&caplen)
            && (caplen..=CAPLEN_MAX).contains(&wire_len);
        // The first two records close in time: bytes of a payload that pass for one header
        // and lead onto the real records after it rarely carry a time near theirs. (Further
        // on, a capture made of several joined captures may jump.)
        let near = first_secs.is_none_or(|f: u32| secs.abs_diff(f) <= GUESS_SPAN_SECS);
        if !plausible || (whole == 1 && !near) {
            return false;
        }
        first_secs.get_or_insert(secs);
        at += RECORD_HEADER_LEN + caplen as usize;
        if at > bytes.len() {
            return false;
        }
    }
    true
}

/// Reads `buf.len()` bytes at `offset`, fewer at the end of the file; on an error, the bytes
/// read before it and the error.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> Result<usize, (usize, std::io::Error)> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(buf.get_mut(got..).unwrap_or_default(), offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err((got, e)),
        }
    }
    Ok(got)
}
