//! DNAT (forward table) and SNAT table entries: create, modify, describe and
//! delete, with the service's asynchronous states (`Pending` → `Available`,
//! `Deleting` → gone), the per-table write lock while an entry is `Pending`,
//! the uniqueness and quota rules, and the sharing rules between DNAT and SNAT
//! for one public IP.
//!
//! `table` holds what both kinds share (the table, its lock, quota and
//! transitions), `forward` the DNAT entries and `snat` the SNAT entries.

mod forward;
mod snat;
mod table;
#[cfg(test)]
mod testing;

use ipnet::Ipv4Net;

use super::validate;
use super::{Ctx, Served, missing};
use crate::cloud::alibaba::actions::forward_entry::{
    CreateForwardEntry, DeleteForwardEntry, DescribeForwardTableEntries, ModifyForwardEntry,
};
use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
use crate::cloud::alibaba::actions::snat_entry::{
    CreateSnatEntry, DeleteSnatEntry, DescribeSnatTableEntries, ModifySnatEntry,
};
use crate::emulator::ApiError;
use crate::emulator::state::{GONE, Record, Transition};

/// The actions this module serves.
pub const SERVED: &[Served] = &[
    serve!(CreateForwardEntry, forward::create_forward_entry),
    serve!(ModifyForwardEntry, forward::modify_forward_entry),
    serve!(
        DescribeForwardTableEntries,
        forward::describe_forward_table_entries
    ),
    serve!(DeleteForwardEntry, forward::delete_forward_entry),
    serve!(CreateSnatEntry, snat::create_snat_entry),
    serve!(ModifySnatEntry, snat::modify_snat_entry),
    serve!(DescribeSnatTableEntries, snat::describe_snat_table_entries),
    serve!(DeleteSnatEntry, snat::delete_snat_entry),
];

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
