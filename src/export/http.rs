//! The daemon's HTTP endpoints, for Prometheus and for SOC tooling.
//!
//! - `GET /metrics`: Prometheus text exposition (format 0.0.4).
//! - `GET /healthz`: 200 while the process serves requests.
//! - `GET /readyz`: 200 once the capture is open and configuration and data are loaded, 503 before.
//! - `GET /api/alerts`: stored alerts as JSON, oldest first, with the filters of
//!   `remotewatch alerts` (`since`, `until` as RFC 3339; `contractor`, `kind`, `family`, `severity`
//!   as a minimum; `limit` up to [`API_PAGE_MAX`]) and keyset pagination: each page carries `next`,
//!   to pass back as `after`.
//!
//! The listener binds to loopback by default (`http.listen`); anything else is a deliberate
//! configuration choice. With `http.token_file`, `/api/alerts` (the only endpoint that serves
//! alert content) requires `Authorization: Bearer <token>`, compared in constant time; the
//! others stay open for scrapers and health probes. With `http.tls_cert` and `http.tls_key`
//! every endpoint is served over TLS only (rustls; TLS 1.2 and 1.3).

use super::Metrics;
use crate::alert::Severity;
use crate::config::{Problem, TlsFiles};
use crate::detect::Kind;
use crate::store::{parse_cursor, Filter, Location, Store};
use crate::ts::Ts;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use subtle::ConstantTimeEq;
use tokio_rustls::rustls;

/// Largest page `/api/alerts` returns.
pub const API_PAGE_MAX: usize = 1000;
/// Page size when `limit` is not given.
pub const API_PAGE_DEFAULT: usize = 100;

/// What the handlers share.
pub struct HttpState {
    /// Every metric.
    pub metrics: Arc<Metrics>,
    /// The alert store, when the daemon keeps one.
    pub store: Option<Location>,
    /// Raised when the capture is open and configuration and data are loaded.
    pub ready: Arc<AtomicBool>,
    /// The bearer token `/api/alerts` requires, if any.
    pub token: Option<Token>,
}

/// Largest accepted token file: a token is one line.
pub const TOKEN_FILE_BYTES_MAX: u64 = 4096;
/// Shortest accepted token: 32 characters (128 bits as hex, e.g. `openssl rand -hex 16`), so it
/// cannot be guessed.
pub const TOKEN_LEN_MIN: usize = 32;

/// The bearer token of `/api/alerts`. Neither `Debug` nor any message ever shows it.
#[derive(Clone)]
pub struct Token(Vec<u8>);

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// Reads the token from `path`: one line of RFC 6750 `b64token` characters (surrounding
    /// whitespace ignored), at least [`TOKEN_LEN_MIN`] long.
    pub fn load(path: &Path) -> Result<Token, Problem> {
        let text = crate::config::read_bounded(path, TOKEN_FILE_BYTES_MAX, "token file")?;
        let t = text.trim();
        // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
        let b64 = t
            .trim_end_matches('=')
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !b64 || t.starts_with('=') {
            return Err(Problem::whole_file(
                path,
                "the token must be one line of letters, digits and -._~+/ (RFC 6750 b64token)",
            ));
        }
        if t.len() < TOKEN_LEN_MIN {
            return Err(Problem::whole_file(
                path,
                format!(
                    "the token has {} characters; at least {TOKEN_LEN_MIN} are needed (e.g. openssl rand -hex 16)",
                    t.len()
                ),
            ));
        }
        Ok(Token(t.as_bytes().to_vec()))
    }

    /// Whether `headers` carry `Authorization: Bearer <this token>`.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        else {
            return false;
        };
        // Constant time in the content: response timing says nothing about how much of a guess
        // was right (only whether its length was).
        given.ct_eq(&self.0).into()
    }
}

/// TLS handshakes in progress at once; further connections wait in the kernel's accept queue.
const TLS_HANDSHAKES_MAX: usize = 64;
/// A client that has not completed its TLS handshake by then is dropped, so slow clients
/// cannot hold the handshake slots.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest accepted certificate or key file.
const TLS_FILE_BYTES_MAX: u64 = 1 << 20;

