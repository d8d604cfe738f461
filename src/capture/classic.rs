//! Classic pcap files read directly: large `read(2)` calls into one reusable buffer, records
//! split in place.
//!
//! libpcap reads a file through stdio, one `fread` for each record header and one for its data,
//! and copies every record from stdio's buffer into its own: on a replay that is most of the
//! time spent outside analysis. Here each byte is copied once, by the kernel, and a frame is a
//! slice of the buffer. Record framing is pcap-parser's (rusticata); the format is the
//! tcpdump.org one (draft-ietf-opsawg-pcap): a 24-byte file header whose magic gives the byte
//! order and the timestamp precision, then 16-byte record headers (seconds, sub-second part,
//! captured length, original length) each followed by the captured bytes.
//!
//! Only the plain format with major version 2 is read here; pcapng, the "modified" (Kuznetzov)
//! variant and anything odd go to libpcap ([`open`] says `None`), which also words the errors of
//! files that are not captures. What libpcap checks per record is checked here the same way:
//! a captured length above [`CAPLEN_MAX`] is an error, one above the file's snap length is cut to
//! it, and a file that ends inside a record is a truncation after everything before it.

mod blocks;

pub use blocks::{BlockEnd, Blocks, Fetched, BLOCK_LEN};

use super::{CaptureError, Frame};
use crate::ts::Ts;
use pcap_parser::pcap::{parse_pcap_frame, parse_pcap_frame_be, parse_pcap_header};
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Largest captured length accepted for a record: libpcap's `MAXIMUM_SNAPLEN` (pcap-int.h),
/// the bound for every datalink this sensor decodes. A larger length is a corrupt file, not a
/// big packet.
pub const CAPLEN_MAX: u32 = 262_144;
/// Record header bytes (draft-ietf-opsawg-pcap §5).
const RECORD_HEADER_LEN: usize = 16;
/// File header bytes (draft-ietf-opsawg-pcap §4).
const FILE_HEADER_LEN: usize = 24;
/// Bytes asked of the kernel per read: large enough that system calls cost nothing per packet,
/// small enough to stay in the CPU's caches between the read and the decode.
const READ_CHUNK: usize = 1 << 18;
/// The buffer: a read's worth plus the largest record, so a record cut by the end of one read
/// always fits once the rest arrives.
const BUF_LEN: usize = READ_CHUNK + RECORD_HEADER_LEN + CAPLEN_MAX as usize;

/// The cache line of the x86-64 and ARMv8 cores this runs on.
const CACHE_LINE: usize = 64;

