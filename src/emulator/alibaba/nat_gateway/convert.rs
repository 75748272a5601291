//! UpdateNatGatewayNatType, the one-way Normal → Enhanced conversion, and
//! GetNatGatewayConvertStatus, its progress.

use super::{
    AVAILABLE, dry_run_passed, enhanced_zone_unsupported, find_vpc, find_vswitch,
    gateway_not_found, incorrect_status, place_in_vswitch, start_transition, writable,
};
use crate::cloud::alibaba::actions::nat_gateway::{
    ConvertStep, GetNatGatewayConvertStatus, GetNatGatewayConvertStatusResponse, NatGateway,
    UpdateNatGatewayNatType, UpdateNatGatewayNatTypeResponse,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, missing};
use crate::emulator::fixture::{AlibabaRegion, VSwitch};
use crate::emulator::state::{AlibabaRegionState, Conversion, Effect};

/// Conversion steps before `end_success`, with their share (percent) of the
/// conversion's duration. Names and order are the service's.
const CONVERT_STEPS: &[(&str, i64)] = &[
    ("init", 5),
    ("check", 10),
    ("configure", 35),
    ("activate", 35),
    ("conf_delete", 15),
];

// ---------------------------------------------------------------------------
// UpdateNatGatewayNatType
// ---------------------------------------------------------------------------

pub(super) fn update_nat_gateway_nat_type(
    ctx: &mut Ctx<'_>,
    req: UpdateNatGatewayNatType,
) -> Result<UpdateNatGatewayNatTypeResponse, ApiError> {
    let region = ctx.region;
    for (name, value) in [
        ("NatGatewayId", &req.nat_gateway_id),
        ("NatType", &req.nat_type),
    ] {
        if value.is_empty() {
            return Err(missing(name));
        }
    }
    if region.zones.is_empty() {
        return Err(ApiError::new(
            400,
            "OperationUnsupported.NatConvert",
            "The NAT gateway conversion function is not supported.",
        ));
    }
    let gateway = ctx
        .state
        .nat_gateways
        .get(&req.nat_gateway_id)
        .ok_or_else(|| {
            ApiError::new(
                400,
                "NATGW_NOT_EXIST",
                "The specified NAT gateway does not exist.",
            )
        })?;
    if req.nat_type != "Enhanced" {
        return Err(ApiError::new(
            400,
            "OperationFailed.NatTypeNotEnhanced",
            "Operation failed because the specified NAT gateway type is not enhanced.",
        ));
    }
    if gateway.wire.status != AVAILABLE {
        return Err(incorrect_status());
    }
    if gateway.wire.nat_type == "Enhanced" {
        return Err(ApiError::new(
            400,
            "OperationFailed.NatTypeAlreadyEnhanced",
            "Operation failed because the specified NAT gateway is already an enhanced NAT gateway.",
        ));
    }
    check_convertible(ctx.state, &gateway.wire)?;
    let vswitch = vswitch_for_conversion(region, &gateway.wire.vpc_id, &req.vswitch_id)?;
    if req.dry_run == Some(true) {
        return Err(dry_run_passed());
    }
    let info = place_in_vswitch(ctx, vswitch)?;
    let (started, due) = (ctx.now_ms, ctx.due(ctx.durations.converting));
    let gateway = writable(ctx.state, &req.nat_gateway_id)?;
    gateway.wire.nat_gateway_private_info = Some(info);
    let effect = Some(Effect::NatType("Enhanced".to_string()));
    start_transition(gateway, "Converting", due, AVAILABLE, effect);
    ctx.state.conversions.insert(
        req.nat_gateway_id,
        Conversion {
            started_ms: started,
            due_ms: due,
            dst_nat_type: "Enhanced".to_string(),
        },
    );
    Ok(UpdateNatGatewayNatTypeResponse::default())
}

