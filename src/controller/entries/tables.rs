//! DNAT and SNAT tables as natop sees them: one cached snapshot per table,
//! read with the paginated describe and shared by every entry of the table,
//! and one write queue per table.
//!
//! The NAT API refuses every write on a table while one of its entries is
//! `Pending` or `Modifying`, and each entry's state can only be read by
//! listing its table. So:
//!
//! - **Reads** go through [`Tables::snapshot`]: one refresh at a time per
//!   table (single flight), never older than the table's last write, at most
//!   a short poll step old while something in the table is busy, and otherwise
//!   as old as the caller allows (its drift interval).
//! - **Writes** take a [`WriteTurn`] from [`Tables::turn`]: a FIFO queue per
//!   table, one write in flight per table, and the writer checks a fresh
//!   snapshot shows nothing busy before it sends. Waiting holds no reconcile
//!   slot: an object that is not at the head gets [`Turn::Wait`] and is woken
//!   through the wake channel when its turn comes, so one busy table cannot
//!   starve the others.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

/// A row of a table snapshot.
pub trait Row: Clone + Send + Sync + 'static {
    /// The entry id.
    fn id(&self) -> &str;
    /// The cloud status: `Pending`, `Available`, `Modifying` or `Deleting`.
    fn status(&self) -> &str;
}

/// Whether an entry in this status locks its table against writes.
pub fn locks_table(status: &str) -> bool {
    status.eq_ignore_ascii_case("Pending") || status.eq_ignore_ascii_case("Modifying")
}

/// One table: which ProviderConfig and region it is read through, and its id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableKey {
    /// ProviderConfig name (the account).
    pub provider: String,
    /// Region.
    pub region: String,
    /// Table id (`ftb-…` or `stb-…`).
    pub table: String,
}

/// An object, as `(namespace, name)`: who waits for a turn on a table.
pub type ObjectName = (String, String);

/// What a table held at one moment.
#[derive(Debug)]
pub struct Snapshot<R> {
    /// Every entry of the table.
    pub rows: Vec<R>,
    /// When the read started.
    pub fetched: Instant,
    /// How many describe calls (pages) the read took.
    pub pages: u32,
}

impl<R: Row> Snapshot<R> {
    /// The entry that locks the table, if any.
    pub fn busy_entry(&self) -> Option<&R> {
        self.rows.iter().find(|r| locks_table(r.status()))
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Option<&R> {
        self.rows.iter().find(|r| r.id() == id)
    }
}

/// The answer to [`Tables::turn`].
pub enum Turn<'a, R: Row> {
    /// Write now (after checking a fresh snapshot shows nothing busy).
    Granted(WriteTurn<'a, R>),
    /// Others are ahead; the wake channel says when it is this writer's turn.
    Wait {
        /// Writers ahead in the queue.
        ahead: usize,
    },
}

/// Shortest poll step while a table is busy.
const MIN_STEP: Duration = Duration::from_millis(50);
/// Longest poll step while a table is busy.
const MAX_STEP: Duration = Duration::from_secs(3);
/// The first guess of how long an entry stays `Pending`.
const FIRST_ESTIMATE: Duration = Duration::from_secs(1);
/// A head of queue that has not come back for this long has lost its turn.
const STALE_HEAD: Duration = Duration::from_secs(30);
/// A waiter that has not come back for this long has left the queue: its
/// object was deleted behind natop's back, moved, or is no longer selected.
/// A live waiter comes back at least every 30 s (its requeue), so twice that
/// and some is safe; one that does come back queues again at the back.
pub const GONE_WAITER: Duration = Duration::from_secs(75);
/// A table with no queue, no write in flight and no read for this long is
/// forgotten, snapshot and all (its gateway was deleted, its entries moved).
pub const IDLE_TABLE: Duration = Duration::from_secs(600);
/// How often idle tables are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct Waiter {
    who: ObjectName,
    touched: Instant,
}