/// A prefetch hint for the line holding `b`. safe_arch wraps the SSE `prefetcht0` instruction
/// behind a safe function (the crate forbids `unsafe`, and `core::arch::_mm_prefetch` needs
/// it); SSE is part of every x86-64 target. Elsewhere, no hint.
#[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
fn prefetch(b: &u8) {
    safe_arch::prefetch_t0(b);
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
fn prefetch(_: &u8) {}

/// How a file's records are written, from its header.
#[derive(Clone, Copy, Debug)]
struct Format {
    big_endian: bool,
    nanos: bool,
    snaplen: u32,
}

/// What is at the front of `avail`.
enum Record<'a> {
    /// A whole record of this many bytes, as a frame.
    Whole(usize, Frame<'a>),
    /// The start of a record: more bytes are needed.
    Partial,
    /// A record header whose captured length is above [`CAPLEN_MAX`].
    TooLong(u32),
}

impl Format {
    /// A record-header field (`at` bytes in) in the file's byte order.
    fn field(self, rec: &[u8], at: usize) -> u32 {
        let b = rec
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .unwrap_or_default();
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Splits the record at the front of `avail`.
    fn record(self, avail: &[u8]) -> Record<'_> {
        if avail.len() < RECORD_HEADER_LEN {
            return Record::Partial;
        }
        let caplen = self.field(avail, 8);
        if caplen > CAPLEN_MAX {
            return Record::TooLong(caplen);
        }
        let parsed = if self.big_endian {
            parse_pcap_frame_be(avail)
        } else {
            parse_pcap_frame(avail)
        };
        let Ok((rest, rec)) = parsed else {
            return Record::Partial;
        };
        let keep = rec.data.len().min(self.snaplen as usize);
        let frac = u64::from(rec.ts_usec);
        let nanos = if self.nanos { frac } else { frac * 1_000 };
        let frame = Frame {
            ts: Ts::from_parts(
                i64::from(rec.ts_sec),
                u32::try_from(nanos.min(999_999_999)).unwrap_or(0),
            ),
            data: rec.data.get(..keep).unwrap_or_default(),
            wire_len: rec.origlen,
        };
        Record::Whole(avail.len() - rest.len(), frame)
    }
}

/// Whole records of a file in one buffer, handed as a unit to every thread that analyses the
/// file (`pipeline::Workers`): read once, shared, never copied per packet.
pub struct Chunk {
    buf: Box<[u8]>,
    /// The records are `buf[from..from + len]`.
    from: usize,
    len: usize,
    format: Format,
    frames: usize,
}

impl Chunk {
    /// How many frames the chunk holds.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Hands every frame to `sink`, in file order.
    pub fn for_each<F: FnMut(&Frame<'_>)>(&self, mut sink: F) {
        self.for_each_at(|_, f| sink(f));
    }

    /// Hands every frame to `sink` with its record's place in the chunk (for [`Chunk::frame_at`]).
    pub fn for_each_at<F: FnMut(u32, &Frame<'_>)>(&self, mut sink: F) {
        let records = self.records();
        let mut at = 0usize;
        // The reader cut the chunk at record boundaries and checked every record.
        while let Record::Whole(used, f) = self.format.record(records.get(at..).unwrap_or_default())
        {
            // A chunk is smaller than `BUF_LEN`, so a place fits.
            sink(u32::try_from(at).unwrap_or(u32::MAX), &f);
            at += used;
        }
    }

    /// The frame at `p` (a place [`Fetched::split`](blocks::Fetched::split) gave), without
    /// reading its record again.
    pub fn frame(&self, p: FramePlace) -> Frame<'_> {
        let (at, len) = (p.at as usize, p.len as usize);
        Frame {
            ts: p.ts,
            data: self.records().get(at..at + len).unwrap_or_default(),
            wire_len: p.wire_len,
        }
    }

    /// Asks the CPU to fetch the start of the frame at `p` into its caches, without waiting:
    /// the two cache lines that hold the link, IP and transport headers of a common frame
    /// (Ethernet 14 + IPv4 20 + TCP 32 bytes, or IPv6 40) and the first payload bytes.
    /// A hint only: no effect on what the program computes.
    pub fn prefetch(&self, p: FramePlace) {
        let records = self.records();
        let at = p.at as usize;
        for line in [at, at + CACHE_LINE] {
            if let Some(b) = records.get(line) {
                prefetch(b);
            }
        }
    }

    /// The frame of the record at `at` (a place [`Chunk::for_each_at`] gave).
    pub fn frame_at(&self, at: u32) -> Option<Frame<'_>> {
        let rest = self.records().get(usize::try_from(at).ok()?..)?;
        match self.format.record(rest) {
            Record::Whole(_, f) => Some(f),
            Record::Partial | Record::TooLong(_) => None,
        }
    }

    fn records(&self) -> &[u8] {
        self.buf
            .get(self.from..self.from + self.len)
            .unwrap_or_default()
    }

    /// The buffer back, for the next chunk.
    pub fn into_buffer(self) -> Box<[u8]> {
        self.buf
    }
}

/// Where a frame of a [`Chunk`] is, with its record's time and length: small and cheap to
/// hand to another thread, which gets the frame back with [`Chunk::frame`] without reading
/// the record header.
#[derive(Clone, Copy, Debug)]
pub struct FramePlace {
    at: u32,
    len: u32,
    wire_len: u32,
    ts: Ts,
}

impl FramePlace {
    /// The place of frame `f`, whose record starts `at` bytes into a chunk's records.
    fn of(at: usize, f: &Frame<'_>) -> FramePlace {
        // A chunk is smaller than a block plus the longest record, so its places and lengths
        // fit.
        FramePlace {
            at: u32::try_from(at + RECORD_HEADER_LEN).unwrap_or(u32::MAX),
            len: u32::try_from(f.data.len()).unwrap_or(0),
            wire_len: f.wire_len,
            ts: f.ts,
        }
    }

