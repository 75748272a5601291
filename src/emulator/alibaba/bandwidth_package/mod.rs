//! Legacy NAT bandwidth packages (seed 001 ch. 7, seeds 000 and 002): a shared
//! bandwidth plus a set of public IPs attached to one NAT gateway. Only accounts
//! that owned such a package before 2017-11-03 may call these actions; everyone
//! else binds EIPs. A package can be converted, one way, into a shared bandwidth
//! whose IPs become EIPs bound to the same gateway.
//!
//! The actions are here; `checks` holds their parameter and state rules and
//! `changes` what they do to the region's state.

mod changes;
mod checks;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use self::changes::{
    allocate_ips, forget_package, ip_total, package_ips, remove_entries_using, shown,
};
use self::checks::{
    FINANCIAL_LOCK, check_bandwidth, check_gateway, check_name_and_description, check_new_ip_count,
    check_new_package, check_not_locked, check_removable, dependent_entry, invalid_ip_count,
    not_legacy, writable, writable_package,
};
use super::{Ctx, Served, missing, paginate};
use crate::cloud::alibaba::actions::bandwidth_package::{
    AddBandwidthPackageIps, AddBandwidthPackageIpsResponse, BandwidthPackage,
    ConvertBandwidthPackage, ConvertBandwidthPackageResponse, CreateBandwidthPackage,
    CreateBandwidthPackageResponse, DeleteBandwidthPackage, DeleteBandwidthPackageResponse,
    DescribeBandwidthPackages, DescribeBandwidthPackagesResponse, ModifyBandwidthPackageAttribute,
    ModifyBandwidthPackageAttributeResponse, ModifyBandwidthPackageSpec,
    ModifyBandwidthPackageSpecResponse, RemoveBandwidthPackageIps,
    RemoveBandwidthPackageIpsResponse,
};
use crate::cloud::alibaba::actions::eip::EipAddress;
use crate::emulator::ApiError;
use crate::emulator::state::{Record, Transition};

/// At most this many packages on one gateway (seed 001, 7.1).
const MAX_PACKAGES_PER_GATEWAY: usize = 4;
/// Bandwidth of a package, Mbps (create and modify).
const BANDWIDTH: RangeInclusive<u32> = 5..=1000;
/// IPs per call, and the total quota of one package.
const IP_COUNT: RangeInclusive<u32> = 1..=50;
/// `RemovedIpAddresses.N`: N is at most 20.
const MAX_REMOVED_IPS: usize = 20;
/// How many random draws before the pool counts as exhausted.
const IP_DRAWS: usize = 4096;

/// The actions this module serves. Accounts without a legacy package are
/// refused before their parameters are even read, as the service gates these
/// actions per account.
pub const SERVED: &[Served] = &[
    serve!(CreateBandwidthPackage, create, guard: check_legacy_account),
    serve!(DescribeBandwidthPackages, describe, guard: check_legacy_account),
    serve!(
        ModifyBandwidthPackageAttribute,
        modify_attribute,
        guard: check_legacy_account
    ),
    serve!(ModifyBandwidthPackageSpec, modify_spec, guard: check_legacy_account),
    serve!(AddBandwidthPackageIps, add_ips, guard: check_legacy_account),
    serve!(RemoveBandwidthPackageIps, remove_ips, guard: check_legacy_account),
    serve!(DeleteBandwidthPackage, delete, guard: check_legacy_account),
    serve!(ConvertBandwidthPackage, convert, guard: check_legacy_account),
];

/// Refuse accounts that never had a NAT bandwidth package. Shared with
/// CreateNatGateway, which may create one package with the gateway.
pub(super) fn check_legacy_account(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    if ctx.account.legacy_bandwidth_packages {
        Ok(())
    } else {
        Err(not_legacy())
    }
}

