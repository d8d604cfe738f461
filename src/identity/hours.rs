//! Working hours: which UTC offset a contractor's working day fits, from the hours of the day in
//! which they were active, against the time zone they claim.
//!
//! Activity is kept as one bit per (UTC day, hour): an hour with one login counts as much as an
//! hour with a thousand connections, so a burst cannot outvote a pattern. The inferred offset is
//! the one that puts most active hours inside the working day (`work_start`..`work_end` local).
//! Only interactive signals count as activity (gateway and VPN sessions, session-log logins,
//! remote-access findings): a laptop's background traffic runs around the clock and says nothing
//! about when its user works.

use crate::ts::Ts;
use std::collections::VecDeque;

/// Days of activity kept per contractor.
pub const DAYS_KEPT: usize = 28;
/// UTC offsets considered, in hours (UTC−12 … UTC+14 are the offsets in use).
const OFFSETS: std::ops::RangeInclusive<i32> = -12..=14;

/// When to judge and what counts as a contradiction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoursConfig {
    /// Local hour the working day starts (0–23).
    pub work_start: u8,
    /// Local hour the working day ends (1–24, exclusive).
    pub work_end: u8,
    /// Days with activity needed before judging.
    pub min_days: usize,
    /// Active hours needed before judging.
    pub min_hours: u32,
    /// Smallest difference, in hours, between the inferred and the claimed offset that is
    /// reported.
    pub shift_hours: i32,
}

impl Default for HoursConfig {
    fn default() -> Self {
        HoursConfig {
            work_start: 8,
            work_end: 18,
            min_days: 5,
            min_hours: 20,
            shift_hours: 5,
        }
    }
}

/// The verdict on a contractor's hours.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// Active hours counted.
    pub hours: u32,
    /// Days with activity.
    pub days: usize,
    /// Share of active hours inside the working day at the claimed offset.
    pub claimed_share: f64,
    /// The offset (hours) that fits best, and its share.
    pub best_offset_h: i32,
    /// Share of active hours inside the working day at the best offset.
    pub best_share: f64,
}

/// Activity bits of one contractor.
#[derive(Clone, Debug, Default)]
pub struct Hours {
    /// (UTC day number, bit h set when active in UTC hour h), oldest first.
    days: VecDeque<(u64, u32)>,
}

impl Hours {
    /// Marks the hour of `ts` active. Returns true when it was not yet.
    pub fn mark(&mut self, ts: Ts) -> bool {
        let secs = ts.secs();
        let (day, hour) = (secs / 86_400, (secs % 86_400) / 3_600);
        let bit = 1u32 << hour;
        let pos = self.days.iter().position(|(d, _)| *d >= day);
        match pos {
            Some(i) if self.days.get(i).is_some_and(|(d, _)| *d == day) => {
                let Some((_, mask)) = self.days.get_mut(i) else {
                    return false;
                };
                let new = *mask & bit == 0;
                *mask |= bit;
                new
            }
            _ => {
                if self.days.len() >= DAYS_KEPT {
                    if self.days.front().is_some_and(|(d, _)| *d > day) {
                        return false; // older than everything kept
                    }
                    self.days.pop_front();
                }
                let at = self.days.iter().position(|(d, _)| *d > day);
                match at {
                    Some(i) => self.days.insert(i, (day, bit)),
                    None => self.days.push_back((day, bit)),
                }
                true
            }
        }
    }

    /// Share of active hours that fall inside the working day at UTC offset `offset_secs`.
    fn share(&self, cfg: &HoursConfig, offset_secs: i32) -> (u32, u32) {
        let (mut inside, mut total) = (0u32, 0u32);
        for (_, mask) in &self.days {
            for h in 0..24i32 {
                if mask & (1u32 << h) == 0 {
                    continue;
                }
                total += 1;
                // The local hour that UTC hour h (its middle, to place half-hour offsets)
                // falls in.
                let local_min = (h * 60 + 30 + offset_secs / 60).rem_euclid(24 * 60);
                let local_h = local_min / 60;
                if local_h >= i32::from(cfg.work_start) && local_h < i32::from(cfg.work_end) {
                    inside += 1;
                }
            }
        }
        (inside, total)
    }

