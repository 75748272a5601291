//! The intake: what a kind's own watch says has changed waits here, as a
//! set of names, until the controller has room for it.
//!
//! kube-runtime's scheduler runs the requests that are due in the order they
//! fell due. When a watch delivers thousands of objects at once (the first
//! list, a restart, a change a GitOps tool makes to every object), each of
//! them would be due at once, and a table's next writer, due a moment later
//! when the last write has settled, would wait behind all of them: on a
//! 2-core machine 1,000 new DNAT entries take the API server about 4 s to
//! record, and every table stood still that long. The scheduler also keeps
//! the capacity such a burst gave it (9 MB for 10,000 objects). So the
//! watch's objects are handed to the controller only while fewer than its
//! concurrency are running or handed over and not yet started; everything
//! else (requeues, wake-ups, other kinds' watches) goes straight to the
//! scheduler and is never behind more than one round of the intake's.
//!
//! Objects wait in groups (a kind may name one per object: DNAT and SNAT
//! entries name their table's gateway), and the groups take turns: when a
//! cluster is rebuilt from Git, every gateway's first entry is handed over
//! in the first round, not the last gateway's after all the others' entries.
//!
//! The cache is written before an object is queued here, so the reconcile
//! that comes of it reads the latest copy; an object queued again before it
//! was handed over is queued once.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::controller::entries::tables::ObjectName;

/// An object handed over whose reconcile has not started after this long is
/// counted no more (its object was deleted before it ran, so it never will).
const HANDED_FOR: Duration = Duration::from_secs(2);

/// How often the intake looks again without being told (for handed-over
/// objects that are counted no more).
pub const LOOK_EVERY: Duration = Duration::from_millis(500);

/// One controller's intake.
pub struct Intake {
    state: Mutex<State>,
    /// Something changed: an object came in, a reconcile started or ended.
    changed: Notify,
    /// How many objects may be running or handed over at once.
    limit: usize,
}

#[derive(Default)]
struct State {
    /// Waiting, oldest first, by group.
    groups: HashMap<String, VecDeque<ObjectName>>,
    /// The groups with objects waiting, in the order of their turns.
    turns: VecDeque<String>,
    /// Every object waiting, to queue an object once.
    queued: HashSet<ObjectName>,
    /// Handed to the controller, not yet started, and when.
    handed: HashMap<ObjectName, Instant>,
    /// Reconciles running.
    running: usize,
}

