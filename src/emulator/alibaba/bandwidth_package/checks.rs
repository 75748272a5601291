//! The rules of the bandwidth-package actions: parameters, quotas, the
//! gateway and the package's state.

use std::collections::BTreeSet;

use super::changes::{no_ip_left, package_ips};
use super::{BANDWIDTH, IP_COUNT, MAX_PACKAGES_PER_GATEWAY, NewPackage};
use crate::cloud::alibaba::actions::bandwidth_package::BandwidthPackage;
use crate::emulator::ApiError;
use crate::emulator::alibaba::validate::{check_description_starting_with_letter, check_name};
use crate::emulator::alibaba::{Ctx, missing};
use crate::emulator::state::{AlibabaRegionState, Record};

pub(super) const FINANCIAL_LOCK: &str = "The specified BandwidthPackage has been Financial Lock.";

/// The parameters of a new package once checked.
pub(super) struct ValidPackage {
    pub(super) bandwidth: u32,
    pub(super) ip_count: u32,
    pub(super) charge_type: String,
    pub(super) zone_id: String,
}

/// Every parameter rule of a new package, in CreateBandwidthPackage's order.
pub(super) fn check_new_package(
    ctx: &mut Ctx<'_>,
    new: &NewPackage,
) -> Result<ValidPackage, ApiError> {
    let bandwidth = check_bandwidth(new.bandwidth)?;
    let ip_count = new.ip_count.ok_or_else(|| missing("IpCount"))?;
    check_name_and_description(new.name.as_deref(), new.description.as_deref())?;
    check_isp(new.isp.as_deref())?;
    let charge_type = internet_charge_type(new.internet_charge_type.as_deref())?;
    check_new_ip_count(ip_count, 0)?;
    let zone_id = pick_zone(ctx, new.zone.as_deref())?;
    Ok(ValidPackage {
        bandwidth,
        ip_count,
        charge_type,
        zone_id,
    })
}

/// Only the `BGP` line exists for NAT bandwidth packages.
fn check_isp(isp: Option<&str>) -> Result<(), ApiError> {
    if isp.is_some_and(|isp| !isp.is_empty() && isp != "BGP") {
        return Err(ApiError::new(
            400,
            "InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport",
            "The specified ISP of BandwidthPackage is not valid.",
        ));
    }
    Ok(())
}

/// The refusal for accounts that never had a NAT bandwidth package. The seeds
/// name no code for it; this one is in the service's `Forbidden.*` style.
pub(super) fn not_legacy() -> ApiError {
    ApiError::new(
        403,
        "Forbidden.NatBandwidthPackage",
        "NAT bandwidth packages are only available to accounts that owned one before \
         2017-11-03 23:59; associate EIPs with the NAT gateway instead (AssociateEipAddress).",
    )
}

pub(super) fn check_bandwidth(bandwidth: Option<u32>) -> Result<u32, ApiError> {
    let bandwidth = bandwidth.ok_or_else(|| missing("Bandwidth"))?;
    if BANDWIDTH.contains(&bandwidth) {
        Ok(bandwidth)
    } else {
        // The seed documents this code with HTTP 404.
        Err(ApiError::new(
            404,
            "InvalidBandwidth.ValueNotSupported",
            "The specified value of Bandwidth not supported.",
        ))
    }
}

/// `count` new IPs on top of `held`: each call adds 1–50, a package holds at
/// most 50.
pub(super) fn check_new_ip_count(count: u32, held: u32) -> Result<(), ApiError> {
    if count < *IP_COUNT.start() {
        return Err(invalid_ip_count(
            "The specified value of IpCount not supported.",
        ));
    }
    if held.saturating_add(count) > *IP_COUNT.end() {
        return Err(ApiError::new(
            400,
            "QuotaExceeded.BandwidthPackageIps",
            "The specified ipCount exceeded quota.",
        ));
    }
    Ok(())
}

pub(super) fn invalid_ip_count(message: &str) -> ApiError {
    ApiError::new(400, "InvalidIpCount.ValueNotSupported", message)
}

/// Name and description as seed 001 words them: both must start with a letter
/// or a Chinese character.
pub(super) fn check_name_and_description(
    name: Option<&str>,
    description: Option<&str>,
) -> Result<(), ApiError> {
    check_name(name, "InvalidParameter.Name.Malformed", "Name")?;
    check_description_starting_with_letter(
        description,
        "InvalidParameter.Description.Malformed",
        "Description",
    )
}

/// `PayByTraffic` unless given; only the two documented values.
fn internet_charge_type(value: Option<&str>) -> Result<String, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok("PayByTraffic".to_string()),
        Some(v @ ("PayByTraffic" | "PayByBandwidth")) => Ok(v.to_string()),
        Some(_) => Err(ApiError::new(
            400,
            "InvalidInternetChargeType.ValueNotSupported",
            "The specified InternetChargeType is not supported.",
        )),
    }
}

