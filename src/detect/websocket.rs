//! Tunnels over WebSocket: wstunnel, and proxies that carry TLS, SSH or a fully encrypted
//! protocol (V2Ray's VMess) in WebSocket frames.
//!
//! Facts used:
//! - RFC 6455 §4.1–4.2: the opening handshake is an HTTP/1.1 `GET` with `Upgrade: websocket`,
//!   a `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`, answered by `101 Switching
//!   Protocols` with `Sec-WebSocket-Accept` and the chosen `Sec-WebSocket-Protocol`;
//! - RFC 6455 §5.2: a frame is FIN/RSV/opcode, MASK and a 7-bit length (126: 16-bit, 127:
//!   64-bit length follows), a 4-byte masking key on every client frame and on no server frame
//!   (§5.1, §5.3), then the payload; opcode 2 is binary data; RSV1 marks a compressed message
//!   when permessage-deflate was negotiated (RFC 7692 §6);
//! - wstunnel (erebe/wstunnel, `tunnel/transport/jwt.rs`, `websocket.rs`) upgrades on
//!   `/<prefix>/events` (prefix `v1` by default) and sends `Sec-WebSocket-Protocol: v1,
//!   authorization.bearer.<JWT>` whose claims are the tunnel: `id`, `p` (protocol), `r` (remote
//!   host), `rp` (remote port); the server echoes `v1`.
//!
//! Confidence:
//! - wstunnel's JWT with its four claims: a Signature; answered by `101` with the `v1`
//!   subprotocol: a Handshake. The `authorization.bearer.` subprotocol alone is a common web
//!   authentication trick and is not used without the claims;
//! - a TLS ClientHello or an SSH banner in the client's first binary frame: a tunnel whatever the
//!   tool (web applications do not run TLS or SSH inside their WebSocket), a Signature; with the
//!   server's ServerHello (or banner) in its first frame, a Handshake;
//! - fully encrypted binary frames from both sides at once (the GFW test, see `encrypted.rs`),
//!   not compressed: a Heuristic for VMess, V2Ray's WebSocket transport (Shadowsocks' v2ray-plugin
//!   looks the same; the evidence says the family is assumed).
//!
//! Ordinary WebSocket use (text frames, JSON, compressed or framed binary messages) never
//! matches; plain `wss://` is TLS and invisible here.

use super::encrypted;
use super::tls;
use super::{printable, Confidence, Detector, FlowView, Kind, Verdict};
use crate::decode::ip_proto;

/// The request line's method (RFC 6455 §4.1: "The method of the request MUST be GET").
const GET: &[u8] = b"GET ";
/// The status line of the server's answer (RFC 6455 §4.2.2).
const SWITCHING: &[u8] = b"HTTP/1.1 101";
/// End of an HTTP header block (RFC 9112 §2.1).
const HEAD_END: &[u8] = b"\r\n\r\n";
/// Longest header block parsed (the stream prefix is 4096 bytes; a wstunnel request with its
/// JWT is ~500).
const HEAD_MAX: usize = 4096;
/// Bytes of a header value shown in evidence.
const VALUE_SHOWN_MAX: usize = 64;
/// wstunnel's subprotocol carrying the JWT (`JWT_HEADER_PREFIX`).
const WSTUNNEL_BEARER: &str = "authorization.bearer.";
/// wstunnel's upgrade path suffix after the prefix (`/<prefix>/events`).
const WSTUNNEL_EVENTS: &str = "/events";
/// wstunnel's subprotocol version token (`v1`), echoed by its server.
const WSTUNNEL_VERSION: &str = "v1";
/// Longest JWT decoded (wstunnel's is ~300 bytes).
const JWT_MAX: usize = 2048;
/// Frame opcode for binary data (RFC 6455 §5.2).
const OPCODE_BINARY: u8 = 0x2;
/// RSV1 bit of the first frame byte: a compressed message under permessage-deflate (RFC 6455
/// §5.2, RFC 7692 §6).
const RSV1: u8 = 0x40;
/// Opcode bits of the first frame byte (RFC 6455 §5.2).
const OPCODE_MASK: u8 = 0x0f;
/// MASK bit of the second frame byte.
const MASK_BIT: u8 = 0x80;
/// Payload length bits of the second frame byte.
const LEN7_MASK: u8 = 0x7f;
/// 7-bit length value announcing a 16-bit extended length.
const LEN_16: u8 = 126;
/// 7-bit length value announcing a 64-bit extended length.
const LEN_64: u8 = 127;
/// Masking key length (RFC 6455 §5.3).
const MASK_LEN: usize = 4;
/// SSH identification string prefix (RFC 4253 §4.2).
const SSH_BANNER: &[u8] = b"SSH-2.0-";
/// gzip member header (RFC 1952 §2.3.1): compressed, not encrypted.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// zstd frame magic (RFC 8878 §3.1.1).
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
/// zlib compression method "deflate" in the low nibble of CMF (RFC 1950 §2.2).
const ZLIB_CM_DEFLATE: u8 = 8;
/// Low nibble mask of CMF.
const ZLIB_CM_MASK: u8 = 0x0f;
/// CMF·256 + FLG is a multiple of 31 (RFC 1950 §2.2, FCHECK).
const ZLIB_FCHECK: u16 = 31;

