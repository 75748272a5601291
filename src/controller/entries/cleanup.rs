//! Delete an entry: find it (by its recorded id, or, when a crash lost the
//! id, by replaying the create `status.creating` records or the create its
//! natural key was made with), wait for the table's turn and a snapshot in
//! which nothing is busy, delete it and wait until it is gone.

use crate::controller::engine::Action;

use super::apply::{
    Replayed, confirm_missing, recheck_after, replay, snapshot, token, token_was_ours,
};
use super::decide::{CleanupFacts, CleanupStep, decide_cleanup};
use super::tables::{Row, Turn, Written};
use super::target::{Target, followed_desired, gateway_gone, recorded_target};
use super::{EntryKind, EntryStatus, WAITING, WRITE_MAX_AGE, record, writer};
use crate::controller::Context;
use crate::controller::engine::Draft;
use crate::controller::reconcile::{ReconcileError, tell};
use crate::controller::status::Verdict;

/// `None` when the object may go; otherwise when to look again.
pub(super) async fn cleanup<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    draft: &mut Draft<K::Status>,
) -> Result<Option<Action>, ReconcileError> {
    // The engine handles Orphan and Observe.
    let id = draft.status.fields().id.clone();
    let gone = |why: String| async move {
        tell(ctx, entry, "Deleted", "Delete", why).await;
        Ok(None)
    };
    if draft.status.fields().table.is_none() && id.is_none() {
        // natop records the table before it creates an entry in it.
        return gone("no entry was created".into()).await;
    }
    let target = match recorded_target(entry, ctx, &draft.status).await? {
        Ok(target) => target,
        Err(verdict) => {
            draft.verdict = verdict;
            return Ok(Some(recheck_after(entry, ctx, WAITING)));
        }
    };
    let table = target.key.table.clone();
    let snap = match snapshot(ctx, &target, WRITE_MAX_AGE).await {
        Ok(snap) => snap,
        Err(e) if e.is_not_found() => {
            // The table is gone; the entry went with it only if its gateway did.
            if let Some(gateway) = &target.gateway_id
                && !gateway_gone(&target.client, &target.key.region, gateway).await?
            {
                draft.verdict = Verdict::progressing(
                    "TableNotFound",
                    format!(
                        "{} {table} was not found, but its gateway {gateway} still exists: \
                         looking again before concluding anything",
                        K::TABLE
                    ),
                );
                return Ok(Some(recheck_after(entry, ctx, WAITING)));
            }
            return gone(format!(
                "entry {} went with {} {table} and its gateway",
                id.unwrap_or_default(),
                K::TABLE
            ))
            .await;
        }
        Err(e) => return Err(e.into()),
    };
    // Learn, one read at a time, which entry is the object's.
    let mut facts = CleanupFacts {
        id: id.clone(),
        listed: id.as_deref().and_then(|id| snap.get(id)).cloned(),
        creating: draft.status.fields().creating.is_some(),
        ..CleanupFacts::default()
    };
    let queued = |draft: &mut Draft<K::Status>, action: Action| {
        draft.verdict = Verdict::progressing(
            "Queued",
            format!("waiting for its turn on {} {table}", K::TABLE),
        );
        Ok(Some(action))
    };
    // The entry the spec asks for now, whose key a lost create holds.
    let mut wanted: Option<K::Desired> = None;
    let row = loop {
        match decide_cleanup(&facts) {
            CleanupStep::Confirm(id) => {
                facts.confirmed = Some(confirm_missing::<K>(ctx, &target, &id).await?);
            }
            CleanupStep::Replay => match pending_row(entry, ctx, &target, draft).await? {
                PendingRow::Found(row) => facts.replayed = Some(Some(row)),
                PendingRow::Nothing => facts.replayed = Some(None),
                PendingRow::Later(action) => return queued(draft, action),
            },
            CleanupStep::FindHolder => {
                // A create whose id was never recorded (a crash right after
                // it), or a re-create whose status write was lost, holds the
                // spec's key.
                wanted = match target.desired.clone() {
                    Ok(desired) => Some(desired),
                    Err(_) if id.is_some() => followed_desired(entry, ctx).await?,
                    Err(_) => None,
                };
                facts.holder = Some(wanted.as_ref().and_then(|desired| {
                    snap.rows.iter().find(|r| K::has_key(desired, r)).cloned()
                }));
            }
            CleanupStep::Claim { candidate, earlier } => {
                // A holder is only found with the key `wanted` names.
                let Some(desired) = &wanted else {
                    facts.claimed = Some(false);
                    continue;
                };
                match claim(entry, ctx, &target, desired, &candidate, earlier.as_deref()).await? {
                    Claimed::Ours => facts.claimed = Some(true),
                    Claimed::NotOurs => facts.claimed = Some(false),
                    Claimed::Later(action) => return queued(draft, action),
                }
            }
            CleanupStep::Delete(row) => break row,
            CleanupStep::Gone => {
                let what = id.map_or_else(|| "the entry".to_string(), |id| format!("entry {id}"));
                return gone(format!("{what} is gone from {} {table}", K::TABLE)).await;
            }
        }
    };
    record::<K>(&mut draft.status, &table, &row);
    if row.status().eq_ignore_ascii_case("Deleting") {
        draft.verdict =
            Verdict::progressing("Deleting", format!("entry {} is being deleted", row.id()));
        return Ok(Some(Action::requeue(
            K::tables(ctx).poll_delay(&target.key),
        )));
    }
    let tables = K::tables(ctx);
    let who = writer(entry);
    let turn = match tables.turn(&target.key, &who) {
        Turn::Granted(turn) => turn,
        Turn::Wait { .. } => {
            draft.verdict = waiting_to_delete::<K>(row.id(), &table);
            return Ok(Some(recheck_after(entry, ctx, WAITING)));
        }
    };
    let fresh = snapshot(ctx, &target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        draft.verdict = waiting_to_delete::<K>(row.id(), &table);
        return Ok(Some(Action::requeue(tables.poll_delay(&target.key))));
    }
    if fresh.get(row.id()).is_none()
        && confirm_missing::<K>(ctx, &target, row.id())
            .await?
            .is_none()
    {
        turn.done();
        return gone(format!("entry {} is gone", row.id())).await;
    }
    let result = K::delete(&target.client, &target.key.region, &table, row.id()).await;
    if result.is_ok() {
        turn.wrote_entry(Written {
            id: row.id().to_string(),
            deleted: true,
        });
    } else {
        turn.wrote();
    }
    match result {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {
            return gone(format!("entry {} is gone", row.id())).await;
        }
        Err(e) => return Err(e.into()),
    }
    tell(
        ctx,
        entry,
        "Deleting",
        "Delete",
        format!("deleting entry {} from {} {table}", row.id(), K::TABLE),
    )
    .await;
    *draft.status.fields_mut().cloud_status = Some("Deleting".into());
    draft.verdict =
        Verdict::progressing("Deleting", format!("entry {} is being deleted", row.id()));
    Ok(Some(Action::requeue(tables.poll_delay(&target.key))))
}

