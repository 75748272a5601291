//! Legacy NAT bandwidth packages (seed 001 ch. 7, seeds 000 and 002): a shared
//! bandwidth plus a set of public IPs attached to one NAT gateway. Only accounts
//! that owned such a package before 2017-11-03 may call these actions; everyone
//! else binds EIPs. A package can be converted, one way, into a shared bandwidth
//! whose IPs become EIPs bound to the same gateway.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use serde_json::Value;

use super::validate::{check_description_starting_with_letter, check_name};
use super::{Ctx, missing, paginate, run};
use crate::cloud::alibaba::actions::bandwidth_package::{
    AddBandwidthPackageIps, AddBandwidthPackageIpsResponse, BandwidthPackage,
    ConvertBandwidthPackage, ConvertBandwidthPackageResponse, CreateBandwidthPackage,
    CreateBandwidthPackageResponse, DeleteBandwidthPackage, DeleteBandwidthPackageResponse,
    DescribeBandwidthPackages, DescribeBandwidthPackagesResponse, ModifyBandwidthPackageAttribute,
    ModifyBandwidthPackageAttributeResponse, ModifyBandwidthPackageSpec,
    ModifyBandwidthPackageSpecResponse, PublicIpAddress, RemoveBandwidthPackageIps,
    RemoveBandwidthPackageIpsResponse,
};
use crate::cloud::alibaba::actions::eip::EipAddress;
use crate::cloud::wire::Params;
use crate::emulator::ApiError;
use crate::emulator::state::{AlibabaRegionState, Record, Transition};

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

/// An action's decode-run-encode step, picked before the account is checked.
type Raw = fn(&mut Ctx<'_>, &Params) -> Result<Value, ApiError>;

/// The handler of `action`, if this module serves it. Accounts without a legacy
/// package are refused before their parameters are even read, as the service
/// gates these actions per account.
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    action: &str,
    params: &Params,
) -> Option<Result<Value, ApiError>> {
    let handler: Raw = match action {
        "CreateBandwidthPackage" => |c, p| run::<CreateBandwidthPackage>(c, p, create),
        "DescribeBandwidthPackages" => |c, p| run::<DescribeBandwidthPackages>(c, p, describe),
        "ModifyBandwidthPackageAttribute" => {
            |c, p| run::<ModifyBandwidthPackageAttribute>(c, p, modify_attribute)
        }
        "ModifyBandwidthPackageSpec" => |c, p| run::<ModifyBandwidthPackageSpec>(c, p, modify_spec),
        "AddBandwidthPackageIps" => |c, p| run::<AddBandwidthPackageIps>(c, p, add_ips),
        "RemoveBandwidthPackageIps" => |c, p| run::<RemoveBandwidthPackageIps>(c, p, remove_ips),
        "DeleteBandwidthPackage" => |c, p| run::<DeleteBandwidthPackage>(c, p, delete),
        "ConvertBandwidthPackage" => |c, p| run::<ConvertBandwidthPackage>(c, p, convert),
        _ => return None,
    };
    if let Err(refused) = check_legacy_account(ctx) {
        return Some(Err(refused));
    }
    Some(handler(ctx, params))
}

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

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

const FINANCIAL_LOCK: &str = "The specified BandwidthPackage has been Financial Lock.";

/// The parameters of a new package once checked.
struct ValidPackage {
    bandwidth: u32,
    ip_count: u32,
    charge_type: String,
    zone_id: String,
}