/// The parameters of a new package, as CreateBandwidthPackage takes them and
/// as CreateNatGateway's `BandwidthPackage.1.*` gives them (without a name or
/// description).
#[derive(Debug, Clone, Default)]
pub(super) struct NewPackage {
    /// Mbps, 5–1000; required.
    pub bandwidth: Option<u32>,
    /// Public IPs, 1–50; required.
    pub ip_count: Option<u32>,
    /// A zone of the region; a random one when absent.
    pub zone: Option<String>,
    /// Only `BGP`.
    pub isp: Option<String>,
    /// `PayByTraffic` (default) or `PayByBandwidth`.
    pub internet_charge_type: Option<String>,
    /// Starts with a letter or a Chinese character.
    pub name: Option<String>,
    /// Starts with a letter or a Chinese character.
    pub description: Option<String>,
}

/// The gateway a new package goes on.
#[derive(Debug, Clone, Copy)]
pub(super) enum Owner<'a> {
    /// A stored gateway, which must be Available and have room for one more
    /// package (CreateBandwidthPackage).
    Existing(&'a str),
    /// A gateway CreateNatGateway creates in the same call and stores right
    /// after the package; it lists the package's id itself.
    New(&'a str),
}

/// Validate `new` and store it as a `Creating` package of `owner`, which
/// becomes `Available` after the creating duration; its id. Every check runs
/// before anything is stored, so an error leaves the state unchanged. The one
/// implementation of CreateBandwidthPackage, also used by CreateNatGateway.
pub(super) fn create_package(
    ctx: &mut Ctx<'_>,
    owner: Owner<'_>,
    new: NewPackage,
) -> Result<String, ApiError> {
    let valid = check_new_package(ctx, &new)?;
    let gateway_id = match owner {
        Owner::Existing(id) => {
            check_gateway(ctx.state, id)?;
            id
        }
        Owner::New(id) => id,
    };
    let id = ctx.new_id("bwp");
    let ips = allocate_ips(ctx, valid.ip_count)?;
    let wire = BandwidthPackage {
        bandwidth_package_id: id.clone(),
        region_id: ctx.region.region_id.clone(),
        zone_id: valid.zone_id,
        nat_gateway_id: gateway_id.to_string(),
        name: new.name.unwrap_or_default(),
        description: new.description.unwrap_or_default(),
        bandwidth: Some(valid.bandwidth),
        ip_count: Some(valid.ip_count),
        isp: "BGP".to_string(),
        instance_charge_type: "PostPaid".to_string(),
        internet_charge_type: valid.charge_type,
        business_status: "Normal".to_string(),
        status: "Creating".to_string(),
        creation_time: ctx.iso_now(),
        public_ip_addresses: ips,
    };
    let mut record = Record::new(wire, ctx.client_token.clone(), ctx.now_ms);
    record.transition = Some(Transition {
        to: "Available".into(),
        due_ms: ctx.due(ctx.durations.creating),
        effect: None,
    });
    ctx.state.bandwidth_packages.insert(id.clone(), record);
    if let Some(gateway) = ctx.state.nat_gateways.get_mut(gateway_id) {
        gateway.wire.bandwidth_package_ids.push(id.clone());
    }
    Ok(id)
}

fn create(
    ctx: &mut Ctx<'_>,
    req: CreateBandwidthPackage,
) -> Result<CreateBandwidthPackageResponse, ApiError> {
    if req.nat_gateway_id.is_empty() {
        return Err(missing("NatGatewayId"));
    }
    let new = NewPackage {
        bandwidth: req.bandwidth,
        ip_count: req.ip_count,
        zone: req.zone,
        isp: req.isp,
        internet_charge_type: req.internet_charge_type,
        name: req.name,
        description: req.description,
    };
    let id = create_package(ctx, Owner::Existing(&req.nat_gateway_id), new)?;
    Ok(CreateBandwidthPackageResponse {
        bandwidth_package_id: id,
        ..Default::default()
    })
}

fn describe(
    ctx: &mut Ctx<'_>,
    req: DescribeBandwidthPackages,
) -> Result<DescribeBandwidthPackagesResponse, ApiError> {
    let wanted = |filter: &Option<String>, value: &str| {
        filter.as_deref().is_none_or(|f| f.is_empty() || f == value)
    };
    let by_id = req
        .bandwidth_package_id
        .as_deref()
        .is_some_and(|id| !id.is_empty());
    let listed_before_ms = ctx.now_ms.saturating_sub(ctx.list_lag_ms);
    let mut records: Vec<&Record<BandwidthPackage>> = ctx
        .state
        .bandwidth_packages
        .values()
        .filter(|r| by_id || r.created_ms <= listed_before_ms)
        .filter(|r| wanted(&req.bandwidth_package_id, &r.wire.bandwidth_package_id))
        .filter(|r| wanted(&req.nat_gateway_id, &r.wire.nat_gateway_id))
        .collect();
    records.sort_by(|a, b| {
        (a.created_ms, &a.wire.bandwidth_package_id)
            .cmp(&(b.created_ms, &b.wire.bandwidth_package_id))
    });
    let items: Vec<BandwidthPackage> = records.iter().map(|r| shown(ctx.state, &r.wire)).collect();
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeBandwidthPackagesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        bandwidth_packages: page,
        ..Default::default()
    })
}

