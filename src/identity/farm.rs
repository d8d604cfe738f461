//! Laptop farms: several "remote workers" behind one home line, or one machine driven from
//! several places. Both are kept as sightings: who (or what) was seen on a key within a window.

use crate::ts::Ts;
use std::collections::HashMap;
use std::hash::Hash;

/// Keys (addresses, networks, endpoints) remembered at once. Past this, keys not seen within the
/// window are forgotten; if all are recent, the table is cleared rather than grown.
pub const SIGHTING_KEYS_MAX: usize = 100_000;
/// Distinct members kept per key (more than any threshold that makes sense).
pub const MEMBERS_PER_KEY_MAX: usize = 64;

/// Members seen per key, with when each was first and last seen.
#[derive(Debug)]
pub struct Sightings<K, V> {
    by_key: HashMap<K, Vec<Member<V>>>,
}

/// One member of a key's group.
#[derive(Clone, Debug, PartialEq)]
pub struct Member<V> {
    /// Who.
    pub who: V,
    /// First seen (within the window).
    pub first: Ts,
    /// Last seen.
    pub last: Ts,
}

impl<K, V> Default for Sightings<K, V> {
    fn default() -> Self {
        Sightings {
            by_key: HashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V: PartialEq + Clone> Sightings<K, V> {
    /// Records `who` on `key` at `ts` and returns the members seen on `key` within `window_ns`
    /// before `ts`, first seen first. `new` tells whether `who` joined the group just now.
    pub fn see(&mut self, key: &K, who: V, ts: Ts, window_ns: u64) -> (Vec<Member<V>>, bool) {
        if self.by_key.len() >= SIGHTING_KEYS_MAX && !self.by_key.contains_key(key) {
            self.by_key
                .retain(|_, ms| ms.iter().any(|m| ts.since(m.last) <= window_ns));
            if self.by_key.len() >= SIGHTING_KEYS_MAX {
                self.by_key.clear();
            }
        }
        let ms = self.by_key.entry(key.clone()).or_default();
        ms.retain(|m| ts.since(m.last) <= window_ns || m.who == who);
        let new = match ms.iter_mut().find(|m| m.who == who) {
            Some(m) => {
                if ts.since(m.last) > window_ns {
                    m.first = ts;
                }
                m.last = m.last.max(ts);
                false
            }
            None => {
                if ms.len() >= MEMBERS_PER_KEY_MAX {
                    ms.sort_by_key(|m| m.last);
                    ms.remove(0);
                }
                ms.push(Member {
                    who,
                    first: ts,
                    last: ts,
                });
                true
            }
        };
        let mut out = ms.clone();
        out.sort_by_key(|m| m.first);
        (out, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600 * Ts::NANOS_PER_SEC;

    #[test]
    fn members_within_the_window_make_a_group() {
        let mut s: Sightings<&str, &str> = Sightings::default();
        let t = Ts::from_secs(1_000_000);
        let (g, new) = s.see(&"203.0.113.7", "bob", t, 24 * H);
        assert_eq!((g.len(), new), (1, true));
        let (g, new) = s.see(&"203.0.113.7", "carol", t.plus(H), 24 * H);
        assert_eq!(
            g.iter().map(|m| m.who).collect::<Vec<_>>(),
            ["bob", "carol"]
        );
        assert!(new);
        let (g, new) = s.see(&"203.0.113.7", "bob", t.plus(2 * H), 24 * H);
        assert_eq!((g.len(), new), (2, false));
        assert_eq!(g[0].last, t.plus(2 * H));
        // Two days later carol's sighting has aged out.
        let (g, _) = s.see(&"203.0.113.7", "bob", t.plus(50 * H), 24 * H);
        assert_eq!(g.len(), 1);
        assert_eq!(
            g[0].first,
            t.plus(50 * H),
            "a return after the window starts afresh"
        );
    }

    #[test]
    fn the_table_and_each_group_are_bounded() {
        let mut s: Sightings<u32, u32> = Sightings::default();
        let t = Ts::from_secs(1);
        for k in 0..(SIGHTING_KEYS_MAX as u32 + 10) {
            s.see(&k, 1, t, H);
        }
        assert!(s.by_key.len() <= SIGHTING_KEYS_MAX);
        for who in 0..(MEMBERS_PER_KEY_MAX as u32 + 5) {
            let (g, _) = s.see(&7, who, t, H);
            assert!(g.len() <= MEMBERS_PER_KEY_MAX);
        }
    }
}
