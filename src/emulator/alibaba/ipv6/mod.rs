//! IPv6 internet bandwidth (seed 003 and the VPC reference): public bandwidth
//! bought for one IPv6 address of an IPv6 gateway, which makes the address
//! `Public`; and the addresses themselves as DescribeIpv6Addresses shows them.

use std::ops::RangeInclusive;

use super::{Ctx, Served, missing, paginate};
use crate::cloud::alibaba::actions::ipv6::{
    AllocateIpv6InternetBandwidth, AllocateIpv6InternetBandwidthResponse,
    DeleteIpv6InternetBandwidth, DeleteIpv6InternetBandwidthResponse, DescribeIpv6Addresses,
    DescribeIpv6AddressesResponse, Ipv6Address, Ipv6InternetBandwidth, ModifyIpv6InternetBandwidth,
    ModifyIpv6InternetBandwidthResponse,
};
use crate::emulator::ApiError;
use crate::emulator::state::{AlibabaRegionState, Record};

/// Bandwidth of an address, Mbps.
const BANDWIDTH: RangeInclusive<u32> = 1..=5000;
/// With `PayByTraffic` the gateway's spec also caps the bandwidth; every
/// gateway of the emulator has the default (free) `Small` spec.
const PAY_BY_TRAFFIC_MAX: u32 = 500;
/// `Ipv6AddressId` of DescribeIpv6Addresses takes at most this many ids.
const MAX_FILTER_IDS: usize = 20;

/// The actions this module serves.
pub const SERVED: &[Served] = &[
    serve!(AllocateIpv6InternetBandwidth, allocate),
    serve!(ModifyIpv6InternetBandwidth, modify),
    serve!(DeleteIpv6InternetBandwidth, delete),
    serve!(DescribeIpv6Addresses, describe),
];

fn allocate(
    ctx: &mut Ctx<'_>,
    req: AllocateIpv6InternetBandwidth,
) -> Result<AllocateIpv6InternetBandwidthResponse, ApiError> {
    if req.ipv6_gateway_id.is_empty() {
        return Err(missing("Ipv6GatewayId"));
    }
    if req.ipv6_address_id.is_empty() {
        return Err(missing("Ipv6AddressId"));
    }
    let charge_type = internet_charge_type(req.internet_charge_type.as_deref())?;
    let bandwidth = check_bandwidth(req.bandwidth, &charge_type)?;
    check_gateway_exists(ctx.state, &req.ipv6_gateway_id)?;
    let address = usable_address(ctx.state, &req.ipv6_address_id)?;
    if address.wire.ipv6_gateway_id != req.ipv6_gateway_id {
        return Err(ApiError::new(
            400,
            "OperationFailed.Ipv6AddressNotBelongToIpv6Gateway",
            "Operation failed because the specified IPv6 address does not belong to the specified IPv6 gateway.",
        ));
    }
    if bandwidth_of(&address.wire).is_some() {
        return Err(ApiError::new(
            400,
            "OperationFailed.Ipv6InternetBandwidthAlreadyExist",
            "Operation failed because the specified IPv6 address already has Internet bandwidth.",
        ));
    }
    let id = ctx.new_id("ipv6bw");
    let now = ctx.iso_now();
    let address = address_mut(ctx.state, &req.ipv6_address_id)?;
    address.wire.network_type = "Public".to_string();
    address.wire.real_bandwidth = Some(bandwidth);
    if address.wire.allocation_time.is_empty() {
        address.wire.allocation_time = now;
    }
    ctx.state
        .ipv6_bandwidth_bought_ms
        .insert(req.ipv6_address_id.clone(), ctx.now_ms);
    let address = address_mut(ctx.state, &req.ipv6_address_id)?;
    address.wire.ipv6_internet_bandwidth = Some(Ipv6InternetBandwidth {
        ipv6_internet_bandwidth_id: id.clone(),
        bandwidth: Some(bandwidth),
        business_status: "Normal".to_string(),
        instance_charge_type: "PostPaid".to_string(),
        internet_charge_type: charge_type,
    });
    Ok(AllocateIpv6InternetBandwidthResponse {
        ipv6_address_id: req.ipv6_address_id,
        internet_bandwidth_id: id,
        ..Default::default()
    })
}

fn modify(
    ctx: &mut Ctx<'_>,
    req: ModifyIpv6InternetBandwidth,
) -> Result<ModifyIpv6InternetBandwidthResponse, ApiError> {
    let address_id = locate(
        ctx.state,
        req.ipv6_internet_bandwidth_id.as_deref(),
        req.ipv6_address_id.as_deref(),
    )?;
    let charge_type = address_mut(ctx.state, &address_id)?
        .wire
        .ipv6_internet_bandwidth
        .as_ref()
        .map(|b| b.internet_charge_type.clone())
        .unwrap_or_default();
    let bandwidth = check_bandwidth(req.bandwidth, &charge_type)?;
    if req.dry_run == Some(true) {
        return Err(dry_run());
    }
    let address = address_mut(ctx.state, &address_id)?;
    address.wire.real_bandwidth = Some(bandwidth);
    if let Some(b) = address.wire.ipv6_internet_bandwidth.as_mut() {
        b.bandwidth = Some(bandwidth);
    }
    Ok(ModifyIpv6InternetBandwidthResponse::default())
}

