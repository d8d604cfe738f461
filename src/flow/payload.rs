//! The first payload bytes of each direction of a flow, kept while detectors inspect it.
//!
//! TCP payload is kept as the in-order byte stream (retransmissions dropped, a gap ends the
//! stream) with segment boundaries recorded, because handshakes such as RDP's X.224 request or a
//! TLS ClientHello may span segments. Datagram protocols keep each datagram's prefix with its
//! length on the wire, because formats such as WireGuard are recognised by exact sizes.

/// Stream bytes kept per direction: enough for a TLS ClientHello with a post-quantum key share
/// (~1.8 KB) and every handshake the detectors parse.
pub const STREAM_PREFIX_MAX: usize = 4096;
/// Bytes kept of each datagram (UDP, ESP, GRE, ICMP): a whole datagram of a 1500-byte MTU path,
/// because a QUIC Initial (RFC 9000 §14.1: at least 1200 bytes) can only be decrypted whole; the
/// per-direction total stays bounded by [`STREAM_PREFIX_MAX`].
pub const DATAGRAM_PREFIX_MAX: usize = 1500;
/// Segments or datagrams recorded per direction.
pub const SEGMENTS_MAX: usize = 8;

/// One recorded segment or datagram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Offset of its first kept byte in [`DirPayload::data`].
    pub start: u16,
    /// Bytes kept.
    pub len: u16,
    /// Its payload length on the wire (larger than `len` when cut by a bound or the snap length).
    pub wire_len: u16,
}

/// What was kept of one direction.
#[derive(Clone, Debug, Default)]
pub struct DirPayload {
    data: Vec<u8>,
    segs: [Segment; SEGMENTS_MAX],
    nsegs: u8,
    next_seq: Option<u32>,
    gap: bool,
    /// Payload-bearing packets seen in this direction while recording (including dropped ones).
    pub payload_pkts: u32,
}

impl DirPayload {
    /// The kept bytes: the in-order TCP stream, or the datagram prefixes back to back.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The recorded segments or datagrams, in arrival order.
    pub fn segments(&self) -> &[Segment] {
        self.segs.get(..usize::from(self.nsegs)).unwrap_or_default()
    }

    /// The kept bytes of segment `i`.
    pub fn segment(&self, i: usize) -> Option<&[u8]> {
        let s = self.segments().get(i)?;
        let start = usize::from(s.start);
        self.data.get(start..start + usize::from(s.len))
    }

    /// Whether a TCP sequence gap ended stream recording in this direction.
    pub fn has_gap(&self) -> bool {
        self.gap
    }

    fn clear(&mut self) {
        self.data.clear();
        self.nsegs = 0;
        self.next_seq = None;
        self.gap = false;
        self.payload_pkts = 0;
    }

    fn push_segment(&mut self, bytes: &[u8], wire_len: usize) {
        let room = STREAM_PREFIX_MAX.saturating_sub(self.data.len());
        let keep = bytes.get(..bytes.len().min(room)).unwrap_or_default();
        let Some(slot) = self.segs.get_mut(usize::from(self.nsegs)) else {
            // Segment table full: keep extending a TCP stream, stop recording datagrams.
            return;
        };
        *slot = Segment {
            start: u16::try_from(self.data.len()).unwrap_or(u16::MAX),
            len: u16::try_from(keep.len()).unwrap_or(u16::MAX),
            wire_len: u16::try_from(wire_len).unwrap_or(u16::MAX),
        };
        self.nsegs += 1;
        self.data.extend_from_slice(keep);
    }

