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
//!   as old as the caller allows (its drift interval). A refresh reads the
//!   whole table, page by page, unless reading the entries that changed since
//!   (the one natop wrote, those that were busy) one by one takes fewer calls
//!   than the pages did: then those entries are read by id and patched into
//!   the snapshot, which keeps the age of its last whole read.
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
    /// When the last read of the whole table started.
    pub fetched: Instant,
    /// When the last read of the entries that changed since started (the
    /// same as `fetched` until one is patched in): every entry natop wrote
    /// before then is as it was then.
    pub checked: Instant,
    /// How many describe calls (pages) the read of the whole table took.
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

    /// A whole-table read that started at `fetched` and took `pages` calls.
    pub fn read(rows: Vec<R>, fetched: Instant, pages: u32) -> Snapshot<R> {
        Snapshot {
            rows,
            fetched,
            checked: fetched,
            pages,
        }
    }

    /// This snapshot with `rows` (read by id at `checked`) in place of the
    /// entries of the same ids, and without the entries in `gone` (read by id
    /// and not found, after natop deleted them).
    fn patched(&self, rows: Vec<R>, gone: &[String], checked: Instant) -> Snapshot<R> {
        let mut patched: Vec<R> = self
            .rows
            .iter()
            .filter(|r| !gone.iter().any(|g| g == r.id()) && !rows.iter().any(|n| n.id() == r.id()))
            .cloned()
            .collect();
        patched.extend(rows);
        Snapshot {
            rows: patched,
            fetched: self.fetched,
            checked,
            pages: self.pages,
        }
    }
}

/// An entry natop wrote: the one to read by id when the table is next read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// Its id.
    pub id: String,
    /// The write was a delete: a read by id that does not find it means the
    /// deletion finished.
    pub deleted: bool,
}

/// How to bring a table's snapshot up to date.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    /// The cached snapshot will do.
    Cached,
    /// Read these entries by id and patch them into the cached snapshot.
    Points(Vec<String>),
    /// Read the whole table.
    Whole,
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
/// The estimate stays this much above the floor (see `State::floor`).
const FLOOR_MARGIN: f64 = 1.03;
/// What is left of the floor after each write that settled.
const FLOOR_FADE: f64 = 0.995;
/// The same, after eight writes in a row seen settled at their first poll.
const FLOOR_FADE_LONG: f64 = 0.97;
/// A head of queue that has not come back for this long since it became the
/// head (and was woken for its turn) has lost its turn.
const STALE_HEAD: Duration = Duration::from_secs(30);
/// A waiter that has not come back for this long has left the queue: its
/// object was deleted behind natop's back, moved, or is no longer selected.
/// A live waiter comes back at least every 30 s (its planned look, see `rechecks`), so twice that
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
    /// The entry the last write made, changed or deleted, when it was
    /// accepted.
    written: Option<Written>,
    /// Whether the last write has not yet been seen to settle.
    unsettled: bool,
    /// Whether an entry was seen busy after the estimate had elapsed since
    /// the last write (the estimate was too short).
    late_busy: bool,
    /// The longest time after the last write the table was seen busy: it
    /// settled after that. When the estimate was too short, the new one is
    /// this and a poll step, not the time of the first read that saw it
    /// settled, which may have come late (a reconcile delayed by a busy
    /// operator or API server) and would hold every later writer that long.
    busy_seen: Duration,
    /// Consecutive writes seen settled at their first poll after the
    /// estimate (the estimate may be far too long).
    early_settles: u32,
    /// How long entries of this table stay busy after a write.
    estimate: Duration,
    /// The longest time after a write the table was lately seen busy: the
    /// estimate is not lowered below it (and a margin), however often the
    /// first poll finds the table settled. It fades by 0.5 % a write, so the
    /// estimate follows a table that becomes faster.
    floor: Duration,
    queue: VecDeque<Waiter>,
    /// The waiter at the head of the queue, and since when: a head is
    /// passed over only when it has not come back for [`STALE_HEAD`] since
    /// it became the head. Its last visit may be older: a waiter deep in a
    /// long queue is not expected to come back until it is woken.
    head: Option<(ObjectName, Instant)>,
    writing: bool,
}

impl<R> Default for State<R> {
    fn default() -> Self {
        State {
            snapshot: None,
            last_write: None,
            written: None,
            unsettled: false,
            late_busy: false,
            busy_seen: Duration::ZERO,
            early_settles: 0,
            estimate: FIRST_ESTIMATE,
            floor: Duration::ZERO,
            queue: VecDeque::new(),
            head: None,
            writing: false,
        }
    }
}

impl<R> State<R> {
    /// Note who is at the head of the queue now (after the queue changed):
    /// a new head is the head since `now`.
    fn note_head(&mut self, now: Instant) {
        let front = self.queue.front().map(|w| &w.who);
        if front != self.head.as_ref().map(|(who, _)| who) {
            self.head = front.map(|who| (who.clone(), now));
        }
    }

    /// The head of the queue, and how long it has not come back since it
    /// became the head.
    fn head_idle(&self, now: Instant) -> Option<(&ObjectName, Duration)> {
        let front = self.queue.front()?;
        let since = match &self.head {
            Some((head, since)) if head == &front.who => front.touched.max(*since),
            _ => front.touched,
        };
        Some((&front.who, now.saturating_duration_since(since)))
    }

