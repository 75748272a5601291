//! NAT gateway actions: create, modify (attributes, specification, NAT type),
//! describe, delete, the Enhanced-gateway zone list and the Normal → Enhanced
//! conversion progress, with the service's asynchronous states and error codes.
//!
//! A gateway is `Creating`, `Modifying`, `Converting` or `Deleting` for a while
//! after each write; in those states only queries are allowed. Its public IPs,
//! their use and its legacy bandwidth packages are not stored on the gateway but
//! computed from the region state when described, so they never go stale.
//!
//! One file per group of actions: `create`, `modify` (attributes and
//! specification), `convert` (the NAT type and its progress), `describe`,
//! `delete` and `zones`; the errors and helpers they share are here.

mod convert;
mod create;
mod delete;
mod describe;
mod modify;
mod tag;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod zones;

use std::net::Ipv4Addr;

use super::validate;
use super::{Ctx, Served};
use crate::cloud::alibaba::actions::nat_gateway::{
    CreateNatGateway, DeleteNatGateway, DescribeNatGateways, GetNatGatewayConvertStatus,
    ListEnhanhcedNatGatewayAvailableZones, ModifyNatGatewayAttribute, ModifyNatGatewaySpec,
    NatGateway, NatGatewayPrivateInfo, UpdateNatGatewayNatType,
};
use crate::cloud::alibaba::actions::tag::{TagResources, UnTagResources};
use crate::emulator::ApiError;
use crate::emulator::fixture::{AlibabaRegion, VSwitch, Vpc};
use crate::emulator::state::{AlibabaRegionState, Effect, Record, Transition};
use create::tags_of;

/// Gateway sizes, smallest first.
const SPECS: &[&str] = &["Small", "Middle", "Large", "XLarge.1"];

/// The only status in which a gateway accepts writes.
const AVAILABLE: &str = "Available";

/// The actions this module serves.
pub const SERVED: &[Served] = &[
    serve!(CreateNatGateway, create::create_nat_gateway),
    serve!(
        ModifyNatGatewayAttribute,
        modify::modify_nat_gateway_attribute
    ),
    serve!(ModifyNatGatewaySpec, modify::modify_nat_gateway_spec),
    serve!(DescribeNatGateways, describe::describe_nat_gateways),
    serve!(DeleteNatGateway, delete::delete_nat_gateway),
    serve!(ListEnhanhcedNatGatewayAvailableZones, zones::list_zones),
    serve!(
        UpdateNatGatewayNatType,
        convert::update_nat_gateway_nat_type
    ),
    serve!(
        GetNatGatewayConvertStatus,
        convert::get_nat_gateway_convert_status
    ),
    serve!(TagResources, tag::tag_resources),
    serve!(UnTagResources, tag::untag_resources),
];

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn gateway_not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidNatGatewayId.NotFound",
        "The specified NatGatewayId does not exist in our records.",
    )
}

fn incorrect_status() -> ApiError {
    ApiError::new(
        400,
        "IncorrectStatus.NatGateway",
        "The status of NAT gateway is incorrect.",
    )
}

fn spec_not_supported() -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter.Spec.ValueNotSupported",
        "The specified Spec is not valid.",
    )
}

/// `InvalidParameter.<Name>.ValueNotSupported`, in the style of the Spec code.
fn value_not_supported(name: &str, detail: &str) -> ApiError {
    ApiError::new(
        400,
        &format!("InvalidParameter.{name}.ValueNotSupported"),
        format!("The specified {name} is not valid: {detail}"),
    )
}

