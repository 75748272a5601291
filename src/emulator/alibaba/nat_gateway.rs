//! NAT gateway actions: create, modify (attributes, specification, NAT type),
//! describe, delete, the Enhanced-gateway zone list and the Normal → Enhanced
//! conversion progress, with the service's asynchronous states and error codes.
//!
//! A gateway is `Creating`, `Modifying`, `Converting` or `Deleting` for a while
//! after each write; in those states only queries are allowed. Its public IPs,
//! their use and its legacy bandwidth packages are not stored on the gateway but
//! computed from the region state when described, so they never go stale.

use std::net::Ipv4Addr;

use serde_json::Value;

use super::bandwidth_package::{NewPackage, Owner, check_legacy_account, create_package};
use super::validate;
use super::{Ctx, missing, paginate, run};
use crate::cloud::alibaba::actions::nat_gateway::{
    ConvertStep, CreateNatGateway, CreateNatGatewayResponse, DeleteNatGateway,
    DeleteNatGatewayResponse, DescribeNatGateways, DescribeNatGatewaysResponse,
    GetNatGatewayConvertStatus, GetNatGatewayConvertStatusResponse, IpList,
    ListEnhanhcedNatGatewayAvailableZones, ListEnhanhcedNatGatewayAvailableZonesResponse,
    ModifyNatGatewayAttribute, ModifyNatGatewayAttributeResponse, ModifyNatGatewaySpec,
    ModifyNatGatewaySpecResponse, NatGateway, NatGatewayPrivateInfo, ResourceTag,
    UpdateNatGatewayNatType, UpdateNatGatewayNatTypeResponse, Zone,
};
use crate::cloud::wire::Params;
use crate::emulator::ApiError;
use crate::emulator::fixture::{AlibabaRegion, VSwitch, Vpc};
use crate::emulator::state::{AlibabaRegionState, Conversion, Effect, GONE, Record, Transition};

/// Gateway sizes, smallest first.
const SPECS: &[&str] = &["Small", "Middle", "Large", "XLarge.1"];

/// The only status in which a gateway accepts writes.
const AVAILABLE: &str = "Available";

/// Conversion steps before `end_success`, with their share (percent) of the
/// conversion's duration. Names and order are the service's.
const CONVERT_STEPS: &[(&str, i64)] = &[
    ("init", 5),
    ("check", 10),
    ("configure", 35),
    ("activate", 35),
    ("conf_delete", 15),
];

/// The handler of `action`, if this module serves it.
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    action: &str,
    params: &Params,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "CreateNatGateway" => run::<CreateNatGateway>(ctx, params, create_nat_gateway),
        "ModifyNatGatewayAttribute" => {
            run::<ModifyNatGatewayAttribute>(ctx, params, modify_nat_gateway_attribute)
        }
        "ModifyNatGatewaySpec" => run::<ModifyNatGatewaySpec>(ctx, params, modify_nat_gateway_spec),
        "UpdateNatGatewayNatType" => {
            run::<UpdateNatGatewayNatType>(ctx, params, update_nat_gateway_nat_type)
        }
        "GetNatGatewayConvertStatus" => {
            run::<GetNatGatewayConvertStatus>(ctx, params, get_nat_gateway_convert_status)
        }
        "DescribeNatGateways" => run::<DescribeNatGateways>(ctx, params, describe_nat_gateways),
        "DeleteNatGateway" => run::<DeleteNatGateway>(ctx, params, delete_nat_gateway),
        "ListEnhanhcedNatGatewayAvailableZones" => {
            run::<ListEnhanhcedNatGatewayAvailableZones>(ctx, params, list_zones)
        }
        _ => return None,
    })
}

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

// ---------------------------------------------------------------------------
// CreateNatGateway
// ---------------------------------------------------------------------------

/// Billing of a new gateway: charge type and, for subscriptions, the expiry.
struct Billing {
    instance_charge_type: String,
    expired_time: String,
}

fn create_nat_gateway(
    ctx: &mut Ctx<'_>,
    req: CreateNatGateway,
) -> Result<CreateNatGatewayResponse, ApiError> {
    let region = ctx.region;
    if req.vpc_id.is_empty() {
        return Err(missing("VpcId"));
    }
    let vpc = find_vpc(region, &req.vpc_id).ok_or_else(|| {
        ApiError::new(
            404,
            "InvalidVpcId.NotFound",
            "Specified value of VpcId is not found in our record.",
        )
    })?;
    check_create_texts(&req)?;
    let spec = given(&req.spec).unwrap_or("Small").to_string();
    check_spec(&spec)?;
    let nat_type = nat_type_of(given(&req.nat_type))?;
    let billing = billing_of(ctx, &req)?;
    let internet_charge_type =
        internet_charge_type_of(given(&req.internet_charge_type), &nat_type)?;
    let network_type = one_of(
        "NetworkType",
        given(&req.network_type),
        &["internet", "intranet"],
    )?;
    let eip_bind_mode = one_of(
        "EipBindMode",
        given(&req.eip_bind_mode),
        &["MULTI_BINDED", "NAT"],
    )?;
    let tags = tags_of(&req)?;
    check_legacy_packages(ctx, &req)?;
    let vswitch = vswitch_for_create(region, vpc, given(&req.vswitch_id), &nat_type)?;
    let private_info = match vswitch {
        Some(s) if nat_type == "Enhanced" => Some(place_in_vswitch(ctx, s)?),
        _ => None,
    };
    let id = ctx.new_id("ngw");
    // Last step that can fail: the gateway is stored right after its package.
    let package_ids = legacy_package(ctx, &id, &req)?;
    let wire = NatGateway {
        bandwidth_package_ids: package_ids.clone(),
        business_status: "Normal".to_string(),
        creation_time: ctx.iso_now(),
        deletion_protection: Some(false),
        description: req.description.clone().unwrap_or_default(),
        ecs_metric_enabled: Some(false),
        expired_time: billing.expired_time,
        forward_table_ids: vec![ctx.new_id("ftb")],
        instance_charge_type: billing.instance_charge_type,
        internet_charge_type,
        name: given(&req.name).unwrap_or(&id).to_string(),
        nat_gateway_id: id.clone(),
        nat_gateway_private_info: private_info,
        nat_type,
        region_id: region.region_id.clone(),
        snat_table_ids: vec![ctx.new_id("stb")],
        spec,
        status: "Creating".to_string(),
        vpc_id: vpc.vpc_id.clone(),
        eip_bind_mode,
        network_type,
        icmp_reply_enabled: Some(req.icmp_reply_enabled.unwrap_or(true)),
        private_link_enabled: Some(req.private_link_enabled.unwrap_or(false)),
        tags,
        ..NatGateway::default()
    };
    let mut record = Record::new(wire, ctx.client_token.clone(), ctx.now_ms);
    let due = ctx.due(ctx.durations.creating);
    start_transition(&mut record, "Creating", due, AVAILABLE, None);
    let response = CreateNatGatewayResponse {
        nat_gateway_id: id.clone(),
        forward_table_ids: record.wire.forward_table_ids.clone(),
        snat_table_ids: record.wire.snat_table_ids.clone(),
        bandwidth_package_ids: package_ids,
        ..CreateNatGatewayResponse::default()
    };
    ctx.state.nat_gateways.insert(id, record);
    Ok(response)
}