struct State<R> {
    snapshot: Option<Arc<Snapshot<R>>>,
    /// When the last write on this table was sent.
    last_write: Option<Instant>,
    /// Whether the last write has not yet been seen to settle.
    unsettled: bool,
    /// Whether an entry was seen busy after the estimate had elapsed since
    /// the last write (the estimate was too short).
    late_busy: bool,
    /// Consecutive writes seen settled at their first poll after the
    /// estimate (the estimate may be far too long).
    early_settles: u32,
    /// How long entries of this table stay busy after a write.
    estimate: Duration,
    queue: VecDeque<Waiter>,
    writing: bool,
}

impl<R> Default for State<R> {
    fn default() -> Self {
        State {
            snapshot: None,
            last_write: None,
            unsettled: false,
            late_busy: false,
            early_settles: 0,
            estimate: FIRST_ESTIMATE,
            queue: VecDeque::new(),
            writing: false,
        }
    }
}

impl<R> State<R> {
    fn step(&self) -> Duration {
        (self.estimate / 8).clamp(MIN_STEP, MAX_STEP)
    }
}

struct Table<R> {
    refresh: tokio::sync::Mutex<()>,
    state: Mutex<State<R>>,
}

impl<R> Table<R> {
    fn lock(&self) -> MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counters of one kind's tables, for metrics and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TableStats {
    /// Snapshot refreshes.
    pub refreshes: u64,
    /// Describe calls (pages) those refreshes took.
    pub pages: u64,
    /// Writes sent.
    pub writes: u64,
}

/// Every table of one kind (DNAT or SNAT).
pub struct Tables<R: Row> {
    tables: Mutex<HashMap<TableKey, Arc<Table<R>>>>,
    wake: UnboundedSender<ObjectName>,
    stats: Mutex<TableStats>,
    last_sweep: Mutex<Option<Instant>>,
}

impl<R: Row> Tables<R> {
    /// Tables whose writers are woken through `wake` when their turn comes.
    pub fn new(wake: UnboundedSender<ObjectName>) -> Tables<R> {
        Tables {
            tables: Mutex::new(HashMap::new()),
            wake,
            stats: Mutex::new(TableStats::default()),
            last_sweep: Mutex::new(None),
        }
    }

    fn table(&self, key: &TableKey) -> Arc<Table<R>> {
        self.table_at(key, Instant::now())
    }

