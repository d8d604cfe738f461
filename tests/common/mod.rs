//! Shared helpers for integration tests: building small, deterministic captures.
//!
//! Frames are built with etherparse's `PacketBuilder` (real headers and checksums) and written
//! with libpcap's own savefile writer, so the files are exactly what tcpdump would write.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use etherparse::{IpNumber, PacketBuilder, TcpOptionElement};
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Fixed start time of every built capture: 2024-03-01T09:00:00Z.
pub const BASE_SECS: u64 = 1_709_283_600;
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

/// One frame: time in microseconds since [`BASE_SECS`], and Ethernet bytes.
#[derive(Clone, Debug)]
pub struct Frame {
    pub micros: u64,
    pub data: Vec<u8>,
}

/// A capture under construction. Time advances by 1 ms per frame unless told otherwise.
#[derive(Clone, Debug, Default)]
pub struct CaptureBuilder {
    pub frames: Vec<Frame>,
    pub now_micros: u64,
}

impl CaptureBuilder {
    pub fn new() -> CaptureBuilder {
        CaptureBuilder::default()
    }

    /// Advances the clock.
    pub fn wait_ms(&mut self, ms: u64) {
        self.now_micros += ms * 1000;
    }

    /// Appends a raw Ethernet frame at the current time, then advances the clock by 1 ms.
    pub fn push(&mut self, data: Vec<u8>) {
        self.frames.push(Frame {
            micros: self.now_micros,
            data,
        });
        self.now_micros += 1000;
    }

