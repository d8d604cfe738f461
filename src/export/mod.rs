//! Export: where alerts and counters leave the sensor.
//!
//! JSON Lines on standard output or appended to a file (one alert per line, written whole, flushed
//! after every alert by the daemon), Prometheus metrics, and the daemon's HTTP endpoints.

pub mod audit;
pub mod http;
mod jsonl;
pub mod metrics;
pub mod schedule;
mod sink;

pub use jsonl::JsonlSink;
pub use metrics::Metrics;
pub use sink::ReportSink;
