//! The life of a DNAT or SNAT entry in its table: the table owned by a
//! gateway, the per-table quota, the write lock while an entry is `Pending`,
//! and the `Pending` / `Deleting` transitions, as the [`TableEntry`] steps both
//! kinds go through.

use std::collections::BTreeMap;

use super::{Gateway, busy, deleting, gateway_by_id, missing, pending, required, sorted};
use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
use crate::emulator::ApiError;
use crate::emulator::alibaba::Ctx;
use crate::emulator::state::{AlibabaRegionState, GONE, Record, Resource, settle_map};

/// At most this many DNAT entries per DNAT table (seed, CreateForwardEntry).
const MAX_FORWARD_ENTRIES: usize = 100;
/// At most this many SNAT entries per SNAT table (the service's default quota).
const MAX_SNAT_ENTRIES: usize = 40;

/// A fixed answer refusing a call: HTTP status, code and message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusal {
    status: u16,
    code: &'static str,
    message: &'static str,
}

impl Refusal {
    fn error(self) -> ApiError {
        ApiError::new(self.status, self.code, self.message)
    }
}

/// What DNAT and SNAT entries have in common: a table owned by a gateway, a
/// per-table quota, the write lock while an entry is `Pending`, and the
/// `Pending` / `Deleting` transitions. Each kind names its storage and its own
/// error codes; the provided functions are the steps both kinds go through.
pub(super) trait TableEntry: Resource + Clone {
    /// The request parameter naming the table (`ForwardTableId`, `SnatTableId`).
    const TABLE_PARAM: &'static str;
    /// The request parameter naming an entry (`ForwardEntryId`, `SnatEntryId`).
    const ENTRY_PARAM: &'static str;
    /// The code (404) of an unknown table.
    const TABLE_NOT_FOUND: &'static str;
    /// The code (404) of an unknown entry of a table.
    const ENTRY_NOT_FOUND: &'static str;
    /// The refusal of a write while an entry of the table is being created or modified.
    const TABLE_LOCKED: Refusal;
    /// The refusal of a write on an entry being deleted.
    const ENTRY_DELETING: Refusal;
    /// At most this many entries in one table.
    const MAX_PER_TABLE: usize;
    /// The refusal of an entry beyond [`TableEntry::MAX_PER_TABLE`].
    const QUOTA_EXCEEDED: Refusal;

