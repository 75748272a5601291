//! What the bandwidth-package actions change beyond the package: entries
//! using its IPs, the IP pool, and the package as DescribeBandwidthPackages
//! shows it.

use std::collections::BTreeSet;

use super::IP_DRAWS;
use crate::cloud::alibaba::actions::bandwidth_package::{BandwidthPackage, PublicIpAddress};
use crate::emulator::ApiError;
use crate::emulator::alibaba::Ctx;
use crate::emulator::state::AlibabaRegionState;

/// `Force=true`: the entries of the gateway that use the package's IPs go
/// with it (an SNAT entry goes as soon as one of its IPs does).
pub(super) fn remove_entries_using(
    state: &mut AlibabaRegionState,
    gateway_id: &str,
    ips: &[String],
) {
    let uses = |ip: &str| ips.iter().any(|own| own == ip.trim());
    state
        .forward_entries
        .retain(|_, e| e.wire.nat_gateway_id != gateway_id || !uses(&e.wire.external_ip));
    state
        .snat_entries
        .retain(|_, e| e.wire.nat_gateway_id != gateway_id || !e.wire.snat_ip.split(',').any(uses));
}

/// Drop the package and its id from its gateway.
pub(super) fn forget_package(state: &mut AlibabaRegionState, id: &str) {
    if let Some(package) = state.bandwidth_packages.remove(id)
        && let Some(gateway) = state.nat_gateways.get_mut(&package.wire.nat_gateway_id)
    {
        gateway.wire.bandwidth_package_ids.retain(|p| p != id);
    }
}

/// `count` new public IPs, each with a `nateip-…` allocation id, unique among
/// the EIPs and package IPs of the region.
pub(super) fn allocate_ips(
    ctx: &mut Ctx<'_>,
    count: u32,
) -> Result<Vec<PublicIpAddress>, ApiError> {
    let mut used = used_ips(ctx.state);
    let prefix = region_prefix(&ctx.region.region_id);
    let mut ips = Vec::new();
    for _ in 0..count {
        let ip = (0..IP_DRAWS)
            .map(|_| format!("{}.{}.{}", prefix, ctx.rng.u8(..), ctx.rng.u8(1..255)))
            .find(|ip| !used.contains(ip))
            .ok_or_else(no_ip_left)?;
        used.insert(ip.clone());
        ips.push(PublicIpAddress {
            allocation_id: ctx.new_id("nateip"),
            ip_address: ip,
            using_status: "Idle".to_string(),
            ap_access_enabled: Some(false),
        });
    }
    Ok(ips)
}

pub(super) fn no_ip_left() -> ApiError {
    ApiError::new(
        400,
        "ZONE_NO_AVAILABLE_IP",
        "The Zone have no available ip.",
    )
}

/// A /16 the region's NAT IPs come from (Alibaba's own ranges; the fixture's
/// EIPs live in 47.0.0.0/8, so the two never meet).
fn region_prefix(region_id: &str) -> &'static str {
    match region_id {
        "cn-hangzhou" => "118.31",
        "cn-beijing" => "39.105",
        "cn-shanghai" => "106.14",
        _ => "8.136",
    }
}

fn used_ips(state: &AlibabaRegionState) -> BTreeSet<String> {
    let eips = state.eips.values().map(|e| e.wire.ip_address.clone());
    let packages = state
        .bandwidth_packages
        .values()
        .flat_map(|p| p.wire.public_ip_addresses.iter())
        .map(|ip| ip.ip_address.clone());
    eips.chain(packages).collect()
}

pub(super) fn package_ips(package: &BandwidthPackage) -> Vec<String> {
    package
        .public_ip_addresses
        .iter()
        .map(|ip| ip.ip_address.clone())
        .collect()
}

pub(super) fn ip_total(package: &BandwidthPackage) -> u32 {
    u32::try_from(package.public_ip_addresses.len()).unwrap_or(u32::MAX)
}

/// The package as Describe shows it: what uses each IP is read from the
/// gateway's entries now, in the package vocabulary (`Idle`, not `idle`).
pub(super) fn shown(state: &AlibabaRegionState, package: &BandwidthPackage) -> BandwidthPackage {
    let mut shown = package.clone();
    for ip in &mut shown.public_ip_addresses {
        ip.using_status = match state.ip_usage(&package.nat_gateway_id, &ip.ip_address) {
            "idle" => "Idle".to_string(),
            other => other.to_string(),
        };
    }
    shown.ip_count = Some(ip_total(&shown));
    shown
}