    /// Appends one UDP datagram from `from` to `to`.
    pub fn udp(&mut self, from: SocketAddr, to: SocketAddr, payload: &[u8]) {
        let b = ip_step(from.ip(), to.ip(), 64).udp(from.port(), to.port());
        let mut out = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut out, payload).expect("udp frame");
        self.push(out);
    }

    /// Appends one packet of IP protocol `proto` (ESP, GRE, …) with `payload` as IP payload.
    pub fn ip(&mut self, src: IpAddr, dst: IpAddr, proto: u8, payload: &[u8]) {
        let b = ip_step(src, dst, 64);
        let mut out = Vec::new();
        b.write(&mut out, IpNumber(proto), payload)
            .expect("ip frame");
        self.push(out);
    }

    /// Starts a TCP connection: SYN, SYN/ACK, ACK with MSS 1460 and window scale 7.
    pub fn tcp(&mut self, client: SocketAddr, server: SocketAddr) -> Tcp {
        let mut t = Tcp {
            client,
            server,
            seq: [0x1000_0000, 0x2000_0000],
        };
        t.segment(self, true, Flags::Syn, &[]);
        t.segment(self, false, Flags::SynAck, &[]);
        t.segment(self, true, Flags::Ack, &[]);
        t
    }

    /// The same capture on a PPPoE access link (RFC 2516): every untagged IPv4/IPv6 Ethernet
    /// frame becomes a PPPoE session frame of `session`, behind the 802.1Q tags `tags` (outer
    /// first), the IP packet unchanged.
    pub fn over_pppoe(mut self, tags: &[u16], session: u16) -> CaptureBuilder {
        for f in &mut self.frames {
            let ppp_protocol: u16 = match [f.data[12], f.data[13]] {
                [0x08, 0x00] => 0x0021,
                [0x86, 0xdd] => 0x0057,
                other => panic!("not an untagged IP frame: EtherType {other:02x?}"),
            };
            let ip = f.data.split_off(14);
            f.data.truncate(12);
            for t in tags {
                f.data.extend_from_slice(&[0x81, 0x00]);
                f.data.extend_from_slice(&t.to_be_bytes());
            }
            f.data.extend_from_slice(&[0x88, 0x64, 0x11, 0x00]);
            f.data.extend_from_slice(&session.to_be_bytes());
            f.data
                .extend_from_slice(&(ip.len() as u16 + 2).to_be_bytes());
            f.data.extend_from_slice(&ppp_protocol.to_be_bytes());
            f.data.extend_from_slice(&ip);
        }
        self
    }

    /// The same capture carried through a GRE tunnel (RFC 2784 version 0 with an RFC 2890 key)
    /// between `near` (the tunnel end on the side of the IPv4 client `client`) and `far`: every
    /// untagged IPv4 frame becomes an IPv4 packet of protocol 47 between the two ends, the
    /// inner packet unchanged.
    pub fn over_gre(
        mut self,
        client: [u8; 4],
        near: [u8; 4],
        far: [u8; 4],
        key: u32,
    ) -> CaptureBuilder {
        for f in &mut self.frames {
            assert_eq!(
                [f.data[12], f.data[13]],
                [0x08, 0x00],
                "not an untagged IPv4 frame"
            );
            let inner = &f.data[14..];
            let (src, dst) = if inner[12..16] == client {
                (near, far)
            } else {
                (far, near)
            };
            let mut gre = vec![0x20, 0x00, 0x08, 0x00];
            gre.extend_from_slice(&key.to_be_bytes());
            gre.extend_from_slice(inner);
            let mut out = Vec::new();
            PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
                .ipv4(src, dst, 62)
                .write(&mut out, IpNumber(47), &gre)
                .expect("gre frame");
            f.data = out;
        }
        self
    }

    /// The same capture as a cloud traffic mirror delivers it (AWS VPC Traffic Mirroring): every
    /// frame, whole, inside VXLAN (RFC 7348, VNI `vni`) over UDP to port 4789, from the mirrored
    /// interface `source` to the sensor `sensor`. The UDP source port varies with the inner
    /// frame, as the RFC has it (a hash of the inner headers).
    pub fn over_vxlan(mut self, source: [u8; 4], sensor: [u8; 4], vni: u32) -> CaptureBuilder {
        for f in &mut self.frames {
            let mut vxlan = vec![0x08, 0, 0, 0];
            vxlan.extend_from_slice(&(vni << 8).to_be_bytes());
            vxlan.extend_from_slice(&f.data);
            let port = 49152 + (f.data.iter().map(|&b| u16::from(b)).sum::<u16>() % 16384);
            let mut out = Vec::new();
            PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC)
                .ipv4(source, sensor, 255)
                .udp(port, 4789)
                .write(&mut out, &vxlan)
                .expect("vxlan frame");
            f.data = out;
        }
        self
    }

    /// The same capture of IPv6 frames through Teredo (RFC 4380): every IPv6 packet inside a
    /// UDP datagram between the client's mapped IPv4 end `client` and a relay's `relay` on port
    /// 3544, the inner packet unchanged. `client_v6` names the inner address on the client's
    /// side.
    pub fn over_teredo(
        mut self,
        client_v6: IpAddr,
        client: ([u8; 4], u16),
        relay: [u8; 4],
    ) -> CaptureBuilder {
        for f in &mut self.frames {
            assert_eq!(
                [f.data[12], f.data[13]],
                [0x86, 0xdd],
                "not an untagged IPv6 frame"
            );
            let inner = &f.data[14..];
            let from_client = inner[8..24]
                == match client_v6 {
                    IpAddr::V6(a) => a.octets(),
                    IpAddr::V4(_) => panic!("an IPv6 address"),
                };
            let eth = PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC);
            let step = if from_client {
                eth.ipv4(client.0, relay, 64).udp(client.1, 3544)
            } else {
                eth.ipv4(relay, client.0, 52).udp(3544, client.1)
            };
            let mut out = Vec::new();
            step.write(&mut out, inner).expect("teredo frame");
            f.data = out;
        }
        self
    }

    /// Writes the capture as classic pcap (LINKTYPE_ETHERNET, microsecond timestamps).
    pub fn write_pcap(&self, path: &Path) {
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).expect("pcap dead capture");
        let mut file = dead.savefile(path).expect("pcap savefile");
        for f in &self.frames {
            let secs = BASE_SECS + f.micros / 1_000_000;
            let usec = f.micros % 1_000_000;
            let header = pcap::PacketHeader {
                ts: libc_timeval(secs, usec),
                caplen: f.data.len() as u32,
                len: f.data.len() as u32,
            };
            file.write(&pcap::Packet::new(&header, &f.data));
        }
        file.flush().expect("pcap flush");
    }
}

fn libc_timeval(secs: u64, usec: u64) -> libc::timeval {
    libc::timeval {
        tv_sec: secs as libc::time_t,
        tv_usec: usec as libc::suseconds_t,
    }
}

fn ip_step(
    src: IpAddr,
    dst: IpAddr,
    ttl: u8,
) -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    let eth = PacketBuilder::ethernet2(CLIENT_MAC, SERVER_MAC);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => eth.ipv4(s.octets(), d.octets(), ttl),
        (IpAddr::V6(s), IpAddr::V6(d)) => eth.ipv6(s.octets(), d.octets(), ttl),
        _ => panic!("mixed address families"),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flags {
    Syn,
    SynAck,
    Ack,
    PshAck,
    FinAck,
}

