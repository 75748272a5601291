//! The loop that runs a controller's reconciles: each object asked for is
//! reconciled once its time comes, never twice at once, at most
//! `concurrency` at a time, and again when its reconcile asks to look again
//! later. Asked for while its reconcile runs, an object runs again right
//! after. The objects come from the controller's [`Shelf`], which holds
//! them [`compact`](super::compact)ly; a reconcile gets its object decoded.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use kube::Resource;
use kube::core::DeserializeGuard;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::shelf::Shelf;
use crate::controller::entries::tables::ObjectName;

/// What a reconcile asks of the runner: to look again after a while, or
/// only when something changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    requeue_after: Option<Duration>,
}

impl Action {
    /// Look again after `duration`, even if nothing changes.
    #[must_use]
    pub const fn requeue(duration: Duration) -> Action {
        Action {
            requeue_after: Some(duration),
        }
    }

    /// Look again only when something changes.
    #[must_use]
    pub const fn await_change() -> Action {
        Action {
            requeue_after: None,
        }
    }

    /// How soon to look again, if nothing changes first.
    pub const fn requeue_after(&self) -> Option<Duration> {
        self.requeue_after
    }
}

impl From<Action> for kube::runtime::controller::Action {
    fn from(action: Action) -> Self {
        match action.requeue_after {
            Some(after) => kube::runtime::controller::Action::requeue(after),
            None => kube::runtime::controller::Action::await_change(),
        }
    }
}

/// How soon an object whose reconcile panicked is tried again.
const AFTER_PANIC: Duration = Duration::from_secs(30);

/// The objects asked for, by when, and those whose reconcile runs.
#[derive(Default)]
struct Queue {
    /// When each waiting object is due (and its place among equals).
    at: HashMap<ObjectName, (Instant, u64)>,
    /// The waiting objects, earliest first.
    order: BTreeMap<(Instant, u64), ObjectName>,
    next: u64,
    running: HashSet<ObjectName>,
    /// Asked for while running: due again as soon as that run ends.
    again: HashSet<ObjectName>,
}

impl Queue {
    /// Reconcile `name` at `when`, or earlier if it is due earlier already.
    fn ask(&mut self, name: ObjectName, when: Instant) {
        if let Some(&(due, place)) = self.at.get(&name) {
            if due <= when {
                return;
            }
            self.order.remove(&(due, place));
        }
        self.next += 1;
        self.at.insert(name.clone(), (when, self.next));
        self.order.insert((when, self.next), name);
    }

    /// When the earliest waiting object is due.
    fn next_due(&self) -> Option<Instant> {
        self.order.keys().next().map(|(due, _)| *due)
    }

    /// Up to `room` objects due at `now` whose reconcile is not running,
    /// now running; a due object that is running waits for that run to end.
    fn start(&mut self, now: Instant, room: usize) -> Vec<ObjectName> {
        let mut started = Vec::new();
        while started.len() < room {
            let Some(entry) = self.order.first_entry() else {
                break;
            };
            if entry.key().0 > now {
                break;
            }
            let name = entry.remove();
            self.at.remove(&name);
            if self.running.contains(&name) {
                self.again.insert(name);
            } else {
                self.running.insert(name.clone());
                started.push(name);
            }
        }
        started
    }

    /// The reconcile of `name` ended at `now`, asking to look again after
    /// `after` (`None`: only on a change).
    fn finished(&mut self, name: ObjectName, after: Option<Duration>, now: Instant) {
        self.running.remove(&name);
        if self.again.remove(&name) {
            self.ask(name.clone(), now);
        }
        if let Some(after) = after {
            self.ask(name, now + after);
        }
    }
}