    /// The frame's capture time.
    pub fn ts(&self) -> Ts {
        self.ts
    }
}

/// What `FileCapture::chunk` produced.
pub enum ChunkStep {
    /// Whole records.
    Chunk(Chunk),
    /// End of file at a record boundary.
    End,
    /// The file ends inside a record (libpcap's wording); every record before it was delivered.
    Truncated(String),
}

/// A classic pcap file being read.
pub(super) struct Classic {
    file: File,
    path: PathBuf,
    buf: Box<[u8]>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    eof: bool,
    format: Format,
    linktype: i32,
    /// Bytes of the file consumed by delivered records (and the file header).
    consumed: u64,
    frames: u64,
}

impl Classic {
    /// The same file read in blocks instead, when nothing has been read from it yet: it was
    /// opened and its header checked once, so it cannot have been swapped for another file in
    /// between. `Err(self)` once records have been delivered (blocks read with `pread`, so
    /// where the file's position stands does not matter).
    pub(super) fn into_blocks(self) -> Result<Result<Blocks, Classic>, CaptureError> {
        if self.consumed > FILE_HEADER_LEN as u64 {
            return Ok(Err(self));
        }
        Blocks::of_file(self.file, &self.path, self.format, self.linktype, BLOCK_LEN).map(Ok)
    }
}

/// Why reading stopped inside [`Classic::next`].
pub(super) enum Stop {
    /// End of file at a record boundary.
    End,
    /// The file ends inside a record; libpcap's wording.
    Truncated(String),
}

/// Opens `path` for direct reading when it is a classic pcap file with an ordinary header;
/// `None` hands it to libpcap.
pub(super) fn open(path: &Path) -> Result<Option<Classic>, CaptureError> {
    let Some((file, format, linktype)) = open_header(path)? else {
        return Ok(None);
    };
    Ok(Some(Classic {
        file,
        path: path.to_owned(),
        buf: vec![0u8; BUF_LEN].into_boxed_slice(),
        start: 0,
        end: 0,
        eof: false,
        format,
        linktype,
        consumed: FILE_HEADER_LEN as u64,
        frames: 0,
    }))
}

/// The file, its record format and LINKTYPE, positioned after the file header, when `path` is
/// a classic pcap file with an ordinary header.
fn open_header(path: &Path) -> Result<Option<(File, Format, i32)>, CaptureError> {
    let unreadable = |e: std::io::Error| CaptureError::Unreadable {
        path: path.to_owned(),
        reason: e.to_string(),
    };
    let mut file = File::open(path).map_err(unreadable)?;
    let mut head = [0u8; FILE_HEADER_LEN];
    if read_full(&mut file, &mut head).map_err(unreadable)? < FILE_HEADER_LEN {
        return Ok(None);
    }
    let Ok((_, h)) = parse_pcap_header(&head) else {
        return Ok(None);
    };
    if h.is_modified_format() || h.version_major != 2 {
        return Ok(None);
    }
    // A snap length of 0 or above the bound means "no limit" to libpcap (sf-pcap.c).
    let snaplen = if h.snaplen == 0 || h.snaplen > CAPLEN_MAX {
        CAPLEN_MAX
    } else {
        h.snaplen
    };
    let format = Format {
        big_endian: h.is_bigendian(),
        nanos: h.is_nanosecond_precision(),
        snaplen,
    };
    // The upper bits carry the FCS length (draft-ietf-opsawg-pcap §4, LinkType field).
    Ok(Some((file, format, h.network.0 & 0x0fff_ffff)))
}

impl Classic {
    /// The file header's LINKTYPE.
    pub(super) fn linktype(&self) -> i32 {
        self.linktype
    }