    /// Whether the head of the queue (not `who`) has lost its turn: it has
    /// not come back for [`STALE_HEAD`] since it became the head.
    fn head_is_stale(&self, who: &ObjectName, now: Instant) -> bool {
        self.head_idle(now)
            .is_some_and(|(head, idle)| head != who && idle > STALE_HEAD)
    }

    fn step(&self) -> Duration {
        (self.estimate / 8).clamp(MIN_STEP, MAX_STEP)
    }

    /// How long until the last write may have settled, while it cannot have
    /// yet.
    fn settling(&self) -> Option<Duration> {
        let elapsed = self.last_write?.elapsed();
        (self.unsettled && elapsed < self.estimate).then(|| (self.estimate - elapsed).max(MIN_STEP))
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
    /// Describe calls (pages, and reads of entries by id) those refreshes took.
    pub pages: u64,
    /// Writes sent.
    pub writes: u64,
}

/// An entry natop created whose id its object's status does not show yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The table.
    pub table: String,
    /// The new entry's id.
    pub id: String,
    /// When the create was answered.
    pub at: Instant,
}

/// Every table of one kind (DNAT or SNAT).
pub struct Tables<R: Row> {
    tables: Mutex<HashMap<TableKey, Arc<Table<R>>>>,
    /// By object UID: entries created whose id is not yet in the status.
    created: Mutex<HashMap<String, Created>>,
    wake: UnboundedSender<ObjectName>,
    stats: Mutex<TableStats>,
    last_sweep: Mutex<Option<Instant>>,
    /// When each object in sync is looked at again.
    rechecks: super::rechecks::Rechecks,
}

