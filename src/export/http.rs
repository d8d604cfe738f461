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
//! configuration choice.

use super::Metrics;
use crate::alert::Severity;
use crate::detect::Kind;
use crate::store::{parse_cursor, Filter, Location, Store};
use crate::ts::Ts;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// Serves `router(state)` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: std::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
    q: Result<Query<AlertQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
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
