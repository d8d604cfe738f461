//! Capture: the only stage that talks to libpcap.
//!
//! It turns a live interface or a capture file (pcap or pcapng) into [`Frame`]s: the captured
//! bytes, the original length on the wire and the kernel's (or the file's) timestamp. Everything
//! downstream works on `&[u8]` plus a [`Ts`], so replays, benches, fuzzers and live traffic all run
//! the same code.
//!
//! Failure policy: a file that cannot be opened or is not a capture is an error naming the file; a
//! file cut short mid-record ends the replay early with [`Step::Truncated`] so callers can report
//! what they did read. A datalink the decoder cannot handle is refused at open.

mod classic;
mod file;
mod live;

pub use classic::{BlockEnd, Blocks, Chunk, ChunkStep, Fetched, FramePlace, BLOCK_LEN, CAPLEN_MAX};
pub use file::{FileCapture, ReadMode};
pub use live::{FanoutGroup, LiveOptions, LiveSocket, LiveStats, FANOUT_FLOW};

use crate::ts::Ts;
use std::fmt;
use std::path::PathBuf;

/// One captured frame, borrowed from the capture's buffer.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// When the frame was captured.
    pub ts: Ts,
    /// The captured bytes (at most the snap length).
    pub data: &'a [u8],
    /// The frame's length on the wire, which is larger than `data` when the snap length cut it.
    pub wire_len: u32,
}

/// The link-layer framing of a capture, from its DLT/LINKTYPE number
/// (<https://www.tcpdump.org/linktypes.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET (1): IEEE 802.3 / Ethernet II, VLAN tags allowed.
    Ethernet,
    /// LINKTYPE_RAW (101, also DLT 12/14 on some systems) and LINKTYPE_IPV4/IPV6 (228/229).
    RawIp,
    /// LINKTYPE_LINUX_SLL (113): Linux "cooked" capture v1, 16-byte header.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture v2, 20-byte header.
    LinuxSll2,
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
}

impl LinkType {
    /// Maps a DLT/LINKTYPE number to a supported framing.
    pub fn from_dlt(dlt: i32) -> Result<LinkType, CaptureError> {
        Ok(match dlt {
            1 => LinkType::Ethernet,
            12 | 14 | 101 | 228 | 229 => LinkType::RawIp,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            other => return Err(CaptureError::UnsupportedDatalink(other)),
        })
    }
}

/// What one call to a source's `pump` produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// This many frames were handed to the sink; call again.
    Frames(usize),
    /// No traffic arrived before the read timeout; the wall clock read at the capture boundary
    /// lets idle flows expire on a quiet link. Live capture only.
    Idle(Ts),
    /// The input is exhausted (end of file, or the live capture was stopped).
    End,
    /// The file ends in the middle of a record: everything before the cut was delivered.
    Truncated(String),
}

/// Why a capture could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The path does not exist or cannot be read.
    #[error("{path}: {reason}")]
    Unreadable {
        /// The capture file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// The file exists but libpcap does not recognise it as pcap or pcapng.
    #[error("{path}: not a pcap or pcapng capture ({reason})")]
    NotACapture {
        /// The capture file.
        path: PathBuf,
        /// libpcap's reason.
        reason: String,
    },
    /// The capture uses a link type the decoder does not handle.
    #[error("unsupported datalink {0} (supported: 0 null, 1 ethernet, 101 raw IP, 108 loop, 113 linux SLL, 276 linux SLL2)")]
    UnsupportedDatalink(i32),
    /// A read error in the middle of a file that is not a simple truncation.
    #[error("{path}: read error after {frames} frames: {reason}")]
    Read {
        /// The capture file.
        path: PathBuf,
        /// Frames delivered before the error.
        frames: u64,
        /// libpcap's reason.
        reason: String,
    },
    /// The live interface could not be opened or configured.
    #[error("interface {interface}: {reason}")]
    Live {
        /// The interface name.
        interface: String,
        /// libpcap's reason.
        reason: String,
    },
}

impl fmt::Display for LinkType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkType::Ethernet => "ethernet",
            LinkType::RawIp => "raw-ip",
            LinkType::LinuxSll => "linux-sll",
            LinkType::LinuxSll2 => "linux-sll2",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
        })
    }
}

/// Converts libpcap's `timeval` (seconds + sub-second part in the precision the capture was opened
/// with) into a [`Ts`].
fn ts_from_timeval(tv: &libc_timeval::Timeval, nanos: bool) -> Ts {
    let frac = u32::try_from(tv.frac.max(0)).unwrap_or(0);
    let nanos_part = if nanos {
        frac
    } else {
        frac.saturating_mul(1_000)
    };
    Ts::from_parts(tv.secs, nanos_part.min(999_999_999))
}

/// The two fields of `struct timeval` we read, copied out so the conversion is testable without
/// libpcap.
mod libc_timeval {
    /// Seconds and sub-second part of a capture timestamp.
    pub struct Timeval {
        /// Seconds since the epoch.
        pub secs: i64,
        /// Microseconds or nanoseconds, depending on the capture's precision.
        pub frac: i64,
    }

    impl From<&pcap::PacketHeader> for Timeval {
        fn from(h: &pcap::PacketHeader) -> Self {
            #[allow(clippy::useless_conversion)] // time_t and suseconds_t are i32 on some targets
            Timeval {
                secs: i64::from(h.ts.tv_sec),
                frac: i64::from(h.ts.tv_usec),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_supported_datalinks_and_refuses_others() {
        assert_eq!(LinkType::from_dlt(1).ok(), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_dlt(101).ok(), Some(LinkType::RawIp));
        assert_eq!(LinkType::from_dlt(113).ok(), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_dlt(276).ok(), Some(LinkType::LinuxSll2));
        assert_eq!(LinkType::from_dlt(0).ok(), Some(LinkType::Null));
        let err = LinkType::from_dlt(127).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with("unsupported datalink 127")));
    }

    #[test]
    fn timeval_precision() {
        let tv = libc_timeval::Timeval { secs: 10, frac: 5 };
        assert_eq!(ts_from_timeval(&tv, false), Ts(10_000_005_000));
        assert_eq!(ts_from_timeval(&tv, true), Ts(10_000_000_005));
    }
}
