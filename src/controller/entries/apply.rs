//! Act: bring an entry to its spec. [`apply`] follows the references, reads
//! the table, asks [`decide`](super::decide) and runs the step it gives: a
//! create (recorded in `status.creating` first), a claim or a replay of a
//! create, or a modify, each in the table's turn on a fresh snapshot.

use std::sync::Arc;
use std::time::Duration;

use crate::controller::engine::Action;
use kube::ResourceExt;
use tracing::warn;

use super::decide::{Adoption, Step, decide, describe_entry, expected_create, known_id};
use super::tables::{Created, Row, Snapshot, Turn, Written, locks_table};
use super::target::{NoTarget, Target, gateway_gone, target};
use super::{CREATE_MAX_AGE, EntryKind, EntryStatus, UNRECORDED_HOLD, WAITING, record, writer};
use crate::api::{ManagementPolicy, PendingCreate};
use crate::cloud::CloudError;
use crate::controller::Context;
use crate::controller::engine::{self, Draft, was_ready};
use crate::controller::identity::client_token;
use crate::controller::location;
use crate::controller::reconcile::{self, ReconcileError, key, tell};
use crate::controller::status::Verdict;

pub(super) async fn snapshot<K: EntryKind>(
    ctx: &Context,
    target: &Target<K>,
    max_age: Duration,
) -> Result<Arc<Snapshot<K::Row>>, CloudError> {
    let (client, region, table) = (&target.client, &target.key.region, &target.key.table);
    K::tables(ctx)
        .snapshot(
            &target.key,
            max_age,
            || K::describe(client, region, table),
            |id| async move { K::describe_one(client, region, table, &id).await },
        )
        .await
}

/// Entry `id`, which a listing of its table did not show, by a read of that
/// one entry. A listing is read page by page and the service's pages are not
/// atomic: entries that finish deleting between two pages shift later ones
/// past the reader. So absence is never concluded from a listing; when the
/// entry exists, the table's cached snapshot is dropped so that the next
/// reader reads it again.
pub(super) async fn confirm_missing<K: EntryKind>(
    ctx: &Context,
    target: &Target<K>,
    id: &str,
) -> Result<Option<K::Row>, CloudError> {
    let row = K::describe_one(&target.client, &target.key.region, &target.key.table, id).await?;
    if row.is_some() {
        tracing::info!(
            entry = id,
            table = %target.key.table,
            "an entry missing from its table's listing exists; reading the table again"
        );
        K::tables(ctx).invalidate(&target.key);
    }
    Ok(row)
}

/// An entry with nothing to do for a while (in sync until its next drift
/// check, or waiting for its turn, gateway or package, which wake it
/// sooner): looked at again after `after` through the table queue's wake
/// channel, not the controller's scheduler (see [`super::rechecks`]).
pub(super) fn recheck_after<K: EntryKind>(entry: &K, ctx: &Context, after: Duration) -> Action {
    K::tables(ctx).recheck_after(writer(entry), after);
    Action::await_change()
}

