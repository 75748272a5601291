//! CreateNatGateway: its parameters and their checks, the billing, the
//! vSwitch and the legacy bandwidth package asked for with the gateway.

use super::{
    AVAILABLE, check_spec, enhanced_zone_unsupported, find_vpc, find_vswitch, given,
    place_in_vswitch, start_transition, value_not_supported,
};
use crate::cloud::alibaba::actions::nat_gateway::{
    CreateNatGateway, CreateNatGatewayResponse, NatGateway, ResourceTag, Tag,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::bandwidth_package::{
    NewPackage, Owner, check_legacy_account, create_package,
};
use crate::emulator::alibaba::{Ctx, missing, validate};
use crate::emulator::fixture::{AlibabaRegion, VSwitch, Vpc};
use crate::emulator::state::Record;

/// Billing of a new gateway: charge type and, for subscriptions, the expiry.
struct Billing {
    instance_charge_type: String,
    expired_time: String,
}

pub(super) fn create_nat_gateway(
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
    let legacy = ctx.account.legacy_nat_gateways;
    let nat_type = nat_type_of(given(&req.nat_type), legacy)?;
    let billing = billing_of(ctx, &req)?;
    let internet_charge_type = internet_charge_type_of(
        given(&req.internet_charge_type),
        &nat_type,
        legacy,
        &billing.instance_charge_type,
    )?;
    let spec = spec_of(given(&req.spec), &internet_charge_type)?;
    let network_type = one_of(
        "NetworkType",
        given(&req.network_type),
        &["internet", "intranet"],
    )?;
    if network_type == "intranet" && nat_type != "Enhanced" {
        return Err(not_enhanced());
    }
    let eip_bind_mode = one_of(
        "EipBindMode",
        given(&req.eip_bind_mode),
        &["MULTI_BINDED", "NAT"],
    )?;
    let tags = tags_of(&req.tags)?;
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

/// The type of a new gateway: Enhanced unless named, and Normal only for an
/// account that may still buy it (where Normal stays the default, as the
/// 2020 reference has it).
fn nat_type_of(value: Option<&str>, legacy: bool) -> Result<String, ApiError> {
    let default = if legacy { "Normal" } else { "Enhanced" };
    match value.unwrap_or(default) {
        "Normal" if !legacy => Err(pay_by_spec_refused()),
        t @ ("Normal" | "Enhanced") => Ok(t.to_string()),
        _ => Err(value_not_supported("NatType", "use Normal or Enhanced.")),
    }
}

/// What the service answers a purchase it no longer sells: a Normal gateway
/// (they are all billed by specification) or a pay-as-you-go one billed by
/// specification.
fn pay_by_spec_refused() -> ApiError {
    ApiError::new(
        400,
        "Forbidden.NatPayBySpec",
        "code: 400, Pay-by-specification NAT is no longer supported. Newly purchased pay-as-you-go NAT gateways only support the pay-by-CU metering method.",
    )
}

fn not_enhanced() -> ApiError {
    ApiError::new(
        400,
        "OperationFailed.NatTypeNotEnhanced",
        "Operation failed because the specified NAT gateway type is not enhanced.",
    )
}

/// The size of a new gateway: the one asked for (Small when none) when it is
/// billed by specification; none when billed by capacity units, which have no
/// size (a `Spec` sent anyway is checked and ignored).
fn spec_of(value: Option<&str>, internet_charge_type: &str) -> Result<String, ApiError> {
    let spec = value.unwrap_or("Small");
    check_spec(spec)?;
    if internet_charge_type == "PayByLcu" {
        Ok(String::new())
    } else {
        Ok(spec.to_string())
    }
}

/// `value` (or the first of `allowed` when absent), which must be one of `allowed`.
pub(super) fn one_of(
    name: &str,
    value: Option<&str>,
    allowed: &[&str],
) -> Result<String, ApiError> {
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

/// The billing of a new gateway's traffic. An account that may still buy by
/// specification gets PayBySpec unless it names PayByLcu; any other gets
/// PayByLcu, and is refused PayBySpec for a pay-as-you-go gateway.
fn internet_charge_type_of(
    value: Option<&str>,
    nat_type: &str,
    legacy: bool,
    instance_charge_type: &str,
) -> Result<String, ApiError> {
    let allowed: &[&str] = if legacy {
        &["PayBySpec", "PayByLcu"]
    } else {
        &["PayByLcu", "PayBySpec"]
    };
    let chosen = one_of("InternetChargeType", value, allowed)?;
    if chosen == "PayByLcu" && nat_type != "Enhanced" {
        return Err(value_not_supported(
            "InternetChargeType",
            "PayByLcu is only supported by Enhanced NAT gateways.",
        ));
    }
    if chosen == "PayBySpec" && !legacy && instance_charge_type == "PostPaid" {
        return Err(pay_by_spec_refused());
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

/// Tags as given (`Tag.N.Key` must not be empty or reserved; at most 20).
pub(super) fn tags_of(tags: &[Tag]) -> Result<Vec<ResourceTag>, ApiError> {
    if tags.len() > 20 {
        return Err(ApiError::new(
            400,
            "QuotaExceed.TagNum",
            "The number of tags on the resource exceeds the quota (20).",
        ));
    }
    tags.iter()
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
            let value = t.value.clone().unwrap_or_default();
            if value.chars().count() > 128
                || value.contains("http://")
                || value.contains("https://")
            {
                return Err(ApiError::new(
                    400,
                    "InvalidTagValue.Malformed",
                    "The specified Tag.n.Value is not valid.",
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

#[cfg(test)]
mod tests;