fn delete(
    ctx: &mut Ctx<'_>,
    req: DeleteIpv6InternetBandwidth,
) -> Result<DeleteIpv6InternetBandwidthResponse, ApiError> {
    let address_id = locate(
        ctx.state,
        req.ipv6_internet_bandwidth_id.as_deref(),
        req.ipv6_address_id.as_deref(),
    )?;
    if req.dry_run == Some(true) {
        return Err(dry_run());
    }
    ctx.state.ipv6_bandwidth_bought_ms.remove(&address_id);
    let address = address_mut(ctx.state, &address_id)?;
    address.wire.network_type = "Private".to_string();
    address.wire.real_bandwidth = Some(0);
    address.wire.ipv6_internet_bandwidth = None;
    Ok(DeleteIpv6InternetBandwidthResponse::default())
}

fn describe(
    ctx: &mut Ctx<'_>,
    req: DescribeIpv6Addresses,
) -> Result<DescribeIpv6AddressesResponse, ApiError> {
    let ids = id_filter(req.ipv6_address_id.as_deref())?;
    // A listing that does not name an address by id lags: bandwidth bought
    // within `listLagMs` is not in it yet (the address shows as it was).
    let listed_before_ms = ctx.now_ms.saturating_sub(ctx.list_lag_ms);
    let lagging = |r: &Record<Ipv6Address>| {
        ids.is_none()
            && ctx
                .state
                .ipv6_bandwidth_bought_ms
                .get(&r.wire.ipv6_address_id)
                .is_some_and(|&bought| bought > listed_before_ms)
    };
    let mut records: Vec<(i64, Ipv6Address)> = ctx
        .state
        .ipv6_addresses
        .values()
        .filter(|r| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&r.wire.ipv6_address_id.as_str()))
        })
        .map(|r| {
            let mut wire = r.wire.clone();
            if lagging(r) {
                wire.ipv6_internet_bandwidth = None;
            }
            (r.created_ms, wire)
        })
        .filter(|(_, a)| matches(&req, a))
        .collect();
    records.sort_by(|a, b| (a.0, &a.1.ipv6_address_id).cmp(&(b.0, &b.1.ipv6_address_id)));
    let items: Vec<Ipv6Address> = records.iter().map(|(_, a)| shown(a)).collect();
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeIpv6AddressesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        ipv6_addresses: page,
        ..Default::default()
    })
}

// ---------------------------------------------------------------------------
// Checks and lookups
// ---------------------------------------------------------------------------

/// `PayByBandwidth` unless given; only the two documented values.
fn internet_charge_type(value: Option<&str>) -> Result<String, ApiError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok("PayByBandwidth".to_string()),
        Some(v @ ("PayByTraffic" | "PayByBandwidth")) => Ok(v.to_string()),
        Some(_) => Err(ApiError::new(
            400,
            "InvalidInternetChargeType.ValueNotSupported",
            "The specified InternetChargeType is not supported.",
        )),
    }
}

/// 1–5000 Mbps; with `PayByTraffic` at most what the `Small` gateway spec allows.
fn check_bandwidth(bandwidth: Option<u32>, charge_type: &str) -> Result<u32, ApiError> {
    let bandwidth = bandwidth.ok_or_else(|| missing("Bandwidth"))?;
    let capped = charge_type == "PayByTraffic" && bandwidth > PAY_BY_TRAFFIC_MAX;
    if BANDWIDTH.contains(&bandwidth) && !capped {
        Ok(bandwidth)
    } else {
        Err(ApiError::new(
            400,
            "InvalidBandwidth.ValueNotSupported",
            "The specified value of Bandwidth not supported.",
        ))
    }
}

/// The emulator keeps no gateway records: a gateway exists when one of the
/// region's addresses sits behind it.
fn check_gateway_exists(state: &AlibabaRegionState, gateway_id: &str) -> Result<(), ApiError> {
    if state
        .ipv6_addresses
        .values()
        .any(|a| a.wire.ipv6_gateway_id == gateway_id)
    {
        Ok(())
    } else {
        Err(ApiError::new(
            404,
            "InvalidIpv6GatewayId.NotFound",
            "The specified Ipv6GatewayId does not exist.",
        ))
    }
}

fn address_not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidIpv6AddressId.NotFound",
        "The specified Ipv6AddressId does not exist.",
    )
}

fn bandwidth_not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidIpv6InternetBandwidthId.NotFound",
        "The specified Ipv6InternetBandwidthId does not exist.",
    )
}

fn dry_run() -> ApiError {
    ApiError::new(
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
    )
}

