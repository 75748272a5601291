//! DNAT (forward table) and SNAT table entries: create, modify, describe and
//! delete, with the service's asynchronous states (`Pending` → `Available`,
//! `Deleting` → gone), the per-table write lock while an entry is `Pending`,
//! the uniqueness and quota rules, and the sharing rules between DNAT and SNAT
//! for one public IP.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use serde_json::Value;

use super::validate::{self, Port};
use super::{Ctx, missing, paginate, run};
use crate::cloud::alibaba::actions::forward_entry::{
    CreateForwardEntry, CreateForwardEntryResponse, DeleteForwardEntry, DeleteForwardEntryResponse,
    DescribeForwardTableEntries, DescribeForwardTableEntriesResponse, ForwardTableEntry,
    ModifyForwardEntry, ModifyForwardEntryResponse,
};
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::cloud::alibaba::actions::snat_entry::{
    CreateSnatEntry, CreateSnatEntryResponse, DeleteSnatEntry, DeleteSnatEntryResponse,
    DescribeSnatTableEntries, DescribeSnatTableEntriesResponse, ModifySnatEntry,
    ModifySnatEntryResponse, SnatTableEntry,
};
use crate::cloud::wire::Params;
use crate::emulator::ApiError;
use crate::emulator::state::{AlibabaRegionState, GONE, Record, Resource, Transition, settle_map};

/// At most this many DNAT entries per DNAT table (seed, CreateForwardEntry).
const MAX_FORWARD_ENTRIES: usize = 100;
/// At most this many SNAT entries per SNAT table (the service's default quota).
const MAX_SNAT_ENTRIES: usize = 40;
/// At most this many public IPs in one SNAT entry (the service's fixed limit).
const MAX_SNAT_IPS: usize = 64;
/// Above this external port, a DNAT entry sharing its IP with SNAT needs `PortBreak`.
const PORT_BREAK_ABOVE: u16 = 1024;

/// The handler of `action`, if this module serves it.
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    action: &str,
    params: &Params,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "CreateForwardEntry" => run::<CreateForwardEntry>(ctx, params, create_forward_entry),
        "ModifyForwardEntry" => run::<ModifyForwardEntry>(ctx, params, modify_forward_entry),
        "DescribeForwardTableEntries" => {
            run::<DescribeForwardTableEntries>(ctx, params, describe_forward_table_entries)
        }
        "DeleteForwardEntry" => run::<DeleteForwardEntry>(ctx, params, delete_forward_entry),
        "CreateSnatEntry" => run::<CreateSnatEntry>(ctx, params, create_snat_entry),
        "ModifySnatEntry" => run::<ModifySnatEntry>(ctx, params, modify_snat_entry),
        "DescribeSnatTableEntries" => {
            run::<DescribeSnatTableEntries>(ctx, params, describe_snat_table_entries)
        }
        "DeleteSnatEntry" => run::<DeleteSnatEntry>(ctx, params, delete_snat_entry),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Shared: gateways, tables, transitions
// ---------------------------------------------------------------------------

/// What the entry handlers need of the gateway owning a table (copied so the
/// state can be changed afterwards).
struct Gateway {
    id: String,
    vpc_id: String,
    status: String,
}

impl Gateway {
    fn of(record: &Record<NatGateway>) -> Gateway {
        Gateway {
            id: record.wire.nat_gateway_id.clone(),
            vpc_id: record.wire.vpc_id.clone(),
            status: record.wire.status.clone(),
        }
    }

    /// Only an `Available` gateway accepts entry writes.
    fn require_available(&self) -> Result<(), ApiError> {
        if self.status == "Available" {
            Ok(())
        } else {
            Err(ApiError::new(
                400,
                "IncorrectStatus.NatGateway",
                "The status of NAT gateway is incorrect.",
            ))
        }
    }
}

/// A required string parameter that was sent empty.
fn required(value: &str, name: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(missing(name))
    } else {
        Ok(())
    }
}

/// An optional parameter, `None` when absent or empty.
fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// The gateway named by a describe call's `NatGatewayId` (used when no table is given).
fn gateway_by_id(ctx: &Ctx<'_>, gateway_id: &str) -> Result<Gateway, ApiError> {
    ctx.state
        .nat_gateways
        .get(gateway_id)
        .map(Gateway::of)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidNatGatewayId.NotFound",
                "The specified NatGatewayId does not exist in our records.",
            )
        })
}

/// The CIDR block of the gateway's VPC, from the region fixture.
fn vpc_cidr(ctx: &Ctx<'_>, vpc_id: &str) -> Option<Ipv4Net> {
    ctx.region
        .vpcs
        .iter()
        .find(|v| v.vpc_id == vpc_id)
        .and_then(|v| validate::cidr(&v.cidr_block))
}

fn is_gateway_ip(ctx: &Ctx<'_>, gateway_id: &str, ip: &str) -> bool {
    ctx.state
        .gateway_ips(gateway_id)
        .iter()
        .any(|(_, address)| address == ip)
}

/// Whether a table has an entry being created or modified: the service then
/// refuses every write on the table.
fn busy(status: &str) -> bool {
    matches!(status, "Pending" | "Modifying")
}

fn pending(ctx: &Ctx<'_>) -> Transition {
    Transition {
        to: "Available".into(),
        due_ms: ctx.due(ctx.durations.pending),
        effect: None,
    }
}

fn deleting(ctx: &Ctx<'_>) -> Transition {
    Transition {
        to: GONE.into(),
        due_ms: ctx.due(ctx.durations.deleting),
        effect: None,
    }
}

fn dry_run_passed() -> ApiError {
    ApiError::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

fn name_check(name: Option<&String>) -> Result<(), ApiError> {
    validate::check_name(
        name.map(String::as_str),
        "InvalidParameter.Name.Malformed",
        "Name",
    )
}

/// Sort describe results stably: creation time, then id.
fn sorted<T: Clone>(mut items: Vec<(i64, String, T)>) -> Vec<T> {
    items.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    items.into_iter().map(|(_, _, item)| item).collect()
}

// ---------------------------------------------------------------------------
// Shared: the life of a DNAT or SNAT entry in its table
// ---------------------------------------------------------------------------

/// A fixed answer refusing a call: HTTP status, code and message.
#[derive(Debug, Clone, Copy)]
struct Refusal {
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
trait TableEntry: Resource + Clone {
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

// ---------------------------------------------------------------------------
// DNAT: the five-tuple
// ---------------------------------------------------------------------------

/// A DNAT protocol; responses show it in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Tcp,
    Udp,
    Any,
}

impl Protocol {
    fn parse(text: &str) -> Option<Protocol> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "any" => Some(Protocol::Any),
            _ => None,
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Any => "any",
        }
    }

    /// `Any` covers both TCP and UDP.
    fn clashes(self, other: Protocol) -> bool {
        self == other || self == Protocol::Any || other == Protocol::Any
    }
}

fn port_text(port: Port) -> String {
    match port {
        Port::One(p) => p.to_string(),
        Port::Range(a, b) => format!("{a}/{b}"),
        Port::Any => "Any".to_string(),
    }
}

fn port_bounds(port: Port) -> (u16, u16) {
    match port {
        Port::One(p) => (p, p),
        Port::Range(a, b) => (a, b),
        Port::Any => (1, u16::MAX),
    }
}

fn ports_overlap(a: Port, b: Port) -> bool {
    let ((a1, a2), (b1, b2)) = (port_bounds(a), port_bounds(b));
    a1 <= b2 && b1 <= a2
}

/// The five-tuple of a DNAT entry.
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    external_ip: String,
    external_port: Port,
    protocol: Protocol,
    internal_ip: String,
    internal_port: Port,
}

impl Mapping {
    /// The tuple of a stored entry; unreadable parts count as `Any`, the
    /// widest reading, so they conflict rather than slip through.
    fn of(entry: &ForwardTableEntry) -> Mapping {
        let port = |p: &Option<String>| p.as_deref().and_then(Port::parse).unwrap_or(Port::Any);
        Mapping {
            external_ip: entry.external_ip.trim().to_string(),
            external_port: port(&entry.external_port),
            protocol: Protocol::parse(&entry.ip_protocol).unwrap_or(Protocol::Any),
            internal_ip: entry.internal_ip.trim().to_string(),
            internal_port: port(&entry.internal_port),
        }
    }

    fn clashes_externally(&self, other: &Mapping) -> bool {
        self.external_ip == other.external_ip
            && self.protocol.clashes(other.protocol)
            && ports_overlap(self.external_port, other.external_port)
    }

    fn clashes_internally(&self, other: &Mapping) -> bool {
        self.internal_ip == other.internal_ip
            && self.protocol.clashes(other.protocol)
            && ports_overlap(self.internal_port, other.internal_port)
    }

    /// Same public side (what decides whether the SNAT sharing rule must be re-checked).
    fn same_public_side(&self, other: &Mapping) -> bool {
        self.external_ip == other.external_ip
            && self.external_port == other.external_port
            && self.protocol == other.protocol
    }

    /// `Any` goes with `Any` ports only; a port range needs an internal range
    /// of the same size.
    fn check_shape(&self) -> Result<(), ApiError> {
        let any = self.protocol == Protocol::Any;
        if (self.external_port == Port::Any) != any {
            return Err(bad_external_port());
        }
        if (self.internal_port == Port::Any) != any {
            return Err(bad_internal_port());
        }
        if self.external_port.len() != self.internal_port.len() {
            return Err(bad_internal_port());
        }
        Ok(())
    }
}

fn parse_external_ip(text: &str) -> Result<String, ApiError> {
    validate::ipv4(text)
        .map(|ip| ip.to_string())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidExternalIp.Malformed",
                "The specified ExternalIp is not a valid IP address.",
            )
        })
}

fn parse_internal_ip(text: &str) -> Result<String, ApiError> {
    validate::ipv4(text)
        .map(|ip| ip.to_string())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidInternalIp.Malformed",
                "The specified InternalIp is not a valid IP address.",
            )
        })
}

fn bad_external_port() -> ApiError {
    ApiError::new(
        400,
        "InvalidExternalPort.Malformed",
        "The specified ExternalPort is not a valid port.",
    )
}

fn bad_internal_port() -> ApiError {
    ApiError::new(
        400,
        "InvalidInternalPort.Malformed",
        "The specified InternalPort is not a valid port.",
    )
}