/// What `DryRun=true` answers when every check passed.
fn dry_run_passed() -> ApiError {
    ApiError::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

/// A zone where Enhanced gateways cannot be created.
fn enhanced_zone_unsupported() -> ApiError {
    ApiError::new(
        400,
        "OperationFailed.EnhancedInventoryNotEnough",
        "The enhanced NAT gateway inventory is insufficient in the specified zone.",
    )
}

fn no_free_ip() -> ApiError {
    ApiError::new(
        400,
        "ZONE_NO_AVAILABLE_IP",
        "The Zone have no available ip.",
    )
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// The non-empty value of an optional parameter (an empty one counts as absent).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The gateway `id`, which must exist and be `Available` (only queries are
/// allowed while it is Creating, Modifying, Converting or Deleting).
fn writable<'s>(
    state: &'s mut AlibabaRegionState,
    id: &str,
) -> Result<&'s mut Record<NatGateway>, ApiError> {
    let gateway = state
        .nat_gateways
        .get_mut(id)
        .ok_or_else(gateway_not_found)?;
    if gateway.wire.status != AVAILABLE {
        return Err(incorrect_status());
    }
    Ok(gateway)
}

/// Start an asynchronous change: `status` now, `to` (with `effect`) at `due_ms`.
fn start_transition(
    gateway: &mut Record<NatGateway>,
    status: &str,
    due_ms: i64,
    to: &str,
    effect: Option<Effect>,
) {
    gateway.wire.status = status.to_string();
    gateway.transition = Some(Transition {
        to: to.to_string(),
        due_ms,
        effect,
    });
}

fn find_vpc<'r>(region: &'r AlibabaRegion, vpc_id: &str) -> Option<&'r Vpc> {
    region.vpcs.iter().find(|v| v.vpc_id == vpc_id)
}

/// A vSwitch of the region and the VPC it belongs to.
fn find_vswitch<'r>(region: &'r AlibabaRegion, vswitch_id: &str) -> Option<(&'r Vpc, &'r VSwitch)> {
    region.vpcs.iter().find_map(|vpc| {
        vpc.v_switches
            .iter()
            .find(|s| s.v_switch_id == vswitch_id)
            .map(|s| (vpc, s))
    })
}

fn check_spec(spec: &str) -> Result<(), ApiError> {
    if SPECS.contains(&spec) {
        Ok(())
    } else {
        Err(spec_not_supported())
    }
}

/// SNAT capacity of a specification: (max connections, new connections per second).
fn spec_capacity(spec: &str) -> (u32, u32) {
    match spec {
        "Middle" => (50_000, 5_000),
        "Large" => (200_000, 10_000),
        "XLarge.1" => (1_000_000, 50_000),
        _ => (10_000, 1_000),
    }
}

/// A free private IP of `vswitch` for an Enhanced gateway, and the gateway's
/// private network details. The first address and the last three of a
/// vSwitch are reserved by the service.
fn place_in_vswitch(
    ctx: &mut Ctx<'_>,
    vswitch: &VSwitch,
) -> Result<NatGatewayPrivateInfo, ApiError> {
    let net = validate::cidr(&vswitch.cidr_block).ok_or_else(no_free_ip)?;
    let used: Vec<&str> = ctx
        .state
        .nat_gateways
        .values()
        .filter_map(|g| g.wire.nat_gateway_private_info.as_ref())
        .filter(|p| p.vswitch_id == vswitch.v_switch_id)
        .map(|p| p.private_ip_address.as_str())
        .collect();
    let base = u64::from(u32::from(net.network()));
    let hosts = (1u64 << (32 - u32::from(net.prefix_len()))).saturating_sub(4);
    if hosts == 0 {
        return Err(no_free_ip());
    }
    let start = ctx.rng.u64(0..hosts);
    let ip = (0..hosts)
        .map(|i| base + 1 + (start + i) % hosts)
        .filter_map(|n| u32::try_from(n).ok())
        .map(|n| Ipv4Addr::from(n).to_string())
        .find(|ip| !used.contains(&ip.as_str()))
        .ok_or_else(no_free_ip)?;
    Ok(NatGatewayPrivateInfo {
        eni_instance_id: ctx.new_id("eni"),
        eni_type: "indirect".to_string(),
        iz_no: vswitch.zone_id.clone(),
        max_bandwidth: Some(5120),
        private_ip_address: ip,
        vswitch_id: vswitch.v_switch_id.clone(),
        ..NatGatewayPrivateInfo::default()
    })
}
