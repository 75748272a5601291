//! When each entry object with nothing to do for a while is looked at again.
//!
//! An entry in sync needs one look per drift interval, and that look is
//! nearly free (the table's shared snapshot answers it); one waiting for its
//! turn, gateway or package needs a fallback look (wake-ups come sooner).
//! Left to the controller's scheduler, each such object holds a timer of its
//! own in a delay queue: at rest with 10,000 entries natop spent 4.0 CPU
//! seconds a minute, 1.1 with this map (`make bench-scale`). Here an object
//! costs one map slot, its namespace and name and an instant; the wake
//! router, every `engine::RECHECK_TICK`, hands the objects that are due to
//! the table queue's wake channel, which reconciles them like any other
//! wake-up.
//!
//! An object is in the map at most once: a later due time replaces the
//! earlier (every reconcile that ends in sync says when the next look is
//! due). One that is gone leaves the map when it is due at the latest, or
//! when it lets go of its tables.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::tables::ObjectName;

/// The next look at each object in sync, by `(namespace, name)`.
#[derive(Debug, Default)]
pub struct Rechecks(Mutex<HashMap<ObjectName, Instant>>);

impl Rechecks {
    fn map(&self) -> MutexGuard<'_, HashMap<ObjectName, Instant>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Look at `who` again at `at` (in place of any earlier plan).
    pub fn at(&self, who: ObjectName, at: Instant) {
        self.map().insert(who, at);
    }

    /// `who` needs no look (it went, or waits for a change of its own).
    pub fn forget(&self, who: &ObjectName) {
        self.map().remove(who);
    }

    /// The objects due at `now`, taken out of the map.
    pub fn due(&self, now: Instant) -> Vec<ObjectName> {
        let mut map = self.map();
        let mut due = Vec::new();
        map.retain(|who, at| {
            let keep = *at > now;
            if !keep {
                due.push(who.clone());
            }
            keep
        });
        if map.capacity() > 64 && map.capacity() > map.len() * 4 {
            // Most objects went: give back the slots they held.
            map.shrink_to_fit();
        }
        due
    }

    /// How many objects have a look planned.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no object has a look planned.
    pub fn is_empty(&self) -> bool {
        self.map().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// An object's name and when, after the start, it is to be looked at.
    type Plan = (&'static str, Duration);

    fn who(name: &str) -> ObjectName {
        ("team".to_string(), name.to_string())
    }

    #[test]
    fn an_object_is_due_once_at_its_last_planned_time() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        // Plans made in order, the instant asked about, who is due then.
        type Case = (Vec<Plan>, Duration, Vec<&'static str>);
        let cases: Vec<Case> = vec![
            (vec![], 10 * s, vec![]),
            (vec![("a", 5 * s)], 4 * s, vec![]),
            (vec![("a", 5 * s)], 5 * s, vec!["a"]),
            (vec![("a", 5 * s), ("b", 7 * s)], 6 * s, vec!["a"]),
            (vec![("a", 5 * s), ("b", 7 * s)], 8 * s, vec!["a", "b"]),
            // A later plan replaces the earlier, either way.
            (vec![("a", 5 * s), ("a", 30 * s)], 10 * s, vec![]),
            (vec![("a", 30 * s), ("a", 5 * s)], 10 * s, vec!["a"]),
        ];
        for (plans, asked, expected) in cases {
            let rechecks = Rechecks::default();
            for (name, after) in &plans {
                rechecks.at(who(name), t0 + *after);
            }
            let mut due: Vec<String> = rechecks
                .due(t0 + asked)
                .into_iter()
                .map(|(_, n)| n)
                .collect();
            due.sort();
            assert_eq!(due, expected, "plans {plans:?} at {asked:?}");
            // Taken out: not due a second time.
            assert!(rechecks.due(t0 + asked).is_empty(), "plans {plans:?}");
            assert_eq!(rechecks.len(), {
                let mut names: Vec<&str> = plans.iter().map(|(n, _)| *n).collect();
                names.sort();
                names.dedup();
                names.len() - expected.len()
            });
        }
    }

    #[test]
    fn a_forgotten_object_is_never_due_and_the_map_gives_back_its_slots() {
        let t0 = Instant::now();
        let rechecks = Rechecks::default();
        for i in 0..1000 {
            rechecks.at(who(&format!("e{i}")), t0 + Duration::from_secs(i % 2));
        }
        rechecks.forget(&who("e1"));
        let due = rechecks.due(t0 + Duration::from_secs(1));
        assert_eq!(due.len(), 999);
        assert!(!due.contains(&who("e1")));
        assert!(rechecks.is_empty());
        assert!(
            rechecks.map().capacity() <= 64,
            "slots kept after the objects went"
        );
    }
}