    /// Bytes of the file consumed so far (exact).
    pub(super) fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Hands the next record to `sink`; `Ok(None)` after a frame, `Ok(Some(stop))` at the end.
    pub(super) fn next<F: FnMut(&Frame<'_>)>(
        &mut self,
        sink: &mut F,
    ) -> Result<Option<Stop>, CaptureError> {
        loop {
            let avail = self.buf.get(self.start..self.end).unwrap_or_default();
            match self.format.record(avail) {
                Record::Whole(used, frame) => {
                    sink(&frame);
                    self.start += used;
                    self.consumed += used as u64;
                    self.frames += 1;
                    return Ok(None);
                }
                Record::TooLong(caplen) => return Err(self.too_long(caplen)),
                Record::Partial => {}
            }
            // Not a whole record in the buffer: read more, or end.
            if self.eof {
                return Ok(Some(self.stop()));
            }
            self.refill()?;
        }
    }

    /// The next run of whole records, read into `spare` (a buffer from an earlier chunk) or a
    /// new buffer.
    pub(super) fn chunk(&mut self, spare: Option<Box<[u8]>>) -> Result<ChunkStep, CaptureError> {
        loop {
            // Whole records already buffered are handed over as they are.
            let avail = self.buf.get(self.start..self.end).unwrap_or_default();
            let (mut at, mut frames) = (0usize, 0usize);
            loop {
                match self.format.record(avail.get(at..).unwrap_or_default()) {
                    Record::Whole(used, _) => {
                        at += used;
                        frames += 1;
                    }
                    Record::TooLong(caplen) if frames == 0 => return Err(self.too_long(caplen)),
                    Record::TooLong(_) | Record::Partial => break,
                }
            }
            if frames > 0 {
                // The records go out in this buffer; what follows them moves to the spare one.
                let mut next = match spare {
                    Some(b) if b.len() == BUF_LEN => b,
                    _ => vec![0u8; BUF_LEN].into_boxed_slice(),
                };
                let tail = self.buf.get(self.start + at..self.end).unwrap_or_default();
                next.get_mut(..tail.len())
                    .unwrap_or_default()
                    .copy_from_slice(tail);
                let len = tail.len();
                let full = std::mem::replace(&mut self.buf, next);
                let from = self.start;
                self.start = 0;
                self.end = len;
                self.consumed += at as u64;
                self.frames += frames as u64;
                return Ok(ChunkStep::Chunk(Chunk {
                    buf: full,
                    from,
                    len: at,
                    format: self.format,
                    frames,
                }));
            }
            if self.eof {
                return Ok(match self.stop() {
                    Stop::End => ChunkStep::End,
                    Stop::Truncated(why) => ChunkStep::Truncated(why),
                });
            }
            self.refill()?;
        }
    }

    fn too_long(&self, caplen: u32) -> CaptureError {
        CaptureError::Read {
            path: self.path.clone(),
            frames: self.frames,
            reason: format!(
                "invalid packet capture length {caplen}, bigger than maximum of {CAPLEN_MAX}"
            ),
        }
    }

    /// How the file ends, at end of file with `buf[start..end]` unread.
    fn stop(&self) -> Stop {
        let left = self.buf.get(self.start..self.end).unwrap_or_default();
        if left.is_empty() {
            Stop::End
        } else {
            Stop::Truncated(truncation(self.format, left))
        }
    }

    /// Moves the unread bytes to the front and reads until the buffer holds a chunk more, or
    /// the file ends.
    fn refill(&mut self) -> Result<(), CaptureError> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let want = (self.end + READ_CHUNK).min(self.buf.len());
        let target = self.buf.get_mut(self.end..want).unwrap_or_default();
        let got = read_full(&mut self.file, target).map_err(|e| CaptureError::Read {
            path: self.path.clone(),
            frames: self.frames,
            reason: e.to_string(),
        })?;
        if got < want - self.end {
            self.eof = true;
        }
        self.end += got;
        Ok(())
    }
}

/// libpcap's words for a file that ends inside the record whose first bytes are `left`.
fn truncation(format: Format, left: &[u8]) -> String {
    if left.len() < RECORD_HEADER_LEN {
        format!(
            "truncated dump file; tried to read {RECORD_HEADER_LEN} header bytes, only got {}",
            left.len()
        )
    } else {
        let caplen = format.field(left, 8);
        format!(
            "truncated dump file; tried to read {caplen} captured bytes, only got {}",
            left.len() - RECORD_HEADER_LEN
        )
    }
}

/// Reads until `buf` is full or the file ends; the number of bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests;