/// The given zone, which must be one of the region's, or a random one.
fn pick_zone(ctx: &mut Ctx<'_>, zone: Option<&str>) -> Result<String, ApiError> {
    let zones = &ctx.region.zones;
    match zone.filter(|z| !z.is_empty()) {
        Some(z) if zones.iter().any(|known| known == z) => Ok(z.to_string()),
        Some(_) => Err(ApiError::new(
            404,
            "InvalidZoneId.NotFound",
            "Specified value of ZoneId is not exists.",
        )),
        None if zones.is_empty() => Err(no_ip_left()),
        None => Ok(zones[ctx.rng.usize(..zones.len())].clone()),
    }
}

/// The gateway must exist, be `Available`, and have room for one more package.
pub(super) fn check_gateway(state: &AlibabaRegionState, gateway_id: &str) -> Result<(), ApiError> {
    let gateway = state
        .nat_gateways
        .get(gateway_id)
        .ok_or_else(|| ApiError::new(404, "NATGW_NOT_EXIST", "The NatGateway not exist."))?;
    if gateway.wire.status != "Available" {
        return Err(ApiError::new(
            400,
            "IncorrectStatus.NatGateway",
            "The status of NAT gateway is incorrect.",
        ));
    }
    let held = state
        .bandwidth_packages
        .values()
        .filter(|p| p.wire.nat_gateway_id == gateway_id)
        .count();
    if held >= MAX_PACKAGES_PER_GATEWAY {
        return Err(ApiError::new(
            400,
            "QuotaExceeded.BandwidthPackageCountOnNatGateway",
            "BandwidthPackage count limit on one NatGateway exceeded.",
        ));
    }
    Ok(())
}

fn not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidBandwidthPackageId.NotFound",
        "The specified bandwidthPackageId does not exist in our records.",
    )
}

/// A package that exists and is `Available` (writes are refused while it is
/// still being created).
pub(super) fn writable<'a>(
    state: &'a AlibabaRegionState,
    id: &str,
) -> Result<&'a Record<BandwidthPackage>, ApiError> {
    if id.is_empty() {
        return Err(missing("BandwidthPackageId"));
    }
    let package = state.bandwidth_packages.get(id).ok_or_else(not_found)?;
    if package.wire.status != "Available" {
        return Err(ApiError::new(
            400,
            "IncorrectStatus.BandwidthPackage",
            "The status of the bandwidth package is incorrect.",
        ));
    }
    Ok(package)
}

/// [`writable`], for changing it.
pub(super) fn writable_package<'a>(
    state: &'a mut AlibabaRegionState,
    id: &str,
) -> Result<&'a mut Record<BandwidthPackage>, ApiError> {
    writable(state, id)?;
    state.bandwidth_packages.get_mut(id).ok_or_else(not_found)
}

pub(super) fn check_not_locked(package: &BandwidthPackage, message: &str) -> Result<(), ApiError> {
    if package.business_status == "FinancialLocked" {
        // The seed documents this code with HTTP 404.
        return Err(ApiError::new(
            404,
            "BandwidthPackage.FinancialLocked",
            message,
        ));
    }
    Ok(())
}

/// Every IP must be a NAT IP of this package, at least one must stay, and none
/// may be used by a DNAT or SNAT entry.
pub(super) fn check_removable(
    state: &AlibabaRegionState,
    package: &BandwidthPackage,
    removed: &BTreeSet<String>,
) -> Result<(), ApiError> {
    let own = package_ips(package);
    if let Some(stranger) = removed.iter().find(|ip| !own.contains(*ip)) {
        let is_nat_ip = state.bandwidth_packages.values().any(|p| {
            p.wire
                .public_ip_addresses
                .iter()
                .any(|i| &i.ip_address == stranger)
        });
        return Err(if is_nat_ip {
            ApiError::new(
                404,
                "invalidRemovedIpAddresses.NotFound",
                "Some of the specified value of RemovedIpAddress not found in specified BandwidthPackage.",
            )
        } else {
            ApiError::new(
                400,
                "InvalidRemovedIpAddresses.NotFound",
                "Some of remove ip is not natPublicIp.",
            )
        });
    }
    if own.iter().all(|ip| removed.contains(ip)) {
        return Err(invalid_ip_count(
            "Can not remove all ips of the bandwidthPackage.",
        ));
    }
    let removed: Vec<String> = removed.iter().cloned().collect();
    match dependent_entry(state, &package.nat_gateway_id, &removed) {
        Some(kind) => Err(ApiError::new(
            400,
            &format!("DependencyViolation.{kind}"),
            format!("The ip has been used by {kind}."),
        )),
        None => Ok(()),
    }
}

/// `ForwardEntry` or `SnatEntry` when an entry of the gateway uses one of `ips`.
pub(super) fn dependent_entry(
    state: &AlibabaRegionState,
    gateway_id: &str,
    ips: &[String],
) -> Option<&'static str> {
    let usages: Vec<&str> = ips
        .iter()
        .map(|ip| state.ip_usage(gateway_id, ip))
        .collect();
    if usages.contains(&"UsedByForwardTable") {
        Some("ForwardEntry")
    } else if usages.contains(&"UsedBySnatTable") {
        Some("SnatEntry")
    } else {
        None
    }
}