fn modify_attribute(
    ctx: &mut Ctx<'_>,
    req: ModifyBandwidthPackageAttribute,
) -> Result<ModifyBandwidthPackageAttributeResponse, ApiError> {
    check_name_and_description(req.name.as_deref(), req.description.as_deref())?;
    let package = writable_package(ctx.state, &req.bandwidth_package_id)?;
    if let Some(name) = req.name.filter(|n| !n.is_empty()) {
        package.wire.name = name;
    }
    if let Some(description) = req.description.filter(|d| !d.is_empty()) {
        package.wire.description = description;
    }
    Ok(ModifyBandwidthPackageAttributeResponse::default())
}

/// Setting the bandwidth it already has is accepted: the seed lists no error
/// for it (unlike a gateway's `NATGW_MODIFY_SPEC_SAME`).
fn modify_spec(
    ctx: &mut Ctx<'_>,
    req: ModifyBandwidthPackageSpec,
) -> Result<ModifyBandwidthPackageSpecResponse, ApiError> {
    let bandwidth = check_bandwidth(req.bandwidth)?;
    let package = writable_package(ctx.state, &req.bandwidth_package_id)?;
    check_not_locked(&package.wire, FINANCIAL_LOCK)?;
    package.wire.bandwidth = Some(bandwidth);
    Ok(ModifyBandwidthPackageSpecResponse::default())
}

fn add_ips(
    ctx: &mut Ctx<'_>,
    req: AddBandwidthPackageIps,
) -> Result<AddBandwidthPackageIpsResponse, ApiError> {
    let count = req.ip_count.ok_or_else(|| missing("IpCount"))?;
    if !IP_COUNT.contains(&count) {
        return Err(invalid_ip_count(
            "The specified value of IpCount not supported.",
        ));
    }
    let package = writable_package(ctx.state, &req.bandwidth_package_id)?;
    // The seed spells this message "Financail" for this action only.
    check_not_locked(
        &package.wire,
        "The specified BandwidthPackage has been Financail Lock.",
    )?;
    let held = u32::try_from(package.wire.public_ip_addresses.len()).unwrap_or(u32::MAX);
    check_new_ip_count(count, held)?;
    let ips = allocate_ips(ctx, count)?;
    let package = writable_package(ctx.state, &req.bandwidth_package_id)?;
    package.wire.public_ip_addresses.extend(ips);
    package.wire.ip_count = Some(ip_total(&package.wire));
    Ok(AddBandwidthPackageIpsResponse::default())
}

