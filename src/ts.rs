//! Packet time.
//!
//! Every stage after capture receives time as a value: a replay runs on the capture's clock, a live
//! sensor on the kernel's receive timestamps, a test on whatever it passes. No logic calls `now()`.

use std::fmt;

/// A point in time: nanoseconds since the Unix epoch, as stamped on a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub u64);

impl Ts {
    /// Nanoseconds in one second.
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;

    /// A timestamp from seconds and a sub-second part in nanoseconds. Negative seconds (a clock
    /// before 1970 in a capture) clamp to the epoch instead of wrapping.
    pub fn from_parts(secs: i64, nanos: u32) -> Ts {
        let secs = u64::try_from(secs).unwrap_or(0);
        Ts(secs
            .saturating_mul(Self::NANOS_PER_SEC)
            .saturating_add(u64::from(nanos)))
    }

    /// A timestamp `secs` whole seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Ts {
        Ts(secs.saturating_mul(Self::NANOS_PER_SEC))
    }

    /// Whole seconds since the epoch.
    pub const fn secs(self) -> u64 {
        self.0 / Self::NANOS_PER_SEC
    }

    /// Nanoseconds elapsed from `earlier` to `self`, zero when `earlier` is later (captures are
    /// not always in time order).
    pub const fn since(self, earlier: Ts) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    /// This time plus `nanos`.
    pub const fn plus(self, nanos: u64) -> Ts {
        Ts(self.0.saturating_add(nanos))
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2024-05-01T12:00:00.123456Z`.
    pub fn rfc3339(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = i64::try_from(self.0 / 1_000).unwrap_or(i64::MAX);
        match jiff::Timestamp::from_microsecond(micros) {
            Ok(t) => write!(f, "{}", t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ")),
            Err(_) => write!(f, "9999-12-31T23:59:59.999999Z"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_utc_with_micros() {
        // 1_700_000_000 s is 2023-11-14T22:13:20Z (checked with `date -u -d @1700000000`).
        let t = Ts::from_parts(1_700_000_000, 123_456_789);
        assert_eq!(t.rfc3339(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(Ts(0).rfc3339(), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn negative_seconds_clamp_to_epoch() {
        assert_eq!(Ts::from_parts(-5, 7), Ts(7));
    }

    #[test]
    fn since_never_underflows() {
        assert_eq!(Ts(5).since(Ts(9)), 0);
        assert_eq!(Ts(9).since(Ts(5)), 4);
    }
}