fn parse_external_port(text: &str) -> Result<Port, ApiError> {
    Port::parse(text).ok_or_else(bad_external_port)
}

fn parse_internal_port(text: &str) -> Result<Port, ApiError> {
    Port::parse(text).ok_or_else(bad_internal_port)
}

fn parse_protocol(text: &str) -> Result<Protocol, ApiError> {
    Protocol::parse(text).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidProtocol.ValueNotSupported",
            "The specified IpProtocol does not support.",
        )
    })
}

/// The rules a DNAT tuple must meet on its gateway and table. `exclude` is
/// the entry being modified; `check_snat` is false when a modify keeps the
/// public side, which was accepted before.
struct MappingCheck<'a> {
    gateway: &'a Gateway,
    table_id: &'a str,
    exclude: Option<&'a str>,
    port_break: bool,
    check_snat: bool,
}

impl MappingCheck<'_> {
    fn run(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        self.check_internal_ip(ctx, m)?;
        if !is_gateway_ip(ctx, &self.gateway.id, &m.external_ip) {
            return Err(ApiError::new(
                404,
                "InvalidExternalIp.NotFound",
                "Specified External Ip address does not found on the VRouter",
            ));
        }
        if self.check_snat {
            self.check_snat_sharing(ctx, m)?;
        }
        self.check_unique(ctx, m)
    }

    fn check_internal_ip(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let inside = match (
            vpc_cidr(ctx, &self.gateway.vpc_id),
            m.internal_ip.parse::<Ipv4Addr>(),
        ) {
            (Some(net), Ok(ip)) => net.contains(&ip),
            _ => false,
        };
        if inside {
            Ok(())
        } else {
            Err(ApiError::new(
                400,
                "Forbidden.DestinationIpOutOfVpcCIDR",
                "The specified Internal Ip is Out of VPC CIDR.",
            ))
        }
    }

    /// A public IP used by SNAT may also serve DNAT port mappings; an IP
    /// mapping (`Any`) needs the whole address, and external ports above 1024
    /// collide with SNAT's port space unless `PortBreak` is set.
    fn check_snat_sharing(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let shared = ctx.state.snat_entries.values().any(|e| {
            e.wire.nat_gateway_id == self.gateway.id
                && e.wire
                    .snat_ip
                    .split(',')
                    .any(|ip| ip.trim() == m.external_ip)
        });
        let high_port = port_bounds(m.external_port).1 > PORT_BREAK_ABOVE;
        if shared && (m.protocol == Protocol::Any || (high_port && !self.port_break)) {
            return Err(ApiError::new(
                400,
                "Forbidden.ExternalIp.UsedInSnatTable",
                "The specified ExternalIp is already used in SnatTable",
            ));
        }
        Ok(())
    }

    fn check_unique(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let others: Vec<Mapping> = ctx
            .state
            .forward_entries
            .values()
            .filter(|e| e.wire.forward_table_id == self.table_id)
            .filter(|e| Some(e.wire.forward_entry_id.as_str()) != self.exclude)
            .map(|e| Mapping::of(&e.wire))
            .collect();
        if others.iter().any(|o| m.clashes_externally(o)) {
            return Err(ApiError::new(
                400,
                "Forbidden.PortOccupied",
                "The specified ExternalIp, ExternalPort and IpProtocol are already used by another forward entry.",
            ));
        }
        if others.iter().any(|o| m.clashes_internally(o)) {
            return Err(ApiError::new(
                400,
                "OperationUnsupported.ForwardEntry",
                "Duplicated destination ip port is unsupported.",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// DNAT actions
// ---------------------------------------------------------------------------

/// Message of an unknown DNAT table in the write actions.
const MISSING_FORWARD_TABLE: &str = "Specified forward table does not exist.";
/// Message of an unknown DNAT entry.
const MISSING_FORWARD_ENTRY: &str = "Specified forward entry ID does not exist";

fn create_forward_entry(
    ctx: &mut Ctx<'_>,
    req: CreateForwardEntry,
) -> Result<CreateForwardEntryResponse, ApiError> {
    required(&req.forward_table_id, "ForwardTableId")?;
    required(&req.external_ip, "ExternalIp")?;
    required(&req.external_port, "ExternalPort")?;
    required(&req.internal_ip, "InternalIp")?;
    required(&req.internal_port, "InternalPort")?;
    required(&req.ip_protocol, "IpProtocol")?;
    name_check(req.forward_entry_name.as_ref())?;
    let mapping = Mapping {
        external_ip: parse_external_ip(&req.external_ip)?,
        external_port: parse_external_port(&req.external_port)?,
        protocol: parse_protocol(&req.ip_protocol)?,
        internal_ip: parse_internal_ip(&req.internal_ip)?,
        internal_port: parse_internal_port(&req.internal_port)?,
    };
    mapping.check_shape()?;
    let table_id = req.forward_table_id.trim();
    let gateway = ForwardTableEntry::table_for_new_entry(ctx, table_id, MISSING_FORWARD_TABLE)?;
    MappingCheck {
        gateway: &gateway,
        table_id,
        exclude: None,
        port_break: req.port_break.unwrap_or(false),
        check_snat: true,
    }
    .run(ctx, &mapping)?;
    if req.dry_run == Some(true) {
        return Err(dry_run_passed());
    }
    let id = ctx.new_id("fwd");
    let wire = forward_wire(&mapping, &id, table_id, &gateway.id, req.forward_entry_name);
    ForwardTableEntry::insert_pending(ctx, wire);
    Ok(CreateForwardEntryResponse {
        forward_entry_id: id,
        ..Default::default()
    })
}

fn forward_wire(
    m: &Mapping,
    id: &str,
    table_id: &str,
    gateway_id: &str,
    name: Option<String>,
) -> ForwardTableEntry {
    ForwardTableEntry {
        external_ip: m.external_ip.clone(),
        external_port: Some(port_text(m.external_port)),
        forward_entry_id: id.to_string(),
        forward_entry_name: name.unwrap_or_default(),
        forward_table_id: table_id.to_string(),
        internal_ip: m.internal_ip.clone(),
        internal_port: Some(port_text(m.internal_port)),
        ip_protocol: m.protocol.wire().to_string(),
        status: "Pending".to_string(),
        nat_gateway_id: gateway_id.to_string(),
    }
}

/// The tuple after a modify: given parameters replace the entry's values.
fn modified_mapping(req: &ModifyForwardEntry, old: &Mapping) -> Result<Mapping, ApiError> {
    let m = Mapping {
        external_ip: match given(req.external_ip.as_ref()) {
            Some(v) => parse_external_ip(v)?,
            None => old.external_ip.clone(),
        },
        external_port: match given(req.external_port.as_ref()) {
            Some(v) => parse_external_port(v)?,
            None => old.external_port,
        },
        protocol: match given(req.ip_protocol.as_ref()) {
            Some(v) => parse_protocol(v)?,
            None => old.protocol,
        },
        internal_ip: match given(req.internal_ip.as_ref()) {
            Some(v) => parse_internal_ip(v)?,
            None => old.internal_ip.clone(),
        },
        internal_port: match given(req.internal_port.as_ref()) {
            Some(v) => parse_internal_port(v)?,
            None => old.internal_port,
        },
    };
    m.check_shape()?;
    Ok(m)
}

fn modify_forward_entry(
    ctx: &mut Ctx<'_>,
    req: ModifyForwardEntry,
) -> Result<ModifyForwardEntryResponse, ApiError> {
    let (table_id, entry_id) =
        ForwardTableEntry::required_ids(&req.forward_table_id, &req.forward_entry_id)?;
    name_check(req.forward_entry_name.as_ref())?;
    let (gateway, entry) = ForwardTableEntry::locate(
        ctx,
        table_id,
        entry_id,
        MISSING_FORWARD_TABLE,
        MISSING_FORWARD_ENTRY,
    )?;
    let old = Mapping::of(&entry);
    let new = modified_mapping(&req, &old)?;
    ForwardTableEntry::check_writable(ctx, &gateway, table_id)?;
    MappingCheck {
        gateway: &gateway,
        table_id,
        exclude: Some(entry_id),
        port_break: req.port_break.unwrap_or(false),
        check_snat: !new.same_public_side(&old),
    }
    .run(ctx, &new)?;
    let name = given(req.forward_entry_name.as_ref())
        .map(str::to_string)
        .or(Some(entry.forward_entry_name));
    ForwardTableEntry::set_pending(ctx, entry_id, |wire| {
        *wire = forward_wire(&new, entry_id, table_id, &gateway.id, name);
    });
    Ok(ModifyForwardEntryResponse::default())
}

fn describe_forward_table_entries(
    ctx: &mut Ctx<'_>,
    req: DescribeForwardTableEntries,
) -> Result<DescribeForwardTableEntriesResponse, ApiError> {
    let filter = ForwardFilter::of(&req);
    let list = |ctx: &Ctx<'_>| {
        ForwardTableEntry::listed(
            ctx,
            req.forward_table_id.trim(),
            given(req.nat_gateway_id.as_ref()),
            "Specified forwardTableId does not exist",
            filter.entry_id.is_some(),
            |e| filter.matches(e),
        )
    };
    let mut items = list(ctx)?;
    if ForwardTableEntry::shift_pages(ctx, &items, req.page_number, req.page_size) {
        items = list(ctx)?;
    }
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeForwardTableEntriesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        forward_table_entries: page,
        ..Default::default()
    })
}

/// The optional filters of DescribeForwardTableEntries.
struct ForwardFilter<'a> {
    entry_id: Option<&'a str>,
    external_ip: Option<&'a str>,
    external_port: Option<&'a str>,
    internal_ip: Option<&'a str>,
    internal_port: Option<&'a str>,
    protocol: Option<&'a str>,
    name: Option<&'a str>,
}