/// Recognises tunnels carried over WebSocket.
pub(crate) struct WebSocketTunnel;

impl Detector for WebSocketTunnel {
    fn name(&self) -> &'static str {
        "websocket-tunnel"
    }

    fn inspect(&self, view: &FlowView<'_>) -> Option<Verdict> {
        let c = view.to_server.data();
        if view.proto != ip_proto::TCP || !c.starts_with(GET) {
            return None;
        }
        let (req, c_rest) = head(c)?;
        if !header_has(req, "upgrade", "websocket") || header(req, "sec-websocket-key").is_none() {
            return None;
        }
        let (resp, s_rest) = match head(view.to_client.data()) {
            Some((h, rest)) if h.starts_with(SWITCHING) => (Some(h), rest),
            _ => (None, &[][..]),
        };
        wstunnel(req, resp)
            .or_else(|| carried(c_rest, s_rest, resp.is_some()))
            .or_else(|| encrypted_frames(req, c_rest, s_rest))
    }
}

/// An HTTP header block and what follows it.
fn head(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let window = b.get(..b.len().min(HEAD_MAX))?;
    let end = window.windows(HEAD_END.len()).position(|w| w == HEAD_END)?;
    b.split_at_checked(end + HEAD_END.len())
}

/// The value of the first header `name` (case-insensitive, RFC 9110 §5.1), trimmed.
fn header<'a>(head: &'a [u8], name: &str) -> Option<&'a str> {
    head.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let line = std::str::from_utf8(line).ok()?.trim_end_matches('\r');
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Whether header `name` lists token `token` (comma-separated, case-insensitive).
fn header_has(head: &[u8], name: &str, token: &str) -> bool {
    header(head, name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

/// The request-target of the request line.
fn path(req: &[u8]) -> Option<&str> {
    let line = req.split(|&b| b == b'\r').next()?;
    std::str::from_utf8(line).ok()?.split(' ').nth(1)
}

/// wstunnel's upgrade: its JWT claims in the subprotocol list.
fn wstunnel(req: &[u8], resp: Option<&[u8]>) -> Option<Verdict> {
    let protocols = header(req, "sec-websocket-protocol")?;
    let jwt = protocols
        .split(',')
        .find_map(|p| p.trim().strip_prefix(WSTUNNEL_BEARER))?;
    let claims = jwt_claims(jwt)?;
    let path = path(req).unwrap_or_default();
    let mut v = Verdict::new(Kind::VpnTunnel, "wstunnel", Confidence::Signature)
        .with(format!(
            "WebSocket upgrade with wstunnel's JWT subprotocol: tunnel {} to {}:{}",
            claims.protocol, claims.host, claims.port
        ))
        .with(format!(
            "upgrade path {}",
            printable(path.as_bytes(), VALUE_SHOWN_MAX)
        ));
    if path.ends_with(WSTUNNEL_EVENTS) {
        v = v.with("path ends in /events (wstunnel's /<prefix>/events)");
    }
    let echoed = resp.and_then(|r| header(r, "sec-websocket-protocol"));
    if echoed.is_some_and(|p| p.eq_ignore_ascii_case(WSTUNNEL_VERSION)) {
        v.confidence = Confidence::Handshake;
        v = v
            .with("server answered 101 Switching Protocols with subprotocol v1")
            .done();
    }
    Some(v)
}

/// The tunnel claims of a wstunnel JWT, printable and bounded.
struct Claims {
    protocol: String,
    host: String,
    port: u64,
}

/// Decodes the JWT's payload (RFC 7519 §3: base64url JSON, the second dot-separated part) and
/// reads wstunnel's claims; `None` unless `id`, `p`, `r` and `rp` are all there.
fn jwt_claims(jwt: &str) -> Option<Claims> {
    if jwt.len() > JWT_MAX {
        return None;
    }
    let payload = jwt.split('.').nth(1)?;
    let json: serde_json::Value = serde_json::from_slice(&base64url(payload)?).ok()?;
    let obj = json.as_object()?;
    obj.get("id")?.as_str()?;
    let protocol = match obj.get("p")? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(o) => o.keys().next()?.clone(),
        _ => return None,
    };
    Some(Claims {
        protocol: printable(protocol.as_bytes(), VALUE_SHOWN_MAX),
        host: printable(obj.get("r")?.as_str()?.as_bytes(), VALUE_SHOWN_MAX),
        port: obj.get("rp")?.as_u64()?,
    })
}

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// The first frame of a side: whether it is binary and compressed, and its unmasked payload
/// (the kept part).
struct Frame {
    binary: bool,
    compressed: bool,
    /// The payload length the header declares.
    len: usize,
    payload: Vec<u8>,
}

/// Parses the frame at the start of `b` (RFC 6455 §5.2); `masked` is whether this side must
/// mask (the client).
fn frame(b: &[u8], masked: bool) -> Option<Frame> {
    let (&b0, rest) = b.split_first()?;
    let (&b1, rest) = rest.split_first()?;
    if (b1 & MASK_BIT != 0) != masked {
        return None;
    }
    let (len, rest) = match b1 & LEN7_MASK {
        LEN_16 => {
            let (l, r) = rest.split_at_checked(2)?;
            (usize::from(u16::from_be_bytes(l.try_into().ok()?)), r)
        }
        LEN_64 => {
            let (l, r) = rest.split_at_checked(8)?;
            (
                usize::try_from(u64::from_be_bytes(l.try_into().ok()?)).ok()?,
                r,
            )
        }
        n => (usize::from(n), rest),
    };
    let (key, body) = if masked {
        let (k, r) = rest.split_at_checked(MASK_LEN)?;
        (Some(k), r)
    } else {
        (None, rest)
    };
    let kept = body.get(..len.min(body.len()))?;
    let payload = match key {
        Some(k) => kept
            .iter()
            .zip(k.iter().cycle())
            .map(|(x, m)| x ^ m)
            .collect(),
        None => kept.to_vec(),
    };
    Some(Frame {
        binary: b0 & OPCODE_MASK == OPCODE_BINARY,
        compressed: b0 & RSV1 != 0,
        len,
        payload,
    })
}

/// TLS or SSH carried in the first frames.
fn carried(c_rest: &[u8], s_rest: &[u8], upgraded: bool) -> Option<Verdict> {
    let cf = frame(c_rest, true).filter(|f| f.binary && !f.compressed)?;
    let sf = frame(s_rest, false).filter(|f| f.binary && !f.compressed);
    let (client_fact, server_ok) = if let Some(ch) = tls::client_hello(&cf.payload).done() {
        let sni = ch.sni.as_deref().map_or("no server name".to_owned(), |n| {
            format!("server name {}", printable(n.as_bytes(), VALUE_SHOWN_MAX))
        });
        let server = sf
            .as_ref()
            .is_some_and(|f| tls::server_hello(&f.payload).done().is_some());
        (
            format!("client's first binary frame is a TLS ClientHello ({sni})"),
            server,
        )
    } else if cf.payload.starts_with(SSH_BANNER) {
        let server = sf
            .as_ref()
            .is_some_and(|f| f.payload.starts_with(SSH_BANNER));
        (
            format!(
                "client's first binary frame is an SSH banner \"{}\"",
                printable(banner(&cf.payload), VALUE_SHOWN_MAX)
            ),
            server,
        )
    } else {
        return None;
    };
    let mut v = Verdict::new(Kind::VpnTunnel, "wstunnel", Confidence::Signature)
        .with(client_fact)
        .with("TLS or SSH inside WebSocket frames: a tunnel, not a web application");
    if server_ok && upgraded {
        v.confidence = Confidence::Handshake;
        v = v
            .with("server's first binary frame answers it (ServerHello or SSH banner)")
            .done();
    }
    Some(v)
}

/// The first line of an SSH banner.
fn banner(b: &[u8]) -> &[u8] {
    b.split(|&x| x == b'\r' || x == b'\n')
        .next()
        .unwrap_or_default()
}

/// Fully encrypted binary frames both ways, not compressed.
fn encrypted_frames(req: &[u8], c_rest: &[u8], s_rest: &[u8]) -> Option<Verdict> {
    let cf = frame(c_rest, true).filter(|f| f.binary && !f.compressed)?;
    let sf = frame(s_rest, false).filter(|f| f.binary && !f.compressed)?;
    if cf.len < encrypted::FIRST_PAYLOAD_MIN
        || sf.len < encrypted::FIRST_PAYLOAD_MIN
        || compressed_format(&cf.payload)
        || compressed_format(&sf.payload)
    {
        return None;
    }
    let c = encrypted::assess(&cf.payload, cf.len)?;
    let s = encrypted::assess(&sf.payload, sf.len)?;
    let mut v = Verdict::new(Kind::Anonymizer, "vmess", Confidence::Heuristic)
        .with(format!(
            "fully encrypted binary WebSocket frames both ways from the first: client {} bytes (popcount {:.2}/byte), server {} bytes (popcount {:.2}/byte)",
            cf.len,
            c.popcount,
            sf.len,
            s.popcount
        ))
        .with("family assumed: V2Ray's WebSocket transport (VMess; Shadowsocks' v2ray-plugin looks the same)");
    if let Some(ua) = header(req, "user-agent") {
        v = v.with(format!(
            "upgrade User-Agent {}",
            printable(ua.as_bytes(), VALUE_SHOWN_MAX)
        ));
    }
    Some(v)
}

/// Whether `b` opens with a zlib, gzip or zstd header: compressed, not encrypted.
fn compressed_format(b: &[u8]) -> bool {
    let zlib = matches!(b, [cmf, flg, ..]
        if cmf & ZLIB_CM_MASK == ZLIB_CM_DEFLATE
            && (u16::from(*cmf) << 8 | u16::from(*flg)) % ZLIB_FCHECK == 0);
    zlib || b.starts_with(GZIP_MAGIC) || b.starts_with(ZSTD_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::anon_testdata::{client_hello, random, record, server_hello};
    use crate::detect::testing::ViewBuilder;

    /// A client frame (RFC 6455 §5.2): FIN|binary, MASK with a 16-bit length when needed, the
    /// masking key, and the masked payload.
    fn client_frame(payload: &[u8]) -> Vec<u8> {
        let key = [0x8a, 0xef, 0xaa, 0x40];
        let mut f = vec![0x82];
        if payload.len() < 126 {
            f.push(0x80 | payload.len() as u8);
        } else {
            f.push(0x80 | 126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(&key);
        f.extend(payload.iter().zip(key.iter().cycle()).map(|(x, m)| x ^ m));
        f
    }

    /// A server frame: FIN|binary, no mask.
    fn server_frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x82];
        if payload.len() < 126 {
            f.push(payload.len() as u8);
        } else {
            f.push(126);
            f.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        f.extend_from_slice(payload);
        f
    }

    fn b64url(b: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = String::new();
        for chunk in b.chunks(3) {
            let n =
                chunk.iter().fold(0u32, |a, &x| a << 8 | u32::from(x)) << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                s.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        s
    }

    /// wstunnel's upgrade request: `/v1/events` and the JWT subprotocol.
    fn wstunnel_request(claims: &str) -> Vec<u8> {
        let jwt = format!(
            "{}.{}.{}",
            b64url(br#"{"typ":"JWT","alg":"HS256"}"#),
            b64url(claims.as_bytes()),
            b64url(&random(1, 32))
        );
        format!(
            "GET /v1/events HTTP/1.1\r\nhost: tunnel.example.net:8888\r\nupgrade: websocket\r\nconnection: upgrade\r\nsec-websocket-key: 2avYdCL8ryrY3ZRXm5HuVw==\r\nsec-websocket-version: 13\r\nsec-websocket-protocol: v1, authorization.bearer.{jwt}\r\n\r\n"
        )
        .into_bytes()
    }

    const WSTUNNEL_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-accept: tEXUGemPFYqHcWRb+W9fYHDpNL4=\r\nsec-websocket-protocol: v1\r\n\r\n";

    const CLAIMS: &str =
        r#"{"id":"018d0565-9fe2-71de-b64e-5938fe24fb2d","p":"Tcp","r":"203.0.113.80","rp":443}"#;

    /// A plain web application's upgrade.
    const APP_REQUEST: &[u8] = b"GET /socket HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: kZZIwDrnHmWYxjh7a/vl8w==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: Go-http-client/1.1\r\n\r\n";
    const APP_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: CD1U0JDcEhm/1Rbp3PwxoCiQ9IU=\r\n\r\n";

    #[test]
    fn wstunnel_jwt_answered_is_a_handshake() {
        let b = ViewBuilder::tcp(39992, 8888)
            .to_server(&wstunnel_request(CLAIMS))
            .to_client(WSTUNNEL_RESPONSE);
        let v = WebSocketTunnel.inspect(&b.view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence, v.complete),
            (Kind::VpnTunnel, "wstunnel", Confidence::Handshake, true)
        );
        assert!(
            v.evidence[0].contains("tunnel Tcp to 203.0.113.80:443"),
            "{:?}",
            v.evidence
        );
        let b = ViewBuilder::tcp(39992, 8888).to_server(&wstunnel_request(CLAIMS));
        assert_eq!(
            WebSocketTunnel.inspect(&b.view()).unwrap().confidence,
            Confidence::Signature
        );
    }

    #[test]
    fn a_bearer_subprotocol_without_tunnel_claims_is_ordinary() {
        let b = ViewBuilder::tcp(39992, 80)
            .to_server(&wstunnel_request(r#"{"sub":"alice","exp":1700000000}"#))
            .to_client(WSTUNNEL_RESPONSE);
        assert_eq!(WebSocketTunnel.inspect(&b.view()), None);
    }

    #[test]
    fn tls_inside_frames_is_a_tunnel() {
        let hello = client_hello(Some("www.example.org"), &["h2"], &[0x1301, 0xc02f]);
        let sh = record(0x16, &server_hello(0x0304, 0x1301));
        let mut c = APP_REQUEST.to_vec();
        c.extend(client_frame(&hello));
        let mut s = APP_RESPONSE.to_vec();
        s.extend(server_frame(&sh));
        let b = ViewBuilder::tcp(33702, 8080).to_server(&c).to_client(&s);
        let v = WebSocketTunnel.inspect(&b.view()).unwrap();
        assert_eq!(
            (v.family.as_ref(), v.confidence),
            ("wstunnel", Confidence::Handshake)
        );
        assert!(v.evidence[0].contains("www.example.org"));
    }

    #[test]
    fn encrypted_frames_both_ways_are_a_vmess_heuristic() {
        let mut c = APP_REQUEST.to_vec();
        c.extend(client_frame(&random(3, 691)));
        let mut s = APP_RESPONSE.to_vec();
        s.extend(server_frame(&random(4, 2048)));
        let b = ViewBuilder::tcp(33702, 8080).to_server(&c).to_client(&s);
        let v = WebSocketTunnel.inspect(&b.view()).unwrap();
        assert_eq!(
            (v.kind, v.family.as_ref(), v.confidence),
            (Kind::Anonymizer, "vmess", Confidence::Heuristic)
        );
        // One side only: nothing.
        let b = ViewBuilder::tcp(33702, 8080).to_server(&c);
        assert_eq!(WebSocketTunnel.inspect(&b.view()), None);
    }

    #[test]
    fn web_application_frames_never_match() {
        let zlib = [&[0x78u8, 0x9c][..], &random(5, 300)].concat();
        let json = br#"{"op":2,"d":{"token":"abc","properties":{"os":"linux"}}}"#.to_vec();
        let gzip = [&[0x1fu8, 0x8b, 8, 0][..], &random(6, 300)].concat();
        for (cp, sp) in [
            (json.clone(), zlib.clone()),
            (random(7, 300), zlib),
            (gzip.clone(), gzip),
            (json.clone(), json),
        ] {
            let mut c = APP_REQUEST.to_vec();
            c.extend(client_frame(&cp));
            let mut s = APP_RESPONSE.to_vec();
            s.extend(server_frame(&sp));
            let b = ViewBuilder::tcp(33702, 8080).to_server(&c).to_client(&s);
            assert_eq!(WebSocketTunnel.inspect(&b.view()), None);
        }
        // Compressed (RSV1) random-looking frames: permessage-deflate output.
        let mut c = APP_REQUEST.to_vec();
        let mut f = client_frame(&random(8, 300));
        f[0] |= RSV1;
        c.extend(f);
        let mut s = APP_RESPONSE.to_vec();
        let mut g = server_frame(&random(9, 300));
        g[0] |= RSV1;
        s.extend(g);
        let b = ViewBuilder::tcp(33702, 8080).to_server(&c).to_client(&s);
        assert_eq!(WebSocketTunnel.inspect(&b.view()), None);
    }

    #[test]
    fn other_protocols_and_prefixes_never_panic() {
        let req = wstunnel_request(CLAIMS);
        for cut in 0..req.len() {
            let b = ViewBuilder::tcp(1, 80)
                .to_server(&req[..cut])
                .to_client(WSTUNNEL_RESPONSE);
            let v = WebSocketTunnel.inspect(&b.view());
            assert!(v.is_none() || cut == req.len(), "cut {cut}");
        }
        for p in [
            b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".to_vec(),
            b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03".to_vec(),
            random(2, 500),
        ] {
            let b = ViewBuilder::tcp(1, 80).to_server(&p).to_client(&p);
            assert_eq!(WebSocketTunnel.inspect(&b.view()), None);
        }
    }
}