/// What must hold of a gateway's dependents before it can be converted: no
/// legacy bandwidth package, no EIP or entry in a transitional state.
fn check_convertible(state: &AlibabaRegionState, gateway: &NatGateway) -> Result<(), ApiError> {
    let id = gateway.nat_gateway_id.as_str();
    let failed = |code: &str, message: &str| Err(ApiError::new(400, code, message));
    if state
        .bandwidth_packages
        .values()
        .any(|p| p.wire.nat_gateway_id == id)
    {
        return failed(
            "OperationFailed.NatGwBindWithBandwidthPackage",
            "Operation failed because the NAT gateway is bound to bandwidth packages.",
        );
    }
    if state
        .eips
        .values()
        .any(|e| e.wire.instance_id == id && e.wire.status != "InUse")
    {
        return failed(
            "OperationFailed.EipInMiddleStatus",
            "Operation failed because the status of EIP associated with the specified NAT gateway is abnormal.",
        );
    }
    if state
        .snat_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == id && e.wire.status != AVAILABLE)
    {
        return failed(
            "OperationFailed.SnatInMiddleStatus",
            "Operation failed because the status of the SNAT entry of the specified NAT gateway is abnormal.",
        );
    }
    if state
        .forward_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == id && e.wire.status != AVAILABLE)
    {
        return failed(
            "OperationFailed.DnatInMiddleStatus",
            "Operation failed because the status of the DNAT entry associated with the NAT gateway is abnormal.",
        );
    }
    Ok(())
}

/// The vSwitch a converted gateway moves into. An empty VSwitchId lets the
/// service pick one of the VPC's vSwitches in a supported zone.
fn vswitch_for_conversion<'r>(
    region: &'r AlibabaRegion,
    vpc_id: &str,
    vswitch_id: &str,
) -> Result<&'r VSwitch, ApiError> {
    if vswitch_id.is_empty() {
        return find_vpc(region, vpc_id)
            .and_then(|v| {
                v.v_switches
                    .iter()
                    .find(|s| region.zones.contains(&s.zone_id))
            })
            .ok_or_else(enhanced_zone_unsupported);
    }
    let (owner, vswitch) = find_vswitch(region, vswitch_id).ok_or_else(|| {
        ApiError::new(
            400,
            "OperationFailed.VswitchNotExist",
            "The specified VSwitch does not exist.",
        )
    })?;
    if owner.vpc_id != vpc_id {
        return Err(ApiError::new(
            400,
            "OperationFailed.VSwitchNotBelongToVpc",
            "Operation failed because the specified VSwitch is not bound to the same VPC with NAT gateway.",
        ));
    }
    if !region.zones.contains(&vswitch.zone_id) {
        return Err(enhanced_zone_unsupported());
    }
    Ok(vswitch)
}

// ---------------------------------------------------------------------------
// GetNatGatewayConvertStatus
// ---------------------------------------------------------------------------

pub(super) fn get_nat_gateway_convert_status(
    ctx: &mut Ctx<'_>,
    req: GetNatGatewayConvertStatus,
) -> Result<GetNatGatewayConvertStatusResponse, ApiError> {
    if req.nat_gateway_id.is_empty() {
        return Err(missing("NatGatewayId"));
    }
    if !ctx.state.nat_gateways.contains_key(&req.nat_gateway_id) {
        return Err(gateway_not_found());
    }
    let conversion = ctx
        .state
        .conversions
        .get(&req.nat_gateway_id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidConvertTask.NotFound",
                "The specified NAT gateway has no conversion task.",
            )
        })?;
    Ok(GetNatGatewayConvertStatusResponse {
        nat_gateway_id: req.nat_gateway_id.clone(),
        dst_nat_type: conversion.dst_nat_type.clone(),
        convert_steps: convert_steps(conversion, ctx.now_ms),
        ..GetNatGatewayConvertStatusResponse::default()
    })
}

/// The steps a conversion has reached at `now_ms`: each step takes its share
/// of the duration; finished steps are `successful`, the current one
/// `processing`, later ones not listed yet; `end_success` closes a finished one.
fn convert_steps(conversion: &Conversion, now_ms: i64) -> Vec<ConvertStep> {
    let step = |name: &str, status: &str, start_ms: i64| ConvertStep {
        step_name: name.to_string(),
        step_status: status.to_string(),
        step_start_time: crate::emulator::clock::iso(start_ms),
    };
    let total = (conversion.due_ms - conversion.started_ms).max(0);
    let mut steps = Vec::new();
    let (mut start, mut share) = (conversion.started_ms, 0);
    for (name, weight) in CONVERT_STEPS {
        share += weight;
        let end = conversion.started_ms + total * share / 100;
        if now_ms < end {
            steps.push(step(name, "processing", start));
            return steps;
        }
        steps.push(step(name, "successful", start));
        start = end;
    }
    steps.push(step("end_success", "successful", conversion.due_ms));
    steps
}

#[cfg(test)]
mod tests;