    /// Judges the hours against the claimed offset, once there is enough activity.
    pub fn judge(&self, cfg: &HoursConfig, claimed_offset_secs: i32) -> Option<Judgement> {
        let (claimed_in, total) = self.share(cfg, claimed_offset_secs);
        if self.days.len() < cfg.min_days || total < cfg.min_hours || total == 0 {
            return None;
        }
        let claimed_h = (f64::from(claimed_offset_secs) / 3600.0).round() as i32;
        // Best fit; on a tie the offset nearest the claimed one, so the claim gets the benefit
        // of the doubt.
        let (best_offset_h, best_in) = OFFSETS
            .map(|o| (o, self.share(cfg, o * 3600).0))
            .max_by_key(|(o, n)| (*n, std::cmp::Reverse(circular(*o - claimed_h))))?;
        Some(Judgement {
            hours: total,
            days: self.days.len(),
            claimed_share: f64::from(claimed_in) / f64::from(total),
            best_offset_h,
            best_share: f64::from(best_in) / f64::from(total),
        })
    }
}

/// Distance between two offsets around the 24-hour clock.
pub fn circular(d: i32) -> i32 {
    let d = d.rem_euclid(24);
    d.min(24 - d)
}

/// Whether `j` contradicts the claimed offset: the best fit is `shift_hours` or more away and
/// most of the activity falls outside the claimed working day.
pub fn contradicts(cfg: &HoursConfig, j: &Judgement, claimed_offset_secs: i32) -> bool {
    let claimed_h = (f64::from(claimed_offset_secs) / 3600.0).round() as i32;
    circular(j.best_offset_h - claimed_h) >= cfg.shift_hours && j.claimed_share < 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Active `hours` (UTC) on `days` consecutive days from 2024-03-04.
    fn activity(days: u64, hours: &[u64]) -> Hours {
        let mut h = Hours::default();
        for d in 0..days {
            for hh in hours {
                assert!(h.mark(Ts::from_secs(1_709_510_400 + d * 86_400 + hh * 3_600 + 120)));
            }
        }
        h
    }

    #[test]
    fn a_pyongyang_working_day_does_not_fit_chicago() {
        // 09:00–17:00 in UTC+9 is 00:00–08:00 UTC; Chicago in March is UTC−6 (CST→CDT on the
        // 10th; the judgement uses the offset it is given).
        let h = activity(6, &[0, 1, 2, 3, 4, 5, 6, 7]);
        let cfg = HoursConfig::default();
        let chicago = -6 * 3600;
        let j = h.judge(&cfg, chicago).unwrap();
        assert_eq!(j.hours, 48);
        assert_eq!(j.days, 6);
        assert_eq!(j.claimed_share, 0.0);
        assert!((8..=10).contains(&j.best_offset_h), "{j:?}");
        assert_eq!(j.best_share, 1.0);
        assert!(contradicts(&cfg, &j, chicago));
        // The same hours are a normal day for someone who claims Seoul (UTC+9).
        let j = h.judge(&cfg, 9 * 3600).unwrap();
        assert_eq!(j.best_offset_h, 9, "ties go to the claimed offset");
        assert!(!contradicts(&cfg, &j, 9 * 3600));
    }

    #[test]
    fn an_honest_chicago_day_fits_and_too_little_activity_is_not_judged() {
        // 09:00–17:00 CST = 15:00–23:00 UTC.
        let h = activity(5, &[15, 16, 17, 18, 19, 20, 21, 22]);
        let cfg = HoursConfig::default();
        let j = h.judge(&cfg, -6 * 3600).unwrap();
        assert_eq!(j.claimed_share, 1.0);
        assert!(!contradicts(&cfg, &j, -6 * 3600));
        assert!(
            activity(4, &[0, 1, 2, 3, 4, 5]).judge(&cfg, 0).is_none(),
            "4 days < 5"
        );
        assert!(
            activity(6, &[0, 1]).judge(&cfg, 0).is_none(),
            "12 hours < 20"
        );
    }

    #[test]
    fn marks_are_bits_and_old_days_roll_off() {
        let mut h = Hours::default();
        let t = Ts::from_secs(1_709_510_400 + 3_600 * 5);
        assert!(h.mark(t));
        assert!(!h.mark(t.plus(60 * Ts::NANOS_PER_SEC)), "same hour");
        for d in 1..=DAYS_KEPT as u64 {
            assert!(h.mark(Ts::from_secs(t.secs() + d * 86_400)));
        }
        assert_eq!(h.days.len(), DAYS_KEPT);
        assert!(!h.mark(t), "a day older than all kept is dropped");
        assert!(h.days.iter().all(|w| w.0 > t.secs() / 86_400));
        assert_eq!(circular(-23), 1);
        assert_eq!(circular(12), 12);
    }
}
