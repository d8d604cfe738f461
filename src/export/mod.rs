//! Export: where alerts leave the sensor.
//!
//! Today: JSON Lines on standard output or appended to a file. Each alert is one line, written
//! whole; the daemon flushes after every alert so a SOC pipeline tailing the file sees it at once.

mod jsonl;

pub use jsonl::JsonlSink;