impl<'a> ForwardFilter<'a> {
    fn of(req: &'a DescribeForwardTableEntries) -> ForwardFilter<'a> {
        ForwardFilter {
            entry_id: given(req.forward_entry_id.as_ref()),
            external_ip: given(req.external_ip.as_ref()),
            external_port: given(req.external_port.as_ref()),
            internal_ip: given(req.internal_ip.as_ref()),
            internal_port: given(req.internal_port.as_ref()),
            protocol: given(req.ip_protocol.as_ref()),
            name: given(req.forward_entry_name.as_ref()),
        }
    }

    fn matches(&self, e: &ForwardTableEntry) -> bool {
        let exact = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        let folded = |want: Option<&str>, have: Option<&String>| {
            want.is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        exact(self.entry_id, &e.forward_entry_id)
            && exact(self.external_ip, &e.external_ip)
            && exact(self.internal_ip, &e.internal_ip)
            && exact(self.name, &e.forward_entry_name)
            && folded(self.external_port, e.external_port.as_ref())
            && folded(self.internal_port, e.internal_port.as_ref())
            && folded(self.protocol, Some(&e.ip_protocol))
    }
}

fn delete_forward_entry(
    ctx: &mut Ctx<'_>,
    req: DeleteForwardEntry,
) -> Result<DeleteForwardEntryResponse, ApiError> {
    ForwardTableEntry::delete(
        ctx,
        &req.forward_table_id,
        &req.forward_entry_id,
        MISSING_FORWARD_TABLE,
        MISSING_FORWARD_ENTRY,
    )?;
    Ok(DeleteForwardEntryResponse::default())
}

// ---------------------------------------------------------------------------
// SNAT: sources and IPs
// ---------------------------------------------------------------------------

/// Where an SNAT entry's traffic comes from: a vSwitch (with its CIDR) or a CIDR block.
struct Source {
    vswitch_id: String,
    cidr: Ipv4Net,
}

fn invalid_parameter() -> ApiError {
    ApiError::new(400, "INVALID_PARAMETER", "The parameter invalid.")
}

fn bad_snat_ip() -> ApiError {
    ApiError::new(
        400,
        "InvalidSnatIp.Malformed",
        "The specified SnatIp is not a valid IP address.",
    )
}

/// The public IPs of `SnatIp`: one or more IPv4 addresses separated by commas.
fn parse_snat_ips(text: &str) -> Result<Vec<String>, ApiError> {
    let ips = text
        .split(',')
        .map(|part| {
            validate::ipv4(part)
                .map(|ip| ip.to_string())
                .ok_or_else(bad_snat_ip)
        })
        .collect::<Result<Vec<String>, ApiError>>()?;
    if ips.len() > MAX_SNAT_IPS {
        return Err(ApiError::new(
            400,
            "SNAT_IP_POOL_COUNT_TOO_MANY",
            "The Snat pool ip too many.",
        ));
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != ips.len() {
        return Err(invalid_parameter());
    }
    Ok(ips)
}

fn check_eip_affinity(value: Option<u8>) -> Result<(), ApiError> {
    match value {
        None | Some(0 | 1) => Ok(()),
        Some(_) => Err(ApiError::new(
            400,
            "InvalidParameter",
            "The specified EipAffinity is not valid: it must be 0 or 1.",
        )),
    }
}

/// Each SNAT IP must be an IP of the gateway, and not one that a DNAT entry
/// maps as a whole (`Any`): port-mapped DNAT IPs may be shared.
fn check_snat_ips(ctx: &Ctx<'_>, gateway: &Gateway, ips: &[String]) -> Result<(), ApiError> {
    for ip in ips {
        if !is_gateway_ip(ctx, &gateway.id, ip) {
            return Err(ApiError::new(
                404,
                "InvalidSnatIp.NotFound",
                "Specified SnatIp does not found on the NAT Gateway",
            ));
        }
        let ip_mapped = ctx.state.forward_entries.values().any(|e| {
            e.wire.nat_gateway_id == gateway.id
                && e.wire.external_ip == *ip
                && Protocol::parse(&e.wire.ip_protocol) == Some(Protocol::Any)
        });
        if ip_mapped {
            return Err(ApiError::new(
                400,
                "Forbidden.IpUsedInForwardTable",
                "The specified SnatIp already used in forward table",
            ));
        }
    }
    Ok(())
}

/// The source of a new SNAT entry: exactly one of a vSwitch of the gateway's
/// VPC or a CIDR block inside that VPC.
fn snat_source(
    ctx: &Ctx<'_>,
    gateway: &Gateway,
    req: &CreateSnatEntry,
) -> Result<Source, ApiError> {
    match (
        given(req.source_vswitch_id.as_ref()),
        given(req.source_cidr.as_ref()),
    ) {
        (Some(vswitch_id), None) => vswitch_source(ctx, gateway, vswitch_id),
        (None, Some(cidr)) => {
            let net = validate::cidr(cidr).ok_or_else(invalid_parameter)?;
            let inside = vpc_cidr(ctx, &gateway.vpc_id).is_some_and(|vpc| vpc.contains(&net));
            if !inside {
                return Err(ApiError::new(
                    400,
                    "NOT_ALLOW_USE_SOURCECIDR",
                    "The User not in nat_scope_unlimited white list. Cannot use SourceCidr param.",
                ));
            }
            Ok(Source {
                vswitch_id: String::new(),
                cidr: net,
            })
        }
        _ => Err(invalid_parameter()),
    }
}

fn vswitch_source(ctx: &Ctx<'_>, gateway: &Gateway, vswitch_id: &str) -> Result<Source, ApiError> {
    let (vpc, vswitch) = ctx
        .region
        .vpcs
        .iter()
        .flat_map(|v| v.v_switches.iter().map(move |s| (v, s)))
        .find(|(_, s)| s.v_switch_id == vswitch_id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidVSwitchId.NotFound",
                "The specified virtual switch does not exist.",
            )
        })?;
    if vpc.vpc_id != gateway.vpc_id {
        return Err(ApiError::new(
            400,
            "OperationFailed.VswitchNotBelongToVpc",
            "Operation failed because the specified VSwitch is not bound to the same VPC with NAT gateway.",
        ));
    }
    let cidr = validate::cidr(&vswitch.cidr_block).ok_or_else(invalid_parameter)?;
    Ok(Source {
        vswitch_id: vswitch_id.to_string(),
        cidr,
    })
}

/// One SNAT entry per vSwitch or CIDR block, and no overlapping blocks in a table.
fn check_source_free(ctx: &Ctx<'_>, table_id: &str, source: &Source) -> Result<(), ApiError> {
    for entry in ctx.state.snat_entries.values() {
        let e = &entry.wire;
        if e.snat_table_id != table_id {
            continue;
        }
        let same_vswitch =
            !source.vswitch_id.is_empty() && e.source_vswitch_id == source.vswitch_id;
        let other = validate::cidr(&e.source_cidr);
        if same_vswitch || other == Some(source.cidr) {
            return Err(ApiError::new(
                400,
                "Forbidden.SourceVSwitchId.Duplicated",
                "The specified SourceCIDR is duplicated.",
            ));
        }
        let overlaps = other.is_some_and(|o| {
            o.contains(&source.cidr.network()) || source.cidr.contains(&o.network())
        });
        if overlaps {
            return Err(ApiError::new(
                400,
                "OperationUnsupported.CidrConflict",
                "The specified CIDR block conflicts with an existing SNAT entry.",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SNAT actions
// ---------------------------------------------------------------------------

/// Message of an unknown SNAT table.
const MISSING_SNAT_TABLE: &str = "Specified SNAT table does not exist.";

fn create_snat_entry(
    ctx: &mut Ctx<'_>,
    req: CreateSnatEntry,
) -> Result<CreateSnatEntryResponse, ApiError> {
    required(&req.snat_table_id, "SnatTableId")?;
    required(&req.snat_ip, "SnatIp")?;
    name_check(req.snat_entry_name.as_ref())?;
    check_eip_affinity(req.eip_affinity)?;
    if given(req.source_vswitch_id.as_ref()).is_some() == given(req.source_cidr.as_ref()).is_some()
    {
        return Err(invalid_parameter());
    }
    let ips = parse_snat_ips(&req.snat_ip)?;
    let table_id = req.snat_table_id.trim();
    let gateway = SnatTableEntry::table_for_new_entry(ctx, table_id, MISSING_SNAT_TABLE)?;
    let source = snat_source(ctx, &gateway, &req)?;
    check_source_free(ctx, table_id, &source)?;
    check_snat_ips(ctx, &gateway, &ips)?;
    let id = ctx.new_id("snat");
    let wire = SnatTableEntry {
        snat_entry_id: id.clone(),
        snat_entry_name: req.snat_entry_name.unwrap_or_default(),
        snat_ip: ips.join(","),
        snat_table_id: table_id.to_string(),
        source_cidr: source.cidr.to_string(),
        source_vswitch_id: source.vswitch_id,
        status: "Pending".to_string(),
        eip_affinity: Some(req.eip_affinity.unwrap_or(0)),
        nat_gateway_id: gateway.id.clone(),
        network_interface_id: String::new(),
    };
    SnatTableEntry::insert_pending(ctx, wire);
    Ok(CreateSnatEntryResponse {
        snat_entry_id: id,
        ..Default::default()
    })
}

fn modify_snat_entry(
    ctx: &mut Ctx<'_>,
    req: ModifySnatEntry,
) -> Result<ModifySnatEntryResponse, ApiError> {
    let (table_id, entry_id) =
        SnatTableEntry::required_ids(&req.snat_table_id, &req.snat_entry_id)?;
    name_check(req.snat_entry_name.as_ref())?;
    check_eip_affinity(req.eip_affinity)?;
    let ips = given(req.snat_ip.as_ref())
        .map(parse_snat_ips)
        .transpose()?;
    let (gateway, _) = SnatTableEntry::locate(
        ctx,
        table_id,
        entry_id,
        MISSING_SNAT_TABLE,
        "Specified SNAT entry does not exist.",
    )?;
    SnatTableEntry::check_writable(ctx, &gateway, table_id)?;
    if let Some(ips) = &ips {
        check_snat_ips(ctx, &gateway, ips)?;
    }
    let name = given(req.snat_entry_name.as_ref()).map(str::to_string);
    SnatTableEntry::set_pending(ctx, entry_id, |wire| {
        if let Some(ips) = ips {
            wire.snat_ip = ips.join(",");
        }
        if let Some(name) = name {
            wire.snat_entry_name = name;
        }
        if let Some(affinity) = req.eip_affinity {
            wire.eip_affinity = Some(affinity);
        }
    });
    Ok(ModifySnatEntryResponse::default())
}

fn describe_snat_table_entries(
    ctx: &mut Ctx<'_>,
    req: DescribeSnatTableEntries,
) -> Result<DescribeSnatTableEntriesResponse, ApiError> {
    let filter = SnatFilter::of(&req);
    let list = |ctx: &Ctx<'_>| {
        SnatTableEntry::listed(
            ctx,
            req.snat_table_id.trim(),
            given(req.nat_gateway_id.as_ref()),
            MISSING_SNAT_TABLE,
            filter.entry_id.is_some(),
            |e| filter.matches(e),
        )
    };
    let mut items = list(ctx)?;
    if SnatTableEntry::shift_pages(ctx, &items, req.page_number, req.page_size) {
        items = list(ctx)?;
    }
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeSnatTableEntriesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        snat_table_entries: page,
        ..Default::default()
    })
}

/// The optional filters of DescribeSnatTableEntries.
struct SnatFilter<'a> {
    entry_id: Option<&'a str>,
    vswitch_id: Option<&'a str>,
    cidr: Option<&'a str>,
    ips: Option<Vec<&'a str>>,
    name: Option<&'a str>,
}

impl<'a> SnatFilter<'a> {
    fn of(req: &'a DescribeSnatTableEntries) -> SnatFilter<'a> {
        SnatFilter {
            entry_id: given(req.snat_entry_id.as_ref()),
            vswitch_id: given(req.source_vswitch_id.as_ref()),
            cidr: given(req.source_cidr.as_ref()),
            ips: given(req.snat_ip.as_ref()).map(|s| s.split(',').map(str::trim).collect()),
            name: given(req.snat_entry_name.as_ref()),
        }
    }

    /// `SnatIp` matches entries whose IP pool holds every IP asked for.
    fn matches(&self, e: &SnatTableEntry) -> bool {
        let exact = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        let has_ips = self.ips.as_ref().is_none_or(|want| {
            want.iter()
                .all(|w| e.snat_ip.split(',').any(|have| have.trim() == *w))
        });
        exact(self.entry_id, &e.snat_entry_id)
            && exact(self.vswitch_id, &e.source_vswitch_id)
            && exact(self.cidr, &e.source_cidr)
            && exact(self.name, &e.snat_entry_name)
            && has_ips
    }
}

fn delete_snat_entry(
    ctx: &mut Ctx<'_>,
    req: DeleteSnatEntry,
) -> Result<DeleteSnatEntryResponse, ApiError> {
    SnatTableEntry::delete(
        ctx,
        &req.snat_table_id,
        &req.snat_entry_id,
        MISSING_SNAT_TABLE,
        "Specified Snat entry ID does not exist",
    )?;
    Ok(DeleteSnatEntryResponse::default())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::cloud::alibaba::actions::eip::EipAddress;
    use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
    use crate::emulator::ApiError;
    use crate::emulator::alibaba::testing::Bench;
    use crate::emulator::state::Record;

    const VPC1: &str = "vpc-hz1natop0000000000";
    const VPC2: &str = "vpc-hz2natop0000000000";
    const VSW11: &str = "vsw-hz11natop000000000"; // 172.16.1.0/24
    const VSW12: &str = "vsw-hz12natop000000000"; // 172.16.2.0/24
    const VSW21: &str = "vsw-hz21natop000000000"; // 192.168.1.0/24, other VPC
    const IP1: &str = "47.97.1.11";
    const IP2: &str = "47.97.1.12";
    const IP3: &str = "47.97.1.13";
    const UNBOUND: &str = "47.97.1.20";
    const FTB: &str = "ftb-natop1";
    const STB: &str = "stb-natop1";

    fn add_gateway(b: &mut Bench, id: &str, ftb: &str, stb: &str, vpc: &str) {
        let wire = NatGateway {
            nat_gateway_id: id.into(),
            vpc_id: vpc.into(),
            forward_table_ids: vec![ftb.into()],
            snat_table_ids: vec![stb.into()],
            status: "Available".into(),
            region_id: "cn-hangzhou".into(),
            ..Default::default()
        };
        b.state
            .nat_gateways
            .insert(id.into(), Record::new(wire, None, b.now_ms));
    }

    /// Bind the fixture EIP with this address to `gateway`.
    fn bind(b: &mut Bench, ip: &str, gateway: &str) {
        let eip: &mut Record<EipAddress> = b
            .state
            .eips
            .values_mut()
            .find(|e| e.wire.ip_address == ip)
            .expect("fixture EIP");
        eip.wire.instance_id = gateway.into();
        eip.wire.instance_type = "Nat".into();
        eip.wire.status = "InUse".into();
    }

    /// A gateway in VPC 1 with three bound EIPs.
    fn bench() -> Bench {
        let mut b = Bench::new();
        add_gateway(&mut b, "ngw-natop1", FTB, STB, VPC1);
        for ip in [IP1, IP2, IP3] {
            bind(&mut b, ip, "ngw-natop1");
        }
        b
    }

    fn code(r: Result<Value, ApiError>) -> (u16, String) {
        let e = r.expect_err("an error");
        (e.status, e.code)
    }

    fn dnat<'a>(
        ext_ip: &'a str,
        ext: &'a str,
        int_ip: &'a str,
        int: &'a str,
        proto: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        vec![
            ("ForwardTableId", FTB),
            ("ExternalIp", ext_ip),
            ("ExternalPort", ext),
            ("InternalIp", int_ip),
            ("InternalPort", int),
            ("IpProtocol", proto),
        ]
    }

    /// Create a DNAT entry and wait until it is Available; returns its id.
    fn dnat_ok(b: &mut Bench, params: &[(&str, &str)]) -> String {
        let v = b.call("CreateForwardEntry", params).expect("create");
        b.advance(3);
        v["ForwardEntryId"].as_str().expect("id").to_string()
    }

    fn with<'a>(
        mut p: Vec<(&'a str, &'a str)>,
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        p.extend_from_slice(extra);
        p
    }

    fn forward_entries(b: &mut Bench, extra: &[(&str, &str)]) -> Value {
        let params = with(vec![("ForwardTableId", FTB)], extra);
        b.call("DescribeForwardTableEntries", &params)
            .expect("describe")
    }

    fn forward_entry(b: &mut Bench, id: &str) -> Value {
        forward_entries(b, &[("ForwardEntryId", id)])["ForwardTableEntries"]["ForwardTableEntry"][0]
            .clone()
    }

    fn snat<'a>(ip: &'a str, key: &'a str, source: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![("SnatTableId", STB), ("SnatIp", ip), (key, source)]
    }