    /// Every entry of this kind in the region.
    fn stored(state: &AlibabaRegionState) -> &BTreeMap<String, Record<Self>>;
    /// The same, to change.
    fn stored_mut(state: &mut AlibabaRegionState) -> &mut BTreeMap<String, Record<Self>>;
    /// The gateway owning table `table_id`.
    fn owner<'s>(state: &'s AlibabaRegionState, table_id: &str) -> Option<&'s Record<NatGateway>>;
    /// The entry's id.
    fn id(&self) -> &str;
    /// The entry's table.
    fn table_id(&self) -> &str;
    /// The entry's gateway.
    fn gateway_id(&self) -> &str;
    /// The entry's status.
    fn status(&self) -> &str;

    /// Check that a write names both the table and the entry; both trimmed.
    fn required_ids<'a>(
        table_id: &'a str,
        entry_id: &'a str,
    ) -> Result<(&'a str, &'a str), ApiError> {
        required(table_id, Self::TABLE_PARAM)?;
        required(entry_id, Self::ENTRY_PARAM)?;
        Ok((table_id.trim(), entry_id.trim()))
    }

    /// The gateway owning table `table_id`; `message` goes with the not-found code.
    fn table_gateway(ctx: &Ctx<'_>, table_id: &str, message: &str) -> Result<Gateway, ApiError> {
        Self::owner(ctx.state, table_id)
            .map(Gateway::of)
            .ok_or_else(|| ApiError::new(404, Self::TABLE_NOT_FOUND, message))
    }

    /// The table accepts writes: its gateway is `Available` and none of its
    /// entries is being created or modified.
    fn check_writable(ctx: &Ctx<'_>, gateway: &Gateway, table_id: &str) -> Result<(), ApiError> {
        gateway.require_available()?;
        let locked = Self::stored(ctx.state)
            .values()
            .any(|e| e.wire.table_id() == table_id && busy(e.wire.status()));
        if locked {
            Err(Self::TABLE_LOCKED.error())
        } else {
            Ok(())
        }
    }

    /// The gateway of table `table_id`, which must take a new entry: it
    /// exists, accepts writes and is below its quota.
    fn table_for_new_entry(
        ctx: &Ctx<'_>,
        table_id: &str,
        missing_table: &str,
    ) -> Result<Gateway, ApiError> {
        let gateway = Self::table_gateway(ctx, table_id, missing_table)?;
        Self::check_writable(ctx, &gateway, table_id)?;
        let count = Self::stored(ctx.state)
            .values()
            .filter(|e| e.wire.table_id() == table_id)
            .count();
        if count >= Self::MAX_PER_TABLE {
            return Err(Self::QUOTA_EXCEEDED.error());
        }
        Ok(gateway)
    }

    /// The gateway of table `table_id` and its entry `entry_id`, as long as
    /// the entry is not being deleted. The messages go with the not-found codes.
    fn locate(
        ctx: &Ctx<'_>,
        table_id: &str,
        entry_id: &str,
        missing_table: &str,
        missing_entry: &str,
    ) -> Result<(Gateway, Self), ApiError> {
        let gateway = Self::table_gateway(ctx, table_id, missing_table)?;
        let entry = Self::stored(ctx.state)
            .get(entry_id)
            .filter(|e| e.wire.table_id() == table_id)
            .map(|e| e.wire.clone())
            .ok_or_else(|| ApiError::new(404, Self::ENTRY_NOT_FOUND, missing_entry))?;
        if entry.status() == "Deleting" {
            return Err(Self::ENTRY_DELETING.error());
        }
        Ok((gateway, entry))
    }

    /// Store a new entry (already `Pending`), `Available` after the pending delay.
    fn insert_pending(ctx: &mut Ctx<'_>, wire: Self) {
        let id = wire.id().to_string();
        let mut record = Record::new(wire, ctx.client_token.clone(), ctx.now_ms);
        record.transition = Some(pending(ctx));
        Self::stored_mut(ctx.state).insert(id, record);
    }

    /// Apply `change` to entry `entry_id`, which is `Pending` until the pending delay is over.
    fn set_pending(ctx: &mut Ctx<'_>, entry_id: &str, change: impl FnOnce(&mut Self)) {
        let transition = pending(ctx);
        if let Some(record) = Self::stored_mut(ctx.state).get_mut(entry_id) {
            change(&mut record.wire);
            *record.wire.status_mut() = "Pending".to_string();
            record.transition = Some(transition);
        }
    }

    /// The shared delete action: entry `entry_id` of table `table_id` turns
    /// `Deleting` and is gone after the deleting delay.
    fn delete(
        ctx: &mut Ctx<'_>,
        table_id: &str,
        entry_id: &str,
        missing_table: &str,
        missing_entry: &str,
    ) -> Result<(), ApiError> {
        let (table_id, entry_id) = Self::required_ids(table_id, entry_id)?;
        let (gateway, _) = Self::locate(ctx, table_id, entry_id, missing_table, missing_entry)?;
        Self::check_writable(ctx, &gateway, table_id)?;
        let transition = deleting(ctx);
        if let Some(record) = Self::stored_mut(ctx.state).get_mut(entry_id) {
            *record.wire.status_mut() = "Deleting".to_string();
            record.transition = Some(transition);
        }
        Ok(())
    }

    /// What a describe call lists, sorted: the entries of table `table_id`,
    /// or with no table those of gateway `gateway_id`, that `keep` accepts.
    /// `missing_table` goes with the not-found code of the table. A listing
    /// that does not name one entry (`by_id`) leaves out entries younger
    /// than the `listLagMs` fault.
    fn listed(
        ctx: &Ctx<'_>,
        table_id: &str,
        gateway_id: Option<&str>,
        missing_table: &str,
        by_id: bool,
        keep: impl Fn(&Self) -> bool,
    ) -> Result<Vec<Self>, ApiError> {
        match (table_id.is_empty(), gateway_id) {
            (false, _) => {
                Self::table_gateway(ctx, table_id, missing_table)?;
            }
            (true, Some(gateway_id)) => {
                gateway_by_id(ctx, gateway_id)?;
            }
            (true, None) => return Err(missing(Self::TABLE_PARAM)),
        }
        Ok(sorted(
            Self::stored(ctx.state)
                .values()
                .filter(|e| table_id.is_empty() || e.wire.table_id() == table_id)
                .filter(|e| gateway_id.is_none_or(|g| e.wire.gateway_id() == g))
                .filter(|e| keep(&e.wire))
                .filter(|e| by_id || e.created_ms <= ctx.now_ms.saturating_sub(ctx.list_lag_ms))
                .map(|e| (e.created_ms, e.wire.id().to_string(), e.wire.clone()))
                .collect(),
        ))
    }

    /// The `pageShift` fault ([`Ctx::page_shift`]): time passes in the table
    /// before page `page_number` of `listed` is cut. The first entry listed
    /// on an earlier page whose transition is still to come completes it now
    /// (a `Deleting` one first: it is gone, and every later entry moves up a
    /// place, so the reader never sees the entry that slides onto the page it
    /// already read). Whether anything changed.
    fn shift_pages(
        ctx: &mut Ctx<'_>,
        listed: &[Self],
        page_number: Option<u32>,
        page_size: Option<u32>,
    ) -> bool
    where
        Self: Resource,
    {
        if !ctx.page_shift {
            return false;
        }
        let start = page_number.unwrap_or(1).saturating_sub(1) * page_size.unwrap_or(10);
        let earlier: Vec<&str> = listed
            .iter()
            .take(usize::try_from(start).unwrap_or(usize::MAX))
            .map(TableEntry::id)
            .collect();
        let now_ms = ctx.now_ms;
        let stored = Self::stored_mut(ctx.state);
        let transition = |id: &&str| stored.get(*id).and_then(|r| r.transition.as_ref());
        let pick = earlier
            .iter()
            .find(|id| transition(id).is_some_and(|t| t.to == GONE))
            .or_else(|| earlier.iter().find(|id| transition(id).is_some()))
            .map(|id| (*id).to_string());
        let Some(id) = pick else {
            return false;
        };
        if let Some(t) = stored.get_mut(&id).and_then(|r| r.transition.as_mut()) {
            t.due_ms = now_ms;
        }
        settle_map(stored, now_ms);
        true
    }
}