fn remove_ips(
    ctx: &mut Ctx<'_>,
    req: RemoveBandwidthPackageIps,
) -> Result<RemoveBandwidthPackageIpsResponse, ApiError> {
    let removed: BTreeSet<String> = req
        .removed_ip_addresses
        .iter()
        .map(|ip| ip.trim().to_string())
        .filter(|ip| !ip.is_empty())
        .collect();
    if removed.is_empty() {
        return Err(missing("RemovedIpAddresses"));
    }
    if req.removed_ip_addresses.len() > MAX_REMOVED_IPS {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            format!("The specified RemovedIpAddresses.N exceeds {MAX_REMOVED_IPS} items."),
        ));
    }
    let state = &*ctx.state;
    let package = writable(state, &req.bandwidth_package_id)?;
    check_not_locked(&package.wire, FINANCIAL_LOCK)?;
    check_removable(state, &package.wire, &removed)?;
    let package = writable_package(ctx.state, &req.bandwidth_package_id)?;
    package
        .wire
        .public_ip_addresses
        .retain(|ip| !removed.contains(&ip.ip_address));
    package.wire.ip_count = Some(ip_total(&package.wire));
    Ok(RemoveBandwidthPackageIpsResponse::default())
}

fn delete(
    ctx: &mut Ctx<'_>,
    req: DeleteBandwidthPackage,
) -> Result<DeleteBandwidthPackageResponse, ApiError> {
    let package = writable(ctx.state, &req.bandwidth_package_id)?;
    let gateway_id = package.wire.nat_gateway_id.clone();
    let ips = package_ips(&package.wire);
    if req.force != Some(true) {
        if let Some(kind) = dependent_entry(ctx.state, &gateway_id, &ips) {
            return Err(ApiError::new(
                400,
                &format!("DependencyViolation.{kind}"),
                "The specified BandwidthPackageId has dependent resource.",
            ));
        }
    } else {
        remove_entries_using(ctx.state, &gateway_id, &ips);
    }
    forget_package(ctx.state, &req.bandwidth_package_id);
    Ok(DeleteBandwidthPackageResponse::default())
}

/// Each IP becomes an EIP bound to the same gateway, so DNAT and SNAT entries
/// (which name IP addresses) keep working unchanged.
fn convert(
    ctx: &mut Ctx<'_>,
    req: ConvertBandwidthPackage,
) -> Result<ConvertBandwidthPackageResponse, ApiError> {
    let package = writable(ctx.state, &req.bandwidth_package_id)?.wire.clone();
    let shared_id = ctx.new_id("cbwp");
    for ip in &package.public_ip_addresses {
        let eip = converted_eip(ctx, &package, &shared_id, &ip.ip_address);
        let record = Record::new(eip, ctx.client_token.clone(), ctx.now_ms);
        ctx.state
            .eips
            .insert(record.wire.allocation_id.clone(), record);
    }
    forget_package(ctx.state, &req.bandwidth_package_id);
    Ok(ConvertBandwidthPackageResponse {
        convert_instance_id: shared_id,
        ..Default::default()
    })
}

fn converted_eip(
    ctx: &mut Ctx<'_>,
    package: &BandwidthPackage,
    shared_id: &str,
    ip: &str,
) -> EipAddress {
    EipAddress {
        allocation_id: ctx.new_id("eip"),
        ip_address: ip.to_string(),
        region_id: package.region_id.clone(),
        status: "InUse".to_string(),
        instance_id: package.nat_gateway_id.clone(),
        instance_type: "Nat".to_string(),
        instance_region_id: package.region_id.clone(),
        mode: "NAT".to_string(),
        bandwidth: package.bandwidth,
        internet_charge_type: package.internet_charge_type.clone(),
        charge_type: "PostPaid".to_string(),
        isp: "BGP".to_string(),
        bandwidth_package_id: shared_id.to_string(),
        bandwidth_package_type: "CommonBandwidthPackage".to_string(),
        bandwidth_package_bandwidth: package.bandwidth,
        business_status: "Normal".to_string(),
        netmode: "public".to_string(),
        allocation_time: ctx.iso_now(),
        ..EipAddress::default()
    }
}