    fn snat_ok(b: &mut Bench, params: &[(&str, &str)]) -> String {
        let v = b.call("CreateSnatEntry", params).expect("create snat");
        b.advance(3);
        v["SnatEntryId"].as_str().expect("id").to_string()
    }

    fn snat_entries(b: &mut Bench, extra: &[(&str, &str)]) -> Value {
        let params = with(vec![("SnatTableId", STB)], extra);
        b.call("DescribeSnatTableEntries", &params)
            .expect("describe")
    }

    fn snat_entry(b: &mut Bench, id: &str) -> Value {
        snat_entries(b, &[("SnatEntryId", id)])["SnatTableEntries"]["SnatTableEntry"][0].clone()
    }

    // -- pageShift ----------------------------------------------------------

    /// The ids on page `n` of 5 of the DNAT table.
    fn page_ids(b: &mut Bench, n: &str) -> Vec<String> {
        forward_entries(b, &[("PageNumber", n), ("PageSize", "5")])["ForwardTableEntries"]
            ["ForwardTableEntry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ForwardEntryId"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_page_shift_completes_a_deletion_on_an_earlier_page_and_skips_an_entry() {
        let mut b = bench();
        let ids: Vec<String> = (0..8u16)
            .map(|i| {
                let port = (8000 + i).to_string();
                let internal = format!("172.16.1.{}", 10 + i);
                dnat_ok(&mut b, &dnat(IP1, &port, &internal, "80", "TCP"))
            })
            .collect();
        b.call(
            "DeleteForwardEntry",
            &[("ForwardTableId", FTB), ("ForwardEntryId", &ids[1])],
        )
        .unwrap();
        // Without the fault, the Deleting entry stays listed on page 1.
        let first = page_ids(&mut b, "1");
        assert_eq!(first, ids[..5]);
        assert_eq!(page_ids(&mut b, "2"), ids[5..]);
        // With it, the deletion completes before page 2 is cut: ids[5] moves
        // onto page 1, already read, and a reader of both pages misses it.
        b.page_shift = true;
        let second = page_ids(&mut b, "2");
        assert_eq!(second, ids[6..]);
        let seen: Vec<&String> = first.iter().chain(&second).collect();
        assert!(!seen.contains(&&ids[5]), "the shifted entry is skipped");
        let total = forward_entries(&mut b, &[])["TotalCount"].as_u64().unwrap();
        assert_eq!(
            total, 7,
            "the deleted entry is gone; the skipped one is not"
        );
        // On page 1 nothing earlier can shift it.
        b.page_shift = true;
        assert_eq!(page_ids(&mut b, "1").len(), 5);
    }

    // -- listLagMs -----------------------------------------------------------

    #[test]
    fn a_list_lag_hides_young_entries_from_listings_but_not_from_reads_by_id() {
        let mut b = bench();
        let old = dnat_ok(&mut b, &dnat(IP1, "8000", "172.16.1.10", "80", "TCP"));
        let old_snat = snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.20.0.0/24"));
        b.advance(10);
        b.list_lag_ms = 10_000;
        let young = dnat_ok(&mut b, &dnat(IP1, "8001", "172.16.1.11", "80", "TCP"));
        let young_snat = snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.20.1.0/24"));
        let listed = |v: &Value, list: &str, entry: &str, id: &str| -> Vec<String> {
            v[list][entry]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e[id].as_str().unwrap().to_string())
                .collect()
        };
        let all = forward_entries(&mut b, &[]);
        let ids = listed(
            &all,
            "ForwardTableEntries",
            "ForwardTableEntry",
            "ForwardEntryId",
        );
        assert_eq!(ids, [old], "the young entry is not listed yet");
        assert_eq!(
            forward_entry(&mut b, &young)["ForwardEntryId"],
            young.as_str()
        );
        let all = snat_entries(&mut b, &[]);
        let ids = listed(&all, "SnatTableEntries", "SnatTableEntry", "SnatEntryId");
        assert_eq!(ids, [old_snat]);
        assert_eq!(
            snat_entry(&mut b, &young_snat)["SnatEntryId"],
            young_snat.as_str()
        );
        // Once the lag has passed, listings show them.
        b.advance(10);
        let all = forward_entries(&mut b, &[]);
        let ids = listed(
            &all,
            "ForwardTableEntries",
            "ForwardTableEntry",
            "ForwardEntryId",
        );
        assert_eq!(ids.len(), 2);
        assert!(ids.contains(&young));
        let all = snat_entries(&mut b, &[]);
        let ids = listed(&all, "SnatTableEntries", "SnatTableEntry", "SnatEntryId");
        assert_eq!(ids.len(), 2);
    }

    // -- DNAT ---------------------------------------------------------------

    #[test]
    fn dnat_create_is_pending_then_available_and_described() {
        let mut b = bench();
        let p = with(
            dnat(IP1, "8080", "172.16.1.10", "80", "TCP"),
            &[("ForwardEntryName", "web-1"), ("ClientToken", "t1")],
        );
        let v = b.call("CreateForwardEntry", &p).unwrap();
        let id = v["ForwardEntryId"].as_str().unwrap().to_string();
        assert!(id.starts_with("fwd-") && id.len() == 26, "{id}");
        let e = forward_entry(&mut b, &id);
        assert_eq!(e["Status"], "Pending");
        assert_eq!(e["IpProtocol"], "tcp");
        assert_eq!(e["ExternalPort"], "8080");
        assert_eq!(e["InternalPort"], "80");
        assert_eq!(e["ExternalIp"], IP1);
        assert_eq!(e["InternalIp"], "172.16.1.10");
        assert_eq!(e["ForwardEntryName"], "web-1");
        assert_eq!(e["ForwardTableId"], FTB);
        assert_eq!(e["NatGatewayId"], "ngw-natop1");
        assert_eq!(
            b.state.forward_entries[&id].client_token.as_deref(),
            Some("t1")
        );
        b.advance(2);
        assert_eq!(forward_entry(&mut b, &id)["Status"], "Pending");
        b.advance(1);
        assert_eq!(forward_entry(&mut b, &id)["Status"], "Available");
        assert_eq!(b.state.ip_usage("ngw-natop1", IP1), "UsedByForwardTable");
    }

    #[test]
    fn dnat_missing_and_empty_parameters() {
        let mut b = bench();
        let p = vec![("ForwardTableId", FTB), ("ExternalIp", IP1)];
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "MissingExternalPort".into())
        );
        let p = dnat(IP1, "80", "", "80", "TCP");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "MissingInternalIp".into())
        );
        let p = dnat(IP1, "80", "172.16.1.10", "80", " ");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "MissingIpProtocol".into())
        );
        let p = vec![("ForwardTableId", FTB)];
        assert_eq!(
            code(b.call("DeleteForwardEntry", &p)),
            (400, "MissingForwardEntryId".into())
        );
    }

    #[test]
    fn dnat_formats() {
        let mut b = bench();
        let cases = [
            (
                dnat("47.97.1.300", "80", "172.16.1.10", "80", "TCP"),
                "InvalidExternalIp.Malformed",
            ),
            (
                dnat(IP1, "80", "172.16.1", "80", "TCP"),
                "InvalidInternalIp.Malformed",
            ),
            (
                dnat(IP1, "0", "172.16.1.10", "80", "TCP"),
                "InvalidExternalPort.Malformed",
            ),
            (
                dnat(IP1, "65536", "172.16.1.10", "80", "TCP"),
                "InvalidExternalPort.Malformed",
            ),
            (
                dnat(IP1, "20/10", "172.16.1.10", "80", "TCP"),
                "InvalidExternalPort.Malformed",
            ),
            (
                dnat(IP1, "80", "172.16.1.10", "x", "TCP"),
                "InvalidInternalPort.Malformed",
            ),
            (
                dnat(IP1, "80", "172.16.1.10", "80", "ICMP"),
                "InvalidProtocol.ValueNotSupported",
            ),
            // Any goes with Any ports only, and Any ports with Any only.
            (
                dnat(IP1, "80", "172.16.1.10", "80", "Any"),
                "InvalidExternalPort.Malformed",
            ),
            (
                dnat(IP1, "Any", "172.16.1.10", "80", "Any"),
                "InvalidInternalPort.Malformed",
            ),
            (
                dnat(IP1, "Any", "172.16.1.10", "Any", "TCP"),
                "InvalidExternalPort.Malformed",
            ),
            (
                dnat(IP1, "80", "172.16.1.10", "Any", "UDP"),
                "InvalidInternalPort.Malformed",
            ),
            // A range maps to a range of the same size.
            (
                dnat(IP1, "10/20", "172.16.1.10", "80/89", "TCP"),
                "InvalidInternalPort.Malformed",
            ),
            (
                dnat(IP1, "10/20", "172.16.1.10", "80", "TCP"),
                "InvalidInternalPort.Malformed",
            ),
        ];
        for (p, want) in cases {
            assert_eq!(
                code(b.call("CreateForwardEntry", &p)),
                (400, want.to_string()),
                "{p:?}"
            );
        }
        let p = with(
            dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
            &[("ForwardEntryName", "1bad")],
        );
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "InvalidParameter.Name.Malformed".into())
        );
        assert!(b.state.forward_entries.is_empty());
        // Case-insensitive protocol, a range of the same size, an IP mapping.
        let id = dnat_ok(&mut b, &dnat(IP1, "10/20", "172.16.1.10", "80/90", "udp"));
        let e = forward_entry(&mut b, &id);
        assert_eq!(
            (e["ExternalPort"].as_str(), e["InternalPort"].as_str()),
            (Some("10/20"), Some("80/90"))
        );
        assert_eq!(e["IpProtocol"], "udp");
        let id = dnat_ok(&mut b, &dnat(IP2, "any", "172.16.1.11", "ANY", "aNy"));
        let e = forward_entry(&mut b, &id);
        assert_eq!(
            (e["ExternalPort"].as_str(), e["IpProtocol"].as_str()),
            (Some("Any"), Some("any"))
        );
    }

    #[test]
    fn dnat_table_gateway_and_ip_rules() {
        let mut b = bench();
        let mut p = dnat(IP1, "80", "172.16.1.10", "80", "TCP");
        p[0] = ("ForwardTableId", "ftb-nope");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (404, "InvalidForwardTableId.NotFound".into())
        );
        let p = dnat(IP1, "80", "192.168.1.10", "80", "TCP");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "Forbidden.DestinationIpOutOfVpcCIDR".into())
        );
        let p = dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (404, "InvalidExternalIp.NotFound".into())
        );
        // An EIP bound to another gateway is not an IP of this one.
        add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC2);
        bind(&mut b, UNBOUND, "ngw-natop2");
        let p = dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (404, "InvalidExternalIp.NotFound".into())
        );
        // The gateway must be Available.
        b.state
            .nat_gateways
            .get_mut("ngw-natop1")
            .unwrap()
            .wire
            .status = "Modifying".into();
        let p = dnat(IP1, "80", "172.16.1.10", "80", "TCP");
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "IncorrectStatus.NatGateway".into())
        );
        assert!(b.state.forward_entries.is_empty());
    }

    #[test]
    fn dnat_dry_run_checks_without_creating() {
        let mut b = bench();
        let p = with(
            dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
            &[("DryRun", "true")],
        );
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "DryRunOperation".into())
        );
        assert!(b.state.forward_entries.is_empty());
        let p = with(
            dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP"),
            &[("DryRun", "true")],
        );
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (404, "InvalidExternalIp.NotFound".into())
        );
    }

    #[test]
    fn dnat_tuples_are_unique_and_ranges_overlap() {
        let mut b = bench();
        dnat_ok(&mut b, &dnat(IP1, "8080", "172.16.1.10", "80", "TCP"));
        let external = |b: &mut Bench, p: Vec<(&str, &str)>| code(b.call("CreateForwardEntry", &p));
        let occupied = (400, "Forbidden.PortOccupied".to_string());
        let duplicated = (400, "OperationUnsupported.ForwardEntry".to_string());
        assert_eq!(
            external(&mut b, dnat(IP1, "8080", "172.16.1.11", "81", "tcp")),
            occupied
        );
        assert_eq!(
            external(
                &mut b,
                dnat(IP1, "8000/8100", "172.16.1.11", "9000/9100", "TCP")
            ),
            occupied
        );
        assert_eq!(
            external(&mut b, dnat(IP1, "Any", "172.16.1.11", "Any", "Any")),
            occupied
        );
        assert_eq!(
            external(&mut b, dnat(IP2, "9090", "172.16.1.10", "80", "TCP")),
            duplicated
        );
        assert_eq!(
            external(
                &mut b,
                dnat(IP2, "9000/9010", "172.16.1.10", "75/85", "TCP")
            ),
            duplicated
        );
        // Another protocol, port or IP is free.
        dnat_ok(&mut b, &dnat(IP1, "8080", "172.16.1.11", "81", "UDP"));
        dnat_ok(&mut b, &dnat(IP1, "8081", "172.16.1.10", "81", "TCP"));
        dnat_ok(&mut b, &dnat(IP2, "8080", "172.16.1.10", "80", "UDP"));
        // An IP mapping takes the whole address: nothing else may use it.
        dnat_ok(&mut b, &dnat(IP3, "Any", "172.16.1.20", "Any", "Any"));
        assert_eq!(
            external(&mut b, dnat(IP3, "22", "172.16.1.21", "22", "TCP")),
            occupied
        );
        assert_eq!(
            external(&mut b, dnat(IP2, "22", "172.16.1.20", "22", "UDP")),
            duplicated
        );
        assert_eq!(b.state.forward_entries.len(), 5);
    }

    #[test]
    fn dnat_pending_entry_locks_every_write_on_the_table() {
        let mut b = bench();
        let first = dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
        let second = b
            .call(
                "CreateForwardEntry",
                &dnat(IP1, "81", "172.16.1.10", "81", "TCP"),
            )
            .unwrap()["ForwardEntryId"]
            .as_str()
            .unwrap()
            .to_string();
        let busy = (400, "IncorretForwardEntryStatus".to_string());
        let create = dnat(IP1, "82", "172.16.1.10", "82", "TCP");
        assert_eq!(code(b.call("CreateForwardEntry", &create)), busy);
        let modify = [
            ("ForwardTableId", FTB),
            ("ForwardEntryId", first.as_str()),
            ("ExternalPort", "90"),
        ];
        assert_eq!(code(b.call("ModifyForwardEntry", &modify)), busy);
        let delete = [("ForwardTableId", FTB), ("ForwardEntryId", first.as_str())];
        assert_eq!(code(b.call("DeleteForwardEntry", &delete)), busy);
        // Another gateway's table is not locked.
        add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
        bind(&mut b, UNBOUND, "ngw-natop2");
        let mut other = dnat(UNBOUND, "82", "172.16.1.10", "82", "TCP");
        other[0] = ("ForwardTableId", "ftb-natop2");
        b.call("CreateForwardEntry", &other).unwrap();
        b.advance(2);
        assert_eq!(code(b.call("CreateForwardEntry", &create)), busy);
        b.advance(1);
        assert_eq!(forward_entry(&mut b, &second)["Status"], "Available");
        b.call("CreateForwardEntry", &create).unwrap();
        b.advance(3);
        b.call("ModifyForwardEntry", &modify).unwrap();
        assert_eq!(forward_entry(&mut b, &first)["Status"], "Pending");
        assert_eq!(code(b.call("DeleteForwardEntry", &delete)), busy);
        b.advance(3);
        b.call("DeleteForwardEntry", &delete).unwrap();
    }

    #[test]
    fn dnat_quota_is_100_entries_per_table() {
        let mut b = bench();
        for i in 0..100u16 {
            let ext = (1000 + i).to_string();
            let int = (2000 + i).to_string();
            dnat_ok(&mut b, &dnat(IP1, &ext, "172.16.1.10", &int, "TCP"));
        }
        let p = dnat(IP1, "5000", "172.16.1.10", "6000", "TCP");
        let e = b.call("CreateForwardEntry", &p).unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "QuotaExceeded"));
        assert_eq!(
            e.message,
            "Forward entry quota exceeded in this route table."
        );
        assert_eq!(forward_entries(&mut b, &[])["TotalCount"], 100);
        // A deleted entry frees its place once gone.
        let id = b.state.forward_entries.keys().next().unwrap().clone();
        b.call(
            "DeleteForwardEntry",
            &[("ForwardTableId", FTB), ("ForwardEntryId", id.as_str())],
        )
        .unwrap();
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, "QuotaExceeded".into())
        );
        b.advance(10);
        b.call("CreateForwardEntry", &p).unwrap();
    }

    #[test]
    fn dnat_modify_revalidates_everything_but_itself() {
        let mut b = bench();
        let a = dnat_ok(
            &mut b,
            &with(
                dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
                &[("ForwardEntryName", "a-entry")],
            ),
        );
        let other = dnat_ok(&mut b, &dnat(IP1, "81", "172.16.1.11", "81", "TCP"));
        let m = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
            let mut p = vec![
                ("ForwardTableId", FTB.to_string()),
                ("ForwardEntryId", a.clone()),
            ];
            p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
            p
        };
        let call = |b: &mut Bench, p: Vec<(&str, String)>| {
            let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.call("ModifyForwardEntry", &p)
        };
        // Its own values are no conflict.
        call(&mut b, m(&[("ExternalPort", "80"), ("IpProtocol", "TCP")])).unwrap();
        b.advance(3);
        assert_eq!(
            code(call(&mut b, m(&[("ExternalPort", "81")]))),
            (400, "Forbidden.PortOccupied".into())
        );
        assert_eq!(
            code(call(
                &mut b,
                m(&[("InternalIp", "172.16.1.11"), ("InternalPort", "81")])
            )),
            (400, "OperationUnsupported.ForwardEntry".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("IpProtocol", "Any")]))),
            (400, "InvalidExternalPort.Malformed".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("ExternalPort", "10/20")]))),
            (400, "InvalidInternalPort.Malformed".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("ExternalIp", UNBOUND)]))),
            (404, "InvalidExternalIp.NotFound".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("InternalIp", "10.0.0.1")]))),
            (400, "Forbidden.DestinationIpOutOfVpcCIDR".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("IpProtocol", "GRE")]))),
            (400, "InvalidProtocol.ValueNotSupported".into())
        );
        assert_eq!(
            code(call(&mut b, m(&[("ForwardEntryName", "http://x")]))),
            (400, "InvalidParameter.Name.Malformed".into())
        );
        // Everything can change at once, including to an IP mapping.
        call(
            &mut b,
            m(&[
                ("ExternalIp", IP2),
                ("ExternalPort", "Any"),
                ("InternalPort", "Any"),
                ("IpProtocol", "Any"),
                ("InternalIp", "172.16.1.30"),
            ]),
        )
        .unwrap();
        let e = forward_entry(&mut b, &a);
        assert_eq!(e["Status"], "Pending");
        assert_eq!(
            (e["ExternalIp"].as_str(), e["IpProtocol"].as_str()),
            (Some(IP2), Some("any"))
        );
        assert_eq!(e["ForwardEntryName"], "a-entry");
        b.advance(3);
        call(&mut b, m(&[("ForwardEntryName", "renamed")])).unwrap();
        b.advance(3);
        assert_eq!(forward_entry(&mut b, &a)["ForwardEntryName"], "renamed");
        // Unknown entries, entries of another table and unknown tables.
        let p = [("ForwardTableId", FTB), ("ForwardEntryId", "fwd-nope")];
        assert_eq!(
            code(b.call("ModifyForwardEntry", &p)),
            (404, "InvalidForwardEntryId.NotFound".into())
        );
        add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
        let p = [
            ("ForwardTableId", "ftb-natop2"),
            ("ForwardEntryId", other.as_str()),
        ];
        assert_eq!(
            code(b.call("ModifyForwardEntry", &p)),
            (404, "InvalidForwardEntryId.NotFound".into())
        );
        let p = [
            ("ForwardTableId", "ftb-nope"),
            ("ForwardEntryId", other.as_str()),
        ];
        assert_eq!(
            code(b.call("ModifyForwardEntry", &p)),
            (404, "InvalidForwardTableId.NotFound".into())
        );
    }

    #[test]
    fn dnat_delete_goes_through_deleting() {
        let mut b = bench();
        let id = dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
        let p = [("ForwardTableId", FTB), ("ForwardEntryId", id.as_str())];
        b.call("DeleteForwardEntry", &p).unwrap();
        assert_eq!(forward_entry(&mut b, &id)["Status"], "Deleting");
        // A Deleting entry takes no other write, but does not lock the table.
        let e = b.call("DeleteForwardEntry", &p).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (400, "IncorretForwardEntryStatus")
        );
        assert!(e.message.contains("not stable"), "{}", e.message);
        let m = [
            ("ForwardTableId", FTB),
            ("ForwardEntryId", id.as_str()),
            ("ExternalPort", "81"),
        ];
        assert_eq!(
            code(b.call("ModifyForwardEntry", &m)),
            (400, "IncorretForwardEntryStatus".into())
        );
        dnat_ok(&mut b, &dnat(IP1, "81", "172.16.1.11", "81", "TCP"));
        b.advance(7);
        assert_eq!(
            forward_entries(&mut b, &[("ForwardEntryId", &id)])["TotalCount"],
            0
        );
        assert!(!b.state.forward_entries.contains_key(&id));
        assert_eq!(
            code(b.call("DeleteForwardEntry", &p)),
            (404, "InvalidForwardEntryId.NotFound".into())
        );
        b.state
            .nat_gateways
            .get_mut("ngw-natop1")
            .unwrap()
            .wire
            .status = "Deleting".into();
        let left = b.state.forward_entries.keys().next().unwrap().clone();
        let p = [("ForwardTableId", FTB), ("ForwardEntryId", left.as_str())];
        assert_eq!(
            code(b.call("DeleteForwardEntry", &p)),
            (400, "IncorrectStatus.NatGateway".into())
        );
    }

    #[test]
    fn dnat_entries_go_with_their_gateway() {
        let mut b = bench();
        dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
        snat_ok(&mut b, &snat(IP2, "SourceVSwitchId", VSW11));
        b.state.nat_gateways.clear();
        b.advance(1);
        assert!(b.state.forward_entries.is_empty() && b.state.snat_entries.is_empty());
    }

    #[test]
    fn dnat_describe_filters_sorts_and_pages() {
        let mut b = bench();
        let mut ids = Vec::new();
        for i in 0..12u16 {
            let ext = (100 + i).to_string();
            let int = (200 + i).to_string();
            let proto = if i % 3 == 0 { "UDP" } else { "TCP" };
            let name = format!("entry-{i}");
            let p = with(
                dnat(IP1, &ext, "172.16.1.10", &int, proto),
                &[("ForwardEntryName", &name)],
            );
            ids.push(dnat_ok(&mut b, &p));
        }
        let page = |b: &mut Bench, n: &str| {
            let v = forward_entries(b, &[("PageNumber", n), ("PageSize", "5")]);
            assert_eq!(
                (v["TotalCount"].as_u64(), v["PageSize"].as_u64()),
                (Some(12), Some(5))
            );
            v["ForwardTableEntries"]["ForwardTableEntry"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["ForwardEntryId"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let all: Vec<String> = ["1", "2", "3"]
            .iter()
            .flat_map(|n| page(&mut b, n))
            .collect();
        assert_eq!(all, ids, "creation order across pages");
        assert!(page(&mut b, "4").is_empty());
        let v = forward_entries(&mut b, &[]);
        assert_eq!(
            (v["PageNumber"].as_u64(), v["PageSize"].as_u64()),
            (Some(1), Some(10))
        );
        assert_eq!(
            v["ForwardTableEntries"]["ForwardTableEntry"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
        let count = |b: &mut Bench, f: &[(&str, &str)]| {
            forward_entries(b, f)["TotalCount"].as_u64().unwrap()
        };
        assert_eq!(count(&mut b, &[("IpProtocol", "udp")]), 4);
        assert_eq!(count(&mut b, &[("IpProtocol", "TCP")]), 8);
        assert_eq!(count(&mut b, &[("ExternalPort", "105")]), 1);
        assert_eq!(
            count(&mut b, &[("InternalPort", "205"), ("ExternalPort", "105")]),
            1
        );
        assert_eq!(
            count(&mut b, &[("InternalPort", "205"), ("ExternalPort", "106")]),
            0
        );
        assert_eq!(count(&mut b, &[("ForwardEntryName", "entry-7")]), 1);
        assert_eq!(
            count(
                &mut b,
                &[("ExternalIp", IP1), ("InternalIp", "172.16.1.10")]
            ),
            12
        );
        assert_eq!(count(&mut b, &[("ExternalIp", IP2)]), 0);
        assert_eq!(count(&mut b, &[("ForwardEntryId", ids[3].as_str())]), 1);
        assert_eq!(count(&mut b, &[("NatGatewayId", "ngw-natop1")]), 12);
        // By gateway alone, without a table.
        let v = b
            .call(
                "DescribeForwardTableEntries",
                &[("ForwardTableId", ""), ("NatGatewayId", "ngw-natop1")],
            )
            .unwrap();
        assert_eq!(v["TotalCount"], 12);
        let p = [("ForwardTableId", "ftb-nope")];
        let e = b.call("DescribeForwardTableEntries", &p).unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (404, "InvalidForwardTableId.NotFound")
        );
        assert_eq!(
            code(b.call("DescribeForwardTableEntries", &[])),
            (400, "MissingForwardTableId".into())
        );
        let p = [("ForwardTableId", FTB), ("PageSize", "51")];
        assert_eq!(
            code(b.call("DescribeForwardTableEntries", &p)),
            (400, "InvalidParameter.PageSize".into())
        );
    }

    // -- SNAT ---------------------------------------------------------------

    #[test]
    fn snat_create_by_vswitch_and_by_cidr() {
        let mut b = bench();
        let p = with(
            snat(IP1, "SourceVSwitchId", VSW11),
            &[("SnatEntryName", "egress-1"), ("EipAffinity", "1")],
        );
        let v = b.call("CreateSnatEntry", &p).unwrap();
        let id = v["SnatEntryId"].as_str().unwrap().to_string();
        assert!(id.starts_with("snat-") && id.len() == 27, "{id}");
        let e = snat_entry(&mut b, &id);
        assert_eq!(e["Status"], "Pending");
        assert_eq!(e["SourceVSwitchId"], VSW11);
        assert_eq!(e["SourceCIDR"], "172.16.1.0/24");
        assert_eq!(e["SnatIp"], IP1);
        assert_eq!(e["SnatEntryName"], "egress-1");
        assert_eq!(e["EipAffinity"], 1);
        assert_eq!(e["NatGatewayId"], "ngw-natop1");
        assert_eq!(e["SnatTableId"], STB);
        b.advance(3);
        assert_eq!(snat_entry(&mut b, &id)["Status"], "Available");
        assert_eq!(b.state.ip_usage("ngw-natop1", IP1), "UsedBySnatTable");
        // A CIDR entry, with an IP pool (spaces tolerated, stored without).
        let pool = format!("{IP2}, {IP3}");
        let id = snat_ok(&mut b, &snat(&pool, "SourceCIDR", "172.16.2.8/29"));
        let e = snat_entry(&mut b, &id);
        assert_eq!(e["SnatIp"], format!("{IP2},{IP3}"));
        assert_eq!(
            (e["SourceCIDR"].as_str(), e["SourceVSwitchId"].as_str()),
            (Some("172.16.2.8/29"), Some(""))
        );
        assert_eq!(e["EipAffinity"], 0);
    }

    #[test]
    fn snat_parameter_rules() {
        let mut b = bench();
        let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateSnatEntry", p));
        let invalid = (400, "INVALID_PARAMETER".to_string());
        assert_eq!(
            create(&mut b, &[("SnatTableId", STB), ("SnatIp", IP1)]),
            invalid
        );
        let both = with(
            snat(IP1, "SourceVSwitchId", VSW11),
            &[("SourceCIDR", "172.16.1.0/24")],
        );
        assert_eq!(create(&mut b, &both), invalid);
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceCIDR", "172.16.1.1/24")),
            invalid
        );
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceCIDR", "172.16.1.0/33")),
            invalid
        );
        assert_eq!(
            create(
                &mut b,
                &snat(&format!("{IP1},{IP1}"), "SourceCIDR", "172.16.1.0/24")
            ),
            invalid
        );
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceCIDR", "192.168.1.0/24")),
            (400, "NOT_ALLOW_USE_SOURCECIDR".into())
        );
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceCIDR", "172.0.0.0/8")),
            (400, "NOT_ALLOW_USE_SOURCECIDR".into())
        );
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceVSwitchId", "vsw-nope")),
            (404, "InvalidVSwitchId.NotFound".into())
        );
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceVSwitchId", VSW21)),
            (400, "OperationFailed.VswitchNotBelongToVpc".into())
        );
        assert_eq!(
            create(&mut b, &snat("47.97.1", "SourceVSwitchId", VSW11)),
            (400, "InvalidSnatIp.Malformed".into())
        );
        assert_eq!(
            create(&mut b, &snat(&format!("{IP1},"), "SourceVSwitchId", VSW11)),
            (400, "InvalidSnatIp.Malformed".into())
        );
        assert_eq!(
            create(&mut b, &snat(UNBOUND, "SourceVSwitchId", VSW11)),
            (404, "InvalidSnatIp.NotFound".into())
        );
        assert_eq!(
            create(
                &mut b,
                &snat(&format!("{IP1},{UNBOUND}"), "SourceVSwitchId", VSW11)
            ),
            (404, "InvalidSnatIp.NotFound".into())
        );
        let many: Vec<String> = (0..65)
            .map(|i| format!("47.1.{}.{}", i / 250, i % 250 + 1))
            .collect();
        assert_eq!(
            create(&mut b, &snat(&many.join(","), "SourceVSwitchId", VSW11)),
            (400, "SNAT_IP_POOL_COUNT_TOO_MANY".into())
        );
        let bad_affinity = with(snat(IP1, "SourceVSwitchId", VSW11), &[("EipAffinity", "2")]);
        assert_eq!(
            create(&mut b, &bad_affinity),
            (400, "InvalidParameter".into())
        );
        let bad_name = with(
            snat(IP1, "SourceVSwitchId", VSW11),
            &[("SnatEntryName", "x")],
        );
        assert_eq!(
            create(&mut b, &bad_name),
            (400, "InvalidParameter.Name.Malformed".into())
        );
        assert_eq!(
            create(&mut b, &[("SnatTableId", STB), ("SnatIp", "")]),
            (400, "MissingSnatIp".into())
        );
        let mut unknown = snat(IP1, "SourceVSwitchId", VSW11);
        unknown[0] = ("SnatTableId", "stb-nope");
        assert_eq!(
            create(&mut b, &unknown),
            (404, "InvalidSnatTableId.NotFound".into())
        );
        b.state
            .nat_gateways
            .get_mut("ngw-natop1")
            .unwrap()
            .wire
            .status = "Creating".into();
        assert_eq!(
            create(&mut b, &snat(IP1, "SourceVSwitchId", VSW11)),
            (400, "IncorrectStatus.NatGateway".into())
        );
        assert!(b.state.snat_entries.is_empty());
    }

    #[test]
    fn snat_one_entry_per_source_and_no_overlap() {
        let mut b = bench();
        snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
        snat_ok(&mut b, &snat(IP1, "SourceCIDR", "172.16.2.0/25"));
        let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateSnatEntry", p));
        let dup = (400, "Forbidden.SourceVSwitchId.Duplicated".to_string());
        let conflict = (400, "OperationUnsupported.CidrConflict".to_string());
        assert_eq!(create(&mut b, &snat(IP2, "SourceVSwitchId", VSW11)), dup);
        assert_eq!(
            create(&mut b, &snat(IP2, "SourceCIDR", "172.16.1.0/24")),
            dup
        );
        assert_eq!(
            create(&mut b, &snat(IP2, "SourceCIDR", "172.16.2.0/25")),
            dup
        );
        assert_eq!(
            create(&mut b, &snat(IP2, "SourceCIDR", "172.16.1.5/32")),
            conflict
        );
        assert_eq!(
            create(&mut b, &snat(IP2, "SourceCIDR", "172.16.0.0/16")),
            conflict
        );
        // The vSwitch 172.16.2.0/24 overlaps the CIDR entry.
        assert_eq!(
            create(&mut b, &snat(IP2, "SourceVSwitchId", VSW12)),
            conflict
        );
        snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.16.2.128/25"));
        snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.16.3.7/32"));
        assert_eq!(snat_entries(&mut b, &[])["TotalCount"], 4);
    }

    #[test]
    fn snat_quota_is_40_entries_per_table() {
        let mut b = bench();
        for i in 0..40u8 {
            let cidr = format!("172.16.100.{i}/32");
            snat_ok(&mut b, &snat(IP1, "SourceCIDR", &cidr));
        }
        let p = snat(IP1, "SourceCIDR", "172.16.101.0/32");
        assert_eq!(
            code(b.call("CreateSnatEntry", &p)),
            (400, "Forbidden.SnatEntryCountLimited".into())
        );
    }

    #[test]
    fn snat_pending_entry_locks_every_write_on_the_table() {
        let mut b = bench();
        let first = snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
        b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW12))
            .unwrap();
        let busy = (400, "IncorretSnatEntryStatus".to_string());
        assert_eq!(
            code(b.call("CreateSnatEntry", &snat(IP1, "SourceCIDR", "172.16.3.0/24"))),
            busy
        );
        let modify = [
            ("SnatTableId", STB),
            ("SnatEntryId", first.as_str()),
            ("SnatIp", IP2),
        ];
        assert_eq!(code(b.call("ModifySnatEntry", &modify)), busy);
        let delete = [("SnatTableId", STB), ("SnatEntryId", first.as_str())];
        assert_eq!(code(b.call("DeleteSnatEntry", &delete)), busy);
        b.advance(3);
        b.call("ModifySnatEntry", &modify).unwrap();
        assert_eq!(code(b.call("DeleteSnatEntry", &delete)), busy);
        b.advance(3);
        b.call("DeleteSnatEntry", &delete).unwrap();
    }

    #[test]
    fn snat_modify_changes_ips_and_name_only() {
        let mut b = bench();
        let id = snat_ok(
            &mut b,
            &with(
                snat(IP1, "SourceVSwitchId", VSW11),
                &[("SnatEntryName", "egress")],
            ),
        );
        let modify = |b: &mut Bench, extra: &[(&str, &str)]| {
            let p = with(
                vec![("SnatTableId", STB), ("SnatEntryId", id.as_str())],
                extra,
            );
            b.call("ModifySnatEntry", &p)
        };
        let pool = format!("{IP1},{IP2}");
        modify(
            &mut b,
            &[("SnatIp", &pool), ("SourceCIDR", "172.16.9.0/24")],
        )
        .unwrap();
        let e = snat_entry(&mut b, &id);
        assert_eq!(
            (e["Status"].as_str(), e["SnatIp"].as_str()),
            (Some("Pending"), Some(pool.as_str()))
        );
        assert_eq!(
            (e["SourceCIDR"].as_str(), e["SnatEntryName"].as_str()),
            (Some("172.16.1.0/24"), Some("egress"))
        );
        b.advance(3);
        modify(
            &mut b,
            &[("SnatEntryName", "renamed"), ("EipAffinity", "1")],
        )
        .unwrap();
        b.advance(3);
        let e = snat_entry(&mut b, &id);
        assert_eq!(
            (e["SnatEntryName"].as_str(), e["SnatIp"].as_str()),
            (Some("renamed"), Some(pool.as_str()))
        );
        assert_eq!(e["EipAffinity"], 1);
        assert_eq!(
            code(modify(&mut b, &[("SnatIp", "1.2.3")])),
            (400, "InvalidSnatIp.Malformed".into())
        );
        assert_eq!(
            code(modify(&mut b, &[("SnatIp", UNBOUND)])),
            (404, "InvalidSnatIp.NotFound".into())
        );
        assert_eq!(
            code(modify(&mut b, &[("SnatEntryName", "-x")])),
            (400, "InvalidParameter.Name.Malformed".into())
        );
        let p = [("SnatTableId", STB), ("SnatEntryId", "snat-nope")];
        assert_eq!(
            code(b.call("ModifySnatEntry", &p)),
            (404, "InvalidSnatEntryId.NotFound".into())
        );
        let p = [("SnatTableId", "stb-nope"), ("SnatEntryId", id.as_str())];
        assert_eq!(
            code(b.call("ModifySnatEntry", &p)),
            (404, "InvalidSnatTableId.NotFound".into())
        );
    }

    #[test]
    fn snat_delete_goes_through_deleting() {
        let mut b = bench();
        let id = snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
        let p = [("SnatTableId", STB), ("SnatEntryId", id.as_str())];
        b.call("DeleteSnatEntry", &p).unwrap();
        assert_eq!(snat_entry(&mut b, &id)["Status"], "Deleting");
        assert_eq!(
            code(b.call("DeleteSnatEntry", &p)),
            (400, "IncorretSnatEntryStatus".into())
        );
        let m = [
            ("SnatTableId", STB),
            ("SnatEntryId", id.as_str()),
            ("SnatIp", IP2),
        ];
        assert_eq!(
            code(b.call("ModifySnatEntry", &m)),
            (400, "IncorretSnatEntryStatus".into())
        );
        // The source stays taken until the entry is gone.
        assert_eq!(
            code(b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW11))),
            (400, "Forbidden.SourceVSwitchId.Duplicated".into())
        );
        b.advance(10);
        assert_eq!(snat_entries(&mut b, &[])["TotalCount"], 0);
        assert_eq!(
            code(b.call("DeleteSnatEntry", &p)),
            (404, "InvalidSnatEntryId.NotFound".into())
        );
        snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
    }

    #[test]
    fn snat_describe_filters_and_pages() {
        let mut b = bench();
        let mut ids = Vec::new();
        for i in 0..7u8 {
            let cidr = format!("172.16.5{i}.0/24");
            let ip = if i % 2 == 0 {
                IP1.to_string()
            } else {
                format!("{IP2},{IP3}")
            };
            let name = format!("snat-{i}");
            ids.push(snat_ok(
                &mut b,
                &with(snat(&ip, "SourceCIDR", &cidr), &[("SnatEntryName", &name)]),
            ));
        }
        ids.push(snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11)));
        let v = snat_entries(&mut b, &[("PageNumber", "2"), ("PageSize", "3")]);
        assert_eq!(
            (
                v["TotalCount"].as_u64(),
                v["PageNumber"].as_u64(),
                v["PageSize"].as_u64()
            ),
            (Some(8), Some(2), Some(3))
        );
        let got: Vec<&str> = v["SnatTableEntries"]["SnatTableEntry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["SnatEntryId"].as_str().unwrap())
            .collect();
        assert_eq!(
            got,
            ids[3..6].iter().map(String::as_str).collect::<Vec<_>>()
        );
        let count =
            |b: &mut Bench, f: &[(&str, &str)]| snat_entries(b, f)["TotalCount"].as_u64().unwrap();
        assert_eq!(count(&mut b, &[("SnatIp", IP1)]), 5);
        assert_eq!(count(&mut b, &[("SnatIp", IP3)]), 3);
        assert_eq!(count(&mut b, &[("SnatIp", &format!("{IP3},{IP2}"))]), 3);
        assert_eq!(count(&mut b, &[("SourceCIDR", "172.16.52.0/24")]), 1);
        assert_eq!(count(&mut b, &[("SourceCIDR", "172.16.1.0/24")]), 1);
        assert_eq!(count(&mut b, &[("SourceVSwitchId", VSW11)]), 1);
        assert_eq!(count(&mut b, &[("SnatEntryName", "snat-4")]), 1);
        assert_eq!(count(&mut b, &[("SnatEntryId", ids[7].as_str())]), 1);
        assert_eq!(count(&mut b, &[("NatGatewayId", "ngw-other")]), 0);
        let v = b
            .call(
                "DescribeSnatTableEntries",
                &[("SnatTableId", ""), ("NatGatewayId", "ngw-natop1")],
            )
            .unwrap();
        assert_eq!(v["TotalCount"], 8);
        let p = [("SnatTableId", ""), ("NatGatewayId", "ngw-nope")];
        assert_eq!(
            code(b.call("DescribeSnatTableEntries", &p)),
            (404, "InvalidNatGatewayId.NotFound".into())
        );
        assert_eq!(
            code(b.call("DescribeSnatTableEntries", &[("SnatTableId", "stb-nope")])),
            (404, "InvalidSnatTableId.NotFound".into())
        );
        assert_eq!(
            code(b.call("DescribeSnatTableEntries", &[])),
            (400, "MissingSnatTableId".into())
        );
    }

    // -- DNAT and SNAT sharing one public IP ----------------------------------

    #[test]
    fn dnat_on_an_snat_ip_needs_port_break_above_1024_and_never_maps_the_ip() {
        let mut b = bench();
        snat_ok(
            &mut b,
            &snat(&format!("{IP1},{IP2}"), "SourceVSwitchId", VSW11),
        );
        let used = (400, "Forbidden.ExternalIp.UsedInSnatTable".to_string());
        let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateForwardEntry", p));
        assert_eq!(
            create(&mut b, &dnat(IP1, "8080", "172.16.1.10", "80", "TCP")),
            used
        );
        assert_eq!(
            create(
                &mut b,
                &dnat(IP2, "1000/1100", "172.16.1.10", "1000/1100", "TCP")
            ),
            used
        );
        assert_eq!(
            create(&mut b, &dnat(IP1, "Any", "172.16.1.10", "Any", "Any")),
            used
        );
        let any_break = with(
            dnat(IP1, "Any", "172.16.1.10", "Any", "Any"),
            &[("PortBreak", "true")],
        );
        assert_eq!(create(&mut b, &any_break), used);
        // Low ports share freely; high ports with PortBreak.
        dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
        let id = dnat_ok(
            &mut b,
            &with(
                dnat(IP1, "8080", "172.16.1.10", "8080", "TCP"),
                &[("PortBreak", "true")],
            ),
        );
        // Renaming keeps the public side: no PortBreak needed again.
        let p = [
            ("ForwardTableId", FTB),
            ("ForwardEntryId", id.as_str()),
            ("ForwardEntryName", "renamed"),
        ];
        b.call("ModifyForwardEntry", &p).unwrap();
        b.advance(3);
        // Moving the public side re-checks it.
        let p = [
            ("ForwardTableId", FTB),
            ("ForwardEntryId", id.as_str()),
            ("ExternalPort", "8081"),
            ("InternalPort", "8081"),
        ];
        assert_eq!(code(b.call("ModifyForwardEntry", &p)), used);
        let p = with(p.to_vec(), &[("PortBreak", "true")]);
        b.call("ModifyForwardEntry", &p).unwrap();
        // An IP free of SNAT takes anything.
        b.advance(3);
        dnat_ok(&mut b, &dnat(IP3, "Any", "172.16.1.11", "Any", "Any"));
    }

    #[test]
    fn snat_refuses_an_ip_mapped_by_dnat_but_shares_port_mappings() {
        let mut b = bench();
        dnat_ok(&mut b, &dnat(IP1, "Any", "172.16.1.10", "Any", "Any"));
        dnat_ok(&mut b, &dnat(IP2, "22", "172.16.1.11", "22", "TCP"));
        let used = (400, "Forbidden.IpUsedInForwardTable".to_string());
        assert_eq!(
            code(b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW11))),
            used
        );
        assert_eq!(
            code(b.call(
                "CreateSnatEntry",
                &snat(&format!("{IP2},{IP1}"), "SourceVSwitchId", VSW11)
            )),
            used
        );
        let id = snat_ok(&mut b, &snat(IP2, "SourceVSwitchId", VSW11));
        let p = [
            ("SnatTableId", STB),
            ("SnatEntryId", id.as_str()),
            ("SnatIp", IP1),
        ];
        assert_eq!(code(b.call("ModifySnatEntry", &p)), used);
        // An IP mapping is per gateway: another gateway's DNAT does not matter.
        add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
        bind(&mut b, UNBOUND, "ngw-natop2");
        let mut other = snat(UNBOUND, "SourceVSwitchId", VSW11);
        other[0] = ("SnatTableId", "stb-natop2");
        b.call("CreateSnatEntry", &other).unwrap();
    }
}
