//! Offline replay of a pcap or pcapng file: classic pcap read directly (`classic.rs`), pcapng
//! and everything else through libpcap.

use super::classic::{self, Blocks, ChunkStep, Classic, Stop};
use super::{libc_timeval::Timeval, ts_from_timeval, CaptureError, Frame, LinkType, Step};
use std::path::{Path, PathBuf};

/// Frames handed to the sink per [`FileCapture::pump`] call, so a caller can check for shutdown
/// and update progress between batches without a per-frame branch.
const PUMP_BATCH: usize = 4096;

/// Bytes of framing libpcap reads per classic-pcap record besides the captured data; used only to
/// estimate progress through the file.
const RECORD_HEADER_LEN: u64 = 16;

/// Which reader a file is replayed with.
enum Reader {
    Classic(Classic),
    Libpcap(pcap::Capture<pcap::Offline>),
}

/// How to read a capture file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Classic pcap directly, anything else through libpcap.
    #[default]
    Direct,
    /// Everything through libpcap (a cross-check, and the comparison the throughput harness makes).
    Libpcap,
}

/// A capture file opened for replay.
pub struct FileCapture {
    reader: Reader,
    linktype: LinkType,
    path: PathBuf,
    size: u64,
    consumed: u64,
    frames: u64,
}

impl FileCapture {
    /// Opens `path`, checks that it is a capture libpcap can read and that its datalink is one the
    /// decoder handles.
    pub fn open(path: &Path) -> Result<FileCapture, CaptureError> {
        FileCapture::open_with(path, ReadMode::Direct)
    }

    /// As [`FileCapture::open`], choosing the reader.
    pub fn open_with(path: &Path, mode: ReadMode) -> Result<FileCapture, CaptureError> {
        let meta = std::fs::metadata(path).map_err(|e| CaptureError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if meta.is_dir() {
            return Err(CaptureError::Unreadable {
                path: path.to_owned(),
                reason: "is a directory".into(),
            });
        }
        // Opening checks readability first so a permission problem is not reported as a format one.
        std::fs::File::open(path).map_err(|e| CaptureError::Unreadable {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if meta.len() == 0 {
            return Err(CaptureError::NotACapture {
                path: path.to_owned(),
                reason: "empty file".into(),
            });
        }
        let direct = match mode {
            ReadMode::Direct => classic::open(path)?,
            ReadMode::Libpcap => None,
        };
        let (reader, dlt) = match direct {
            Some(c) => {
                let dlt = c.linktype();
                (Reader::Classic(c), dlt)
            }
            None => {
                let cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
                    .map_err(|e| CaptureError::NotACapture {
                        path: path.to_owned(),
                        reason: pcap_reason(&e),
                    })?;
                let dlt = cap.get_datalink().0;
                (Reader::Libpcap(cap), dlt)
            }
        };
        let linktype = LinkType::from_dlt(dlt)?;
        Ok(FileCapture {
            reader,
            linktype,
            path: path.to_owned(),
            size: meta.len(),
            consumed: 24,
            frames: 0,
        })
    }

    /// The file's link-layer framing.
    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    /// The file's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// An estimate of how many bytes of the file have been read (exact for classic pcap).
    pub fn consumed(&self) -> u64 {
        match &self.reader {
            Reader::Classic(c) => c.consumed(),
            Reader::Libpcap(_) => self.consumed,
        }
        .min(self.size)
    }

    /// Whether whole runs of records can be read with [`FileCapture::chunk`] (classic pcap).
    pub fn chunked(&self) -> bool {
        matches!(self.reader, Reader::Classic(_))
    }

    /// The file read in [`Blocks`] instead, when it is read directly (classic pcap) and nothing
    /// has been read from it yet; otherwise the capture back, unchanged. The file is not opened
    /// again.
    pub fn into_blocks(mut self) -> Result<Result<Blocks, FileCapture>, CaptureError> {
        let Reader::Classic(c) = self.reader else {
            return Ok(Err(self));
        };
        match c.into_blocks()? {
            Ok(blocks) => Ok(Ok(blocks)),
            Err(c) => {
                self.reader = Reader::Classic(c);
                Ok(Err(self))
            }
        }
    }

    /// The next run of whole records in one buffer (`spare`: a buffer of an earlier chunk to
    /// reuse). Only for [`FileCapture::chunked`] files; others end at once.
    pub fn chunk(&mut self, spare: Option<Box<[u8]>>) -> Result<ChunkStep, CaptureError> {
        match &mut self.reader {
            Reader::Classic(c) => c.chunk(spare),
            Reader::Libpcap(_) => Ok(ChunkStep::End),
        }
    }

    /// Reads up to a batch of frames, handing each to `sink`.
    pub fn pump<F: FnMut(&Frame<'_>)>(&mut self, mut sink: F) -> Result<Step, CaptureError> {
        let cap = match &mut self.reader {
            Reader::Libpcap(cap) => cap,
            Reader::Classic(c) => {
                let mut n = 0usize;
                while n < PUMP_BATCH {
                    match c.next(&mut sink)? {
                        None => n += 1,
                        Some(Stop::End) => {
                            return Ok(if n > 0 { Step::Frames(n) } else { Step::End })
                        }
                        // Every frame before the cut has been handed over already.
                        Some(Stop::Truncated(why)) => return Ok(Step::Truncated(why)),
                    }
                }
                return Ok(Step::Frames(n));
            }
        };
        let mut n = 0usize;
        while n < PUMP_BATCH {
            match cap.next_packet() {
                Ok(p) => {
                    let frame = Frame {
                        ts: ts_from_timeval(&Timeval::from(p.header), true),
                        data: p.data,
                        wire_len: p.header.len,
                    };
                    self.consumed = self
                        .consumed
                        .saturating_add(RECORD_HEADER_LEN + u64::from(p.header.caplen));
                    self.frames += 1;
                    n += 1;
                    sink(&frame);
                }
                Err(pcap::Error::NoMorePackets) => {
                    return Ok(if n > 0 { Step::Frames(n) } else { Step::End });
                }
                Err(e) => {
                    let reason = pcap_reason(&e);
                    // libpcap reports a file cut mid-record as "truncated dump file" (pcap) or
                    // "truncated pcapng dump file" / "block ... is truncated" (pcapng).
                    if reason.contains("truncated") {
                        return Ok(Step::Truncated(reason));
                    }
                    return Err(CaptureError::Read {
                        path: self.path.clone(),
                        frames: self.frames,
                        reason,
                    });
                }
            }
        }
        Ok(Step::Frames(n))
    }
}

/// libpcap's message without the crate's enum wrapping.
pub(super) fn pcap_reason(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}