impl<R: Row> Tables<R> {
    /// Tables whose writers are woken through `wake` when their turn comes.
    pub fn new(wake: UnboundedSender<ObjectName>) -> Tables<R> {
        Tables {
            tables: Mutex::new(HashMap::new()),
            created: Mutex::new(HashMap::new()),
            wake,
            stats: Mutex::new(TableStats::default()),
            last_sweep: Mutex::new(None),
            rechecks: super::rechecks::Rechecks::default(),
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
                state.snapshot.as_ref().map(|s| s.checked),
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
    /// write and is young enough (`max_age` since the whole table was read,
    /// and the poll step while an entry is busy); else the cached one with the
    /// entries that changed read again by id through `fetch_one` (an entry or
    /// none), when that takes fewer calls than the pages of the whole table;
    /// else a read of the whole table through `fetch`, which returns the rows
    /// and the number of describe calls it took. Concurrent callers share one
    /// read.
    pub async fn snapshot<E, F, Fut, G, GFut>(
        &self,
        key: &TableKey,
        max_age: Duration,
        fetch: F,
        fetch_one: G,
    ) -> Result<Arc<Snapshot<R>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Vec<R>, u32), E>>,
        G: Fn(String) -> GFut,
        GFut: Future<Output = Result<Option<R>, E>>,
    {
        let table = self.table(key);
        let _refresh = table.refresh.lock().await;
        let (plan, cached, written, since_write, estimate) = {
            let state = table.lock();
            (
                plan(&state, max_age, Instant::now()),
                state.snapshot.clone(),
                state.written.clone(),
                state.last_write.map(|w| w.elapsed()),
                state.estimate,
            )
        };
        if plan != Plan::Cached {
            tracing::debug!(
                table = %key.table,
                ?plan,
                ?max_age,
                ?since_write,
                ?estimate,
                age = ?cached.as_ref().map(|c| c.fetched.elapsed()),
                checked = ?cached.as_ref().map(|c| c.checked.elapsed()),
                busy = ?cached.as_ref().and_then(|c| c.busy_entry().map(|r| r.id().to_string())),
                "reading table"
            );
        }
        if let (Plan::Points(ids), Some(base)) = (&plan, &cached) {
            let started = Instant::now();
            let mut rows = Vec::new();
            let mut gone = Vec::new();
            let mut calls = 0;
            for id in ids {
                calls += 1;
                let found = fetch_one(id.clone()).await;
                if found.is_err() {
                    self.count(1, calls);
                }
                match found? {
                    Some(row) => rows.push(row),
                    None if written.as_ref().is_some_and(|w| w.deleted && &w.id == id) => {
                        gone.push(id.clone());
                    }
                    // Not found, and not deleted by natop: only a whole read
                    // says what the table holds.
                    None => {
                        gone.clear();
                        rows.clear();
                        break;
                    }
                }
            }
            self.count(1, calls);
            if rows.len() + gone.len() == ids.len() {
                let snapshot = Arc::new(base.patched(rows, &gone, started));
                return Ok(self.keep(&table, snapshot, started));
            }
        }
        if let (Plan::Cached, Some(cached)) = (plan, cached) {
            return Ok(cached);
        }
        let started = Instant::now();
        let (rows, pages) = fetch().await?;
        self.count(1, pages as usize);
        Ok(self.keep(
            &table,
            Arc::new(Snapshot::read(rows, started, pages)),
            started,
        ))
    }

    fn count(&self, refreshes: u64, calls: usize) {
        let mut stats = self.stats.lock().unwrap_or_else(PoisonError::into_inner);
        stats.refreshes += refreshes;
        stats.pages += calls as u64;
    }

    /// Learn from `snapshot` (read from `started` on) and cache it unless a
    /// write went out since.
    fn keep(
        &self,
        table: &Table<R>,
        snapshot: Arc<Snapshot<R>>,
        started: Instant,
    ) -> Arc<Snapshot<R>> {
        let mut state = table.lock();
        learn(&mut state, &snapshot);
        if state.last_write.is_none_or(|w| w <= started) {
            state.snapshot = Some(snapshot.clone());
        }
        snapshot
    }

    /// The table's cached snapshot, however old, when `who` waits in its
    /// queue behind another writer, or at its head while the last write
    /// cannot have settled yet: such a writer only learns that it still waits
    /// (it decides again on a fresh read once it may write), so a read for it
    /// would be wasted. The head is woken the moment the write before it was
    /// sent, when a read shows nothing but that write's entry busy.
    pub fn for_waiter(&self, key: &TableKey, who: &ObjectName) -> Option<Arc<Snapshot<R>>> {
        let table = self.existing(key)?;
        let state = table.lock();
        let position = state.queue.iter().position(|w| &w.who == who)?;
        if position == 0 && !state.writing && state.settling().is_none() {
            return None;
        }
        state.snapshot.clone()
    }

    /// The table's cached snapshot, read at most `max_age` ago, for `who`,
    /// an object that has yet to write its entry (nothing recorded, no id)
    /// and is not queued yet, while the table is taken: others wait for it,
    /// a write is in flight, or the last write cannot have settled. Such an
    /// object only records its create and joins the queue behind them; it
    /// decides again on a fresh read once at the head, so a read for it now
    /// would be wasted (and would come at any time, mostly while the last
    /// write is still Pending).
    pub fn for_newcomer(
        &self,
        key: &TableKey,
        who: &ObjectName,
        max_age: Duration,
    ) -> Option<Arc<Snapshot<R>>> {
        let table = self.existing(key)?;
        let state = table.lock();
        let taken = state.queue.iter().any(|w| &w.who != who)
            || state.writing
            || state.settling().is_some();
        let queued = state.queue.iter().any(|w| &w.who == who);
        let snapshot = state.snapshot.clone()?;
        (taken && !queued && snapshot.fetched.elapsed() <= max_age).then_some(snapshot)
    }

    /// The table's cached snapshot for an object that only looks at its own
    /// entry `id`: when the whole table was read at most `max_age` ago, it
    /// shows that entry settled, and no write since was to that entry (or
    /// unknown). A writer reads the table before it writes, so a snapshot
    /// behind the last write is behind that write only: the writes it misses
    /// are to other entries, which change nothing this object looks at.
    pub fn settled_for(
        &self,
        key: &TableKey,
        max_age: Duration,
        id: &str,
    ) -> Option<Arc<Snapshot<R>>> {
        let table = self.existing(key)?;
        let state = table.lock();
        let snapshot = state.snapshot.clone()?;
        let behind = state.last_write.is_some_and(|w| w > snapshot.checked);
        let own_write = state.written.as_ref().is_none_or(|w| w.id == id);
        (!(behind && own_write)
            && snapshot.fetched.elapsed() <= max_age
            && snapshot.get(id).is_some_and(|r| !locks_table(r.status())))
        .then_some(snapshot)
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
        self.existing(key)?.lock().settling()
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
        state.note_head(now);
        // A head that stopped coming back (its object was deleted, or its
        // reconcile keeps failing) goes to the back of the queue, and the
        // next is woken for its turn.
        if !state.writing && state.queue.len() > 1 && state.head_is_stale(who, now) {
            if let Some(stale) = state.queue.pop_front() {
                tracing::warn!(
                    writer = ?stale.who,
                    table = %key.table,
                    "the first writer in the table's queue did not come back for its turn: it goes to the back"
                );
                state.queue.push_back(stale);
            }
            state.note_head(now);
            if let Some(next) = state.queue.front().filter(|w| &w.who != who) {
                let _ = self.wake.send(next.who.clone());
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
                granted: now,
            })
        } else {
            let ahead = position.max(1);
            if position == 0 {
                // Our own earlier turn is still in flight: nothing to do.
            } else if let Some((head, idle)) = state.head_idle(now)
                && !state.writing
                && idle > Duration::from_secs(5)
            {
                // Nudge a head that may have missed its wake-up.
                let _ = self.wake.send(head.clone());
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
            state.note_head(Instant::now());
            (was_head && !state.writing)
                .then(|| state.queue.front().map(|w| w.who.clone()))
                .flatten()
        };
        if let Some(next) = next {
            let _ = self.wake.send(next);
        }
    }

    /// Remember that the object with UID `uid` created entry `created`,
    /// until its status shows it ([`Tables::recorded`]). The status
    /// recorded the create before it was sent (its ClientToken), so a natop
    /// that restarts before that learns the id again from the cloud.
    pub fn created(&self, uid: &str, created: Created) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(uid.to_string(), created);
    }

    /// The entry the object with UID `uid` created that its status does not
    /// show yet: `status_id` is the id its status shows (once that is the
    /// entry, or any other, natop forgets it).
    pub fn unrecorded(&self, uid: &str, status_id: Option<&str>) -> Option<Created> {
        let mut created = self.created.lock().unwrap_or_else(PoisonError::into_inner);
        if status_id.is_some() {
            created.remove(uid);
            return None;
        }
        created.get(uid).cloned()
    }