    fn table_at(&self, key: &TableKey, now: Instant) -> Arc<Table<R>> {
        let due = {
            let mut last = self
                .last_sweep
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = last.is_none_or(|at| now.saturating_duration_since(at) >= SWEEP_EVERY);
            if due {
                *last = Some(now);
            }
            due
        };
        if due {
            self.sweep(now);
        }
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        tables
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Table {
                    refresh: tokio::sync::Mutex::new(()),
                    state: Mutex::new(State::default()),
                })
            })
            .clone()
    }

    /// Forget tables nobody waits on, writes to or has read for
    /// [`IDLE_TABLE`].
    fn sweep(&self, now: Instant) {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        tables.retain(|_, table| {
            // Someone holds it (a read or a turn in flight): keep it.
            if Arc::strong_count(table) > 1 {
                return true;
            }
            let state = table.lock();
            let last_used = [
                state.snapshot.as_ref().map(|s| s.fetched),
                state.last_write,
                state.queue.iter().map(|w| w.touched).max(),
            ]
            .into_iter()
            .flatten()
            .max();
            state.writing
                || last_used.is_some_and(|at| now.saturating_duration_since(at) < IDLE_TABLE)
        });
    }

    /// How many tables are remembered.
    pub fn len(&self) -> usize {
        self.tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no table is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Refreshes, pages and writes so far.
    pub fn stats(&self) -> TableStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The table's snapshot: the cached one when it was read after the last
    /// write and is young enough (`max_age`, or the poll step while an entry
    /// is busy), else a new read through `fetch`, which returns the rows and
    /// the number of describe calls it took. Concurrent callers share one read.
    pub async fn snapshot<E, F, Fut>(
        &self,
        key: &TableKey,
        max_age: Duration,
        fetch: F,
    ) -> Result<Arc<Snapshot<R>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Vec<R>, u32), E>>,
    {
        let table = self.table(key);
        let _refresh = table.refresh.lock().await;
        if let Some(cached) = usable(&table.lock(), max_age, Instant::now()) {
            return Ok(cached);
        }
        let started = Instant::now();
        let (rows, pages) = fetch().await?;
        let snapshot = Arc::new(Snapshot {
            rows,
            fetched: started,
            pages,
        });
        {
            let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
            stats.refreshes += 1;
            stats.pages += u64::from(pages);
        }
        let mut state = table.lock();
        learn(&mut state, &snapshot);
        if state.last_write.is_none_or(|w| w <= started) {
            state.snapshot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// The table's cached snapshot, however old, when `who` waits in its
    /// queue behind another writer: such a writer only learns that it still
    /// waits (it decides again on a fresh read once it is at the head), so a
    /// read of the whole table for it would be wasted.
    pub fn for_waiter(&self, key: &TableKey, who: &ObjectName) -> Option<Arc<Snapshot<R>>> {
        let table = self.existing(key)?;
        let state = table.lock();
        let position = state.queue.iter().position(|w| &w.who == who)?;
        if position == 0 && !state.writing {
            return None;
        }
        state.snapshot.clone()
    }

    /// Drop the table's cached snapshot: a point read showed it wrong (an
    /// entry missing from it exists), so the next reader reads the table again.
    pub fn invalidate(&self, key: &TableKey) {
        if let Some(table) = self.existing(key) {
            table.lock().snapshot = None;
        }
    }

    /// How long until the table's last write may have settled, while it
    /// cannot have yet (less time has passed than its entries stay busy): a
    /// read before then only shows the table busy.
    pub fn settling(&self, key: &TableKey) -> Option<Duration> {
        let table = self.existing(key)?;
        let state = table.lock();
        let at = state.last_write?;
        let elapsed = at.elapsed();
        (state.unsettled && elapsed < state.estimate)
            .then(|| (state.estimate - elapsed).max(MIN_STEP))
    }

    /// When a writer waiting for the table to settle should look again.
    pub fn poll_delay(&self, key: &TableKey) -> Duration {
        let table = self.table(key);
        let state = table.lock();
        let step = state.step();
        match state.last_write {
            Some(at) if state.unsettled => {
                let elapsed = at.elapsed();
                if elapsed < state.estimate {
                    (state.estimate - elapsed).max(MIN_STEP)
                } else {
                    step
                }
            }
            _ => step,
        }
    }

    /// Ask to write on `key` as `who`: granted when `who` is at the head of
    /// the table's queue and no other write is in flight; otherwise `who`
    /// keeps (or takes) its place in the queue.
    pub fn turn(&self, key: &TableKey, who: &ObjectName) -> Turn<'_, R> {
        self.turn_at(key, who, Instant::now())
    }

    fn turn_at(&self, key: &TableKey, who: &ObjectName, now: Instant) -> Turn<'_, R> {
        let table = self.table_at(key, now);
        let mut state = table.lock();
        // Waiters that stopped coming back are gone: never woken, never
        // waited for again.
        state
            .queue
            .retain(|w| &w.who == who || now.saturating_duration_since(w.touched) <= GONE_WAITER);
        match state.queue.iter_mut().find(|w| &w.who == who) {
            Some(waiter) => waiter.touched = now,
            None => state.queue.push_back(Waiter {
                who: who.clone(),
                touched: now,
            }),
        }
        // A head that stopped coming back (its object was deleted, or its
        // reconcile keeps failing) goes to the back of the queue.
        while !state.writing
            && state.queue.len() > 1
            && state
                .queue
                .front()
                .is_some_and(|w| &w.who != who && now.duration_since(w.touched) > STALE_HEAD)
        {
            if let Some(stale) = state.queue.pop_front() {
                state.queue.push_back(stale);
            }
        }
        let position = state
            .queue
            .iter()
            .position(|w| &w.who == who)
            .unwrap_or_default();
        if position == 0 && !state.writing {
            state.writing = true;
            drop(state);
            Turn::Granted(WriteTurn {
                tables: self,
                table,
                who: who.clone(),
                finished: false,
            })
        } else {
            let ahead = position.max(1);
            if position == 0 {
                // Our own earlier turn is still in flight: nothing to do.
            } else if let Some(head) = state.queue.front()
                && !state.writing
                && now.duration_since(head.touched) > Duration::from_secs(5)
            {
                // Nudge a head that may have missed its wake-up.
                let _ = self.wake.send(head.who.clone());
            }
            Turn::Wait { ahead }
        }
    }

    /// `who` no longer needs to write on `key` (in sync, deleted, gone
    /// elsewhere): leave the queue, and wake the next writer if it was first.
    pub fn leave(&self, key: &TableKey, who: &ObjectName) {
        let Some(table) = self.existing(key) else {
            return;
        };
        let next = {
            let mut state = table.lock();
            let was_head = state.queue.front().is_some_and(|w| &w.who == who);
            state.queue.retain(|w| &w.who != who);
            (was_head && !state.writing)
                .then(|| state.queue.front().map(|w| w.who.clone()))
                .flatten()
        };
        if let Some(next) = next {
            let _ = self.wake.send(next);
        }
    }

    /// Leave every table's queue (the object is gone).
    pub fn forget(&self, who: &ObjectName) {
        let keys: Vec<TableKey> = self
            .tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        for key in keys {
            self.leave(&key, who);
        }
    }

    fn existing(&self, key: &TableKey) -> Option<Arc<Table<R>>> {
        self.tables
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Writers queued on `key`, first to last.
    pub fn queued(&self, key: &TableKey) -> Vec<ObjectName> {
        self.existing(key)
            .map(|t| t.lock().queue.iter().map(|w| w.who.clone()).collect())
            .unwrap_or_default()
    }
}

