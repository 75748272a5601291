//! ModifyNatGatewayAttribute and ModifyNatGatewaySpec.

use super::create::one_of;
use super::{AVAILABLE, check_spec, given, start_transition, writable};
use crate::cloud::alibaba::actions::nat_gateway::{
    ModifyNatGatewayAttribute, ModifyNatGatewayAttributeResponse, ModifyNatGatewaySpec,
    ModifyNatGatewaySpecResponse,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, missing, validate};
use crate::emulator::state::Effect;

// ---------------------------------------------------------------------------
// ModifyNatGatewayAttribute
// ---------------------------------------------------------------------------

pub(super) fn modify_nat_gateway_attribute(
    ctx: &mut Ctx<'_>,
    req: ModifyNatGatewayAttribute,
) -> Result<ModifyNatGatewayAttributeResponse, ApiError> {
    if req.nat_gateway_id.is_empty() {
        return Err(missing("NatGatewayId"));
    }
    validate::check_name(
        req.name.as_deref(),
        "InvalidParameter.Name.Malformed",
        "Name",
    )?;
    // Stricter than CreateNatGateway: seed 4.2 wants a leading letter or
    // Chinese character here.
    validate::check_description_starting_with_letter(
        req.description.as_deref(),
        "InvalidParameter.Description.Malformed",
        "Description",
    )?;
    let bind_mode = given(&req.eip_bind_mode);
    if let Some(mode) = bind_mode {
        one_of("EipBindMode", Some(mode), &["MULTI_BINDED", "NAT"])?;
    }
    let name = given(&req.name);
    let description = given(&req.description);
    if name.is_none()
        && description.is_none()
        && bind_mode.is_none()
        && req.icmp_reply_enabled.is_none()
    {
        return Err(ApiError::new(
            400,
            "MissingParameter",
            "Miss mandatory parameter.",
        ));
    }
    let gateway = writable(ctx.state, &req.nat_gateway_id)?;
    if bind_mode == Some("MULTI_BINDED") && gateway.wire.eip_bind_mode == "NAT" {
        // The service only converts MULTI_BINDED → NAT, never back.
        return Err(ApiError::new(
            400,
            "OperationUnsupported.EipBindMode",
            "The EIP binding mode can only be changed from MULTI_BINDED to NAT.",
        ));
    }
    let wire = &mut gateway.wire;
    if let Some(n) = name {
        wire.name = n.to_string();
    }
    if let Some(d) = description {
        wire.description = d.to_string();
    }
    if let Some(m) = bind_mode {
        wire.eip_bind_mode = m.to_string();
    }
    if let Some(icmp) = req.icmp_reply_enabled {
        wire.icmp_reply_enabled = Some(icmp);
    }
    Ok(ModifyNatGatewayAttributeResponse::default())
}

// ---------------------------------------------------------------------------
// ModifyNatGatewaySpec
// ---------------------------------------------------------------------------

pub(super) fn modify_nat_gateway_spec(
    ctx: &mut Ctx<'_>,
    req: ModifyNatGatewaySpec,
) -> Result<ModifyNatGatewaySpecResponse, ApiError> {
    if req.nat_gateway_id.is_empty() {
        return Err(missing("NatGatewayId"));
    }
    if req.spec.is_empty() {
        return Err(missing("Spec"));
    }
    check_spec(&req.spec)?;
    let due = ctx.due(ctx.durations.modifying);
    let gateway = writable(ctx.state, &req.nat_gateway_id)?;
    if gateway.wire.internet_charge_type == "PayByLcu" {
        return Err(ApiError::new(
            400,
            "OperationUnsupported.PayByLcu",
            "The specified NAT gateway is billed by capacity units (PayByLcu) and has no specification.",
        ));
    }
    if gateway.wire.spec == req.spec {
        return Err(ApiError::new(
            400,
            "NATGW_MODIFY_SPEC_SAME",
            "The specified Spec is same with now.",
        ));
    }
    start_transition(
        gateway,
        "Modifying",
        due,
        AVAILABLE,
        Some(Effect::Spec(req.spec)),
    );
    Ok(ModifyNatGatewaySpecResponse::default())
}

#[cfg(test)]
mod tests;