/// Every parameter rule of a new package, in CreateBandwidthPackage's order.
fn check_new_package(ctx: &mut Ctx<'_>, new: &NewPackage) -> Result<ValidPackage, ApiError> {
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
fn not_legacy() -> ApiError {
    ApiError::new(
        403,
        "Forbidden.NatBandwidthPackage",
        "NAT bandwidth packages are only available to accounts that owned one before \
         2017-11-03 23:59; associate EIPs with the NAT gateway instead (AssociateEipAddress).",
    )
}

fn check_bandwidth(bandwidth: Option<u32>) -> Result<u32, ApiError> {
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
fn check_new_ip_count(count: u32, held: u32) -> Result<(), ApiError> {
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

fn invalid_ip_count(message: &str) -> ApiError {
    ApiError::new(400, "InvalidIpCount.ValueNotSupported", message)
}

/// Name and description as seed 001 words them: both must start with a letter
/// or a Chinese character.
fn check_name_and_description(
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
fn check_gateway(state: &AlibabaRegionState, gateway_id: &str) -> Result<(), ApiError> {
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
fn writable<'a>(
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
fn writable_package<'a>(
    state: &'a mut AlibabaRegionState,
    id: &str,
) -> Result<&'a mut Record<BandwidthPackage>, ApiError> {
    writable(state, id)?;
    state.bandwidth_packages.get_mut(id).ok_or_else(not_found)
}

fn check_not_locked(package: &BandwidthPackage, message: &str) -> Result<(), ApiError> {
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
fn check_removable(
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
fn dependent_entry(
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

// ---------------------------------------------------------------------------
// State changes
// ---------------------------------------------------------------------------

/// `Force=true`: the entries of the gateway that use the package's IPs go
/// with it (an SNAT entry goes as soon as one of its IPs does).
fn remove_entries_using(state: &mut AlibabaRegionState, gateway_id: &str, ips: &[String]) {
    let uses = |ip: &str| ips.iter().any(|own| own == ip.trim());
    state
        .forward_entries
        .retain(|_, e| e.wire.nat_gateway_id != gateway_id || !uses(&e.wire.external_ip));
    state
        .snat_entries
        .retain(|_, e| e.wire.nat_gateway_id != gateway_id || !e.wire.snat_ip.split(',').any(uses));
}

/// Drop the package and its id from its gateway.
fn forget_package(state: &mut AlibabaRegionState, id: &str) {
    if let Some(package) = state.bandwidth_packages.remove(id)
        && let Some(gateway) = state.nat_gateways.get_mut(&package.wire.nat_gateway_id)
    {
        gateway.wire.bandwidth_package_ids.retain(|p| p != id);
    }
}

/// `count` new public IPs, each with a `nateip-…` allocation id, unique among
/// the EIPs and package IPs of the region.
fn allocate_ips(ctx: &mut Ctx<'_>, count: u32) -> Result<Vec<PublicIpAddress>, ApiError> {
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

fn no_ip_left() -> ApiError {
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

fn package_ips(package: &BandwidthPackage) -> Vec<String> {
    package
        .public_ip_addresses
        .iter()
        .map(|ip| ip.ip_address.clone())
        .collect()
}

fn ip_total(package: &BandwidthPackage) -> u32 {
    u32::try_from(package.public_ip_addresses.len()).unwrap_or(u32::MAX)
}

/// The package as Describe shows it: what uses each IP is read from the
/// gateway's entries now, in the package vocabulary (`Idle`, not `idle`).
fn shown(state: &AlibabaRegionState, package: &BandwidthPackage) -> BandwidthPackage {
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

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
    use crate::cloud::alibaba::actions::nat_gateway::NatGateway;
    use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
    use crate::emulator::ApiError;
    use crate::emulator::alibaba::testing::Bench;
    use crate::emulator::state::Record;

    /// Parameters, then the expected HTTP status and code.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    type OwnedCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);

    const GW: &str = "ngw-testgateway0000000000001";
    const GW2: &str = "ngw-testgateway0000000000002";

    fn gateway(id: &str, status: &str) -> Record<NatGateway> {
        let wire = NatGateway {
            nat_gateway_id: id.to_string(),
            status: status.to_string(),
            vpc_id: "vpc-hz1natop0000000000".to_string(),
            forward_table_ids: vec![format!("ftb-{id}")],
            snat_table_ids: vec![format!("stb-{id}")],
            ..NatGateway::default()
        };
        Record::new(wire, None, 0)
    }

    fn bench() -> Bench {
        let mut bench = Bench::new();
        for id in [GW, GW2] {
            bench
                .state
                .nat_gateways
                .insert(id.to_string(), gateway(id, "Available"));
        }
        bench
    }

    fn code(result: Result<Value, ApiError>) -> (u16, String) {
        let e = result.expect_err("the call should fail");
        (e.status, e.code)
    }

    /// A package on `gateway` with `ip_count` IPs, still `Creating`.
    fn create_on(bench: &mut Bench, gateway: &str, ip_count: &str) -> String {
        let v = bench
            .call(
                "CreateBandwidthPackage",
                &[
                    ("NatGatewayId", gateway),
                    ("Bandwidth", "5"),
                    ("IpCount", ip_count),
                ],
            )
            .unwrap();
        v["BandwidthPackageId"].as_str().unwrap().to_string()
    }

    /// An `Available` package with two IPs on [`GW`].
    fn available(bench: &mut Bench) -> String {
        let id = create_on(bench, GW, "2");
        bench.advance(60);
        id
    }

    fn describe_one(bench: &mut Bench, id: &str) -> Value {
        let v = bench
            .call("DescribeBandwidthPackages", &[("BandwidthPackageId", id)])
            .unwrap();
        v["BandwidthPackages"]["BandwidthPackage"][0].clone()
    }

    fn ips(bench: &mut Bench, id: &str) -> Vec<String> {
        describe_one(bench, id)["PublicIpAddresses"]["PublicIpAddresse"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ip| ip["IpAddress"].as_str().unwrap().to_string())
            .collect()
    }

    fn add_dnat(bench: &mut Bench, id: &str, ip: &str) {
        let wire = ForwardTableEntry {
            forward_entry_id: id.to_string(),
            forward_table_id: format!("ftb-{GW}"),
            external_ip: ip.to_string(),
            internal_ip: "172.16.1.10".to_string(),
            ip_protocol: "TCP".to_string(),
            status: "Available".to_string(),
            nat_gateway_id: GW.to_string(),
            ..ForwardTableEntry::default()
        };
        bench
            .state
            .forward_entries
            .insert(id.to_string(), Record::new(wire, None, 0));
    }

    fn add_snat(bench: &mut Bench, id: &str, snat_ip: &str) {
        let wire = SnatTableEntry {
            snat_entry_id: id.to_string(),
            snat_table_id: format!("stb-{GW}"),
            snat_ip: snat_ip.to_string(),
            source_cidr: "172.16.1.0/24".to_string(),
            status: "Available".to_string(),
            nat_gateway_id: GW.to_string(),
            ..SnatTableEntry::default()
        };
        bench
            .state
            .snat_entries
            .insert(id.to_string(), Record::new(wire, None, 0));
    }

    fn lock(bench: &mut Bench, id: &str) {
        if let Some(p) = bench.state.bandwidth_packages.get_mut(id) {
            p.wire.business_status = "FinancialLocked".to_string();
        }
    }

    #[test]
    fn accounts_without_legacy_packages_are_refused_every_action() {
        let mut bench = bench();
        let id = available(&mut bench);
        bench.account = 1;
        for action in [
            "CreateBandwidthPackage",
            "DescribeBandwidthPackages",
            "ModifyBandwidthPackageAttribute",
            "ModifyBandwidthPackageSpec",
            "AddBandwidthPackageIps",
            "RemoveBandwidthPackageIps",
            "DeleteBandwidthPackage",
            "ConvertBandwidthPackage",
        ] {
            let (status, code) = code(bench.call(action, &[("BandwidthPackageId", &id)]));
            assert_eq!(
                (status, code.as_str()),
                (403, "Forbidden.NatBandwidthPackage"),
                "{action}"
            );
        }
        assert!(bench.state.bandwidth_packages.contains_key(&id));
    }

    #[test]
    fn create_starts_creating_and_becomes_available() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "2");
        assert!(id.starts_with("bwp-") && id.len() == 26, "{id}");
        let p = describe_one(&mut bench, &id);
        assert_eq!(p["Status"], "Creating");
        bench.advance(59);
        assert_eq!(describe_one(&mut bench, &id)["Status"], "Creating");
        bench.advance(1);
        let p = describe_one(&mut bench, &id);
        assert_eq!(p["Status"], "Available");
        assert_eq!(p["BandwidthPackageId"], id.as_str());
        assert_eq!(p["NatGatewayId"], GW);
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert!(
            bench.fixture.alibaba.regions[0]
                .zones
                .contains(&p["ZoneId"].as_str().unwrap().to_string())
        );
        assert_eq!(p["Bandwidth"], 5);
        assert_eq!(p["IpCount"], 2);
        assert_eq!(p["ISP"], "BGP");
        assert_eq!(p["InstanceChargeType"], "PostPaid");
        assert_eq!(p["InternetChargeType"], "PayByTraffic");
        assert_eq!(p["BusinessStatus"], "Normal");
        assert_eq!(p["CreationTime"], "2001-09-09T01:46:40Z");
        for ip in p["PublicIpAddresses"]["PublicIpAddresse"]
            .as_array()
            .unwrap()
        {
            assert!(ip["AllocationId"].as_str().unwrap().starts_with("nateip-"));
            assert!(
                ip["IpAddress"]
                    .as_str()
                    .unwrap()
                    .parse::<std::net::Ipv4Addr>()
                    .is_ok()
            );
            assert_eq!(ip["UsingStatus"], "Idle");
        }
        assert_eq!(
            bench.state.nat_gateways[GW].wire.bandwidth_package_ids,
            vec![id]
        );
    }

    #[test]
    fn create_records_the_client_token_and_honours_optional_parameters() {
        let mut bench = bench();
        let v = bench
            .call(
                "CreateBandwidthPackage",
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "1000"),
                    ("IpCount", "50"),
                    ("Zone", "cn-hangzhou-c"),
                    ("ISP", "BGP"),
                    ("InternetChargeType", "PayByBandwidth"),
                    ("Name", "pkg-1"),
                    ("Description", "网关带宽包 one"),
                    ("ClientToken", "token-1"),
                ],
            )
            .unwrap();
        let id = v["BandwidthPackageId"].as_str().unwrap();
        let record = &bench.state.bandwidth_packages[id];
        assert_eq!(record.client_token.as_deref(), Some("token-1"));
        let p = &record.wire;
        assert_eq!(p.zone_id, "cn-hangzhou-c");
        assert_eq!(p.internet_charge_type, "PayByBandwidth");
        assert_eq!(
            (p.name.as_str(), p.description.as_str()),
            ("pkg-1", "网关带宽包 one")
        );
        assert_eq!((p.bandwidth, p.ip_count), (Some(1000), Some(50)));
        assert_eq!(p.public_ip_addresses.len(), 50);
    }

    #[test]
    fn create_validates_its_parameters() {
        let mut bench = bench();
        let cases: &[Case<'_>] = &[
            (
                &[("Bandwidth", "5"), ("IpCount", "1")],
                400,
                "MissingNatGatewayId",
            ),
            (
                &[("NatGatewayId", ""), ("Bandwidth", "5"), ("IpCount", "1")],
                400,
                "MissingNatGatewayId",
            ),
            (
                &[("NatGatewayId", GW), ("IpCount", "1")],
                400,
                "MissingBandwidth",
            ),
            (
                &[("NatGatewayId", GW), ("Bandwidth", "5")],
                400,
                "MissingIpCount",
            ),
            (
                &[("NatGatewayId", GW), ("Bandwidth", "4"), ("IpCount", "1")],
                404,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "1001"),
                    ("IpCount", "1"),
                ],
                404,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "0")],
                400,
                "InvalidIpCount.ValueNotSupported",
            ),
            (
                &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "51")],
                400,
                "QuotaExceeded.BandwidthPackageIps",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("ISP", "ChinaTelecom"),
                ],
                400,
                "InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("InternetChargeType", "PayBySpec"),
                ],
                400,
                "InvalidInternetChargeType.ValueNotSupported",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Zone", "cn-beijing-a"),
                ],
                404,
                "InvalidZoneId.NotFound",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Name", "1pkg"),
                ],
                400,
                "InvalidParameter.Name.Malformed",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Name", "http://pkg"),
                ],
                400,
                "InvalidParameter.Name.Malformed",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Description", "1 package"),
                ],
                400,
                "InvalidParameter.Description.Malformed",
            ),
            (
                &[
                    ("NatGatewayId", GW),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Description", "https://x.y"),
                ],
                400,
                "InvalidParameter.Description.Malformed",
            ),
            (
                &[
                    ("NatGatewayId", "ngw-unknown"),
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                ],
                404,
                "NATGW_NOT_EXIST",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("CreateBandwidthPackage", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        assert!(bench.state.bandwidth_packages.is_empty());
    }

    #[test]
    fn create_needs_an_available_gateway() {
        let mut bench = bench();
        for status in ["Creating", "Modifying", "Deleting"] {
            bench
                .state
                .nat_gateways
                .insert(GW.to_string(), gateway(GW, status));
            let (s, c) = code(bench.call(
                "CreateBandwidthPackage",
                &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "1")],
            ));
            assert_eq!(
                (s, c.as_str()),
                (400, "IncorrectStatus.NatGateway"),
                "{status}"
            );
        }
    }

    #[test]
    fn at_most_four_packages_per_gateway() {
        let mut bench = bench();
        for _ in 0..4 {
            create_on(&mut bench, GW, "1");
        }
        let (s, c) = code(bench.call(
            "CreateBandwidthPackage",
            &[("NatGatewayId", GW), ("Bandwidth", "5"), ("IpCount", "1")],
        ));
        assert_eq!(
            (s, c.as_str()),
            (400, "QuotaExceeded.BandwidthPackageCountOnNatGateway")
        );
        create_on(&mut bench, GW2, "1");
        assert_eq!(
            bench.state.nat_gateways[GW]
                .wire
                .bandwidth_package_ids
                .len(),
            4
        );
    }

    #[test]
    fn allocated_ips_are_unique_and_never_fixture_eips() {
        let mut bench = bench();
        for gw in [GW, GW2] {
            for _ in 0..4 {
                create_on(&mut bench, gw, "50");
            }
        }
        let eips: Vec<String> = bench
            .state
            .eips
            .values()
            .map(|e| e.wire.ip_address.clone())
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        let mut ids = std::collections::BTreeSet::new();
        for p in bench.state.bandwidth_packages.values() {
            for ip in &p.wire.public_ip_addresses {
                assert!(
                    seen.insert(ip.ip_address.clone()),
                    "duplicate {}",
                    ip.ip_address
                );
                assert!(ids.insert(ip.allocation_id.clone()));
                assert!(!eips.contains(&ip.ip_address));
                assert!(ip.ip_address.starts_with("118.31."), "{}", ip.ip_address);
            }
        }
        assert_eq!(seen.len(), 400);
    }

    #[test]
    fn describe_filters_sorts_and_paginates() {
        let mut bench = bench();
        let mut on_gw = Vec::new();
        for _ in 0..3 {
            on_gw.push(create_on(&mut bench, GW, "1"));
            bench.advance(1);
        }
        let other = create_on(&mut bench, GW2, "1");
        let v = bench.call("DescribeBandwidthPackages", &[]).unwrap();
        assert_eq!(
            (
                v["TotalCount"].clone(),
                v["PageNumber"].clone(),
                v["PageSize"].clone()
            ),
            (4.into(), 1.into(), 10.into())
        );
        let v = bench
            .call("DescribeBandwidthPackages", &[("NatGatewayId", GW)])
            .unwrap();
        let listed: Vec<&str> = v["BandwidthPackages"]["BandwidthPackage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["BandwidthPackageId"].as_str().unwrap())
            .collect();
        assert_eq!(
            listed,
            on_gw.iter().map(String::as_str).collect::<Vec<_>>(),
            "creation order"
        );
        let v = bench
            .call(
                "DescribeBandwidthPackages",
                &[("NatGatewayId", GW), ("PageSize", "2"), ("PageNumber", "2")],
            )
            .unwrap();
        assert_eq!(v["TotalCount"], 3);
        assert_eq!(v["PageNumber"], 2);
        assert_eq!(v["PageSize"], 2);
        assert_eq!(
            v["BandwidthPackages"]["BandwidthPackage"][0]["BandwidthPackageId"],
            on_gw[2].as_str()
        );
        assert_eq!(
            v["BandwidthPackages"]["BandwidthPackage"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(describe_one(&mut bench, &other)["NatGatewayId"], GW2);
        let v = bench
            .call(
                "DescribeBandwidthPackages",
                &[("BandwidthPackageId", "bwp-none")],
            )
            .unwrap();
        assert_eq!(v["TotalCount"], 0);
        assert_eq!(
            v["BandwidthPackages"]["BandwidthPackage"],
            serde_json::json!([])
        );
        let (s, c) = code(bench.call("DescribeBandwidthPackages", &[("PageSize", "51")]));
        assert_eq!((s, c.as_str()), (400, "InvalidParameter.PageSize"));
    }

    #[test]
    fn using_status_follows_the_gateway_entries() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "3");
        let all = ips(&mut bench, &id);
        add_dnat(&mut bench, "fwd-1", &all[0]);
        add_snat(
            &mut bench,
            "snat-1",
            &format!("{},{}", all[1], "47.97.1.11"),
        );
        let p = describe_one(&mut bench, &id);
        let statuses: Vec<&str> = p["PublicIpAddresses"]["PublicIpAddresse"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ip| ip["UsingStatus"].as_str().unwrap())
            .collect();
        assert_eq!(statuses, ["UsedByForwardTable", "UsedBySnatTable", "Idle"]);
    }

    #[test]
    fn modify_attribute_renames_and_validates() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "1");
        let (s, c) = code(bench.call(
            "ModifyBandwidthPackageAttribute",
            &[("BandwidthPackageId", &id), ("Name", "early")],
        ));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
        bench.advance(60);
        bench
            .call(
                "ModifyBandwidthPackageAttribute",
                &[
                    ("BandwidthPackageId", &id),
                    ("Name", "renamed"),
                    ("Description", "Now described"),
                ],
            )
            .unwrap();
        let p = describe_one(&mut bench, &id);
        assert_eq!(
            (p["Name"].as_str(), p["Description"].as_str()),
            (Some("renamed"), Some("Now described"))
        );
        bench
            .call(
                "ModifyBandwidthPackageAttribute",
                &[("BandwidthPackageId", &id), ("Name", "again")],
            )
            .unwrap();
        assert_eq!(
            describe_one(&mut bench, &id)["Description"],
            "Now described"
        );
        for (param, value, expected) in [
            ("Name", "_bad", "InvalidParameter.Name.Malformed"),
            ("Description", "x", "InvalidParameter.Description.Malformed"),
        ] {
            let (s, c) = code(bench.call(
                "ModifyBandwidthPackageAttribute",
                &[("BandwidthPackageId", &id), (param, value)],
            ));
            assert_eq!((s, c.as_str()), (400, expected));
        }
        let (s, c) = code(bench.call(
            "ModifyBandwidthPackageAttribute",
            &[("BandwidthPackageId", "bwp-none"), ("Name", "ok-name")],
        ));
        assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
        let (s, c) = code(bench.call("ModifyBandwidthPackageAttribute", &[("Name", "ok-name")]));
        assert_eq!((s, c.as_str()), (400, "MissingBandwidthPackageId"));
    }

    #[test]
    fn modify_spec_changes_the_bandwidth() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "1");
        let (s, c) = code(bench.call(
            "ModifyBandwidthPackageSpec",
            &[("BandwidthPackageId", &id), ("Bandwidth", "10")],
        ));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
        bench.advance(60);
        for bandwidth in ["1000", "1000", "5"] {
            bench
                .call(
                    "ModifyBandwidthPackageSpec",
                    &[("BandwidthPackageId", &id), ("Bandwidth", bandwidth)],
                )
                .unwrap();
            assert_eq!(
                describe_one(&mut bench, &id)["Bandwidth"],
                bandwidth.parse::<u32>().unwrap()
            );
        }
        let cases: &[Case<'_>] = &[
            (&[("BandwidthPackageId", &id)], 400, "MissingBandwidth"),
            (
                &[("BandwidthPackageId", &id), ("Bandwidth", "4")],
                404,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[("BandwidthPackageId", &id), ("Bandwidth", "1001")],
                404,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[("BandwidthPackageId", "bwp-none"), ("Bandwidth", "10")],
                404,
                "InvalidBandwidthPackageId.NotFound",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("ModifyBandwidthPackageSpec", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        lock(&mut bench, &id);
        let e = bench
            .call(
                "ModifyBandwidthPackageSpec",
                &[("BandwidthPackageId", &id), ("Bandwidth", "10")],
            )
            .unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (404, "BandwidthPackage.FinancialLocked")
        );
        assert_eq!(
            e.message,
            "The specified BandwidthPackage has been Financial Lock."
        );
    }

    #[test]
    fn add_ips_grows_the_package_up_to_fifty() {
        let mut bench = bench();
        let id = available(&mut bench);
        bench
            .call(
                "AddBandwidthPackageIps",
                &[("BandwidthPackageId", &id), ("IpCount", "3")],
            )
            .unwrap();
        let p = describe_one(&mut bench, &id);
        assert_eq!(p["IpCount"], 5);
        assert_eq!(ips(&mut bench, &id).len(), 5);
        bench
            .call(
                "AddBandwidthPackageIps",
                &[("BandwidthPackageId", &id), ("IpCount", "45")],
            )
            .unwrap();
        let cases: &[Case<'_>] = &[
            (
                &[("BandwidthPackageId", &id), ("IpCount", "1")],
                400,
                "QuotaExceeded.BandwidthPackageIps",
            ),
            (
                &[("BandwidthPackageId", &id), ("IpCount", "0")],
                400,
                "InvalidIpCount.ValueNotSupported",
            ),
            (
                &[("BandwidthPackageId", &id), ("IpCount", "51")],
                400,
                "InvalidIpCount.ValueNotSupported",
            ),
            (&[("BandwidthPackageId", &id)], 400, "MissingIpCount"),
            (
                &[("BandwidthPackageId", "bwp-none"), ("IpCount", "1")],
                404,
                "InvalidBandwidthPackageId.NotFound",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("AddBandwidthPackageIps", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        let all = ips(&mut bench, &id);
        assert_eq!(all.len(), 50);
        assert_eq!(
            all.iter().collect::<std::collections::BTreeSet<_>>().len(),
            50
        );
        let young = create_on(&mut bench, GW, "1");
        let (s, c) = code(bench.call(
            "AddBandwidthPackageIps",
            &[("BandwidthPackageId", &young), ("IpCount", "1")],
        ));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
        bench.advance(60);
        lock(&mut bench, &young);
        let e = bench
            .call(
                "AddBandwidthPackageIps",
                &[("BandwidthPackageId", &young), ("IpCount", "1")],
            )
            .unwrap_err();
        assert_eq!(
            (e.status, e.code.as_str()),
            (404, "BandwidthPackage.FinancialLocked")
        );
        assert_eq!(
            e.message,
            "The specified BandwidthPackage has been Financail Lock."
        );
    }

    #[test]
    fn remove_ips_takes_unused_ips_of_the_package_only() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "4");
        let other = create_on(&mut bench, GW2, "1");
        bench.advance(60);
        let all = ips(&mut bench, &id);
        let foreign = ips(&mut bench, &other)[0].clone();
        add_dnat(&mut bench, "fwd-1", &all[0]);
        add_snat(&mut bench, "snat-1", &all[1]);
        let cases: Vec<OwnedCase<'_>> = vec![
            (
                vec![("BandwidthPackageId", &id)],
                400,
                "MissingRemovedIpAddresses",
            ),
            (
                vec![
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", &foreign),
                ],
                404,
                "invalidRemovedIpAddresses.NotFound",
            ),
            (
                vec![
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", "47.97.1.11"),
                ],
                400,
                "InvalidRemovedIpAddresses.NotFound",
            ),
            (
                vec![
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", &all[0]),
                ],
                400,
                "DependencyViolation.ForwardEntry",
            ),
            (
                vec![
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", &all[1]),
                ],
                400,
                "DependencyViolation.SnatEntry",
            ),
            (
                vec![
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", &all[0]),
                    ("RemovedIpAddresses.2", &all[1]),
                    ("RemovedIpAddresses.3", &all[2]),
                    ("RemovedIpAddresses.4", &all[3]),
                ],
                400,
                "InvalidIpCount.ValueNotSupported",
            ),
            (
                vec![
                    ("BandwidthPackageId", "bwp-none"),
                    ("RemovedIpAddresses.1", &all[2]),
                ],
                404,
                "InvalidBandwidthPackageId.NotFound",
            ),
        ];
        for (params, status, expected) in &cases {
            let (s, c) = code(bench.call("RemoveBandwidthPackageIps", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        let names: Vec<String> = (1..=21)
            .map(|n| format!("RemovedIpAddresses.{n}"))
            .collect();
        let mut many: Vec<(&str, &str)> = names
            .iter()
            .map(|n| (n.as_str(), all[2].as_str()))
            .collect();
        many.push(("BandwidthPackageId", &id));
        let (s, c) = code(bench.call("RemoveBandwidthPackageIps", &many));
        assert_eq!((s, c.as_str()), (400, "InvalidParameter"));
        bench
            .call(
                "RemoveBandwidthPackageIps",
                &[
                    ("BandwidthPackageId", &id),
                    ("RemovedIpAddresses.1", &all[2]),
                    ("RemovedIpAddresses.2", &all[3]),
                ],
            )
            .unwrap();
        assert_eq!(ips(&mut bench, &id), all[..2].to_vec());
        assert_eq!(describe_one(&mut bench, &id)["IpCount"], 2);
        lock(&mut bench, &id);
        let (s, c) = code(bench.call(
            "RemoveBandwidthPackageIps",
            &[
                ("BandwidthPackageId", &id),
                ("RemovedIpAddresses.1", &all[1]),
            ],
        ));
        assert_eq!((s, c.as_str()), (404, "BandwidthPackage.FinancialLocked"));
    }

    #[test]
    fn remove_ips_refuses_a_package_still_creating() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "2");
        let ip = ips(&mut bench, &id)[0].clone();
        let (s, c) = code(bench.call(
            "RemoveBandwidthPackageIps",
            &[("BandwidthPackageId", &id), ("RemovedIpAddresses.1", &ip)],
        ));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    }

    #[test]
    fn delete_refuses_used_packages_unless_forced() {
        let mut bench = bench();
        let id = available(&mut bench);
        let all = ips(&mut bench, &id);
        add_snat(&mut bench, "snat-1", &all[1]);
        let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
        assert_eq!((s, c.as_str()), (400, "DependencyViolation.SnatEntry"));
        add_dnat(&mut bench, "fwd-1", &all[0]);
        add_dnat(&mut bench, "fwd-other", "47.97.1.11");
        let (s, c) = code(bench.call(
            "DeleteBandwidthPackage",
            &[("BandwidthPackageId", &id), ("Force", "false")],
        ));
        assert_eq!((s, c.as_str()), (400, "DependencyViolation.ForwardEntry"));
        bench
            .call(
                "DeleteBandwidthPackage",
                &[("BandwidthPackageId", &id), ("Force", "true")],
            )
            .unwrap();
        assert!(bench.state.bandwidth_packages.is_empty());
        assert!(bench.state.snat_entries.is_empty());
        assert_eq!(
            bench.state.forward_entries.keys().collect::<Vec<_>>(),
            ["fwd-other"]
        );
        assert!(
            bench.state.nat_gateways[GW]
                .wire
                .bandwidth_package_ids
                .is_empty()
        );
        let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
        assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
    }

    #[test]
    fn delete_removes_an_unused_package_but_not_while_creating() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "1");
        let (s, c) = code(bench.call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)]));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
        bench.advance(60);
        bench
            .call("DeleteBandwidthPackage", &[("BandwidthPackageId", &id)])
            .unwrap();
        let v = bench.call("DescribeBandwidthPackages", &[]).unwrap();
        assert_eq!(v["TotalCount"], 0);
        let (s, c) = code(bench.call("DeleteBandwidthPackage", &[]));
        assert_eq!((s, c.as_str()), (400, "MissingBandwidthPackageId"));
    }

    #[test]
    fn convert_turns_the_ips_into_eips_bound_to_the_gateway() {
        let mut bench = bench();
        let id = available(&mut bench);
        let all = ips(&mut bench, &id);
        add_dnat(&mut bench, "fwd-1", &all[0]);
        let eips_before = bench.state.eips.len();
        let v = bench
            .call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)])
            .unwrap();
        let shared = v["ConvertInstanceId"].as_str().unwrap();
        assert!(shared.starts_with("cbwp-"), "{shared}");
        assert!(bench.state.bandwidth_packages.is_empty());
        assert!(
            bench.state.nat_gateways[GW]
                .wire
                .bandwidth_package_ids
                .is_empty()
        );
        assert_eq!(bench.state.eips.len(), eips_before + 2);
        for ip in &all {
            let eip = bench
                .state
                .eips
                .values()
                .find(|e| &e.wire.ip_address == ip)
                .expect("an EIP for every package IP");
            assert!(eip.wire.allocation_id.starts_with("eip-"));
            assert_eq!(eip.wire.status, "InUse");
            assert_eq!(eip.wire.instance_id, GW);
            assert_eq!(eip.wire.instance_type, "Nat");
            assert_eq!(eip.wire.bandwidth_package_id, shared);
            assert_eq!(eip.wire.bandwidth, Some(5));
        }
        let usable: Vec<String> = bench
            .state
            .gateway_ips(GW)
            .into_iter()
            .map(|(_, ip)| ip)
            .collect();
        assert!(all.iter().all(|ip| usable.contains(ip)));
        assert_eq!(bench.state.ip_usage(GW, &all[0]), "UsedByForwardTable");
        assert_eq!(bench.state.forward_entries.len(), 1);
        let (s, c) = code(bench.call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)]));
        assert_eq!((s, c.as_str()), (404, "InvalidBandwidthPackageId.NotFound"));
    }

    #[test]
    fn convert_refuses_a_package_still_creating() {
        let mut bench = bench();
        let id = create_on(&mut bench, GW, "1");
        let (s, c) = code(bench.call("ConvertBandwidthPackage", &[("BandwidthPackageId", &id)]));
        assert_eq!((s, c.as_str()), (400, "IncorrectStatus.BandwidthPackage"));
    }
}