/// The cached snapshot when it is still good enough.
fn usable<R: Row>(state: &State<R>, max_age: Duration, now: Instant) -> Option<Arc<Snapshot<R>>> {
    let snapshot = state.snapshot.as_ref()?;
    if state.last_write.is_some_and(|w| w > snapshot.fetched) {
        return None;
    }
    let max_age = if snapshot.busy_entry().is_some() {
        max_age.min(state.step())
    } else {
        max_age
    };
    (now.duration_since(snapshot.fetched) <= max_age).then(|| snapshot.clone())
}

/// Learn from a new snapshot how long entries of the table stay busy. A busy
/// read before the estimate has elapsed says nothing (the read right after a
/// write always sees the new entry Pending); one after it says the estimate
/// was too short, and the time the table is then seen settled becomes the
/// estimate. A table seen settled without such a read lowers the estimate, as
/// it may settle sooner still: a little at first (the estimate is usually
/// close), faster when it keeps happening (the estimate is far too long).
fn learn<R: Row>(state: &mut State<R>, snapshot: &Snapshot<R>) {
    let Some(at) = state.last_write else {
        return;
    };
    if !state.unsettled || snapshot.fetched < at {
        return;
    }
    let took = snapshot.fetched.duration_since(at);
    if snapshot.busy_entry().is_some() {
        state.late_busy |= took >= state.estimate;
        return;
    }
    state.estimate = if state.late_busy {
        state.early_settles = 0;
        took
    } else {
        let factor = match state.early_settles {
            0 => 0.95,
            1 => 0.85,
            _ => 0.6,
        };
        state.early_settles = state.early_settles.saturating_add(1);
        state.estimate.min(took).mul_f64(factor)
    }
    .clamp(MIN_STEP, Duration::from_secs(60));
    state.unsettled = false;
}

/// The right to send one write on a table. Dropping it without
/// [`WriteTurn::wrote`] or [`WriteTurn::done`] keeps the writer at the head of
/// the queue (it comes back when the table settles).
pub struct WriteTurn<'a, R: Row> {
    tables: &'a Tables<R>,
    table: Arc<Table<R>>,
    who: ObjectName,
    finished: bool,
}

impl<R: Row> WriteTurn<'_, R> {
    /// A write was sent (whatever its outcome): snapshots from before now are
    /// stale, the next writer goes.
    pub fn wrote(mut self) {
        {
            let mut state = self.table.lock();
            state.last_write = Some(Instant::now());
            state.unsettled = true;
            state.late_busy = false;
        }
        self.tables
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .writes += 1;
        self.finish();
    }

    /// Nothing needed writing after all: the next writer goes.
    pub fn done(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.finished = true;
        let next = {
            let mut state = self.table.lock();
            state.writing = false;
            state.queue.retain(|w| w.who != self.who);
            state.queue.front().map(|w| w.who.clone())
        };
        if let Some(next) = next {
            let _ = self.tables.wake.send(next);
        }
    }
}