pub(super) async fn apply<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    draft: &mut Draft<K::Status>,
) -> Result<Action, ReconcileError> {
    let object = key(entry);
    let who = writer(entry);
    let tables = K::tables(ctx);
    if let Err(message) = entry.validate() {
        draft.verdict = Verdict::stalled("InvalidSpec", message);
        tables.forget(&who);
        ctx.pacing.settled(&object);
        return Ok(Action::await_change());
    }
    let stall = |draft: &mut Draft<K::Status>, reason: &str, message: String| {
        draft.verdict = Verdict::stalled(reason, message);
        tables.forget(&who);
        ctx.pacing.settled(&object);
        Ok(Action::await_change())
    };
    // natop records where an entry goes before creating it.
    let placed = draft.status.fields().location.is_some() && draft.status.fields().table.is_some();
    let target = match target(entry, ctx, false).await? {
        Ok(target) => target,
        Err(NoTarget::Wait(verdict)) => {
            draft.verdict = verdict;
            tables.forget(&who);
            return Ok(recheck_after(entry, ctx, WAITING));
        }
        Err(NoTarget::Stall(verdict)) => {
            draft.verdict = verdict;
            tables.forget(&who);
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
    };
    let what = describe_entry(draft.status.fields().id.as_deref());
    if let Err(message) = location::check(
        draft.status.fields().location.as_ref(),
        &target.location,
        &what,
    ) {
        return stall(draft, location::LOCATION_CHANGED, message);
    }
    if let (Some(old), Some(_)) = (
        draft.status.fields().table.clone(),
        &draft.status.fields().id,
    ) && old != target.key.table
        && let Some(gateway) = draft.status.fields().gateway_id.clone()
        && !gateway_gone(&target.client, &target.key.region, &gateway).await?
    {
        // The entry stays where it is while its gateway exists: moving it
        // would leave it there, unmanaged.
        return stall(
            draft,
            location::LOCATION_CHANGED,
            format!(
                "{what} lives in {} {old} of gateway {gateway}, which still exists, but the \
                 object now leads to {} {}: natop never leaves an entry behind to make another; \
                 point the object back, or create a new object for the new table",
                K::TABLE,
                K::TABLE,
                target.key.table
            ),
        );
    }
    *draft.status.fields_mut().location = Some(target.location.clone());
    if draft.status.fields().id.is_none()
        || draft.status.fields().table.as_deref() != Some(target.key.table.as_str())
    {
        *draft.status.fields_mut().table = Some(target.key.table.clone());
        draft
            .status
            .fields_mut()
            .gateway_id
            .clone_from(&target.gateway_id);
    } else if draft.status.fields().gateway_id.is_none() {
        draft
            .status
            .fields_mut()
            .gateway_id
            .clone_from(&target.gateway_id);
    }
    let desired = match &target.desired {
        Ok(desired) => desired.clone(),
        Err(message) => {
            draft.verdict = Verdict::stalled("InvalidReference", message.clone());
            tables.forget(&who);
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
    };
    let drift_interval = reconcile::drift_interval(entry, &ctx.config);
    // An entry this natop created whose id the status does not show yet.
    let unrecorded = tables
        .unrecorded(
            &entry.uid().unwrap_or_default(),
            draft.status.fields().id.as_deref(),
        )
        .filter(|c| c.table == target.key.table && draft.status.fields().creating.is_some());
    let creating = || waiting::<K>(&Step::Create { earlier: None }, &target);
    if let (Some(wait), Some(_)) = (tables.settling(&target.key), &unrecorded) {
        // Just created: a read would only show it Pending.
        draft.verdict = creating();
        return Ok(Action::requeue(wait));
    }
    if let (Some(wait), Some(id), Some("Pending")) = (
        tables.settling(&target.key),
        draft.status.fields().id.clone(),
        draft.status.fields().cloud_status.as_deref(),
    ) && tables.queued(&target.key).iter().all(|w| w != &who)
    {
        // Its own write, too recent to have settled: a read would only
        // show it Pending. Say what the pass after the create said.
        draft.verdict = Verdict::progressing(
            "Pending",
            format!("entry {id} of {} {} is Pending", K::TABLE, target.key.table),
        );
        return Ok(Action::requeue(wait));
    }
    let cached = tables
        .for_waiter(&target.key, &who)
        .or_else(|| {
            // Its entry (just created, or recorded), settled, in a read young
            // enough: others' writes since change nothing it looks at.
            unrecorded
                .as_ref()
                .map(|created| created.id.clone())
                .or_else(|| known_id(entry, &draft.status, &target.key.table))
                .and_then(|id| tables.settled_for(&target.key, drift_interval, &id))
        })
        .or_else(|| {
            // About to write its entry (nothing recorded, no id) while others
            // hold the table: it joins the queue, and reads once at its head.
            (unrecorded.is_none() && known_id(entry, &draft.status, &target.key.table).is_none())
                .then(|| tables.for_newcomer(&target.key, &who, drift_interval))
                .flatten()
        });
    let read = match cached {
        Some(snap) => Ok(snap),
        None => {
            tracing::debug!(
                object = ?who,
                id = ?draft.status.fields().id,
                cloud_status = ?draft.status.fields().cloud_status,
                creating = draft.status.fields().creating.is_some(),
                unrecorded = unrecorded.is_some(),
                queued = ?tables.queued(&target.key).iter().position(|w| w == &who),
                "reading for"
            );
            snapshot(ctx, &target, drift_interval).await
        }
    };
    let snap = match read {
        Ok(snap) => snap,
        Err(e) if e.is_not_found() => {
            tables.forget(&who);
            *draft.status.fields_mut().cloud_status = None;
            let message = format!(
                "{} {} does not exist: {}",
                K::TABLE,
                target.key.table,
                e.stable_message()
            );
            if entry.common().gateway.is_some() {
                // The gateway's status is behind: its watch brings us back.
                draft.verdict = Verdict::progressing("WaitingForGateway", message);
                return Ok(recheck_after(entry, ctx, WAITING));
            }
            draft.verdict = Verdict::stalled("TableNotFound", message);
            return Ok(recheck_after(entry, ctx, drift_interval));
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(created) = unrecorded {
        if snap
            .get(&created.id)
            .is_some_and(|r| locks_table(r.status()))
            && created.at.elapsed() < UNRECORDED_HOLD
        {
            // Still Pending, and only just created: the status keeps saying
            // `Creating` rather than taking one more write for `Pending`.
            draft.verdict = creating();
            return Ok(Action::requeue(tables.poll_delay(&target.key)));
        }
        // The status shows it from this pass on (with Ready when it settled).
        draft.status.identified(&created.table, &created.id);
        *draft.status.fields_mut().ips = Some(K::desired_ips(&desired));
        *draft.status.fields_mut().cloud_status = Some("Pending".into());
    }
    let claimed = |id: &str| claimed_by_others(entry, ctx, id);
    let adoption = Adoption {
        owned_table: target.owned_table,
        claimed: &claimed,
    };
    let mut step = decide(
        entry,
        &draft.status,
        &target.key.table,
        &desired,
        &snap,
        &adoption,
    );
    if let Step::Adopt { candidate } = &step {
        return Ok(adopt(entry, ctx, &target, &snap, candidate, draft).await);
    }
    if let Some(row) = known_id(entry, &draft.status, &target.key.table)
        .as_deref()
        .and_then(|id| snap.get(id))
    {
        record::<K>(&mut draft.status, &target.key.table, row);
    }
    let expected = expected_create::<K>(&desired, &draft.status);
    let recorded = draft.status.fields().creating.as_deref() == Some(&expected);
    if step.writes() && (!placed || (step.creates() && !recorded)) {
        // Record the place and the create first (the status write below);
        // write next time. A create is never sent before it is recorded.
        if step.creates() {
            *draft.status.fields_mut().creating = Some(Box::new(expected.clone()));
        }
        draft.verdict = waiting::<K>(&step, &target);
        tables.leave(&target.key, &who);
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    if step.writes() {
        let turn = match tables.turn(&target.key, &who) {
            Turn::Granted(turn) => turn,
            Turn::Wait { .. } => {
                draft.verdict = waiting::<K>(&step, &target);
                return Ok(recheck_after(entry, ctx, WAITING));
            }
        };
        if let Some(wait) = tables.settling(&target.key) {
            // The last write cannot have settled yet: keep the turn, read later.
            drop(turn);
            draft.verdict = waiting::<K>(&step, &target);
            return Ok(Action::requeue(wait));
        }
        let fresh = snapshot(ctx, &target, CREATE_MAX_AGE).await?;
        if let Some(busy) = fresh.busy_entry() {
            drop(turn);
            draft.verdict = waiting::<K>(&step, &target);
            tracing::debug!(busy = busy.id(), "table busy");
            return Ok(Action::requeue(tables.poll_delay(&target.key)));
        }
        step = decide(
            entry,
            &draft.status,
            &target.key.table,
            &desired,
            &fresh,
            &adoption,
        );
        if let (Step::Create { .. } | Step::Replay, Some(id)) =
            (&step, known_id(entry, &draft.status, &target.key.table))
            && confirm_missing::<K>(ctx, &target, &id).await?.is_some()
        {
            // The listing missed an entry that exists: never buy a second one.
            turn.done();
            draft.verdict = Verdict::progressing(
                "Rechecking",
                format!(
                    "entry {id} was missing from a listing of {} {} but exists: reading the table again",
                    K::TABLE,
                    target.key.table
                ),
            );
            return Ok(Action::requeue(tables.poll_delay(&target.key)));
        }
        if step.creates() && !recorded {
            // The fresh read asks for a create the status does not record yet.
            turn.done();
            *draft.status.fields_mut().creating = Some(Box::new(expected.clone()));
            draft.verdict = waiting::<K>(&step, &target);
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        if step.writes() {
            let polls = matches!(step, Step::Create { .. } | Step::Modify { .. });
            let result = write(entry, ctx, &target, &desired, &fresh, step, draft).await;
            let written = draft.status.fields().id.clone().or_else(|| {
                tables
                    .unrecorded(&entry.uid().unwrap_or_default(), None)
                    .map(|created| created.id)
            });
            // The table learns of the write the moment the cloud answered
            // it: its next writer goes, and the time the entry stays Pending
            // counts from now. The event telling of it is published after,
            // so that its round trip to the API server delays neither.
            match (&result, written) {
                (Ok(_), Some(id)) => turn.wrote_entry(Written { id, deleted: false }),
                _ => turn.wrote(),
            }
            let (action, told) = result?;
            if let Some(told) = told {
                tell(ctx, entry, told.reason, told.action, told.note).await;
            }
            if polls {
                // Look again when this write may have settled (the delay
                // counts from this write, now that the table knows of it).
                return Ok(Action::requeue(tables.poll_delay(&target.key)));
            }
            return Ok(action);
        }
        turn.done();
    } else {
        tables.leave(&target.key, &who);
    }
    settle(entry, ctx, &target, step, draft)
}

/// What an entry that has to write says while it waits for its turn, for
/// the table to settle, or for its create to be recorded: one verdict for all
/// of these, so that waiting writes the status once, not once per poll.
fn waiting<K: EntryKind>(step: &Step, target: &Target<K>) -> Verdict {
    if step.creates() {
        Verdict::progressing(
            "Creating",
            format!(
                "creating an entry in {} {} ({}); natop writes one entry at a time per table, \
                 once no entry of it is Pending",
                K::TABLE,
                target.key.table,
                target.location
            ),
        )
    } else {
        Verdict::progressing(
            "Queued",
            format!(
                "waiting to write to {} {}: natop writes one entry at a time per table, once no \
                 entry of it is Pending",
                K::TABLE,
                target.key.table
            ),
        )
    }
}

/// Whether another object of the kind recorded entry `id` or names it by
/// annotation.
fn claimed_by_others<K: EntryKind>(entry: &K, ctx: &Context, id: &str) -> bool {
    let uid = entry.uid().unwrap_or_default();
    engine::claims_naming::<K>(ctx, id)
        .iter()
        .any(|claim| claim.uid != uid)
}

/// Take `candidate`, which holds the spec's key in a table of a gateway
/// this natop owns, matches the spec and is no other object's: record it.
async fn adopt<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    snap: &Snapshot<K::Row>,
    candidate: &str,
    draft: &mut Draft<K::Status>,
) -> Action {
    let table = &target.key.table;
    match snap.get(candidate) {
        Some(row) => record::<K>(&mut draft.status, table, row),
        None => draft.status.identified(table, candidate),
    }
    let gateway = target.gateway_id.as_deref().unwrap_or("(unknown)");
    let note = format!(
        "entry {candidate} in {} {table} of gateway {gateway} (which carries this natop's owner \
         id) matches the spec and no other object claims it: adopted it",
        K::TABLE
    );
    tell(ctx, entry, "Adopted", "Adopt", note.clone()).await;
    draft.verdict = Verdict::progressing("Adopted", note);
    Action::requeue(Duration::from_millis(200))
}

/// A step that writes nothing.
pub(super) fn settle<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    step: Step,
    draft: &mut Draft<K::Status>,
) -> Result<Action, ReconcileError> {
    let object = key(entry);
    let drift_interval = reconcile::drift_interval(entry, &ctx.config);
    let id = draft.status.fields().id.clone().unwrap_or_default();
    match step {
        Step::InSync => {
            ctx.pacing.settled(&object);
            if entry.common().management == ManagementPolicy::Observe {
                draft.observed(&format!("entry {id}"), None);
            } else {
                draft.verdict = Verdict::in_sync(&format!("entry {id}"), false);
            }
            Ok(recheck_after(entry, ctx, drift_interval))
        }
        Step::Busy(message) => {
            draft.verdict = Verdict::progressing("Pending", message);
            Ok(Action::requeue(K::tables(ctx).poll_delay(&target.key)))
        }
        Step::Missing(message) => {
            *draft.status.fields_mut().cloud_status = None;
            draft.verdict = Verdict::stalled("NotFound", message);
            Ok(recheck_after(entry, ctx, drift_interval))
        }
        Step::Drifted(message) => {
            ctx.pacing.settled(&object);
            draft.observed(&format!("entry {id}"), Some(message));
            Ok(recheck_after(entry, ctx, drift_interval))
        }
        // Writes are handled by `write`, adoption by `adopt`.
        Step::Create { .. }
        | Step::Claim { .. }
        | Step::Adopt { .. }
        | Step::Replay
        | Step::Modify { .. } => Ok(Action::requeue(Duration::from_secs(1))),
    }
}

/// The ClientToken of creating `desired` for `entry`: the object and the
/// natural key (and the id of an entry it replaces), not the other fields,
/// so that a create replayed after a restart with an edited spec still
/// proves the entry is this object's.
pub(super) fn token<K: EntryKind>(
    entry: &K,
    desired: &K::Desired,
    earlier: Option<&str>,
) -> String {
    client_token(
        &entry.uid().unwrap_or_default(),
        &(K::KIND, K::natural_key(desired), earlier),
    )
}

/// Whether a failed create says this object's token was used before with
/// other parameters: the entry holding the key is this object's.
pub(super) fn token_was_ours(error: &CloudError) -> bool {
    error.code() == Some("IdempotentParameterMismatch")
}

/// An event a write tells of, published once the table knows of the write.
pub(super) struct Told {
    reason: &'static str,
    action: &'static str,
    note: String,
}

impl Told {
    fn new(reason: &'static str, action: &'static str, note: String) -> Told {
        Told {
            reason,
            action,
            note,
        }
    }
}

/// Send the write `step` asks for: when to look again, and the event that
/// tells of the write.
pub(super) async fn write<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    desired: &K::Desired,
    snap: &Snapshot<K::Row>,
    step: Step,
    draft: &mut Draft<K::Status>,
) -> Result<(Action, Option<Told>), ReconcileError> {
    let table = &target.key.table;
    let region = &target.key.region;
    let client = &target.client;
    let poll = || Action::requeue(K::tables(ctx).poll_delay(&target.key));
    match step {
        Step::Create { earlier } => {
            let token = token(entry, desired, earlier.as_deref());
            let id = K::create(client, region, table, desired, token).await?;
            // The status recorded this create (its ClientToken) before it was
            // sent; it records the id with what the next pass sees, Ready
            // when the entry has settled by then, so that a create costs one
            // status write less. Until then the id is kept here; a restart
            // learns it again by replaying the create.
            K::tables(ctx).created(
                &entry.uid().unwrap_or_default(),
                Created {
                    table: table.clone(),
                    id: id.clone(),
                    at: std::time::Instant::now(),
                },
            );
            let (reason, note) = match earlier {
                Some(old) => (
                    "Recreated",
                    format!(
                        "entry {old} was gone from {} {table}; created {id}",
                        K::TABLE
                    ),
                ),
                None => (
                    "Created",
                    format!("created entry {id} in {} {table}", K::TABLE),
                ),
            };
            draft.verdict = waiting::<K>(&Step::Create { earlier: None }, target);
            Ok((poll(), Some(Told::new(reason, "Create", note))))
        }
        Step::Claim { candidate } => {
            // The key is taken, so this create cannot make a new entry: the
            // cloud answers with the entry's id when this object created it
            // (same token), and refuses otherwise.
            let earlier = draft.status.fields().id.clone();
            let token = token(entry, desired, earlier.as_deref());
            let claimed = match K::create(client, region, table, desired, token).await {
                Ok(id) => id,
                Err(e) if token_was_ours(&e) => candidate.clone(),
                Err(e) => return Err(e.into()),
            };
            if claimed != candidate {
                warn!(%claimed, %candidate, "claimed an entry other than the one holding the key");
            }
            if let Some(row) = snap.get(&claimed) {
                record::<K>(&mut draft.status, table, row);
            } else {
                draft.status.identified(table, &claimed);
            }
            let note = format!(
                "entry {claimed} in {} {table} was created for this object earlier: adopted it",
                K::TABLE
            );
            draft.verdict = Verdict::progressing("Adopted", note.clone());
            Ok((
                Action::requeue(Duration::from_millis(200)),
                Some(Told::new("Adopted", "Create", note)),
            ))
        }
        Step::Replay => {
            let Some(pending) = draft.status.fields().creating.clone() else {
                return Ok((Action::requeue(Duration::from_millis(200)), None));
            };
            let old = K::natural_key(&pending.entry);
            match replay(entry, target, &pending, snap).await? {
                Replayed::Made(id) => {
                    match snap.get(&id) {
                        Some(row) => record::<K>(&mut draft.status, table, row),
                        None => draft.status.identified(table, &id),
                    }
                    let note = format!(
                        "entry {id} ({old}) in {} {table} was created for this object before \
                         its answer was recorded: adopted it, to bring it to the spec",
                        K::TABLE
                    );
                    draft.verdict = Verdict::progressing("Adopted", note.clone());
                    Ok((
                        Action::requeue(Duration::from_millis(200)),
                        Some(Told::new("Adopted", "Create", note)),
                    ))
                }
                Replayed::NotMade(code) => {
                    // The cloud never made that create: nothing of it to find.
                    *draft.status.fields_mut().creating = None;
                    draft.verdict = Verdict::progressing(
                        "Creating",
                        format!(
                            "an earlier create ({old}) was never made (a replay of it is \
                             refused: {code}): creating the entry the spec asks for"
                        ),
                    );
                    Ok((Action::requeue(Duration::from_millis(200)), None))
                }
                Replayed::Unlisted => {
                    K::tables(ctx).invalidate(&target.key);
                    draft.verdict = Verdict::progressing(
                        "Rechecking",
                        format!(
                            "an earlier create ({old}) made an entry in {} {table} that is not \
                             listed yet: reading the table again",
                            K::TABLE
                        ),
                    );
                    Ok((poll(), None))
                }
            }
        }
        Step::Modify { id, drift } => {
            K::modify(client, region, table, &id, desired).await?;
            *draft.status.fields_mut().cloud_status = Some("Pending".into());
            *draft.status.fields_mut().ips = Some(K::desired_ips(desired));
            let was_ready = was_ready(entry);
            let what = drift.join("; ");
            let (reason, note) = if was_ready {
                (
                    "DriftCorrected",
                    format!("the cloud differed from the spec ({what}); modifying entry {id}"),
                )
            } else {
                ("Updated", format!("modifying entry {id}: {what}"))
            };
            draft.verdict = Verdict::progressing(reason, note.clone());
            Ok((poll(), Some(Told::new(reason, "Update", note))))
        }
        other => settle(entry, ctx, target, other, draft).map(|action| (action, None)),
    }
}

/// What a replay of the create `status.creating` records says.
pub(super) enum Replayed {
    /// It made entry `id` (now, or when it was first sent).
    Made(String),
    /// The cloud refuses it for good (the code): that create never made
    /// anything, so nothing of it exists.
    NotMade(String),
    /// The token is the object's but the parameters differ (natop's request
    /// changed shape) and no listed entry holds the recorded key yet.
    Unlisted,
}

/// Replay `pending` exactly: the same ClientToken and parameters. The cloud
/// answers with the entry it made under that token, or makes it now (when the
/// first try never arrived), or refuses for good, which proves the token never
/// made anything. The caller holds the table's turn.
pub(super) async fn replay<K: EntryKind>(
    entry: &K,
    target: &Target<K>,
    pending: &PendingCreate<K::Desired>,
    snap: &Snapshot<K::Row>,
) -> Result<Replayed, ReconcileError> {
    let token = token(entry, &pending.entry, pending.replaces.as_deref());
    let result = K::create(
        &target.client,
        &target.key.region,
        &target.key.table,
        &pending.entry,
        token,
    )
    .await;
    Ok(match result {
        Ok(id) => Replayed::Made(id),
        Err(e) if token_was_ours(&e) => {
            match snap.rows.iter().find(|r| {
                K::has_key(&pending.entry, r) && !r.status().eq_ignore_ascii_case("Deleting")
            }) {
                Some(row) => Replayed::Made(row.id().to_string()),
                None => Replayed::Unlisted,
            }
        }
        Err(e) if e.is_retryable() => return Err(e.into()),
        Err(e) => Replayed::NotMade(e.code().unwrap_or("refused").to_string()),
    })
}