/// A TCP connection inside a [`CaptureBuilder`]; tracks sequence numbers both ways.
#[derive(Clone, Debug)]
pub struct Tcp {
    pub client: SocketAddr,
    pub server: SocketAddr,
    seq: [u32; 2],
}

/// Largest segment the builder sends; longer payloads are split, as the MSS would.
pub const MSS: usize = 1460;

impl Tcp {
    /// The client sends `payload` (split into MSS-sized segments), the server ACKs.
    pub fn client_sends(&mut self, cap: &mut CaptureBuilder, payload: &[u8]) {
        self.send(cap, true, payload);
    }

    /// The server sends `payload`, the client ACKs.
    pub fn server_sends(&mut self, cap: &mut CaptureBuilder, payload: &[u8]) {
        self.send(cap, false, payload);
    }

    fn send(&mut self, cap: &mut CaptureBuilder, from_client: bool, payload: &[u8]) {
        for chunk in payload.chunks(MSS) {
            self.segment(cap, from_client, Flags::PshAck, chunk);
        }
        self.segment(cap, !from_client, Flags::Ack, &[]);
    }

    /// Both sides close with FIN/ACK.
    pub fn close(&mut self, cap: &mut CaptureBuilder) {
        self.segment(cap, true, Flags::FinAck, &[]);
        self.segment(cap, false, Flags::FinAck, &[]);
        self.segment(cap, true, Flags::Ack, &[]);
    }

    fn segment(
        &mut self,
        cap: &mut CaptureBuilder,
        from_client: bool,
        flags: Flags,
        payload: &[u8],
    ) {
        let (src, dst, me, peer) = if from_client {
            (self.client, self.server, 0, 1)
        } else {
            (self.server, self.client, 1, 0)
        };
        let mut b = ip_step(src.ip(), dst.ip(), if from_client { 64 } else { 57 }).tcp(
            src.port(),
            dst.port(),
            self.seq[me],
            64240,
        );
        match flags {
            Flags::Syn => {
                b = b
                    .syn()
                    .options(&[
                        TcpOptionElement::MaximumSegmentSize(1460),
                        TcpOptionElement::Noop,
                        TcpOptionElement::WindowScale(7),
                    ])
                    .expect("tcp options");
            }
            Flags::SynAck => {
                b = b
                    .syn()
                    .ack(self.seq[peer])
                    .options(&[
                        TcpOptionElement::MaximumSegmentSize(1460),
                        TcpOptionElement::Noop,
                        TcpOptionElement::WindowScale(7),
                    ])
                    .expect("tcp options");
            }
            Flags::Ack => b = b.ack(self.seq[peer]),
            Flags::PshAck => b = b.psh().ack(self.seq[peer]),
            Flags::FinAck => b = b.fin().ack(self.seq[peer]),
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).expect("tcp frame");
        cap.push(out);
        let consumed = payload.len() as u32
            + u32::from(matches!(flags, Flags::Syn | Flags::SynAck | Flags::FinAck));
        self.seq[me] = self.seq[me].wrapping_add(consumed);
    }
}

/// Deterministic pseudo-random bytes (xorshift), for key material and ciphertext stand-ins.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A socket address from text, for readable scenarios.
pub fn sa(s: &str) -> SocketAddr {
    s.parse().expect("socket address")
}

/// A scenario: a named capture that proves one behaviour.
pub struct Scenario {
    /// Directory name under `fixtures/pcap/`.
    pub name: &'static str,
    /// Builds the capture.
    pub build: fn() -> CaptureBuilder,
}

/// A minimal HTTP/1.0 GET against a local server (tests only talk to loopback): status and body.
pub fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// A free TCP port on 127.0.0.1 (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Calls `f` until it returns a value, every 50 ms for at most `limit`.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The whole lines of a log a daemon may be appending to: a last line without its line break is
/// still being written (or was torn by a kill) and is left out.
pub fn whole_lines(log: &str) -> &str {
    log.rfind('\n').map_or("", |i| &log[..=i])
}

/// The exit status of `child` once it has exited, waiting at most `limit`.
pub fn wait_exit(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    poll(limit, || child.try_wait().unwrap())
}

/// The lines `child` writes to its stderr (which must be piped), on a channel fed by a thread.
pub fn stderr_lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// A child process killed and reaped when dropped, so that a failing test leaves no daemon.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