/// Builds the TLS server configuration from PEM files: the certificate chain (leaf first) and
/// the private key. Problems name the file.
pub fn tls_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, Vec<Problem>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let read = |p: &Path| -> Result<Vec<u8>, Problem> {
        crate::config::read_bounded(p, TLS_FILE_BYTES_MAX, "PEM file").map(String::into_bytes)
    };
    let mut problems = Vec::new();
    let certs = read(&files.cert).and_then(|pem| {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<_, _>>()
            .map_err(|e| {
                Problem::whole_file(&files.cert, format!("not a PEM certificate chain: {e}"))
            })?;
        if certs.is_empty() {
            return Err(Problem::whole_file(
                &files.cert,
                "no CERTIFICATE block in the file",
            ));
        }
        Ok(certs)
    });
    let key = read(&files.key).and_then(|pem| {
        PrivateKeyDer::from_pem_slice(&pem)
            .map_err(|e| Problem::whole_file(&files.key, format!("no usable PEM private key: {e}")))
    });
    let (certs, key) = match (certs, key) {
        (Ok(c), Ok(k)) => (c, k),
        (c, k) => {
            problems.extend(c.err());
            problems.extend(k.err());
            return Err(problems);
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| {
            vec![Problem::whole_file(
                &files.key,
                format!("certificate and key do not make a TLS identity: {e}"),
            )]
        })?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// A listener that hands axum connections whose TLS handshake is complete. Handshakes run
/// concurrently (at most [`TLS_HANDSHAKES_MAX`], each within [`TLS_HANDSHAKE_TIMEOUT`]) so one
/// slow client does not hold up the others.
struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(
        tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
        SocketAddr,
    )>,
    local: SocketAddr,
    acceptor: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

impl TlsListener {
    fn new(
        tcp: tokio::net::TcpListener,
        cfg: Arc<rustls::ServerConfig>,
    ) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(TLS_HANDSHAKES_MAX);
        let tls = tokio_rustls::TlsAcceptor::from(cfg);
        let slots = Arc::new(tokio::sync::Semaphore::new(TLS_HANDSHAKES_MAX));
        let acceptor = tokio::spawn(async move {
            loop {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    return;
                };
                let (conn, peer) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        // Out of descriptors and the like: wait instead of spinning.
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                };
                let (tls, tx) = (tls.clone(), tx.clone());
                tokio::spawn(async move {
                    let _slot = slot;
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, tls.accept(conn)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            ready,
            local,
            acceptor,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task is gone (the runtime is shutting down): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// The routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/api/alerts", get(alerts))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` completes: over TLS with `tls`.
pub async fn serve(
    listener: std::net::TcpListener,
    state: Arc<HttpState>,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    match tls {
        None => {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(shutdown)
                .await
        }
        Some(cfg) => {
            axum::serve(TlsListener::new(listener, cfg)?, router(state))
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}

async fn metrics(State(s): State<Arc<HttpState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(s): State<Arc<HttpState>>) -> Response {
    if s.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
    }
}

/// Query string of `/api/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    since: Option<String>,
    until: Option<String>,
    contractor: Option<String>,
    kind: Option<String>,
    family: Option<String>,
    severity: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
}

fn bad(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": msg.into() })),
    )
        .into_response()
}

/// Parses an RFC 3339 time (`2024-03-01T09:00:00Z`).
pub fn parse_time(s: &str) -> Result<Ts, String> {
    let t: jiff::Timestamp = s
        .parse()
        .map_err(|_| format!("{s:?} is not an RFC 3339 time (e.g. 2024-03-01T09:00:00Z)"))?;
    u64::try_from(t.as_nanosecond())
        .map(Ts)
        .map_err(|_| format!("{s:?} is before 1970"))
}

/// Turns the query into a store filter.
pub fn filter_of(q: &AlertQuery) -> Result<Filter, String> {
    let limit = q.limit.unwrap_or(API_PAGE_DEFAULT);
    if limit == 0 || limit > API_PAGE_MAX {
        return Err(format!("limit must be 1..={API_PAGE_MAX}"));
    }
    Ok(Filter {
        since: q.since.as_deref().map(parse_time).transpose()?,
        until: q.until.as_deref().map(parse_time).transpose()?,
        contractor: q.contractor.clone(),
        kind: q
            .kind
            .as_deref()
            .map(|k| {
                Kind::ALL
                    .into_iter()
                    .find(|x| x.as_str() == k)
                    .ok_or_else(|| {
                        format!("kind {k:?} is not one of remote_access, vpn_tunnel, anonymizer")
                    })
            })
            .transpose()?,
        family: q.family.clone(),
        min_severity: q
            .severity
            .as_deref()
            .map(str::parse::<Severity>)
            .transpose()?,
        after: q
            .after
            .as_deref()
            .map(|a| {
                parse_cursor(a)
                    .ok_or_else(|| format!("after {a:?} is not a cursor from a previous page"))
            })
            .transpose()?,
        limit,
    })
}

async fn alerts(
    State(s): State<Arc<HttpState>>,
    headers: HeaderMap,
    q: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Some(t) = &s.token {
        if !t.admits(&headers) {
            // RFC 6750 §3: the challenge names the scheme; no detail about what was wrong.
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"remotewatch\"")],
                Json(serde_json::json!({ "error": "a valid bearer token is required" })),
            )
                .into_response();
        }
    }
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return bad(e.body_text()),
    };
    let f = match filter_of(&q) {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    let Some(path) = s.store.clone() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "error": "this sensor keeps no alert store (store.path)" })),
        )
            .into_response();
    };
    let page = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let mut store = Store::open_read_only_at(&path).map_err(|e| e.to_string())?;
        store.query(&f).map_err(|e| e.to_string())
    })
    .await;
    match page {
        Ok(Ok(rows)) => {
            let next = (rows.len() == q.limit.unwrap_or(API_PAGE_DEFAULT))
                .then(|| rows.last().map(|r| r.cursor()))
                .flatten();
            let alerts: Vec<serde_json::Value> = rows
                .iter()
                .filter_map(|r| serde_json::from_str(&r.record).ok())
                .collect();
            Json(serde_json::json!({ "alerts": alerts, "next": next })).into_response()
        }
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": e })),
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({ "error": "query task failed" })),
        )
            .into_response(),
    }
}