/// Name and description of a new gateway, with CreateNatGateway's own codes.
fn check_create_texts(req: &CreateNatGateway) -> Result<(), ApiError> {
    if given(&req.name).is_some_and(|n| !validate::is_valid_name(n)) {
        return Err(ApiError::new(
            400,
            "InvalidNatGatewayName.Malformed",
            "NatGateway name is not valid.",
        ));
    }
    if given(&req.description).is_some_and(|d| !validate::is_valid_description(d)) {
        return Err(ApiError::new(
            400,
            "InvalidNatGatewayDescription.Malformed",
            "NatGateway description is not valid.",
        ));
    }
    Ok(())
}

fn nat_type_of(value: Option<&str>) -> Result<String, ApiError> {
    match value.unwrap_or("Normal") {
        t @ ("Normal" | "Enhanced") => Ok(t.to_string()),
        _ => Err(value_not_supported("NatType", "use Normal or Enhanced.")),
    }
}

/// `value` (or the first of `allowed` when absent), which must be one of `allowed`.
fn one_of(name: &str, value: Option<&str>, allowed: &[&str]) -> Result<String, ApiError> {
    let chosen = value
        .or_else(|| allowed.first().copied())
        .unwrap_or_default();
    if allowed.contains(&chosen) {
        Ok(chosen.to_string())
    } else {
        Err(value_not_supported(
            name,
            &format!("use one of {}.", allowed.join(", ")),
        ))
    }
}

fn internet_charge_type_of(value: Option<&str>, nat_type: &str) -> Result<String, ApiError> {
    let chosen = one_of("InternetChargeType", value, &["PayBySpec", "PayByLcu"])?;
    if chosen == "PayByLcu" && nat_type != "Enhanced" {
        return Err(value_not_supported(
            "InternetChargeType",
            "PayByLcu is only supported by Enhanced NAT gateways.",
        ));
    }
    Ok(chosen)
}

/// PostPaid (default) or PrePaid; a subscription needs PricingCycle, Duration
/// (1–9 months or 1–3 years) and AutoPay.
fn billing_of(ctx: &Ctx<'_>, req: &CreateNatGateway) -> Result<Billing, ApiError> {
    let charge = one_of(
        "InstanceChargeType",
        given(&req.instance_charge_type),
        &["PostPaid", "PrePaid"],
    )?;
    if charge == "PostPaid" {
        return Ok(Billing {
            instance_charge_type: charge,
            expired_time: String::new(),
        });
    }
    let cycle = given(&req.pricing_cycle).ok_or_else(|| missing("PricingCycle"))?;
    let duration = req.duration.ok_or_else(|| missing("Duration"))?;
    if req.auto_pay.is_none() {
        return Err(missing("AutoPay"));
    }
    let (months, max) = match cycle {
        "Month" => (duration, 9),
        "Year" => (duration.saturating_mul(12), 3),
        _ => return Err(value_not_supported("PricingCycle", "use Month or Year.")),
    };
    if !(1..=max).contains(&duration) {
        return Err(value_not_supported(
            "Duration",
            "use 1-9 with PricingCycle=Month or 1-3 with PricingCycle=Year.",
        ));
    }
    Ok(Billing {
        instance_charge_type: charge,
        expired_time: expiry(ctx.now_ms, months),
    })
}

/// `months` after `now_ms`, as the service writes expiry times (`YYYY-MM-DDThh:mmZ`).
fn expiry(now_ms: i64, months: u32) -> String {
    jiff::Timestamp::from_millisecond(now_ms)
        .ok()
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
        .and_then(|z| {
            z.checked_add(jiff::Span::new().months(i64::from(months)))
                .ok()
        })
        .map(|z| z.strftime("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_default()
}

/// Tags of a new gateway (`Tag.N.Key` must not be empty or reserved).
fn tags_of(req: &CreateNatGateway) -> Result<Vec<ResourceTag>, ApiError> {
    req.tags
        .iter()
        .map(|t| {
            let key = t.key.as_str();
            let reserved = key.starts_with("aliyun") || key.starts_with("acs:");
            let link = key.contains("http://") || key.contains("https://");
            if key.is_empty() || reserved || link || key.chars().count() > 128 {
                return Err(ApiError::new(
                    400,
                    "InvalidTagKey.Malformed",
                    "The specified Tag.n.Key is not valid.",
                ));
            }
            Ok(ResourceTag {
                tag_key: t.key.clone(),
                tag_value: t.value.clone().unwrap_or_default(),
            })
        })
        .collect()
}

/// Legacy bandwidth packages asked for with the gateway: at most one, and only
/// by an account that may have them (refused as the bandwidth-package actions
/// refuse it).
fn check_legacy_packages(ctx: &Ctx<'_>, req: &CreateNatGateway) -> Result<(), ApiError> {
    match req.bandwidth_packages.len() {
        0 => Ok(()),
        1 => check_legacy_account(ctx),
        _ => Err(ApiError::new(
            400,
            "MissingParameter.BandwidthPackage",
            "only support one BandwidthPackage be created with NatGateway.",
        )),
    }
}

/// The id of the legacy package asked for with gateway `gateway_id` (none when
/// not asked for), validated and created as CreateBandwidthPackage does it. The
/// gateway is not stored yet, so a bad package parameter leaves neither.
fn legacy_package(
    ctx: &mut Ctx<'_>,
    gateway_id: &str,
    req: &CreateNatGateway,
) -> Result<Vec<String>, ApiError> {
    let Some(package) = req.bandwidth_packages.first() else {
        return Ok(Vec::new());
    };
    let new = NewPackage {
        bandwidth: package.bandwidth,
        ip_count: package.ip_count,
        zone: package.zone.clone(),
        isp: package.isp.clone(),
        internet_charge_type: package.internet_charge_type.clone(),
        ..NewPackage::default()
    };
    Ok(vec![create_package(ctx, Owner::New(gateway_id), new)?])
}

/// The vSwitch of a new gateway: optional for Normal, required for Enhanced
/// (in a zone that supports Enhanced gateways); always in the gateway's VPC.
fn vswitch_for_create<'r>(
    region: &'r AlibabaRegion,
    vpc: &Vpc,
    vswitch_id: Option<&str>,
    nat_type: &str,
) -> Result<Option<&'r VSwitch>, ApiError> {
    let Some(vswitch_id) = vswitch_id else {
        return if nat_type == "Enhanced" {
            Err(missing("VSwitchId"))
        } else {
            Ok(None)
        };
    };
    let (owner, vswitch) = find_vswitch(region, vswitch_id).ok_or_else(|| {
        ApiError::new(
            404,
            "InvalidVSwitchId.NotFound",
            "The specified virtual switch does not exist.",
        )
    })?;
    if owner.vpc_id != vpc.vpc_id {
        return Err(ApiError::new(
            400,
            "OperationFailed.VswitchNotBelongToVpc",
            "Operation failed because the specified VSwitch is not bound to the same VPC with NAT gateway.",
        ));
    }
    if nat_type == "Enhanced" && !region.zones.contains(&vswitch.zone_id) {
        return Err(enhanced_zone_unsupported());
    }
    Ok(Some(vswitch))
}

// ---------------------------------------------------------------------------
// ModifyNatGatewayAttribute
// ---------------------------------------------------------------------------