/// What a replay of the recorded create found, during deletion.
pub(super) enum PendingRow<R> {
    /// The entry it made.
    Found(R),
    /// No create is recorded, or the recorded one made nothing that exists.
    Nothing,
    /// Look again then.
    Later(Action),
}

/// The entry the create `status.creating` records made, if it exists: the
/// object's entry whatever its spec says now. A replay that makes the entry
/// only now (the first try never arrived) makes one that deletion then
/// removes: natop prefers that to leaving one behind.
pub(super) async fn pending_row<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    draft: &mut Draft<K::Status>,
) -> Result<PendingRow<K::Row>, ReconcileError> {
    let Some(pending) = draft.status.fields().creating.clone() else {
        return Ok(PendingRow::Nothing);
    };
    let tables = K::tables(ctx);
    let poll = || PendingRow::Later(Action::requeue(tables.poll_delay(&target.key)));
    let Turn::Granted(turn) = tables.turn(&target.key, &writer(entry)) else {
        return Ok(PendingRow::Later(recheck_after(entry, ctx, WAITING)));
    };
    let fresh = snapshot(ctx, target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        return Ok(poll());
    }
    let replayed = replay(entry, target, &pending, &fresh).await;
    turn.wrote();
    let id = match replayed? {
        Replayed::Made(id) => id,
        Replayed::NotMade(_) => {
            *draft.status.fields_mut().creating = None;
            return Ok(PendingRow::Nothing);
        }
        Replayed::Unlisted => {
            tables.invalidate(&target.key);
            return Ok(poll());
        }
    };
    let row = match fresh.get(&id) {
        Some(row) => Some(row.clone()),
        None => confirm_missing::<K>(ctx, target, &id).await?,
    };
    Ok(match row {
        Some(row) => PendingRow::Found(row),
        None => {
            *draft.status.fields_mut().creating = None;
            PendingRow::Nothing
        }
    })
}

pub(super) enum Claimed {
    Ours,
    NotOurs,
    Later(Action),
}

/// Replay the create for `candidate` (which holds the key, so nothing new can
/// be created) to learn whether it is this object's: the create with no
/// earlier entry, or (`earlier`) the re-create that replaced that one.
pub(super) async fn claim<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    target: &Target<K>,
    desired: &K::Desired,
    candidate: &K::Row,
    earlier: Option<&str>,
) -> Result<Claimed, ReconcileError> {
    let tables = K::tables(ctx);
    let who = writer(entry);
    let Turn::Granted(turn) = tables.turn(&target.key, &who) else {
        return Ok(Claimed::Later(recheck_after(entry, ctx, WAITING)));
    };
    let fresh = snapshot(ctx, target, WRITE_MAX_AGE).await?;
    if fresh.busy_entry().is_some() {
        drop(turn);
        return Ok(Claimed::Later(Action::requeue(
            tables.poll_delay(&target.key),
        )));
    }
    let token = token(entry, desired, earlier);
    let result = K::create(
        &target.client,
        &target.key.region,
        &target.key.table,
        desired,
        token,
    )
    .await;
    turn.wrote();
    match result {
        Ok(id) if id == candidate.id() => Ok(Claimed::Ours),
        Ok(_) => Ok(Claimed::NotOurs),
        Err(e) if token_was_ours(&e) => Ok(Claimed::Ours),
        Err(e) if e.is_retryable() => Err(e.into()),
        Err(_) => Ok(Claimed::NotOurs),
    }
}

/// What an object waiting to delete its entry says, whether it waits for its
/// turn or for the table to settle: one verdict, one status write.
fn waiting_to_delete<K: EntryKind>(id: &str, table: &str) -> Verdict {
    Verdict::progressing(
        "Queued",
        format!(
            "waiting to delete entry {id} from {} {table}: natop writes one entry at a time per \
             table, once no entry of it is Pending",
            K::TABLE
        ),
    )
}
