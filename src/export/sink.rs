//! The daemon's alert sink: store first, then count, then write, then mark delivered.
//!
//! Order matters for "never lose a reported alert": an alert is committed to the store before it
//! is counted in metrics or written to JSON Lines, so whatever a SOC saw is durable. An alert the
//! store already holds (same id: the same activity in the same dedup window, e.g. replayed after a
//! restart) is not reported again. If the process dies between the commit and the write, the
//! alert is still marked undelivered in the store, and [`ReportSink::redeliver`] writes it at the
//! next start: delivery to the log is at least once, storage exactly once.

use super::{JsonlSink, Metrics};
use crate::alert::Alert;
use crate::pipeline::AlertSink;
use crate::store::Store;
use std::io;
use std::sync::Arc;

/// Store → metrics → JSON Lines.
pub struct ReportSink {
    store: Option<Store>,
    metrics: Arc<Metrics>,
    jsonl: JsonlSink,
    sensor: String,
}

impl ReportSink {
    /// A sink over an optional store, the metrics and a JSON Lines writer.
    pub fn new(
        store: Option<Store>,
        metrics: Arc<Metrics>,
        jsonl: JsonlSink,
        sensor: &str,
    ) -> ReportSink {
        ReportSink {
            store,
            metrics,
            jsonl,
            sensor: sensor.to_owned(),
        }
    }
}

impl ReportSink {
    /// Writes the alerts the store holds but a previous run did not get to deliver (it stopped
    /// between storing and writing them). Returns how many.
    pub fn redeliver(&mut self) -> io::Result<usize> {
        let Some(store) = &mut self.store else {
            return Ok(0);
        };
        let pending = store
            .undelivered(&self.sensor)
            .map_err(|e| io::Error::other(e.to_string()))?;
        for (id, record) in &pending {
            self.metrics.alert_record(record);
            self.jsonl.emit_line(record)?;
            self.jsonl.flush()?;
            store
                .mark_delivered(id)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(pending.len())
    }
}

impl AlertSink for ReportSink {
    fn emit(&mut self, a: &Alert) -> io::Result<()> {
        if let Some(store) = &mut self.store {
            match store.insert(a, &self.sensor) {
                Ok(true) => {}
                Ok(false) => {
                    self.metrics.alert_already_stored();
                    return Ok(());
                }
                Err(e) => return Err(io::Error::other(e.to_string())),
            }
        }
        self.metrics.alert(a);
        self.jsonl.emit(a)?;
        self.jsonl.flush()?;
        if let Some(store) = &mut self.store {
            store
                .mark_delivered(&a.id)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.jsonl.flush()
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.jsonl.reopen()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertKey, FlowRecord, Severity};
    use crate::detect::{Confidence, Kind};
    use crate::store::Filter;
    use crate::ts::Ts;
    use std::borrow::Cow;
    use std::sync::Mutex;

    /// A writer that keeps what it was given.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer that always fails, like a full disk.
    struct Broken;

    impl io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }

    #[test]
    fn an_alert_stored_but_not_written_is_delivered_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let metrics = Arc::new(Metrics::new("s", 3600));
        let mut first = ReportSink::new(
            Some(Store::open(&db).unwrap()),
            Arc::clone(&metrics),
            JsonlSink::new(Box::new(Broken), true),
            "s",
        );
        assert!(first.emit(&alert(7200)).is_err());
        drop(first);
        let out = Shared::default();
        let mut next = ReportSink::new(
            Some(Store::open(&db).unwrap()),
            Arc::clone(&metrics),
            JsonlSink::new(Box::new(out.clone()), true),
            "s",
        );
        assert_eq!(next.redeliver().unwrap(), 1);
        assert_eq!(next.redeliver().unwrap(), 0, "delivered once");
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written, format!("{}\n", alert(7200).to_json()));
    }

    fn alert(secs: u64) -> Alert {
        let key = AlertKey {
            endpoint: "192.0.2.10".parse().unwrap(),
            kind: Kind::RemoteAccess,
            family: Cow::Borrowed("vnc"),
            peer: "198.51.100.1:5900".parse().unwrap(),
            subject: None,
        };
        Alert {
            ts: Ts::from_secs(secs),
            id: key.id(secs / 3600),
            kind: key.kind,
            family: key.family.clone(),
            provider: None,
            severity: Severity::High,
            confidence: Confidence::Handshake,
            endpoint: key.endpoint,
            contractor: None,
            peer: Some(key.peer),
            flow: Some(FlowRecord::new(
                6,
                "192.0.2.10:5000".parse().unwrap(),
                key.peer,
                0,
            )),
            evidence: vec![],
        }
    }

    #[test]
    fn stored_then_counted_then_written_and_never_twice_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.db");
        let out = Shared::default();
        let metrics = Arc::new(Metrics::new("s", 3600));
        let mut sink = ReportSink::new(
            Some(Store::open(&db).unwrap()),
            Arc::clone(&metrics),
            JsonlSink::new(Box::new(out.clone()), true),
            "s",
        );
        sink.emit(&alert(7200)).unwrap();
        // A restarted sensor re-detects the same activity in the same window.
        let mut again = ReportSink::new(
            Some(Store::open(&db).unwrap()),
            Arc::clone(&metrics),
            JsonlSink::new(Box::new(out.clone()), true),
            "s",
        );
        again.emit(&alert(7300)).unwrap();
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 1);
        assert_eq!(
            Store::open_read_only(&db)
                .unwrap()
                .query(&Filter::default())
                .unwrap()
                .len(),
            1
        );
        let text = metrics.render();
        assert!(text.contains("remotewatch_alerts_total{family=\"vnc\",kind=\"remote_access\",severity=\"high\"} 1"), "{text}");
        assert!(
            text.contains("remotewatch_alerts_already_stored_total 1"),
            "{text}"
        );
    }
}
