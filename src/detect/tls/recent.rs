//! A small per-thread memory of recent results: a fixed number of entries, the oldest replaced
//! first. Shared by the caches of parsed certificates (`server`) and JA4 fingerprints (`ja4`);
//! each keeps its own entries in a `thread_local!`, since every pipeline worker runs its own
//! cascade and a shared cache would need a lock.

/// Up to `max` entries; once full, each new one replaces the oldest.
pub(super) struct Recent<E> {
    entries: Vec<E>,
    max: usize,
    /// The slot the next new entry takes once `entries` is full.
    next: usize,
}

impl<E> Recent<E> {
    pub(super) const fn new(max: usize) -> Recent<E> {
        Recent {
            entries: Vec::new(),
            max,
            next: 0,
        }
    }

    /// The first remembered entry `is` accepts.
    pub(super) fn find(&self, is: impl FnMut(&&E) -> bool) -> Option<&E> {
        self.entries.iter().find(is)
    }

    /// Remembers `entry`, replacing the oldest when full.
    pub(super) fn remember(&mut self, entry: E) {
        if self.entries.len() < self.max {
            self.entries.push(entry);
        } else if let Some(slot) = self.entries.get_mut(self.next) {
            *slot = entry;
            self.next = (self.next + 1) % self.max;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    /// Filled, it keeps the newest `max` entries, replacing the oldest first.
    #[test]
    fn keeps_the_newest_entries() {
        let mut r = Recent::new(3);
        for i in 0..5 {
            r.remember(i);
        }
        for gone in [0, 1] {
            assert_eq!(r.find(|&&e| e == gone), None);
        }
        for kept in [2, 3, 4] {
            assert_eq!(r.find(|&&e| e == kept), Some(&kept));
        }
        r.remember(5);
        assert_eq!(r.find(|&&e| e == 2), None);
        assert_eq!(r.find(|&&e| e == 5), Some(&5));
    }
}
