//! DescribeNatGateways: filters, pages, and each gateway as it is now.

use super::{dry_run_passed, given, spec_capacity};
use crate::cloud::alibaba::actions::nat_gateway::{
    DescribeNatGateways, DescribeNatGatewaysResponse, IpList, NatGateway, NatGatewayPrivateInfo,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, paginate};
use crate::emulator::state::{AlibabaRegionState, Record};

pub(super) fn describe_nat_gateways(
    ctx: &mut Ctx<'_>,
    req: DescribeNatGateways,
) -> Result<DescribeNatGatewaysResponse, ApiError> {
    if req.dry_run == Some(true) {
        return Err(dry_run_passed());
    }
    let state = &*ctx.state;
    let by_id = given(&req.nat_gateway_id).is_some();
    let listed_before_ms = ctx.now_ms.saturating_sub(ctx.list_lag_ms);
    let mut matching: Vec<&Record<NatGateway>> = state
        .nat_gateways
        .values()
        .filter(|g| matches(&req, &g.wire))
        .filter(|g| by_id || g.created_ms <= listed_before_ms)
        .collect();
    matching.sort_by(|a, b| {
        (a.created_ms, &a.wire.nat_gateway_id).cmp(&(b.created_ms, &b.wire.nat_gateway_id))
    });
    let (page, total, number, size) = paginate(&matching, req.page_number, req.page_size)?;
    Ok(DescribeNatGatewaysResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        nat_gateways: page.iter().map(|g| shown(state, &g.wire)).collect(),
        ..DescribeNatGatewaysResponse::default()
    })
}

/// Whether an optional filter accepts `value` (absent or empty accepts all).
fn accepts(filter: &Option<String>, value: &str) -> bool {
    given(filter).is_none_or(|f| f == value)
}

fn matches(req: &DescribeNatGateways, g: &NatGateway) -> bool {
    let zone = g
        .nat_gateway_private_info
        .as_ref()
        .filter(|_| g.nat_type == "Enhanced")
        .map_or("", |p| p.iz_no.as_str());
    accepts(&req.nat_gateway_id, &g.nat_gateway_id)
        && accepts(&req.vpc_id, &g.vpc_id)
        && accepts(&req.name, &g.name)
        && accepts(&req.status, &g.status)
        && accepts(&req.spec, &g.spec)
        && accepts(&req.nat_type, &g.nat_type)
        && accepts(&req.instance_charge_type, &g.instance_charge_type)
        && accepts(&req.resource_group_id, &g.resource_group_id)
        && accepts(&req.network_type, &g.network_type)
        && accepts(&req.zone_id, zone)
        && req.tags.iter().all(|t| {
            g.tags.iter().any(|have| {
                have.tag_key == t.key && t.value.as_ref().is_none_or(|v| *v == have.tag_value)
            })
        })
}

/// A gateway as DescribeNatGateways shows it: its IPs, their use and its
/// bandwidth packages as they are now; private details only when Enhanced.
fn shown(state: &AlibabaRegionState, gateway: &NatGateway) -> NatGateway {
    let id = gateway.nat_gateway_id.as_str();
    let mut g = gateway.clone();
    g.ip_lists = state
        .gateway_ips(id)
        .into_iter()
        .map(|(allocation_id, ip)| IpList {
            using_status: state.ip_usage(id, &ip).to_string(),
            allocation_id,
            ip_address: ip,
            ..IpList::default()
        })
        .collect();
    let mut packages: Vec<_> = state
        .bandwidth_packages
        .values()
        .filter(|p| p.wire.nat_gateway_id == id)
        .collect();
    packages.sort_by(|a, b| {
        (a.created_ms, &a.wire.bandwidth_package_id)
            .cmp(&(b.created_ms, &b.wire.bandwidth_package_id))
    });
    g.bandwidth_package_ids = packages
        .iter()
        .map(|p| p.wire.bandwidth_package_id.clone())
        .collect();
    let (quota, rate) = spec_capacity(&g.spec);
    g.nat_gateway_private_info = g
        .nat_gateway_private_info
        .take()
        .filter(|_| g.nat_type == "Enhanced")
        .map(|p| NatGatewayPrivateInfo {
            max_session_quota: Some(quota),
            max_session_establish_rate: Some(rate),
            ..p
        });
    g
}

#[cfg(test)]
mod tests;
