//! DeleteNatGateway: refused while dependents remain, unless forced.

use super::{AVAILABLE, start_transition, writable};
use crate::cloud::alibaba::actions::nat_gateway::{DeleteNatGateway, DeleteNatGatewayResponse};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, missing};
use crate::emulator::state::{AlibabaRegionState, GONE};

pub(super) fn delete_nat_gateway(
    ctx: &mut Ctx<'_>,
    req: DeleteNatGateway,
) -> Result<DeleteNatGatewayResponse, ApiError> {
    let id = req.nat_gateway_id.as_str();
    if id.is_empty() {
        return Err(missing("NatGatewayId"));
    }
    writable(ctx.state, id)?;
    if req.force == Some(true) {
        release_dependents(ctx.state, id);
    } else {
        check_no_dependents(ctx.state, id)?;
    }
    let due = ctx.due(ctx.durations.deleting);
    let gateway = writable(ctx.state, id)?;
    start_transition(gateway, "Deleting", due, GONE, None);
    Ok(DeleteNatGatewayResponse::default())
}

/// Without Force, a gateway must have no bandwidth package, SNAT or DNAT
/// entry and no bound EIP.
fn check_no_dependents(state: &AlibabaRegionState, id: &str) -> Result<(), ApiError> {
    let violation = |code: &str, message: &str| Err(ApiError::new(400, code, message));
    if state
        .bandwidth_packages
        .values()
        .any(|p| p.wire.nat_gateway_id == id)
    {
        return violation(
            "DependencyViolation.BandwidthPackages",
            "There are BandwidthPackages on specified NatGateway not deleted.",
        );
    }
    if state
        .snat_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == id)
    {
        return violation(
            "DependencyViolation.SnatEntry",
            "There are SnatEntries on specified NatGateway not deleted.",
        );
    }
    if state
        .forward_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == id)
    {
        return violation(
            "DependencyViolation.ForwardEntry",
            "There are ForwardEntries on specified NatGateway not deleted.",
        );
    }
    if state.eips.values().any(|e| e.wire.instance_id == id) {
        return violation(
            "DependencyViolation.EIPS",
            "There are EIPs on specified NatGateway not unassociated.",
        );
    }
    Ok(())
}

/// Force: delete the gateway's entries and bandwidth packages and unbind its
/// EIPs, at once.
fn release_dependents(state: &mut AlibabaRegionState, id: &str) {
    state
        .snat_entries
        .retain(|_, e| e.wire.nat_gateway_id != id);
    state
        .forward_entries
        .retain(|_, e| e.wire.nat_gateway_id != id);
    state
        .bandwidth_packages
        .retain(|_, p| p.wire.nat_gateway_id != id);
    for eip in state.eips.values_mut().filter(|e| e.wire.instance_id == id) {
        eip.transition = None;
        eip.wire.status = AVAILABLE.to_string();
        eip.wire.instance_id.clear();
        eip.wire.instance_type.clear();
        eip.wire.instance_region_id.clear();
        eip.wire.mode.clear();
    }
}

#[cfg(test)]
mod tests;