    /// Forget what the object with UID `uid` created (it is gone).
    pub fn forget_created(&self, uid: &str) {
        self.created
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(uid);
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

    /// Look at `who` (in sync) again after `after`, woken through the wake
    /// channel (see [`super::rechecks`]).
    pub fn recheck_after(&self, who: ObjectName, after: Duration) {
        self.rechecks.at(who, Instant::now() + after);
    }

    /// `who` needs no look of its own (it lets go of its tables).
    pub fn forget_recheck(&self, who: &ObjectName) {
        self.rechecks.forget(who);
    }

    /// Wake the objects whose look is due at `now`; how many there were.
    pub fn wake_due(&self, now: Instant) -> usize {
        let due = self.rechecks.due(now);
        let count = due.len();
        for who in due {
            // A controller that has stopped needs no wake-up.
            let _ = self.wake.send(who);
        }
        count
    }

    /// How many objects have a look planned.
    pub fn rechecks_planned(&self) -> usize {
        self.rechecks.len()
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

/// How to bring the table's snapshot up to date for a caller that accepts a
/// whole read `max_age` old: keep it when it was read after the last write
/// and, while an entry is busy, within the poll step; read by id the entry
/// natop wrote and the busy ones when the whole read is young enough and
/// that takes fewer calls than its pages; read the whole table otherwise.
fn plan<R: Row>(state: &State<R>, max_age: Duration, now: Instant) -> Plan {
    let Some(snapshot) = state.snapshot.as_ref() else {
        return Plan::Whole;
    };
    if now.duration_since(snapshot.fetched) > max_age {
        return Plan::Whole;
    }
    let behind_write = state.last_write.is_some_and(|w| w > snapshot.checked);
    let busy: Vec<&str> = snapshot
        .rows
        .iter()
        .filter(|r| locks_table(r.status()))
        .map(Row::id)
        .collect();
    let stale_busy = !busy.is_empty() && now.duration_since(snapshot.checked) > state.step();
    if !behind_write && !stale_busy {
        return Plan::Cached;
    }
    let mut ids: Vec<String> = busy.into_iter().map(String::from).collect();
    if behind_write {
        // A write whose entry is unknown (it failed, or wrote none) may have
        // changed anything.
        let Some(written) = &state.written else {
            return Plan::Whole;
        };
        if !ids.contains(&written.id) {
            ids.push(written.id.clone());
        }
    }
    if ids.is_empty() || ids.len() >= snapshot.pages as usize {
        Plan::Whole
    } else {
        Plan::Points(ids)
    }
}

/// Learn from a new snapshot how long entries of the table stay busy. A busy
/// read before the estimate has elapsed says nothing about the estimate (the
/// read right after a write always sees the new entry Pending) but raises the
/// floor; one after it says the estimate was too short, and the new one is the
/// last time the table was seen busy and the margin (3 %), or the time it was
/// then seen settled if that came sooner. Not that later time itself: the
/// entry settled somewhere between the two reads, and every later writer
/// would wait the whole poll step too. A table seen settled without such a
/// read lowers the estimate, as it may settle sooner still: by 10 % the first
/// time, 20 % and then 30 % when it keeps happening (the estimate is far too
/// long, as the first guess of 1 s is for a table of 500 ms); never below the
/// floor and the margin, since each time the estimate falls short costs one
/// more read and a poll step.
fn learn<R: Row>(state: &mut State<R>, snapshot: &Snapshot<R>) {
    let Some(at) = state.last_write else {
        return;
    };
    if !state.unsettled || snapshot.checked < at {
        return;
    }
    let took = snapshot.checked.duration_since(at);
    if snapshot.busy_entry().is_some() {
        state.late_busy |= took >= state.estimate;
        state.floor = state.floor.max(took);
        state.busy_seen = state.busy_seen.max(took);
        return;
    }
    let floor = state.floor.mul_f64(FLOOR_MARGIN);
    // A floor that has held the estimate up for many writes in a row may be
    // one the table has left behind (it became faster): it fades faster.
    let fade = if state.early_settles < 8 {
        FLOOR_FADE
    } else {
        FLOOR_FADE_LONG
    };
    state.floor = state.floor.mul_f64(fade);
    state.estimate = if state.late_busy {
        state.early_settles = 0;
        took.min(state.busy_seen.mul_f64(FLOOR_MARGIN).max(floor))
    } else {
        let factor = match state.early_settles {
            0 => 0.9,
            1 => 0.8,
            _ => 0.7,
        };
        state.early_settles = state.early_settles.saturating_add(1);
        state.estimate.min(took).mul_f64(factor).max(floor)
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
    /// When the turn was granted: every other writer of the table waits
    /// while it is held.
    granted: Instant,
}

/// A turn held longer than this (a slow cloud or API-server answer, or
/// retries) is logged: the table's other writers waited all that time.
const TURN_HELD_LONG: Duration = Duration::from_secs(10);

impl<R: Row> WriteTurn<'_, R> {
    /// A write was sent, and its outcome or the entry it wrote is unknown:
    /// snapshots from before now are stale (the next read reads the whole
    /// table), the next writer goes.
    pub fn wrote(self) {
        self.sent(None);
    }

    /// The write of entry `written` was accepted: snapshots from before now
    /// are stale (the next read may read that entry alone), the next writer
    /// goes.
    pub fn wrote_entry(self, written: Written) {
        self.sent(Some(written));
    }

    fn sent(mut self, written: Option<Written>) {
        {
            let mut state = self.table.lock();
            state.last_write = Some(Instant::now());
            state.written = written;
            state.unsettled = true;
            state.late_busy = false;
            state.busy_seen = Duration::ZERO;
        }
        self.tables
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .writes += 1;
        self.finish();
    }

    /// Log a turn held long.
    fn held(&self) {
        let held = self.granted.elapsed();
        if held > TURN_HELD_LONG {
            tracing::warn!(
                writer = ?self.who,
                held_s = held.as_secs_f64(),
                "a writer held its table's turn long: the table's other writers waited"
            );
        }
    }

    /// Nothing needed writing after all: the next writer goes.
    pub fn done(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        self.finished = true;
        self.held();
        let next = {
            let mut state = self.table.lock();
            state.writing = false;
            state.queue.retain(|w| w.who != self.who);
            state.note_head(Instant::now());
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
            self.held();
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

    /// A read by id where none may happen.
    async fn no_point(id: String) -> Result<Option<R>, ()> {
        panic!("no read by id expected, got one of {id}")
    }

    async fn read(
        tables: &Tables<R>,
        table: &str,
        max_age: Duration,
        rows: Vec<R>,
        calls: &std::sync::atomic::AtomicU32,
    ) -> Arc<Snapshot<R>> {
        tables
            .snapshot(
                &key(table),
                max_age,
                || async {
                    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, ()>((rows, 1))
                },
                no_point,
            )
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

    #[test]
    fn a_writer_that_waited_long_keeps_its_turn_once_woken() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(tx);
        // The writers queued 40 s ago (a long queue: each write takes its
        // Pending time) and have not come back since: they wait to be woken.
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(40))
            .expect("the clock has run for a minute");
        let Turn::Granted(turn) = tables.turn_at(&key("t"), &who("a"), long_ago) else {
            panic!("the first writer goes at once");
        };
        for name in ["b", "c", "d"] {
            assert!(matches!(
                tables.turn_at(&key("t"), &who(name), long_ago),
                Turn::Wait { .. }
            ));
        }
        // "a" is done: "b" is woken, and is the head from now.
        turn.done();
        assert_eq!(rx.try_recv().ok(), Some(who("b")));
        let now = Instant::now();
        // Another writer comes by before "b" does: "b" keeps its turn (its
        // last visit, 40 s ago, was before it was the head).
        assert!(matches!(
            tables.turn_at(&key("t"), &who("d"), now + Duration::from_millis(5)),
            Turn::Wait { .. }
        ));
        assert_eq!(tables.queued(&key("t")), [who("b"), who("c"), who("d")]);
        assert!(rx.try_recv().is_err(), "no nudge so soon");
        // "b" does not come back for its turn: after STALE_HEAD it goes to
        // the back, and the next head is woken.
        let later = now + STALE_HEAD + Duration::from_secs(1);
        assert!(matches!(
            tables.turn_at(&key("t"), &who("d"), later),
            Turn::Wait { .. }
        ));
        assert_eq!(tables.queued(&key("t")), [who("c"), who("d"), who("b")]);
        assert_eq!(rx.try_recv().ok(), Some(who("c")));
        // "c" has its own STALE_HEAD from then: not passed over at once.
        assert!(matches!(
            tables.turn_at(&key("t"), &who("d"), later + Duration::from_secs(1)),
            Turn::Wait { .. }
        ));
        assert_eq!(tables.queued(&key("t")), [who("c"), who("d"), who("b")]);
        let Turn::Granted(turn) =
            tables.turn_at(&key("t"), &who("c"), later + Duration::from_secs(2))
        else {
            panic!("the woken head takes its turn");
        };
        turn.done();
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
                    .snapshot(
                        &key("t"),
                        Duration::from_secs(60),
                        || async {
                            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok::<_, ()>((vec![R("a", "Available")], 2))
                        },
                        no_point,
                    )
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
    async fn a_planned_look_wakes_its_object_once_when_due() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let tables = Tables::<R>::new(tx);
        tables.recheck_after(who("a"), Duration::ZERO);
        tables.recheck_after(who("b"), Duration::from_secs(3600));
        tables.recheck_after(who("c"), Duration::ZERO);
        tables.forget_recheck(&who("c"));
        assert_eq!(tables.wake_due(Instant::now()), 1);
        assert_eq!(rx.try_recv().unwrap(), who("a"));
        assert!(rx.try_recv().is_err(), "b is not due, c was forgotten");
        assert_eq!(tables.wake_due(Instant::now()), 0);
        assert_eq!(tables.rechecks_planned(), 1);
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

    /// Writes on one table whose entries stay busy `pending(i)` after write
    /// `i`, in virtual time: the first poll when the estimate has passed,
    /// then one each poll step until the table is seen settled. Returns the
    /// reads each write took and the estimates learnt.
    fn simulate(writes: usize, pending: impl Fn(usize) -> Duration) -> (Vec<u32>, Vec<Duration>) {
        let (reads, estimates, _) = simulate_timed(writes, pending);
        (reads, estimates)
    }

    /// [`simulate`], also returning how long each write took until it was
    /// seen settled (the time the table's next writer waited).
    fn simulate_timed(
        writes: usize,
        pending: impl Fn(usize) -> Duration,
    ) -> (Vec<u32>, Vec<Duration>, Vec<Duration>) {
        let mut state = State::<R>::default();
        let mut now = Instant::now();
        let (mut reads, mut estimates, mut took) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..writes {
            let at = now;
            state.last_write = Some(at);
            state.unsettled = true;
            state.late_busy = false;
            state.busy_seen = Duration::ZERO;
            let mut poll = at + state.estimate;
            let mut n = 0;
            loop {
                n += 1;
                let busy = poll.duration_since(at) < pending(i);
                let snapshot = Snapshot {
                    rows: vec![R("e", if busy { "Pending" } else { "Available" })],
                    fetched: poll,
                    checked: poll,
                    pages: 1,
                };
                learn(&mut state, &snapshot);
                if !busy {
                    break;
                }
                poll += state.step();
            }
            reads.push(n);
            estimates.push(state.estimate);
            took.push(poll.duration_since(at));
            now = poll + Duration::from_millis(5);
        }
        (reads, estimates, took)
    }

    #[test]
    fn the_next_writer_waits_little_beyond_the_pending_time() {
        // What each write costs the table's next writer, from the write to
        // the read that sees it settled: the Pending time, the margin above
        // it, and the reads that came too soon. Once the estimate has found
        // the table (20 writes), about 3 % beyond it; over the first 100,
        // starting from the first guess of 1 s, within 6 % for 500 ms.
        let per_pending = |took: &[Duration], pending: Duration| {
            took.iter().sum::<Duration>().as_secs_f64()
                / (pending.as_secs_f64() * took.len() as f64)
        };
        for pending in [300, 500, 1000, 3000] {
            let pending = Duration::from_millis(pending);
            let (_, _, took) = simulate_timed(100, |_| pending);
            let steady = per_pending(&took[20..], pending);
            assert!(steady <= 1.04, "{pending:?}: {steady:.3} × Pending");
            if pending == Duration::from_millis(500) {
                let all = per_pending(&took, pending);
                assert!(all <= 1.06, "{pending:?}: {all:.3} × Pending over all");
            }
        }
        // Pending times that vary from write to write (480 to 520 ms).
        let pending = |i: usize| Duration::from_millis(480 + (i as u64 * 37 % 41));
        let (_, _, took) = simulate_timed(100, pending);
        let varied = per_pending(&took[20..], Duration::from_millis(500));
        assert!(varied <= 1.06, "varied: {varied:.3} × 500 ms");
    }

    #[test]
    fn a_steady_table_is_read_about_once_a_write() {
        for (name, pending) in [
            ("1 s, the first guess", 1000),
            ("500 ms", 500),
            ("3 s", 3000),
            ("60 ms", 60),
        ] {
            let (reads, estimates) = simulate(300, |_| Duration::from_millis(pending));
            // After the estimate has found the table (the first 100 writes).
            let later: u32 = reads[100..].iter().sum();
            let per_write = f64::from(later) / 200.0;
            eprintln!(
                "{name}: {per_write:.3} reads a write, last estimate {:?}",
                estimates.last()
            );
            assert!(
                per_write <= 1.15,
                "{name}: {per_write:.3} reads a write; estimates {:?}",
                &estimates[100..120]
            );
        }
    }

    #[test]
    fn a_late_look_at_a_settled_table_does_not_stretch_the_estimate() {
        // A table whose entries stay Pending 1.1 s, its estimate 1 s: the
        // poll at 1 s sees the entry busy, and the next poll comes 40 s
        // later (its reconcile was delayed). The entry settled between the
        // two: the estimate is about the busy sight and a step, not 40 s.
        let at = Instant::now();
        let fresh = || State::<R> {
            last_write: Some(at),
            unsettled: true,
            ..Default::default()
        };
        let mut state = fresh();
        let look = |state: &mut State<R>, after: Duration, status: &'static str| {
            let when = at + after;
            learn(
                state,
                &Snapshot {
                    rows: vec![R("e", status)],
                    fetched: when,
                    checked: when,
                    pages: 1,
                },
            );
        };
        look(&mut state, Duration::from_millis(1000), "Pending");
        look(&mut state, Duration::from_millis(1050), "Pending");
        look(&mut state, Duration::from_secs(40), "Available");
        assert!(
            state.estimate >= Duration::from_millis(1050)
                && state.estimate <= Duration::from_millis(1300),
            "{:?}",
            state.estimate
        );
        // Seen settled at the next step, as usual: it settled between the
        // two looks, and the estimate is the busy sight and the margin.
        let mut state = fresh();
        look(&mut state, Duration::from_millis(1000), "Pending");
        look(&mut state, Duration::from_millis(1100), "Available");
        assert_eq!(
            state.estimate,
            Duration::from_millis(1000).mul_f64(FLOOR_MARGIN)
        );
        // Seen settled sooner than the margin: that time.
        let mut state = fresh();
        look(&mut state, Duration::from_millis(1000), "Pending");
        look(&mut state, Duration::from_millis(1010), "Available");
        assert_eq!(state.estimate, Duration::from_millis(1010));
    }

    #[test]
    fn the_estimate_follows_a_table_that_becomes_faster_or_slower() {
        // 1 s for 100 writes, then 300 ms: within 60 writes the estimate is
        // near 300 ms again.
        let (_, estimates) = simulate(200, |i| {
            Duration::from_millis(if i < 100 { 1000 } else { 300 })
        });
        assert!(
            estimates[99] >= Duration::from_millis(950),
            "{:?}",
            estimates[99]
        );
        let after = estimates[160];
        assert!(after <= Duration::from_millis(400), "{estimates:?}");
        // 300 ms, then 1 s: the first write that outlasts the estimate sets it.
        let (reads, estimates) = simulate(200, |i| {
            Duration::from_millis(if i < 100 { 300 } else { 1000 })
        });
        assert!(
            estimates[100] >= Duration::from_secs(1),
            "{:?}",
            estimates[100]
        );
        let later: u32 = reads[110..].iter().sum();
        assert!(f64::from(later) / 90.0 <= 1.15, "{reads:?}");
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
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { Ok::<_, ()>((vec![R("fwd-1", "Available")], 1)) },
                no_point,
            )
            .await
            .unwrap();
        let (first, second, third) = (who("a"), who("b"), who("c"));
        let Turn::Granted(turn) = tables.turn(&t, &first) else {
            panic!("the first writer goes")
        };
        assert!(matches!(tables.turn(&t, &second), Turn::Wait { .. }));
        assert!(matches!(tables.turn(&t, &third), Turn::Wait { .. }));
        turn.wrote();
        // The write made the snapshot stale, but it cannot have settled yet:
        // the second writer, now at the head, would read only that it waits.
        assert!(tables.for_waiter(&t, &second).is_some());
        // Once it may have settled, the head gets no shortcut (it must decide
        // on a fresh read) ...
        tables.table(&t).lock().estimate = Duration::ZERO;
        assert!(tables.for_waiter(&t, &second).is_none());
        // ... while the third, still behind it, keeps the cached copy.
        let cached = tables.for_waiter(&t, &third).expect("the cached snapshot");
        assert_eq!(cached.rows.len(), 1);
        // Not queued at all: no shortcut.
        assert!(tables.for_waiter(&t, &first).is_none());
        assert!(tables.for_waiter(&key("ftb-other"), &third).is_none());
    }

    #[tokio::test]
    async fn a_newcomer_reads_only_a_table_no_one_else_has_taken() {
        let (wake, _woken) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(wake);
        let t = key("ftb-n");
        let (writer, next, newcomer) = (who("a"), who("b"), who("c"));
        let max_age = Duration::from_secs(60);
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_none(),
            "never read"
        );
        tables
            .snapshot(
                &t,
                max_age,
                || async { Ok::<_, ()>((vec![R("fwd-1", "Available")], 1)) },
                no_point,
            )
            .await
            .unwrap();
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_none(),
            "an idle table: the newcomer may write at once, on a fresh read"
        );
        let Turn::Granted(turn) = tables.turn(&t, &writer) else {
            panic!("the first writer goes")
        };
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_some(),
            "a write in flight"
        );
        turn.wrote();
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_some(),
            "the write cannot have settled"
        );
        tables.table(&t).lock().estimate = Duration::ZERO;
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_none(),
            "settled, and no one waits"
        );
        assert!(matches!(tables.turn(&t, &next), Turn::Granted(_)));
        assert!(
            tables.for_newcomer(&t, &newcomer, max_age).is_some(),
            "another object holds the table"
        );
        assert!(
            tables.for_newcomer(&t, &next, max_age).is_none(),
            "the queued one is not a newcomer"
        );
        assert!(
            tables.for_newcomer(&t, &newcomer, Duration::ZERO).is_none(),
            "a snapshot older than the drift interval is read again"
        );
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
            .snapshot(
                &t,
                Duration::ZERO,
                || async { Ok::<_, ()>((vec![R("fwd-1", "Available")], 1)) },
                no_point,
            )
            .await
            .unwrap();
        assert!(tables.settling(&t).is_none());
    }

    #[test]
    fn a_refresh_reads_by_id_only_what_changed_and_only_when_that_is_cheaper() {
        let t0 = Instant::now();
        let now = t0 + Duration::from_secs(3);
        let state = |pages: u32, rows: Vec<R>, wrote: Option<(Duration, Option<&str>)>| {
            let mut state = State::<R> {
                snapshot: Some(Arc::new(Snapshot::read(rows, t0, pages))),
                ..State::default()
            };
            if let Some((after, id)) = wrote {
                state.last_write = Some(t0 + after);
                state.written = id.map(|id| Written {
                    id: id.into(),
                    deleted: false,
                });
            }
            state
        };
        let idle = || vec![R("fwd-1", "Available"), R("fwd-2", "Available")];
        let busy = || vec![R("fwd-1", "Available"), R("fwd-2", "Pending")];
        let a_minute = Duration::from_secs(60);
        let after = Duration::from_secs(1);
        for (name, state, max_age, expected) in [
            ("nothing read yet", State::default(), a_minute, Plan::Whole),
            (
                "read after the last write, nothing busy",
                state(2, idle(), None),
                a_minute,
                Plan::Cached,
            ),
            (
                "the whole read is older than the caller accepts",
                state(2, idle(), None),
                Duration::from_secs(2),
                Plan::Whole,
            ),
            (
                "natop wrote fwd-3 since, two pages: read it alone",
                state(2, idle(), Some((after, Some("fwd-3")))),
                a_minute,
                Plan::Points(vec!["fwd-3".into()]),
            ),
            (
                "natop wrote since, one page: a whole read costs as much",
                state(1, idle(), Some((after, Some("fwd-3")))),
                a_minute,
                Plan::Whole,
            ),
            (
                "a write whose entry is unknown: anything may have changed",
                state(3, idle(), Some((after, None))),
                a_minute,
                Plan::Whole,
            ),
            (
                "an entry busy for longer than the poll step, and the written one",
                state(3, busy(), Some((after, Some("fwd-3")))),
                a_minute,
                Plan::Points(vec!["fwd-2".into(), "fwd-3".into()]),
            ),
            (
                "two entries to read by id, two pages: no cheaper",
                state(2, busy(), Some((after, Some("fwd-3")))),
                a_minute,
                Plan::Whole,
            ),
            (
                "the write came before the read",
                state(2, idle(), Some((Duration::ZERO, Some("fwd-3")))),
                a_minute,
                Plan::Cached,
            ),
        ] {
            assert_eq!(plan(&state, max_age, now), expected, "{name}");
        }
        // A busy entry seen within the poll step: no read at all.
        let fresh = state(2, busy(), None);
        assert_eq!(plan(&fresh, a_minute, t0 + fresh.step() / 2), Plan::Cached);
    }

    #[tokio::test]
    async fn entries_read_by_id_are_patched_into_the_snapshot() {
        let (wake, _woken) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(wake);
        let t = key("ftb-p");
        let whole =
            || async { Ok::<_, ()>((vec![R("fwd-1", "Available"), R("fwd-2", "Available")], 2)) };
        tables
            .snapshot(&t, Duration::from_secs(60), whole, no_point)
            .await
            .unwrap();
        // natop creates fwd-3: the next refresh reads that entry alone.
        let Turn::Granted(turn) = tables.turn(&t, &who("a")) else {
            panic!("the first writer goes")
        };
        turn.wrote_entry(Written {
            id: "fwd-3".into(),
            deleted: false,
        });
        let asked = std::sync::Mutex::new(Vec::new());
        let by_id = |id: String| {
            asked.lock().unwrap().push(id.clone());
            async move { Ok::<_, ()>(Some(R("fwd-3", "Available"))) }
        };
        let snap = tables
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { panic!("no whole read") },
                by_id,
            )
            .await
            .unwrap();
        assert_eq!(*asked.lock().unwrap(), ["fwd-3"]);
        let mut ids: Vec<&str> = snap.rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["fwd-1", "fwd-2", "fwd-3"]);
        assert!(snap.checked > snap.fetched);
        assert_eq!(tables.stats().pages, 3, "two pages, then one read by id");
        // Cached now: the same snapshot, no call.
        let again = tables
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { panic!("no whole read") },
                no_point,
            )
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&snap, &again));

        // natop deletes fwd-1: not found by id means the deletion finished.
        let Turn::Granted(turn) = tables.turn(&t, &who("b")) else {
            panic!("the next writer goes")
        };
        turn.wrote_entry(Written {
            id: "fwd-1".into(),
            deleted: true,
        });
        let snap = tables
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { panic!("no whole read") },
                |_| async { Ok::<_, ()>(None) },
            )
            .await
            .unwrap();
        let mut ids: Vec<&str> = snap.rows.iter().map(|r| r.0).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["fwd-2", "fwd-3"]);

        // natop modifies fwd-2 and a read by id does not find it: only a
        // whole read says what the table holds.
        let Turn::Granted(turn) = tables.turn(&t, &who("c")) else {
            panic!("the next writer goes")
        };
        turn.wrote_entry(Written {
            id: "fwd-2".into(),
            deleted: false,
        });
        let snap = tables
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { Ok::<_, ()>((vec![R("fwd-3", "Available")], 1)) },
                |_| async { Ok::<_, ()>(None) },
            )
            .await
            .unwrap();
        assert_eq!(snap.rows.len(), 1);
        assert_eq!(snap.checked, snap.fetched, "a whole read");
    }

    #[tokio::test]
    async fn an_object_with_a_settled_entry_reads_nothing_for_others_writes() {
        let (wake, _woken) = mpsc::unbounded_channel();
        let tables: Tables<R> = Tables::new(wake);
        let t = key("ftb-o");
        assert!(
            tables
                .settled_for(&t, Duration::from_secs(60), "fwd-1")
                .is_none()
        );
        tables
            .snapshot(
                &t,
                Duration::from_secs(60),
                || async { Ok::<_, ()>((vec![R("fwd-1", "Available"), R("fwd-2", "Pending")], 1)) },
                no_point,
            )
            .await
            .unwrap();
        let a_minute = Duration::from_secs(60);
        let write = |id: Option<&str>| {
            let Turn::Granted(turn) = tables.turn(&t, &who("w")) else {
                panic!("the writer goes")
            };
            match id {
                Some(id) => turn.wrote_entry(Written {
                    id: id.into(),
                    deleted: false,
                }),
                None => turn.wrote(),
            }
        };
        write(Some("fwd-1"));
        assert!(
            tables.settled_for(&t, a_minute, "fwd-1").is_none(),
            "its own write since"
        );
        write(None);
        assert!(
            tables.settled_for(&t, a_minute, "fwd-1").is_none(),
            "an unknown write"
        );
        tables
            .snapshot(
                &t,
                a_minute,
                || async { Ok::<_, ()>((vec![R("fwd-1", "Available"), R("fwd-2", "Pending")], 1)) },
                no_point,
            )
            .await
            .unwrap();
        write(Some("fwd-3"));
        assert!(
            tables.settled_for(&t, a_minute, "fwd-1").is_some(),
            "another's write"
        );
        assert!(tables.settled_for(&t, a_minute, "fwd-2").is_none(), "busy");
        assert!(
            tables.settled_for(&t, a_minute, "fwd-9").is_none(),
            "not in it"
        );
        assert!(
            tables.settled_for(&t, Duration::ZERO, "fwd-1").is_none(),
            "too old"
        );
        // A creator learns of its new entry from the next writer's read,
        // though that writer wrote since.
        assert!(
            tables.settled_for(&t, a_minute, "fwd-3").is_none(),
            "created since the read"
        );
        tables
            .snapshot(
                &t,
                a_minute,
                || async {
                    Ok::<_, ()>((vec![R("fwd-1", "Available"), R("fwd-3", "Available")], 1))
                },
                no_point,
            )
            .await
            .unwrap();
        write(Some("fwd-4"));
        assert!(
            tables.settled_for(&t, a_minute, "fwd-3").is_some(),
            "read since its create"
        );
    }
}