    /// Records one TCP segment with sequence number `seq`.
    pub fn push_tcp(&mut self, seq: u32, payload: &[u8]) {
        self.payload_pkts = self.payload_pkts.saturating_add(1);
        if self.gap || payload.is_empty() {
            return;
        }
        let expected = *self.next_seq.get_or_insert(seq);
        // Sequence arithmetic is modulo 2^32 (RFC 9293 §3.4).
        let ahead = seq.wrapping_sub(expected) as i32;
        let fresh = if ahead == 0 {
            payload
        } else if ahead < 0 {
            // A retransmission, possibly overlapping new data: keep only the new tail.
            let overlap = usize::try_from(ahead.unsigned_abs()).unwrap_or(usize::MAX);
            match payload.get(overlap..) {
                Some(tail) if !tail.is_empty() => tail,
                _ => return,
            }
        } else {
            // Data beyond a hole (loss or reordering): the stream is no longer contiguous.
            self.gap = true;
            return;
        };
        let len = u32::try_from(fresh.len()).unwrap_or(u32::MAX);
        self.next_seq = Some(expected.wrapping_add(len));
        if self.data.len() >= STREAM_PREFIX_MAX {
            return;
        }
        if usize::from(self.nsegs) < SEGMENTS_MAX {
            self.push_segment(fresh, fresh.len());
        } else {
            let room = STREAM_PREFIX_MAX - self.data.len();
            self.data
                .extend_from_slice(fresh.get(..fresh.len().min(room)).unwrap_or_default());
        }
    }

    /// Records one datagram (UDP, ESP, GRE, ICMP payload) of `wire_len` bytes.
    pub fn push_datagram(&mut self, payload: &[u8], wire_len: usize) {
        self.payload_pkts = self.payload_pkts.saturating_add(1);
        let keep = payload
            .get(..payload.len().min(DATAGRAM_PREFIX_MAX))
            .unwrap_or_default();
        self.push_segment(keep, wire_len);
    }
}

/// Both directions' kept payload. Boxed and pooled by the flow table: only flows under
/// inspection carry one.
#[derive(Clone, Debug, Default)]
pub struct Payloads {
    /// Indexed by [`super::Dir::idx`].
    pub dirs: [DirPayload; 2],
}

impl Payloads {
    /// Resets for reuse, keeping allocations.
    pub(super) fn clear(&mut self) {
        for d in &mut self.dirs {
            d.clear();
            if d.data.capacity() > 2 * STREAM_PREFIX_MAX {
                d.data.shrink_to(STREAM_PREFIX_MAX);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_stream_reassembles_in_order_and_drops_retransmits() {
        let mut d = DirPayload::default();
        d.push_tcp(1000, b"hello ");
        d.push_tcp(1000, b"hello "); // retransmission
        d.push_tcp(1003, b"lo world"); // overlaps "lo "
        assert_eq!(d.data(), b"hello world");
        assert_eq!(d.segments().len(), 2);
        assert_eq!(d.segment(1), Some(&b"world"[..]));
        assert_eq!(d.payload_pkts, 3);
        assert!(!d.has_gap());
    }

    #[test]
    fn tcp_gap_stops_the_stream() {
        let mut d = DirPayload::default();
        d.push_tcp(u32::MAX - 1, b"ab"); // wraps to 0
        d.push_tcp(0, b"cd");
        d.push_tcp(10, b"zz");
        d.push_tcp(2, b"ef");
        assert_eq!(d.data(), b"abcd");
        assert!(d.has_gap());
    }

    #[test]
    fn stream_is_bounded() {
        let mut d = DirPayload::default();
        let chunk = [7u8; 1500];
        let mut seq = 0u32;
        for _ in 0..20 {
            d.push_tcp(seq, &chunk);
            seq = seq.wrapping_add(1500);
        }
        assert_eq!(d.data().len(), STREAM_PREFIX_MAX);
        assert!(d.segments().len() <= SEGMENTS_MAX);
    }

    #[test]
    fn datagrams_keep_prefix_and_wire_length() {
        let mut d = DirPayload::default();
        let big = [1u8; 2000];
        d.push_datagram(&big, 2000);
        d.push_datagram(b"xyz", 3);
        assert_eq!(d.segments()[0].wire_len, 2000);
        assert_eq!(d.segment(0).map(<[u8]>::len), Some(DATAGRAM_PREFIX_MAX));
        assert_eq!(d.segment(1), Some(&b"xyz"[..]));
        for _ in 0..20 {
            d.push_datagram(b"more", 4);
        }
        assert_eq!(d.segments().len(), SEGMENTS_MAX);
        assert_eq!(d.payload_pkts, 22);
    }
}