fn modify_nat_gateway_attribute(
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

fn modify_nat_gateway_spec(
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

// ---------------------------------------------------------------------------
// UpdateNatGatewayNatType
// ---------------------------------------------------------------------------

fn update_nat_gateway_nat_type(
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

fn get_nat_gateway_convert_status(
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

// ---------------------------------------------------------------------------
// DescribeNatGateways
// ---------------------------------------------------------------------------

fn describe_nat_gateways(
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

// ---------------------------------------------------------------------------
// DeleteNatGateway
// ---------------------------------------------------------------------------

fn delete_nat_gateway(
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

// ---------------------------------------------------------------------------
// ListEnhanhcedNatGatewayAvailableZones
// ---------------------------------------------------------------------------

fn list_zones(
    ctx: &mut Ctx<'_>,
    req: ListEnhanhcedNatGatewayAvailableZones,
) -> Result<ListEnhanhcedNatGatewayAvailableZonesResponse, ApiError> {
    let english = given(&req.accept_language) == Some("en-US");
    let zones = ctx
        .region
        .zones
        .iter()
        .map(|zone_id| Zone {
            zone_id: zone_id.clone(),
            local_name: zone_local_name(&ctx.region.region_id, zone_id, english),
        })
        .collect();
    Ok(ListEnhanhcedNatGatewayAvailableZonesResponse {
        zones,
        ..ListEnhanhcedNatGatewayAvailableZonesResponse::default()
    })
}

/// A zone's display name, e.g. `华东 1 可用区 A` / `China (Hangzhou) Zone A`.
fn zone_local_name(region_id: &str, zone_id: &str, english: bool) -> String {
    const NAMES: &[(&str, &str, &str)] = &[
        ("cn-qingdao", "华北 1", "China (Qingdao)"),
        ("cn-beijing", "华北 2", "China (Beijing)"),
        ("cn-zhangjiakou", "华北 3", "China (Zhangjiakou)"),
        ("cn-hangzhou", "华东 1", "China (Hangzhou)"),
        ("cn-shanghai", "华东 2", "China (Shanghai)"),
        ("cn-shenzhen", "华南 1", "China (Shenzhen)"),
        ("cn-chengdu", "西南 1", "China (Chengdu)"),
    ];
    let letter = zone_id
        .strip_prefix(region_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(zone_id)
        .to_uppercase();
    let region = NAMES.iter().find(|(id, _, _)| *id == region_id);
    match (region, english) {
        (Some((_, _, en)), true) => format!("{en} Zone {letter}"),
        (Some((_, zh, _)), false) => format!("{zh} 可用区 {letter}"),
        (None, true) => format!("{region_id} Zone {letter}"),
        (None, false) => format!("{region_id} 可用区 {letter}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::cloud::alibaba::actions::bandwidth_package::{BandwidthPackage, PublicIpAddress};
    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
    use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
    use crate::emulator::alibaba::testing::Bench;
    use crate::emulator::state::Record;

    const VPC1: &str = "vpc-hz1natop0000000000";
    const VPC2: &str = "vpc-hz2natop0000000000";
    const VSW_A: &str = "vsw-hz11natop000000000";
    const VSW_B: &str = "vsw-hz12natop000000000";
    const VSW_OTHER_VPC: &str = "vsw-hz21natop000000000";
    const EIP1: &str = "eip-hz01natop00000000";

    /// Parameters, then the expected HTTP status and code.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

    fn code(result: Result<Value, crate::emulator::ApiError>) -> (u16, String) {
        let e = result.expect_err("an error");
        (e.status, e.code)
    }

    fn create(bench: &mut Bench, extra: &[(&str, &str)]) -> String {
        let mut params = vec![("VpcId", VPC1)];
        params.extend_from_slice(extra);
        let v = bench.call("CreateNatGateway", &params).unwrap();
        v["NatGatewayId"].as_str().unwrap().to_string()
    }

    fn available(bench: &mut Bench, extra: &[(&str, &str)]) -> String {
        let id = create(bench, extra);
        bench.advance(60);
        id
    }

    fn gateway(bench: &mut Bench, id: &str) -> Value {
        let v = bench
            .call("DescribeNatGateways", &[("NatGatewayId", id)])
            .unwrap();
        v["NatGateways"]["NatGateway"][0].clone()
    }

    fn status(bench: &mut Bench, id: &str) -> String {
        gateway(bench, id)["Status"]
            .as_str()
            .unwrap_or("<gone>")
            .to_string()
    }

    fn bind_eip(bench: &mut Bench, gateway_id: &str, allocation_id: &str, status: &str) -> String {
        let eip = bench.state.eips.get_mut(allocation_id).unwrap();
        eip.wire.instance_id = gateway_id.to_string();
        eip.wire.instance_type = "Nat".to_string();
        eip.wire.status = status.to_string();
        eip.wire.ip_address.clone()
    }

    fn add_dnat(bench: &mut Bench, gateway_id: &str, ip: &str, status: &str) {
        let entry = ForwardTableEntry {
            forward_entry_id: format!("fwd-{}", bench.state.forward_entries.len()),
            nat_gateway_id: gateway_id.to_string(),
            external_ip: ip.to_string(),
            status: status.to_string(),
            ..ForwardTableEntry::default()
        };
        let key = entry.forward_entry_id.clone();
        bench
            .state
            .forward_entries
            .insert(key, Record::new(entry, None, 0));
    }

    fn add_snat(bench: &mut Bench, gateway_id: &str, ip: &str, status: &str) {
        let entry = SnatTableEntry {
            snat_entry_id: format!("snat-{}", bench.state.snat_entries.len()),
            nat_gateway_id: gateway_id.to_string(),
            snat_ip: ip.to_string(),
            status: status.to_string(),
            ..SnatTableEntry::default()
        };
        let key = entry.snat_entry_id.clone();
        bench
            .state
            .snat_entries
            .insert(key, Record::new(entry, None, 0));
    }

    fn add_package(bench: &mut Bench, gateway_id: &str, id: &str, ip: &str) {
        let package = BandwidthPackage {
            bandwidth_package_id: id.to_string(),
            nat_gateway_id: gateway_id.to_string(),
            status: "Available".to_string(),
            public_ip_addresses: vec![PublicIpAddress {
                allocation_id: format!("nateip-{id}"),
                ip_address: ip.to_string(),
                ..PublicIpAddress::default()
            }],
            ..BandwidthPackage::default()
        };
        bench
            .state
            .bandwidth_packages
            .insert(id.to_string(), Record::new(package, None, 0));
    }

    #[test]
    fn create_then_available_after_the_creating_duration() {
        let mut b = Bench::new();
        let v = b
            .call(
                "CreateNatGateway",
                &[("VpcId", VPC1), ("ClientToken", "tok-1")],
            )
            .unwrap();
        let id = v["NatGatewayId"].as_str().unwrap().to_string();
        assert!(id.starts_with("ngw-") && id.len() == 26, "{id}");
        let ftb = v["ForwardTableIds"]["ForwardTableId"][0].as_str().unwrap();
        let stb = v["SnatTableIds"]["SnatTableId"][0].as_str().unwrap();
        assert!(ftb.starts_with("ftb-") && stb.starts_with("stb-"));
        assert_eq!(
            b.state.nat_gateways[&id].client_token.as_deref(),
            Some("tok-1")
        );

        let g = gateway(&mut b, &id);
        assert_eq!(g["Status"], "Creating");
        assert_eq!(g["Name"], id.as_str(), "the name defaults to the id");
        assert_eq!(g["BusinessStatus"], "Normal");
        assert_eq!(g["Spec"], "Small");
        assert_eq!(g["NatType"], "Normal");
        assert_eq!(g["InstanceChargeType"], "PostPaid");
        assert_eq!(g["InternetChargeType"], "PayBySpec");
        assert_eq!(g["VpcId"], VPC1);
        assert_eq!(g["RegionId"], "cn-hangzhou");
        assert_eq!(g["CreationTime"], "2001-09-09T01:46:40Z");
        assert_eq!(g["ForwardTableIds"]["ForwardTableId"][0], ftb);
        assert_eq!(g["SnatTableIds"]["SnatTableId"][0], stb);
        assert_eq!(g["IpLists"]["IpList"], serde_json::json!([]));
        assert!(g.get("NatGatewayPrivateInfo").is_none());

        b.advance(59);
        assert_eq!(status(&mut b, &id), "Creating");
        b.advance(1);
        assert_eq!(status(&mut b, &id), "Available");
    }

    #[test]
    fn create_keeps_name_description_spec_and_tags() {
        let mut b = Bench::new();
        let id = create(
            &mut b,
            &[
                ("Name", "natop-gw.1"),
                ("Description", "made by natop"),
                ("Spec", "Large"),
                ("Tag.1.Key", "owner"),
                ("Tag.1.Value", "natop"),
            ],
        );
        let g = gateway(&mut b, &id);
        assert_eq!(g["Name"], "natop-gw.1");
        assert_eq!(g["Description"], "made by natop");
        assert_eq!(g["Spec"], "Large");
        assert_eq!(g["Tags"]["Tag"][0]["TagKey"], "owner");
        assert_eq!(g["Tags"]["Tag"][0]["TagValue"], "natop");
    }

    #[test]
    fn create_validates_its_parameters() {
        let mut b = Bench::new();
        let cases: &[Case] = &[
            (&[], 400, "MissingVpcId"),
            (&[("VpcId", "")], 400, "MissingVpcId"),
            (&[("VpcId", "vpc-nope")], 404, "InvalidVpcId.NotFound"),
            (
                &[("VpcId", VPC1), ("Name", "1bad")],
                400,
                "InvalidNatGatewayName.Malformed",
            ),
            (
                &[("VpcId", VPC1), ("Name", "http://x")],
                400,
                "InvalidNatGatewayName.Malformed",
            ),
            (
                &[("VpcId", VPC1), ("Description", "x")],
                400,
                "InvalidNatGatewayDescription.Malformed",
            ),
            (
                &[("VpcId", VPC1), ("Spec", "Huge")],
                400,
                "InvalidParameter.Spec.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("NatType", "Super")],
                400,
                "InvalidParameter.NatType.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("NatType", "Enhanced")],
                400,
                "MissingVSwitchId",
            ),
            (
                &[("VpcId", VPC1), ("VSwitchId", "vsw-nope")],
                404,
                "InvalidVSwitchId.NotFound",
            ),
            (
                &[("VpcId", VPC1), ("VSwitchId", VSW_OTHER_VPC)],
                400,
                "OperationFailed.VswitchNotBelongToVpc",
            ),
            (
                &[("VpcId", VPC1), ("InternetChargeType", "PayByLcu")],
                400,
                "InvalidParameter.InternetChargeType.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("InternetChargeType", "PayByMood")],
                400,
                "InvalidParameter.InternetChargeType.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("InstanceChargeType", "Free")],
                400,
                "InvalidParameter.InstanceChargeType.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("InstanceChargeType", "PrePaid")],
                400,
                "MissingPricingCycle",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("InstanceChargeType", "PrePaid"),
                    ("PricingCycle", "Month"),
                ],
                400,
                "MissingDuration",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("InstanceChargeType", "PrePaid"),
                    ("PricingCycle", "Month"),
                    ("Duration", "1"),
                ],
                400,
                "MissingAutoPay",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("InstanceChargeType", "PrePaid"),
                    ("PricingCycle", "Month"),
                    ("Duration", "10"),
                    ("AutoPay", "true"),
                ],
                400,
                "InvalidParameter.Duration.ValueNotSupported",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("InstanceChargeType", "PrePaid"),
                    ("PricingCycle", "Year"),
                    ("Duration", "4"),
                    ("AutoPay", "true"),
                ],
                400,
                "InvalidParameter.Duration.ValueNotSupported",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("InstanceChargeType", "PrePaid"),
                    ("PricingCycle", "Week"),
                    ("Duration", "1"),
                    ("AutoPay", "true"),
                ],
                400,
                "InvalidParameter.PricingCycle.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("NetworkType", "dark")],
                400,
                "InvalidParameter.NetworkType.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("EipBindMode", "X")],
                400,
                "InvalidParameter.EipBindMode.ValueNotSupported",
            ),
            (
                &[("VpcId", VPC1), ("Tag.1.Key", "aliyun-x")],
                400,
                "InvalidTagKey.Malformed",
            ),
            (
                &[("VpcId", VPC1), ("BandwidthPackage.1.IpCount", "1")],
                400,
                "MissingBandwidth",
            ),
            (
                &[
                    ("VpcId", VPC1),
                    ("BandwidthPackage.1.Bandwidth", "5"),
                    ("BandwidthPackage.1.IpCount", "1"),
                    ("BandwidthPackage.2.Bandwidth", "5"),
                    ("BandwidthPackage.2.IpCount", "1"),
                ],
                400,
                "MissingParameter.BandwidthPackage",
            ),
        ];
        for (params, http, expected) in cases {
            let got = code(b.call("CreateNatGateway", params));
            assert_eq!(got, (*http, expected.to_string()), "{params:?}");
        }
        assert!(b.state.nat_gateways.is_empty(), "nothing created");
        assert!(b.state.bandwidth_packages.is_empty(), "no package either");
    }

    /// `BandwidthPackage.1.*` with the gateway parameters that are valid.
    fn with_package<'a>(package: &[(&'a str, &'a str)]) -> Vec<(String, &'a str)> {
        let mut params = vec![("VpcId".to_string(), VPC1)];
        params.extend(
            package
                .iter()
                .map(|(k, v)| (format!("BandwidthPackage.1.{k}"), *v)),
        );
        params
    }

    fn call_with_package(
        b: &mut Bench,
        package: &[(&str, &str)],
    ) -> Result<Value, crate::emulator::ApiError> {
        let params = with_package(package);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        b.call("CreateNatGateway", &params)
    }

    #[test]
    fn create_with_one_legacy_bandwidth_package() {
        let mut b = Bench::new();
        let v = call_with_package(
            &mut b,
            &[
                ("Bandwidth", "20"),
                ("IpCount", "2"),
                ("Zone", "cn-hangzhou-c"),
                ("ISP", "BGP"),
                ("InternetChargeType", "PayByBandwidth"),
            ],
        )
        .unwrap();
        let id = v["NatGatewayId"].as_str().unwrap().to_string();
        let ids = v["BandwidthPackageIds"]["BandwidthPackageId"]
            .as_array()
            .unwrap();
        assert_eq!(ids.len(), 1, "{v}");
        let bwp = ids[0].as_str().unwrap().to_string();
        assert!(bwp.starts_with("bwp-") && bwp.len() == 26, "{bwp}");

        let p = &b.state.bandwidth_packages[&bwp].wire;
        assert_eq!(p.nat_gateway_id, id);
        assert_eq!(
            (p.bandwidth, p.ip_count, p.zone_id.as_str()),
            (Some(20), Some(2), "cn-hangzhou-c")
        );
        assert_eq!(
            (p.isp.as_str(), p.internet_charge_type.as_str()),
            ("BGP", "PayByBandwidth")
        );
        assert_eq!(p.public_ip_addresses.len(), 2);
        assert_eq!(p.status, "Creating");
        assert_eq!(
            b.state.nat_gateways[&id].wire.bandwidth_package_ids,
            vec![bwp.clone()]
        );

        let g = gateway(&mut b, &id);
        assert_eq!(
            g["BandwidthPackageIds"]["BandwidthPackageId"][0],
            bwp.as_str()
        );
        assert_eq!(g["IpLists"]["IpList"].as_array().unwrap().len(), 2);
        b.advance(60);
        assert_eq!(status(&mut b, &id), "Available");
        let shown = b
            .call("DescribeBandwidthPackages", &[("BandwidthPackageId", &bwp)])
            .unwrap();
        let shown = &shown["BandwidthPackages"]["BandwidthPackage"][0];
        assert_eq!(shown["Status"], "Available");
        assert_eq!(shown["NatGatewayId"], id.as_str());

        let got = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
        assert_eq!(got, (400, "DependencyViolation.BandwidthPackages".into()));
    }

    #[test]
    fn create_without_a_package_answers_no_package_id() {
        let mut b = Bench::new();
        let v = b.call("CreateNatGateway", &[("VpcId", VPC1)]).unwrap();
        let ids = &v["BandwidthPackageIds"]["BandwidthPackageId"];
        assert!(ids.is_null() || ids == &serde_json::json!([]), "{v}");
        assert!(b.state.bandwidth_packages.is_empty());
    }

    #[test]
    fn a_bad_legacy_package_parameter_creates_nothing() {
        let mut b = Bench::new();
        let cases: &[Case] = &[
            (&[("IpCount", "1")], 400, "MissingBandwidth"),
            (&[("Bandwidth", "5")], 400, "MissingIpCount"),
            (
                &[("Bandwidth", "4"), ("IpCount", "1")],
                404,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[("Bandwidth", "5"), ("IpCount", "0")],
                400,
                "InvalidIpCount.ValueNotSupported",
            ),
            (
                &[("Bandwidth", "5"), ("IpCount", "51")],
                400,
                "QuotaExceeded.BandwidthPackageIps",
            ),
            (
                &[
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("ISP", "ChinaTelecom"),
                ],
                400,
                "InvalidParameter.BandwidthPackage.n.ISP.ValueNotSupport",
            ),
            (
                &[
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("InternetChargeType", "PayBySpec"),
                ],
                400,
                "InvalidInternetChargeType.ValueNotSupported",
            ),
            (
                &[
                    ("Bandwidth", "5"),
                    ("IpCount", "1"),
                    ("Zone", "cn-nowhere-z"),
                ],
                404,
                "InvalidZoneId.NotFound",
            ),
        ];
        for (package, http, expected) in cases {
            let got = code(call_with_package(&mut b, package));
            assert_eq!(got, (*http, expected.to_string()), "{package:?}");
        }
        assert!(b.state.nat_gateways.is_empty(), "no gateway");
        assert!(b.state.bandwidth_packages.is_empty(), "no package");
    }

    #[test]
    fn only_legacy_accounts_create_a_package_with_the_gateway() {
        let mut b = Bench::new();
        b.account = 1;
        let got = code(call_with_package(
            &mut b,
            &[("Bandwidth", "5"), ("IpCount", "1")],
        ));
        assert_eq!(got, (403, "Forbidden.NatBandwidthPackage".into()));
        assert!(b.state.nat_gateways.is_empty() && b.state.bandwidth_packages.is_empty());
        create(&mut b, &[]);
        assert_eq!(b.state.nat_gateways.len(), 1, "without a package it works");
    }

    #[test]
    fn prepaid_gateways_expire_after_their_duration() {
        let mut b = Bench::new();
        let id = create(
            &mut b,
            &[
                ("InstanceChargeType", "PrePaid"),
                ("PricingCycle", "Year"),
                ("Duration", "2"),
                ("AutoPay", "false"),
            ],
        );
        let g = gateway(&mut b, &id);
        assert_eq!(g["InstanceChargeType"], "PrePaid");
        assert_eq!(g["ExpiredTime"], "2003-09-09T01:46Z");
        let v = b
            .call("DescribeNatGateways", &[("InstanceChargeType", "PostPaid")])
            .unwrap();
        assert_eq!(v["TotalCount"], 0);
    }

    #[test]
    fn enhanced_gateways_take_a_private_ip_of_their_vswitch() {
        let mut b = Bench::new();
        let id = create(
            &mut b,
            &[
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_B),
                ("InternetChargeType", "PayByLcu"),
            ],
        );
        let other = create(&mut b, &[("NatType", "Enhanced"), ("VSwitchId", VSW_B)]);
        let g = gateway(&mut b, &id);
        assert_eq!(g["NatType"], "Enhanced");
        assert_eq!(g["InternetChargeType"], "PayByLcu");
        let info = &g["NatGatewayPrivateInfo"];
        assert_eq!(info["VswitchId"], VSW_B);
        assert_eq!(info["IzNo"], "cn-hangzhou-b");
        assert!(info["EniInstanceId"].as_str().unwrap().starts_with("eni-"));
        assert_eq!(info["MaxSessionQuota"], 10_000);
        let ip: std::net::Ipv4Addr = info["PrivateIpAddress"].as_str().unwrap().parse().unwrap();
        let net: ipnet::Ipv4Net = "172.16.2.0/24".parse().unwrap();
        assert!(net.contains(&ip), "{ip}");
        let last = ip.octets()[3];
        assert!(
            (1..=251).contains(&last),
            "reserved addresses are skipped: {ip}"
        );
        let other_ip = gateway(&mut b, &other)["NatGatewayPrivateInfo"]["PrivateIpAddress"].clone();
        assert_ne!(other_ip, info["PrivateIpAddress"], "two gateways, two IPs");

        let by_zone = b
            .call("DescribeNatGateways", &[("ZoneId", "cn-hangzhou-b")])
            .unwrap();
        assert_eq!(by_zone["TotalCount"], 2);
        let none = b
            .call("DescribeNatGateways", &[("ZoneId", "cn-hangzhou-a")])
            .unwrap();
        assert_eq!(none["TotalCount"], 0);
    }

    #[test]
    fn enhanced_gateways_need_a_supported_zone_and_a_free_ip() {
        let mut b = Bench::new();
        b.fixture.alibaba.regions[0].zones = vec!["cn-hangzhou-a".to_string()];
        let got = code(b.call(
            "CreateNatGateway",
            &[
                ("VpcId", VPC1),
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_B),
            ],
        ));
        assert_eq!(
            got,
            (400, "OperationFailed.EnhancedInventoryNotEnough".into())
        );
        // A Normal gateway may name a vSwitch in any zone.
        create(&mut b, &[("VSwitchId", VSW_B)]);

        b.fixture.alibaba.regions[0].vpcs[0].v_switches[0].cidr_block = "172.16.1.0/30".into();
        let got = code(b.call(
            "CreateNatGateway",
            &[
                ("VpcId", VPC1),
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_A),
            ],
        ));
        assert_eq!(got, (400, "ZONE_NO_AVAILABLE_IP".into()));
    }

    #[test]
    fn writes_are_refused_while_the_gateway_is_busy() {
        let mut b = Bench::new();
        let id = create(&mut b, &[]);
        let writes: &[(&str, &[(&str, &str)])] = &[
            ("ModifyNatGatewayAttribute", &[("Name", "renamed")]),
            ("ModifyNatGatewaySpec", &[("Spec", "Middle")]),
            (
                "UpdateNatGatewayNatType",
                &[("NatType", "Enhanced"), ("VSwitchId", VSW_A)],
            ),
            ("DeleteNatGateway", &[]),
            ("DeleteNatGateway", &[("Force", "true")]),
        ];
        for (action, params) in writes {
            let mut p = vec![("NatGatewayId", id.as_str())];
            p.extend_from_slice(params);
            assert_eq!(
                code(b.call(action, &p)),
                (400, "IncorrectStatus.NatGateway".into()),
                "{action} while Creating"
            );
        }
        assert_eq!(status(&mut b, &id), "Creating", "queries still work");
        b.advance(60);
        b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", &id), ("Spec", "Middle")],
        )
        .unwrap();
        let got = code(b.call(
            "ModifyNatGatewayAttribute",
            &[("NatGatewayId", &id), ("Name", "ab")],
        ));
        assert_eq!(
            got,
            (400, "IncorrectStatus.NatGateway".into()),
            "while Modifying"
        );
    }

    #[test]
    fn modify_attribute_changes_name_description_and_flags() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        b.call(
            "ModifyNatGatewayAttribute",
            &[
                ("NatGatewayId", &id),
                ("Name", "网关-1"),
                ("Description", "a new description"),
                ("IcmpReplyEnabled", "false"),
            ],
        )
        .unwrap();
        let g = gateway(&mut b, &id);
        assert_eq!(g["Name"], "网关-1");
        assert_eq!(g["Description"], "a new description");
        assert_eq!(g["IcmpReplyEnabled"], false);
        assert_eq!(g["Status"], "Available", "synchronous");

        b.call(
            "ModifyNatGatewayAttribute",
            &[("NatGatewayId", &id), ("EipBindMode", "NAT")],
        )
        .unwrap();
        assert_eq!(gateway(&mut b, &id)["EipBindMode"], "NAT");
        let cases: &[Case] = &[
            (
                &[("EipBindMode", "MULTI_BINDED")],
                400,
                "OperationUnsupported.EipBindMode",
            ),
            (
                &[("EipBindMode", "X")],
                400,
                "InvalidParameter.EipBindMode.ValueNotSupported",
            ),
            (&[("Name", "_x")], 400, "InvalidParameter.Name.Malformed"),
            (
                &[("Description", "https://x")],
                400,
                "InvalidParameter.Description.Malformed",
            ),
            (
                &[("Description", "1st gateway")],
                400,
                "InvalidParameter.Description.Malformed",
            ),
            (&[], 400, "MissingParameter"),
        ];
        for (params, http, expected) in cases {
            let mut p = vec![("NatGatewayId", id.as_str())];
            p.extend_from_slice(params);
            let got = code(b.call("ModifyNatGatewayAttribute", &p));
            assert_eq!(got, (*http, expected.to_string()), "{params:?}");
        }
        let got = code(b.call(
            "ModifyNatGatewayAttribute",
            &[("NatGatewayId", "ngw-x"), ("Name", "ab")],
        ));
        assert_eq!(got, (404, "InvalidNatGatewayId.NotFound".into()));
        let got = code(b.call("ModifyNatGatewayAttribute", &[("Name", "ab")]));
        assert_eq!(got, (400, "MissingNatGatewayId".into()));
    }

    #[test]
    fn modified_descriptions_start_with_a_letter_created_ones_need_not() {
        let mut b = Bench::new();
        let id = available(&mut b, &[("Description", "1st gateway")]);
        assert_eq!(gateway(&mut b, &id)["Description"], "1st gateway");
        for bad in ["1st gateway", "_underscored", " spaced"] {
            let got = code(b.call(
                "ModifyNatGatewayAttribute",
                &[("NatGatewayId", &id), ("Description", bad)],
            ));
            assert_eq!(
                got,
                (400, "InvalidParameter.Description.Malformed".into()),
                "{bad}"
            );
        }
        assert_eq!(gateway(&mut b, &id)["Description"], "1st gateway");
        for good in ["第一 gateway", "Second gateway"] {
            b.call(
                "ModifyNatGatewayAttribute",
                &[("NatGatewayId", &id), ("Description", good)],
            )
            .unwrap();
            assert_eq!(gateway(&mut b, &id)["Description"], good);
        }
    }

    #[test]
    fn modify_spec_goes_through_modifying() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let same = code(b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", &id), ("Spec", "Small")],
        ));
        assert_eq!(same, (400, "NATGW_MODIFY_SPEC_SAME".into()));
        let bad = code(b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", &id), ("Spec", "Tiny")],
        ));
        assert_eq!(bad, (400, "InvalidParameter.Spec.ValueNotSupported".into()));
        let empty = code(b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", &id), ("Spec", "")],
        ));
        assert_eq!(empty, (400, "MissingSpec".into()));
        let unknown = code(b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", "ngw-x"), ("Spec", "Large")],
        ));
        assert_eq!(unknown, (404, "InvalidNatGatewayId.NotFound".into()));

        b.call(
            "ModifyNatGatewaySpec",
            &[("NatGatewayId", &id), ("Spec", "XLarge.1")],
        )
        .unwrap();
        let g = gateway(&mut b, &id);
        assert_eq!(
            (g["Status"].as_str(), g["Spec"].as_str()),
            (Some("Modifying"), Some("Small"))
        );
        b.advance(29);
        assert_eq!(status(&mut b, &id), "Modifying");
        b.advance(1);
        let g = gateway(&mut b, &id);
        assert_eq!(
            (g["Status"].as_str(), g["Spec"].as_str()),
            (Some("Available"), Some("XLarge.1"))
        );
    }

    #[test]
    fn conversion_to_enhanced_reports_its_steps() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let never = code(b.call("GetNatGatewayConvertStatus", &[("NatGatewayId", &id)]));
        assert_eq!(never, (404, "InvalidConvertTask.NotFound".into()));

        b.call(
            "UpdateNatGatewayNatType",
            &[
                ("NatGatewayId", &id),
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_A),
            ],
        )
        .unwrap();
        let g = gateway(&mut b, &id);
        assert_eq!(
            (g["Status"].as_str(), g["NatType"].as_str()),
            (Some("Converting"), Some("Normal"))
        );
        assert!(g.get("NatGatewayPrivateInfo").is_none(), "not Enhanced yet");
        assert!(b.state.conversions.contains_key(&id));

        let steps = |b: &mut Bench| -> Vec<(String, String)> {
            let v = b
                .call("GetNatGatewayConvertStatus", &[("NatGatewayId", &id)])
                .unwrap();
            assert_eq!(v["DstNatType"], "Enhanced");
            assert_eq!(v["NatGatewayId"], id.as_str());
            v["ConvertSteps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| {
                    (
                        s["StepName"].as_str().unwrap().to_string(),
                        s["StepStatus"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        };
        let pair = |n: &str, s: &str| (n.to_string(), s.to_string());
        assert_eq!(steps(&mut b), vec![pair("init", "processing")]);
        b.advance(30); // 25 %: init (5) and check (10) done, configure running
        assert_eq!(
            steps(&mut b),
            vec![
                pair("init", "successful"),
                pair("check", "successful"),
                pair("configure", "processing")
            ]
        );
        b.advance(80); // 91.7 %: conf_delete running
        let now = steps(&mut b);
        assert_eq!(now.len(), 5);
        assert_eq!(now[4], pair("conf_delete", "processing"));
        assert_eq!(status(&mut b, &id), "Converting");
        b.advance(10);
        let done = steps(&mut b);
        assert_eq!(done.len(), 6);
        assert!(done.iter().all(|(_, s)| s == "successful"));
        assert_eq!(done[5].0, "end_success");

        let g = gateway(&mut b, &id);
        assert_eq!(
            (g["Status"].as_str(), g["NatType"].as_str()),
            (Some("Available"), Some("Enhanced"))
        );
        assert_eq!(g["NatGatewayPrivateInfo"]["VswitchId"], VSW_A);
        assert_eq!(g["NatGatewayPrivateInfo"]["IzNo"], "cn-hangzhou-a");

        let again = code(b.call(
            "UpdateNatGatewayNatType",
            &[
                ("NatGatewayId", &id),
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_A),
            ],
        ));
        assert_eq!(
            again,
            (400, "OperationFailed.NatTypeAlreadyEnhanced".into())
        );
        let back = code(b.call(
            "UpdateNatGatewayNatType",
            &[
                ("NatGatewayId", &id),
                ("NatType", "Normal"),
                ("VSwitchId", VSW_A),
            ],
        ));
        assert_eq!(back, (400, "OperationFailed.NatTypeNotEnhanced".into()));
    }

    #[test]
    fn conversion_step_times_follow_the_shares() {
        use crate::emulator::state::Conversion;
        let c = Conversion {
            started_ms: 0,
            due_ms: 100_000,
            dst_nat_type: "Enhanced".into(),
        };
        let steps = super::convert_steps(&c, 200_000);
        let times: Vec<&str> = steps.iter().map(|s| s.step_start_time.as_str()).collect();
        assert_eq!(
            times,
            [
                "1970-01-01T00:00:00Z",
                "1970-01-01T00:00:05Z",
                "1970-01-01T00:00:15Z",
                "1970-01-01T00:00:50Z",
                "1970-01-01T00:01:25Z",
                "1970-01-01T00:01:40Z",
            ]
        );
    }

    #[test]
    fn conversion_checks_its_preconditions() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let update = |b: &mut Bench, params: &[(&str, &str)]| {
            let mut p = vec![("NatGatewayId", id.as_str()), ("NatType", "Enhanced")];
            p.extend_from_slice(params);
            code(b.call("UpdateNatGatewayNatType", &p))
        };
        let missing_vsw = code(b.call(
            "UpdateNatGatewayNatType",
            &[("NatGatewayId", &id), ("NatType", "Enhanced")],
        ));
        assert_eq!(missing_vsw, (400, "MissingVSwitchId".into()));
        assert_eq!(
            update(&mut b, &[("VSwitchId", "vsw-nope")]),
            (400, "OperationFailed.VswitchNotExist".into())
        );
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_OTHER_VPC)]),
            (400, "OperationFailed.VSwitchNotBelongToVpc".into())
        );
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A), ("DryRun", "true")]),
            (400, "DryRunOperation".into())
        );
        assert_eq!(
            status(&mut b, &id),
            "Available",
            "a dry run changes nothing"
        );
        let unknown = code(b.call(
            "UpdateNatGatewayNatType",
            &[
                ("NatGatewayId", "ngw-x"),
                ("NatType", "Enhanced"),
                ("VSwitchId", VSW_A),
            ],
        ));
        assert_eq!(unknown, (400, "NATGW_NOT_EXIST".into()));

        let ip = bind_eip(&mut b, &id, EIP1, "Associating");
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A)]),
            (400, "OperationFailed.EipInMiddleStatus".into())
        );
        b.state.eips.get_mut(EIP1).unwrap().wire.status = "InUse".into();
        add_snat(&mut b, &id, &ip, "Pending");
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A)]),
            (400, "OperationFailed.SnatInMiddleStatus".into())
        );
        b.state.snat_entries.clear();
        add_dnat(&mut b, &id, &ip, "Deleting");
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A)]),
            (400, "OperationFailed.DnatInMiddleStatus".into())
        );
        b.state.forward_entries.clear();
        add_package(&mut b, &id, "bwp-1", "118.1.1.1");
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A)]),
            (400, "OperationFailed.NatGwBindWithBandwidthPackage".into())
        );
        b.state.bandwidth_packages.clear();

        b.fixture.alibaba.regions[0].zones = vec!["cn-hangzhou-c".to_string()];
        assert_eq!(
            update(&mut b, &[("VSwitchId", VSW_A)]),
            (400, "OperationFailed.EnhancedInventoryNotEnough".into())
        );
        // An empty VSwitchId lets the service pick a vSwitch in a supported zone.
        b.call(
            "UpdateNatGatewayNatType",
            &[
                ("NatGatewayId", &id),
                ("NatType", "Enhanced"),
                ("VSwitchId", ""),
            ],
        )
        .unwrap();
        let info = b.state.nat_gateways[&id]
            .wire
            .nat_gateway_private_info
            .clone()
            .unwrap();
        assert_eq!(info.iz_no, "cn-hangzhou-c");
        let busy = update(&mut b, &[("VSwitchId", VSW_A)]);
        assert_eq!(
            busy,
            (400, "IncorrectStatus.NatGateway".into()),
            "while Converting"
        );

        b.fixture.alibaba.regions[0].zones.clear();
        let unsupported = update(&mut b, &[("VSwitchId", VSW_A)]);
        assert_eq!(unsupported, (400, "OperationUnsupported.NatConvert".into()));
    }

    #[test]
    fn convert_status_of_an_unknown_gateway() {
        let mut b = Bench::new();
        let got = code(b.call("GetNatGatewayConvertStatus", &[("NatGatewayId", "ngw-x")]));
        assert_eq!(got, (404, "InvalidNatGatewayId.NotFound".into()));
        let got = code(b.call("GetNatGatewayConvertStatus", &[]));
        assert_eq!(got, (400, "MissingNatGatewayId".into()));
    }

    #[test]
    fn describe_filters() {
        let mut b = Bench::new();
        let small = available(
            &mut b,
            &[
                ("Name", "alpha"),
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "a"),
            ],
        );
        let large = create(&mut b, &[("Name", "beta"), ("Spec", "Large")]);
        b.advance(1);
        let other_vpc = b
            .call("CreateNatGateway", &[("VpcId", VPC2), ("Name", "gamma")])
            .unwrap()["NatGatewayId"]
            .as_str()
            .unwrap()
            .to_string();
        b.advance(1);
        let enhanced = create(&mut b, &[("NatType", "Enhanced"), ("VSwitchId", VSW_A)]);
        let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
            let v = b.call("DescribeNatGateways", params).unwrap();
            v["NatGateways"]["NatGateway"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["NatGatewayId"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(
            ids(&mut b, &[]),
            vec![
                small.clone(),
                large.clone(),
                other_vpc.clone(),
                enhanced.clone()
            ]
        );
        assert_eq!(
            ids(&mut b, &[("NatGatewayId", &large)]),
            vec![large.clone()]
        );
        assert_eq!(ids(&mut b, &[("VpcId", VPC2)]), vec![other_vpc.clone()]);
        assert_eq!(ids(&mut b, &[("Name", "alpha")]), vec![small.clone()]);
        assert_eq!(ids(&mut b, &[("Status", "Available")]), vec![small.clone()]);
        assert_eq!(ids(&mut b, &[("Spec", "Large")]), vec![large.clone()]);
        assert_eq!(
            ids(&mut b, &[("NatType", "Enhanced")]),
            vec![enhanced.clone()]
        );
        assert_eq!(ids(&mut b, &[("InstanceChargeType", "PostPaid")]).len(), 4);
        assert_eq!(
            ids(&mut b, &[("NetworkType", "intranet")]),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(&mut b, &[("ResourceGroupId", "rg-1")]),
            Vec::<String>::new()
        );
        assert_eq!(ids(&mut b, &[("Tag.1.Key", "team")]), vec![small.clone()]);
        assert_eq!(
            ids(&mut b, &[("Tag.1.Key", "team"), ("Tag.1.Value", "b")]),
            Vec::<String>::new()
        );
        assert_eq!(
            ids(
                &mut b,
                &[("VpcId", VPC1), ("Spec", "Small"), ("NatType", "Normal")]
            ),
            vec![small]
        );
        let dry = code(b.call("DescribeNatGateways", &[("DryRun", "true")]));
        assert_eq!(dry, (400, "DryRunOperation".into()));
    }

    #[test]
    fn describe_paginates_in_creation_order() {
        let mut b = Bench::new();
        let mut created = Vec::new();
        for _ in 0..12 {
            created.push(create(&mut b, &[]));
            b.advance(1);
        }
        let page = |b: &mut Bench, number: &str, size: &str| {
            b.call(
                "DescribeNatGateways",
                &[("PageNumber", number), ("PageSize", size)],
            )
            .unwrap()
        };
        let first = page(&mut b, "1", "5");
        assert_eq!(
            (
                first["TotalCount"].as_u64(),
                first["PageNumber"].as_u64(),
                first["PageSize"].as_u64()
            ),
            (Some(12), Some(1), Some(5))
        );
        let third = page(&mut b, "3", "5");
        let got: Vec<&str> = third["NatGateways"]["NatGateway"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["NatGatewayId"].as_str().unwrap())
            .collect();
        assert_eq!(got, vec![created[10].as_str(), created[11].as_str()]);
        let default = b.call("DescribeNatGateways", &[]).unwrap();
        assert_eq!(default["PageSize"], 10);
        assert_eq!(
            default["NatGateways"]["NatGateway"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
        let beyond = page(&mut b, "4", "5");
        assert_eq!(beyond["NatGateways"]["NatGateway"], serde_json::json!([]));
        let too_big = code(b.call("DescribeNatGateways", &[("PageSize", "51")]));
        assert_eq!(too_big, (400, "InvalidParameter.PageSize".into()));
    }

    #[test]
    fn describe_shows_ips_their_use_and_bandwidth_packages() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let ip1 = bind_eip(&mut b, &id, EIP1, "InUse");
        let ip2 = bind_eip(&mut b, &id, "eip-hz02natop00000000", "InUse");
        bind_eip(&mut b, &id, "eip-hz03natop00000000", "Unassociating");
        add_package(&mut b, &id, "bwp-1", "118.1.1.1");
        add_dnat(&mut b, &id, &ip1, "Available");
        add_snat(&mut b, &id, &format!("{ip2},118.1.1.1"), "Available");
        let g = gateway(&mut b, &id);
        let ips: Vec<(&str, &str, &str)> = g["IpLists"]["IpList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["AllocationId"].as_str().unwrap(),
                    i["IpAddress"].as_str().unwrap(),
                    i["UsingStatus"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            ips,
            vec![
                (EIP1, ip1.as_str(), "UsedByForwardTable"),
                ("eip-hz02natop00000000", ip2.as_str(), "UsedBySnatTable"),
                ("nateip-bwp-1", "118.1.1.1", "UsedBySnatTable"),
            ],
            "an unbinding EIP is no longer listed"
        );
        assert_eq!(
            g["BandwidthPackageIds"]["BandwidthPackageId"],
            serde_json::json!(["bwp-1"])
        );
    }

    #[test]
    fn delete_refuses_while_dependents_remain() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let delete = |b: &mut Bench| code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
        let ip = bind_eip(&mut b, &id, EIP1, "InUse");
        assert_eq!(delete(&mut b), (400, "DependencyViolation.EIPS".into()));
        add_dnat(&mut b, &id, &ip, "Available");
        assert_eq!(
            delete(&mut b),
            (400, "DependencyViolation.ForwardEntry".into())
        );
        add_snat(&mut b, &id, &ip, "Available");
        assert_eq!(
            delete(&mut b),
            (400, "DependencyViolation.SnatEntry".into())
        );
        add_package(&mut b, &id, "bwp-1", "118.1.1.1");
        assert_eq!(
            delete(&mut b),
            (400, "DependencyViolation.BandwidthPackages".into())
        );
        assert_eq!(status(&mut b, &id), "Available");
    }

    #[test]
    fn forced_delete_releases_everything_then_the_gateway_goes() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        let keep = available(&mut b, &[]);
        let ip = bind_eip(&mut b, &id, EIP1, "InUse");
        let kept_ip = bind_eip(&mut b, &keep, "eip-hz02natop00000000", "InUse");
        add_dnat(&mut b, &id, &ip, "Available");
        add_snat(&mut b, &id, &ip, "Available");
        add_snat(&mut b, &keep, &kept_ip, "Available");
        add_package(&mut b, &id, "bwp-1", "118.1.1.1");
        b.call(
            "DeleteNatGateway",
            &[("NatGatewayId", &id), ("Force", "true")],
        )
        .unwrap();
        assert!(b.state.forward_entries.is_empty());
        assert_eq!(
            b.state.snat_entries.len(),
            1,
            "the other gateway's entry stays"
        );
        assert!(b.state.bandwidth_packages.is_empty());
        let eip = &b.state.eips[EIP1].wire;
        assert_eq!(eip.status, "Available");
        assert!(eip.instance_id.is_empty() && eip.instance_type.is_empty());
        assert_eq!(b.state.eips["eip-hz02natop00000000"].wire.instance_id, keep);

        assert_eq!(status(&mut b, &id), "Deleting");
        let again = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
        assert_eq!(again, (400, "IncorrectStatus.NatGateway".into()));
        b.advance(10);
        let v = b
            .call("DescribeNatGateways", &[("NatGatewayId", &id)])
            .unwrap();
        assert_eq!(v["TotalCount"], 0, "gone");
        let gone = code(b.call("DeleteNatGateway", &[("NatGatewayId", &id)]));
        assert_eq!(gone, (404, "InvalidNatGatewayId.NotFound".into()));
        let none = code(b.call("DeleteNatGateway", &[("NatGatewayId", "")]));
        assert_eq!(none, (400, "MissingNatGatewayId".into()));
    }

    #[test]
    fn plain_delete_of_a_bare_gateway() {
        let mut b = Bench::new();
        let id = available(&mut b, &[]);
        b.call("DeleteNatGateway", &[("NatGatewayId", &id)])
            .unwrap();
        b.advance(9);
        assert_eq!(status(&mut b, &id), "Deleting");
        b.advance(1);
        assert!(b.state.nat_gateways.is_empty());
    }

    #[test]
    fn zones_are_the_region_fixture_zones() {
        let mut b = Bench::new();
        let v = b
            .call("ListEnhanhcedNatGatewayAvailableZones", &[])
            .unwrap();
        assert_eq!(
            v["Zones"],
            serde_json::json!([
                {"ZoneId": "cn-hangzhou-a", "LocalName": "华东 1 可用区 A"},
                {"ZoneId": "cn-hangzhou-b", "LocalName": "华东 1 可用区 B"},
                {"ZoneId": "cn-hangzhou-c", "LocalName": "华东 1 可用区 C"},
            ])
        );
        let v = b
            .call(
                "ListEnhanhcedNatGatewayAvailableZones",
                &[("AcceptLanguage", "en-US")],
            )
            .unwrap();
        assert_eq!(v["Zones"][1]["LocalName"], "China (Hangzhou) Zone B");
        assert_eq!(
            super::zone_local_name("xx-east-1", "xx-east-1a", true),
            "xx-east-1 Zone XX-EAST-1A"
        );
        assert!(
            b.call("ListEnhancedNatGatewayAvailableZones", &[]).is_err(),
            "the seed spelling is unknown"
        );
    }
}