/// Run `reconcile` on the objects `asked` names until `cancel`, then wait
/// for the reconciles that run. Nothing starts before the shelf has listed
/// its objects once; an object the shelf no longer holds is gone and is
/// skipped. `concurrency` 0 sets no limit.
pub async fn run<K, F, Fut>(
    shelf: Shelf<K>,
    mut asked: BoxStream<'static, ObjectName>,
    concurrency: usize,
    cancel: CancellationToken,
    reconcile: F,
) where
    K: Resource + Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    K::DynamicType: Default,
    F: Fn(Arc<DeserializeGuard<K>>) -> Fut,
    Fut: Future<Output = Action> + Send + 'static,
{
    let limit = if concurrency == 0 {
        usize::MAX
    } else {
        concurrency
    };
    let mut queue = Queue::default();
    let mut tasks = tokio::task::JoinSet::new();
    let mut names: HashMap<tokio::task::Id, ObjectName> = HashMap::new();
    let mut ready = shelf.is_ready();
    let mut open = true;
    loop {
        let room = limit.saturating_sub(tasks.len());
        if ready {
            let now = Instant::now();
            for name in queue.start(now, room) {
                match shelf.get(&name.0, &name.1) {
                    Some(object) => {
                        let id = tasks.spawn(reconcile(object)).id();
                        names.insert(id, name);
                    }
                    None => queue.finished(name, None, now),
                }
            }
        }
        let room = limit.saturating_sub(tasks.len());
        let due = queue.next_due().filter(|_| ready && room > 0);
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            () = shelf.wait_until_ready(), if !ready => ready = true,
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let now = Instant::now();
                match done {
                    Ok((id, action)) => {
                        if let Some(name) = names.remove(&id) {
                            queue.finished(name, action.requeue_after(), now);
                        }
                    }
                    Err(error) => {
                        if let Some(name) = names.remove(&error.id()) {
                            tracing::error!(namespace = %name.0, name = %name.1, "a reconcile panicked");
                            queue.finished(name, Some(AFTER_PANIC), now);
                        }
                    }
                }
            }
            next = asked.next(), if open => match next {
                Some(name) => queue.ask(name, Instant::now()),
                None => open = false,
            },
            () = tokio::time::sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {}
        }
    }
    // Stopping: what runs finishes (a reconcile sees the cancellation
    // itself and ends soon).
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> ObjectName {
        ("ns".into(), n.into())
    }

    #[test]
    fn the_earliest_ask_wins() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.ask(name("a"), t0 + Duration::from_secs(30));
        queue.ask(name("a"), t0 + Duration::from_secs(5));
        queue.ask(name("a"), t0 + Duration::from_secs(60));
        assert_eq!(queue.next_due(), Some(t0 + Duration::from_secs(5)));
        assert!(queue.start(t0 + Duration::from_secs(4), 8).is_empty());
        assert_eq!(queue.start(t0 + Duration::from_secs(5), 8), [name("a")]);
        assert_eq!(queue.next_due(), None, "asked for once");
    }

    #[test]
    fn objects_start_in_the_order_they_fell_due_within_the_room() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        for (n, after) in [("c", 3), ("a", 1), ("b", 2), ("later", 100)] {
            queue.ask(name(n), t0 + Duration::from_secs(after));
        }
        let at = t0 + Duration::from_secs(10);
        assert_eq!(queue.start(at, 2), [name("a"), name("b")]);
        assert_eq!(queue.start(at, 2), [name("c")]);
        assert!(queue.start(at, 2).is_empty());
    }

    #[test]
    fn an_object_never_runs_twice_at_once_and_runs_again_after() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.ask(name("a"), t0);
        assert_eq!(queue.start(t0, 8), [name("a")]);
        queue.ask(name("a"), t0);
        assert!(queue.start(t0, 8).is_empty(), "running already");
        let t1 = t0 + Duration::from_secs(1);
        queue.finished(name("a"), None, t1);
        assert_eq!(queue.start(t1, 8), [name("a")], "asked for while it ran");
        queue.finished(name("a"), None, t1);
        assert!(queue.start(t1 + Duration::from_secs(3600), 8).is_empty());
    }

    #[test]
    fn a_reconcile_that_asks_to_look_again_is_due_then() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.ask(name("a"), t0);
        queue.start(t0, 8);
        queue.finished(name("a"), Some(Duration::from_secs(30)), t0);
        assert!(queue.start(t0 + Duration::from_secs(29), 8).is_empty());
        assert_eq!(queue.start(t0 + Duration::from_secs(30), 8), [name("a")]);
    }

    #[test]
    fn no_room_starts_nothing() {
        let t0 = Instant::now();
        let mut queue = Queue::default();
        queue.ask(name("a"), t0);
        assert!(queue.start(t0, 0).is_empty());
        assert_eq!(queue.start(t0, 1), [name("a")]);
    }
}