/// An address that exists and is not being configured.
fn usable_address<'a>(
    state: &'a AlibabaRegionState,
    id: &str,
) -> Result<&'a Record<Ipv6Address>, ApiError> {
    let address = state.ipv6_addresses.get(id).ok_or_else(address_not_found)?;
    if address.wire.status != "Available" {
        return Err(ApiError::new(
            400,
            "IncorrectStatus.Ipv6Address",
            "The status of the IPv6 address is incorrect.",
        ));
    }
    Ok(address)
}

fn address_mut<'a>(
    state: &'a mut AlibabaRegionState,
    id: &str,
) -> Result<&'a mut Record<Ipv6Address>, ApiError> {
    state
        .ipv6_addresses
        .get_mut(id)
        .ok_or_else(address_not_found)
}

/// The address's internet bandwidth, when it has one (an address without one
/// may still carry the empty object the service shows).
fn bandwidth_of(address: &Ipv6Address) -> Option<&Ipv6InternetBandwidth> {
    address
        .ipv6_internet_bandwidth
        .as_ref()
        .filter(|b| !b.ipv6_internet_bandwidth_id.is_empty())
}

/// The id of the address whose bandwidth Modify or Delete addresses: by
/// bandwidth id, by address id, or both (which must then agree).
fn locate(
    state: &AlibabaRegionState,
    bandwidth_id: Option<&str>,
    address_id: Option<&str>,
) -> Result<String, ApiError> {
    let bandwidth_id = bandwidth_id.filter(|s| !s.is_empty());
    let address_id = address_id.filter(|s| !s.is_empty());
    let address = match (bandwidth_id, address_id) {
        (None, None) => {
            return Err(ApiError::new(
                400,
                "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
                "Either Ipv6AddressId or Ipv6InternetBandwidthId should be specified.",
            ));
        }
        (Some(bw), _) => state
            .ipv6_addresses
            .values()
            .find(|a| bandwidth_of(&a.wire).is_some_and(|b| b.ipv6_internet_bandwidth_id == bw))
            .ok_or_else(bandwidth_not_found)?,
        (None, Some(id)) => state.ipv6_addresses.get(id).ok_or_else(address_not_found)?,
    };
    if address_id.is_some_and(|id| id != address.wire.ipv6_address_id)
        || bandwidth_of(&address.wire).is_none()
    {
        return Err(bandwidth_not_found());
    }
    usable_address(state, &address.wire.ipv6_address_id).map(|a| a.wire.ipv6_address_id.clone())
}

/// The ids of a comma-separated `Ipv6AddressId` filter.
fn id_filter(ids: Option<&str>) -> Result<Option<Vec<&str>>, ApiError> {
    let Some(ids) = ids.filter(|s| !s.trim().is_empty()) else {
        return Ok(None);
    };
    let ids: Vec<&str> = ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.len() > MAX_FILTER_IDS {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            format!("The specified Ipv6AddressId holds more than {MAX_FILTER_IDS} ids."),
        ));
    }
    Ok(Some(ids))
}

/// Every filter of the request but the id list.
fn matches(req: &DescribeIpv6Addresses, a: &Ipv6Address) -> bool {
    let eq = |filter: &Option<String>, value: &str| {
        filter.as_deref().is_none_or(|f| f.is_empty() || f == value)
    };
    let bandwidth_id = bandwidth_of(a)
        .map(|b| b.ipv6_internet_bandwidth_id.as_str())
        .unwrap_or("");
    let network_type = if bandwidth_of(a).is_some() {
        "Public"
    } else {
        "Private"
    };
    // The instance type only narrows an instance filter: it defaults to
    // `EcsInstance`, which would otherwise hide every unassigned address.
    let instance_type_ok = req
        .associated_instance_id
        .as_deref()
        .is_none_or(str::is_empty)
        || eq(&req.associated_instance_type, &a.associated_instance_type);
    eq(&req.ipv6_address, &a.ipv6_address)
        && eq(&req.ipv6_internet_bandwidth_id, bandwidth_id)
        && eq(&req.name, &a.ipv6_address_name)
        && eq(&req.network_type, network_type)
        && eq(&req.associated_instance_id, &a.associated_instance_id)
        && instance_type_ok
        && eq(&req.vpc_id, &a.vpc_id)
        && eq(&req.vswitch_id, &a.vswitch_id)
}

/// The address as Describe shows it: without bandwidth it still carries the
/// bandwidth object, with empty strings and 0 Mbps, and a real bandwidth of 0.
fn shown(address: &Ipv6Address) -> Ipv6Address {
    let mut shown = address.clone();
    let bandwidth = bandwidth_of(address).cloned();
    shown.network_type = if bandwidth.is_some() {
        "Public"
    } else {
        "Private"
    }
    .to_string();
    shown.real_bandwidth = Some(bandwidth.as_ref().and_then(|b| b.bandwidth).unwrap_or(0));
    shown.ipv6_internet_bandwidth = Some(bandwidth.unwrap_or(Ipv6InternetBandwidth {
        bandwidth: Some(0),
        ..Ipv6InternetBandwidth::default()
    }));
    if shown.ipv6_isp.is_empty() {
        shown.ipv6_isp = "BGP".to_string();
    }
    shown
}

#[cfg(test)]
mod tests;