impl TableEntry for ForwardTableEntry {
    const TABLE_PARAM: &'static str = "ForwardTableId";
    const ENTRY_PARAM: &'static str = "ForwardEntryId";
    const TABLE_NOT_FOUND: &'static str = "InvalidForwardTableId.NotFound";
    const ENTRY_NOT_FOUND: &'static str = "InvalidForwardEntryId.NotFound";
    const TABLE_LOCKED: Refusal = Refusal {
        status: 400,
        code: "IncorretForwardEntryStatus",
        message: "Some Forward entry status blocked this operation..",
    };
    const ENTRY_DELETING: Refusal = Refusal {
        status: 400,
        code: "IncorretForwardEntryStatus",
        message: "The Specified forwardEntry is not stable status, can not operation",
    };
    const MAX_PER_TABLE: usize = MAX_FORWARD_ENTRIES;
    const QUOTA_EXCEEDED: Refusal = Refusal {
        status: 400,
        code: "QuotaExceeded",
        message: "Forward entry quota exceeded in this route table.",
    };

    fn stored(state: &AlibabaRegionState) -> &BTreeMap<String, Record<Self>> {
        &state.forward_entries
    }
    fn stored_mut(state: &mut AlibabaRegionState) -> &mut BTreeMap<String, Record<Self>> {
        &mut state.forward_entries
    }
    fn owner<'s>(state: &'s AlibabaRegionState, table_id: &str) -> Option<&'s Record<NatGateway>> {
        state.gateway_of_forward_table(table_id)
    }
    fn id(&self) -> &str {
        &self.forward_entry_id
    }
    fn table_id(&self) -> &str {
        &self.forward_table_id
    }
    fn gateway_id(&self) -> &str {
        &self.nat_gateway_id
    }
    fn status(&self) -> &str {
        &self.status
    }
}

impl TableEntry for SnatTableEntry {
    const TABLE_PARAM: &'static str = "SnatTableId";
    const ENTRY_PARAM: &'static str = "SnatEntryId";
    const TABLE_NOT_FOUND: &'static str = "InvalidSnatTableId.NotFound";
    const ENTRY_NOT_FOUND: &'static str = "InvalidSnatEntryId.NotFound";
    const TABLE_LOCKED: Refusal = Refusal {
        status: 400,
        code: "IncorretSnatEntryStatus",
        message: "Some Snat entry status blocked this operation..",
    };
    const ENTRY_DELETING: Refusal = Refusal {
        status: 400,
        code: "IncorretSnatEntryStatus",
        message: "The Specified snatEntry is not stable status, can not operation",
    };
    const MAX_PER_TABLE: usize = MAX_SNAT_ENTRIES;
    const QUOTA_EXCEEDED: Refusal = Refusal {
        status: 400,
        code: "Forbidden.SnatEntryCountLimited",
        message: "SNAT entry in the specified SNAT table reach its limit.",
    };

    fn stored(state: &AlibabaRegionState) -> &BTreeMap<String, Record<Self>> {
        &state.snat_entries
    }
    fn stored_mut(state: &mut AlibabaRegionState) -> &mut BTreeMap<String, Record<Self>> {
        &mut state.snat_entries
    }
    fn owner<'s>(state: &'s AlibabaRegionState, table_id: &str) -> Option<&'s Record<NatGateway>> {
        state.gateway_of_snat_table(table_id)
    }
    fn id(&self) -> &str {
        &self.snat_entry_id
    }
    fn table_id(&self) -> &str {
        &self.snat_table_id
    }
    fn gateway_id(&self) -> &str {
        &self.nat_gateway_id
    }
    fn status(&self) -> &str {
        &self.status
    }
}

#[cfg(test)]
mod tests;