impl Intake {
    /// An intake for a controller running up to `limit` reconciles at once.
    pub fn new(limit: usize) -> Arc<Intake> {
        Arc::new(Intake {
            state: Mutex::default(),
            changed: Notify::new(),
            limit: limit.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The watch says `name`, of `group`, changed.
    pub fn push(&self, group: String, name: ObjectName) {
        push(&mut self.lock(), group, name);
        self.changed.notify_one();
    }

    /// A reconcile of `name` starts; it counts as running until the guard
    /// is dropped.
    pub fn start(self: &Arc<Self>, name: &ObjectName) -> Running {
        let mut state = self.lock();
        state.handed.remove(name);
        state.running += 1;
        Running(self.clone())
    }

    /// The objects to hand over now.
    pub fn take(&self, now: Instant) -> Vec<ObjectName> {
        take(&mut self.lock(), self.limit, now)
    }

    /// Until something changes, or [`LOOK_EVERY`] has passed.
    pub async fn changed(&self) {
        let _ = tokio::time::timeout(LOOK_EVERY, self.changed.notified()).await;
    }

    /// How many objects wait.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().queued.len()
    }
}

/// A running reconcile: the intake counts it until this is dropped.
pub struct Running(Arc<Intake>);

impl Drop for Running {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.running = state.running.saturating_sub(1);
        drop(state);
        self.0.changed.notify_one();
    }
}

/// Queue `name` in `group`, unless it waits already.
fn push(state: &mut State, group: String, name: ObjectName) {
    if !state.queued.insert(name.clone()) {
        return;
    }
    let waiting = state.groups.entry(group.clone()).or_default();
    if waiting.is_empty() {
        state.turns.push_back(group);
    }
    waiting.push_back(name);
}

/// Hand over waiting objects, the groups taking turns and each group's
/// oldest first, while fewer than `limit` are running or handed over; forget
/// hand-overs older than [`HANDED_FOR`]. An object already handed over and
/// not yet started is not handed over again: its reconcile, still to come,
/// reads the latest copy.
fn take(state: &mut State, limit: usize, now: Instant) -> Vec<ObjectName> {
    state
        .handed
        .retain(|_, at| now.saturating_duration_since(*at) < HANDED_FOR);
    let mut taken = Vec::new();
    while state.running + state.handed.len() < limit {
        let Some(group) = state.turns.pop_front() else {
            break;
        };
        let Some(waiting) = state.groups.get_mut(&group) else {
            continue;
        };
        let Some(name) = waiting.pop_front() else {
            state.groups.remove(&group);
            continue;
        };
        if waiting.is_empty() {
            state.groups.remove(&group);
        } else {
            state.turns.push_back(group);
        }
        state.queued.remove(&name);
        if let Entry::Vacant(slot) = state.handed.entry(name) {
            taken.push(slot.key().clone());
            slot.insert(now);
        }
    }
    if state.turns.is_empty() && state.queued.capacity() > 64 {
        // A burst is over: give its memory back.
        *state = State {
            handed: std::mem::take(&mut state.handed),
            running: state.running,
            ..State::default()
        };
    }
    taken
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> ObjectName {
        ("ns".into(), n.into())
    }

    fn names(list: &[&str]) -> Vec<ObjectName> {
        list.iter().map(|n| name(n)).collect()
    }

    /// A state with `waiting` queued, each in the group named by its first
    /// letter.
    fn state(waiting: &[&str], running: usize, handed: &[&str], now: Instant) -> State {
        let mut state = State {
            handed: names(handed).into_iter().map(|n| (n, now)).collect(),
            running,
            ..State::default()
        };
        for n in waiting {
            push(&mut state, n[..1].to_string(), name(n));
        }
        state
    }

    #[test]
    fn hands_over_only_while_the_controller_has_room_and_groups_take_turns() {
        let now = Instant::now();
        // (waiting, running, handed over, limit) → handed over now
        type Case<'a> = (&'a [&'a str], usize, &'a [&'a str], usize, &'a [&'a str]);
        let cases: &[Case] = &[
            (&["a1", "a2", "a3"], 0, &[], 2, &["a1", "a2"]),
            (&["a1", "a2", "a3"], 1, &[], 2, &["a1"]),
            (&["a1", "a2", "a3"], 1, &["x"], 2, &[]),
            (&["a1", "a2", "a3"], 3, &[], 2, &[]),
            (&["a1"], 0, &[], 8, &["a1"]),
            (&[], 0, &[], 8, &[]),
            // Already handed over, not started: not again, and no room used.
            (&["x1", "a1"], 0, &["x1"], 3, &["a1"]),
            // Groups take turns, each group's oldest first.
            (
                &["a1", "a2", "a3", "b1", "b2", "c1"],
                0,
                &[],
                5,
                &["a1", "b1", "c1", "a2", "b2"],
            ),
            // Queued twice: once.
            (&["a1", "a1", "b1"], 0, &[], 8, &["a1", "b1"]),
        ];
        for (waiting, running, handed, limit, expected) in cases {
            let mut state = state(waiting, *running, handed, now);
            let taken = take(&mut state, *limit, now);
            assert_eq!(
                taken,
                names(expected),
                "{waiting:?} running {running} handed {handed:?} limit {limit}"
            );
            let left: usize = state.groups.values().map(VecDeque::len).sum();
            assert_eq!(left, state.queued.len());
            assert_eq!(state.turns.len(), state.groups.len());
        }
    }

    #[test]
    fn a_hand_over_that_never_starts_is_counted_no_more_after_a_while() {
        let now = Instant::now();
        let mut state = state(&["a1"], 0, &["gone"], now);
        assert!(take(&mut state, 1, now + HANDED_FOR / 2).is_empty());
        assert_eq!(take(&mut state, 1, now + HANDED_FOR), names(&["a1"]));
    }

    #[tokio::test]
    async fn queues_an_object_once_and_counts_reconciles_until_they_end() {
        let intake = Intake::new(2);
        for n in ["a", "b", "a", "c", "b"] {
            intake.push(String::new(), name(n));
        }
        assert_eq!(intake.waiting(), 3);
        let now = Instant::now();
        assert_eq!(intake.take(now), names(&["a", "b"]));
        // Both handed over: no room until one starts and ends.
        assert!(intake.take(now).is_empty());
        let running = intake.start(&name("a"));
        assert!(intake.take(now).is_empty(), "a runs, b is handed over");
        drop(running);
        assert_eq!(intake.take(now), names(&["c"]));
        // Changed again while running: queued again, and handed over once
        // there is room (kube-runtime runs it after the running one).
        let _b = intake.start(&name("b"));
        intake.push(String::new(), name("b"));
        assert!(intake.take(now).is_empty(), "b runs, c is handed over");
        drop(intake.start(&name("c")));
        assert_eq!(intake.take(now), names(&["b"]));
        // Being told wakes the pump at once.
        intake.push(String::new(), name("d"));
        tokio::time::timeout(Duration::from_millis(100), intake.changed())
            .await
            .expect("told");
    }

    #[test]
    fn a_burst_gives_its_memory_back_once_handed_over() {
        let intake = Intake::new(100_000);
        for i in 0..10_000 {
            intake.push(format!("g{}", i % 100), name(&i.to_string()));
        }
        assert_eq!(intake.take(Instant::now()).len(), 10_000);
        let state = intake.lock();
        assert_eq!(state.queued.capacity(), 0);
        assert_eq!(state.groups.capacity(), 0);
        assert_eq!(state.turns.capacity(), 0);
    }
}