impl<R: Row> Drop for WriteTurn<'_, R> {
    fn drop(&mut self) {
        if !self.finished {
            self.table.lock().writing = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    #[derive(Clone, Debug)]
    struct R(&'static str, &'static str);

    impl Row for R {
        fn id(&self) -> &str {
            self.0
        }
        fn status(&self) -> &str {
            self.1
        }
    }

    fn key(table: &str) -> TableKey {
        TableKey {
            provider: "p".into(),
            region: "r".into(),
            table: table.into(),
        }
    }

    fn who(name: &str) -> ObjectName {
        ("ns".into(), name.into())
    }

    async fn read(
        tables: &Tables<R>,
        table: &str,
        max_age: Duration,
        rows: Vec<R>,
        calls: &std::sync::atomic::AtomicU32,
    ) -> Arc<Snapshot<R>> {
        tables
            .snapshot(&key(table), max_age, || async {
                calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok::<_, ()>((rows, 1))
            })
            .await
            .unwrap()
    }

    #[test]
    fn a_waiter_that_stopped_coming_back_leaves_the_queue() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(tx);
        let t0 = Instant::now();
        let Turn::Granted(turn) = tables.turn_at(&key("t"), &who("a"), t0) else {
            panic!("the first writer goes at once");
        };
        for name in ["gone", "live"] {
            assert!(matches!(
                tables.turn_at(&key("t"), &who(name), t0),
                Turn::Wait { .. }
            ));
        }
        turn.done();
        assert_eq!(tables.queued(&key("t")), [who("gone"), who("live")]);
        // "live" keeps coming back; "gone" never does.
        let t1 = t0 + Duration::from_secs(40);
        assert!(matches!(
            tables.turn_at(&key("t"), &who("live"), t1),
            Turn::Granted(_)
        ));
        assert_eq!(
            tables.queued(&key("t")),
            [who("live"), who("gone")],
            "a stale head goes to the back first"
        );
        let t2 = t0 + GONE_WAITER + Duration::from_secs(1);
        let Turn::Granted(turn) = tables.turn_at(&key("t"), &who("live"), t2) else {
            panic!("nobody is ahead");
        };
        assert_eq!(
            tables.queued(&key("t")),
            [who("live")],
            "the gone waiter is dropped"
        );
        turn.done();
        assert!(tables.queued(&key("t")).is_empty());
    }

    #[tokio::test]
    async fn idle_tables_are_forgotten_busy_ones_kept() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(tx);
        let calls = std::sync::atomic::AtomicU32::new(0);
        read(&tables, "idle", Duration::from_secs(60), vec![], &calls).await;
        read(&tables, "queued", Duration::from_secs(60), vec![], &calls).await;
        let later = Instant::now() + IDLE_TABLE + Duration::from_secs(1);
        let later_waiter = later - Duration::from_secs(100);
        let _ = tables.turn_at(&key("queued"), &who("a"), later_waiter);
        assert_eq!(tables.len(), 2);
        // Looking up another table later sweeps: the idle one goes, the one
        // with a recent waiter stays.
        let _ = tables.table_at(&key("new"), later);
        let mut left: Vec<String> = tables
            .tables
            .lock()
            .unwrap()
            .keys()
            .map(|k| k.table.clone())
            .collect();
        left.sort();
        assert_eq!(left, ["new", "queued"]);
    }

    #[test]
    fn pending_and_modifying_lock_a_table_deleting_does_not() {
        assert!(locks_table("Pending") && locks_table("Modifying"));
        assert!(!locks_table("Available") && !locks_table("Deleting"));
    }

    #[tokio::test]
    async fn a_snapshot_is_shared_until_too_old_or_written_over() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables = Tables::<R>::new(tx);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let long = Duration::from_secs(600);
        read(&tables, "t", long, vec![R("a", "Available")], &calls).await;
        read(&tables, "t", long, vec![], &calls).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another table has its own snapshot.
        read(&tables, "u", long, vec![], &calls).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        // A zero max age reads again.
        read(&tables, "t", Duration::ZERO, vec![], &calls).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
        // A write makes every older snapshot stale.
        let Turn::Granted(turn) = tables.turn(&key("t"), &who("a")) else {
            panic!("first writer waits");
        };
        turn.wrote();
        read(&tables, "t", long, vec![R("a", "Pending")], &calls).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 4);
        // While an entry is busy, the snapshot lives for one poll step only.
        tokio::time::sleep(Duration::from_millis(200)).await;
        read(&tables, "t", long, vec![R("a", "Available")], &calls).await;
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert_eq!(
            tables.stats(),
            TableStats {
                refreshes: 5,
                pages: 5,
                writes: 1
            }
        );
    }

    #[tokio::test]
    async fn concurrent_readers_share_one_refresh() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables = Arc::new(Tables::<R>::new(tx));
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let tables = tables.clone();
            let calls = calls.clone();
            tasks.push(tokio::spawn(async move {
                tables
                    .snapshot(&key("t"), Duration::from_secs(60), || async {
                        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        Ok::<_, ()>((vec![R("a", "Available")], 2))
                    })
                    .await
                    .unwrap()
                    .rows
                    .len()
            }));
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(tables.stats().pages, 2);
    }

    #[tokio::test]
    async fn writers_take_turns_in_order_and_the_next_is_woken() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tables = Tables::<R>::new(tx);
        let t = key("t");
        let Turn::Granted(first) = tables.turn(&t, &who("a")) else {
            panic!("a is first");
        };
        assert!(matches!(
            tables.turn(&t, &who("b")),
            Turn::Wait { ahead: 1 }
        ));
        assert!(matches!(
            tables.turn(&t, &who("c")),
            Turn::Wait { ahead: 2 }
        ));
        // Another table is not held up.
        assert!(matches!(
            tables.turn(&key("u"), &who("z")),
            Turn::Granted(_)
        ));
        // a asks again while its write is in flight: it waits.
        assert!(matches!(tables.turn(&t, &who("a")), Turn::Wait { .. }));
        first.wrote();
        assert_eq!(rx.recv().await.unwrap(), who("b"));
        assert!(matches!(
            tables.turn(&t, &who("c")),
            Turn::Wait { ahead: 1 }
        ));
        // b's turn dropped without a write (table busy): b stays first.
        let Turn::Granted(second) = tables.turn(&t, &who("b")) else {
            panic!("b is next");
        };
        drop(second);
        assert_eq!(tables.queued(&t), vec![who("b"), who("c")]);
        let Turn::Granted(second) = tables.turn(&t, &who("b")) else {
            panic!("b is still next");
        };
        second.done();
        assert_eq!(rx.recv().await.unwrap(), who("c"));
        // Leaving the head wakes the next one; leaving elsewhere does not.
        assert!(matches!(
            tables.turn(&t, &who("d")),
            Turn::Wait { ahead: 1 }
        ));
        tables.leave(&t, &who("d"));
        assert!(rx.try_recv().is_err());
        tables.turn(&t, &who("e"));
        tables.forget(&who("c"));
        assert_eq!(rx.recv().await.unwrap(), who("e"));
        assert_eq!(tables.queued(&t), vec![who("e")]);
    }

    #[tokio::test]
    async fn the_busy_estimate_follows_the_table() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables = Tables::<R>::new(tx);
        let calls = std::sync::atomic::AtomicU32::new(0);
        let t = key("t");
        assert_eq!(tables.poll_delay(&t), FIRST_ESTIMATE / 8);
        let Turn::Granted(turn) = tables.turn(&t, &who("a")) else {
            panic!("first");
        };
        turn.wrote();
        // Right after a write, the first look is due when the entry should
        // have settled.
        let delay = tables.poll_delay(&t);
        assert!(delay > Duration::from_millis(800) && delay <= FIRST_ESTIMATE);
        read(
            &tables,
            "t",
            Duration::ZERO,
            vec![R("a", "Pending")],
            &calls,
        )
        .await;
        tokio::time::sleep(Duration::from_millis(120)).await;
        read(
            &tables,
            "t",
            Duration::ZERO,
            vec![R("a", "Available")],
            &calls,
        )
        .await;
        // Settled after about 120 ms, seen at the second poll.
        let estimate = tables.table(&t).lock().estimate;
        assert!(
            estimate >= Duration::from_millis(100) && estimate < Duration::from_millis(500),
            "{estimate:?}"
        );
    }

    /// Poll like a writer waiting after a write: read at once (busy), then
    /// at each poll delay until the table is seen settled, `pending` after
    /// the write. Returns the estimate learnt.
    async fn cycle(tables: &Tables<R>, t: &TableKey, pending: Duration) -> Duration {
        let calls = std::sync::atomic::AtomicU32::new(0);
        let Turn::Granted(turn) = tables.turn(t, &who("w")) else {
            panic!("turn");
        };
        let wrote = std::time::Instant::now();
        turn.wrote();
        loop {
            let state = if wrote.elapsed() < pending {
                "Pending"
            } else {
                "Available"
            };
            let snap = read(
                tables,
                &t.table,
                Duration::ZERO,
                vec![R("e", state)],
                &calls,
            )
            .await;
            if snap.busy_entry().is_none() {
                return tables.table(t).lock().estimate;
            }
            tokio::time::sleep(tables.poll_delay(t)).await;
        }
    }

    #[tokio::test]
    async fn a_read_right_after_a_write_does_not_hold_the_estimate_up() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let tables = Tables::<R>::new(tx);
        let t = key("t");
        // The first cycle overshoots (the estimate starts long); every cycle
        // whose first poll finds the table settled lowers it, down to about
        // the real Pending time.
        let pending = Duration::from_millis(60);
        let mut estimates = vec![cycle(&tables, &t, pending).await];
        for _ in 0..10 {
            estimates.push(cycle(&tables, &t, pending).await);
        }
        assert!(estimates[1] < estimates[0], "{estimates:?}");
        let last = *estimates.last().unwrap();
        assert!(
            last < Duration::from_millis(200),
            "the estimate stays far above the table's 60 ms: {estimates:?}"
        );
    }

    #[tokio::test]
    async fn a_writer_waiting_behind_another_reads_nothing() {
        let (wake, _woken) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(wake);
        let t = key("ftb-w");
        tables
            .snapshot(&t, Duration::from_secs(60), || async {
                Ok::<_, ()>((vec![R("fwd-1", "Available")], 1))
            })
            .await
            .unwrap();
        let (first, second, third) = (who("a"), who("b"), who("c"));
        let Turn::Granted(turn) = tables.turn(&t, &first) else {
            panic!("the first writer goes")
        };
        assert!(matches!(tables.turn(&t, &second), Turn::Wait { .. }));
        assert!(matches!(tables.turn(&t, &third), Turn::Wait { .. }));
        turn.wrote();
        // The write made the snapshot stale; the second writer, now at the
        // head, gets no shortcut (it must decide on a fresh read) ...
        assert!(tables.for_waiter(&t, &second).is_none());
        // ... while the third, still behind it, keeps the cached copy.
        let cached = tables.for_waiter(&t, &third).expect("the cached snapshot");
        assert_eq!(cached.rows.len(), 1);
        // Not queued at all: no shortcut.
        assert!(tables.for_waiter(&t, &first).is_none());
        assert!(tables.for_waiter(&key("ftb-other"), &third).is_none());
    }

    #[tokio::test]
    async fn a_table_is_settling_only_until_its_estimate_has_passed() {
        let (wake, _woken) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(wake);
        let t = key("ftb-s");
        assert!(tables.settling(&t).is_none(), "never written");
        let Turn::Granted(turn) = tables.turn(&t, &who("a")) else {
            panic!("the first writer goes")
        };
        assert!(tables.settling(&t).is_none(), "nothing sent yet");
        turn.wrote();
        let left = tables.settling(&t).expect("just written");
        assert!(
            left <= FIRST_ESTIMATE && left > FIRST_ESTIMATE / 2,
            "{left:?}"
        );
        // Seen settled: nothing to wait for.
        tables
            .snapshot(&t, Duration::ZERO, || async {
                Ok::<_, ()>((vec![R("fwd-1", "Available")], 1))
            })
            .await
            .unwrap();
        assert!(tables.settling(&t).is_none());
    }
}
