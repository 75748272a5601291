//! IPv6 internet bandwidth (seed 003 and the VPC reference): public bandwidth
//! bought for one IPv6 address of an IPv6 gateway, which makes the address
//! `Public`; and the addresses themselves as DescribeIpv6Addresses shows them.

use std::ops::RangeInclusive;

use serde_json::Value;

use super::{Ctx, missing, paginate, run};
use crate::cloud::alibaba::actions::ipv6::{
    AllocateIpv6InternetBandwidth, AllocateIpv6InternetBandwidthResponse,
    DeleteIpv6InternetBandwidth, DeleteIpv6InternetBandwidthResponse, DescribeIpv6Addresses,
    DescribeIpv6AddressesResponse, Ipv6Address, Ipv6InternetBandwidth, ModifyIpv6InternetBandwidth,
    ModifyIpv6InternetBandwidthResponse,
};
use crate::cloud::wire::Params;
use crate::emulator::ApiError;
use crate::emulator::state::{AlibabaRegionState, Record};

/// Bandwidth of an address, Mbps.
const BANDWIDTH: RangeInclusive<u32> = 1..=5000;
/// With `PayByTraffic` the gateway's spec also caps the bandwidth; every
/// gateway of the emulator has the default (free) `Small` spec.
const PAY_BY_TRAFFIC_MAX: u32 = 500;
/// `Ipv6AddressId` of DescribeIpv6Addresses takes at most this many ids.
const MAX_FILTER_IDS: usize = 20;

/// The handler of `action`, if this module serves it.
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    action: &str,
    params: &Params,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "AllocateIpv6InternetBandwidth" => {
            run::<AllocateIpv6InternetBandwidth>(ctx, params, allocate)
        }
        "ModifyIpv6InternetBandwidth" => run::<ModifyIpv6InternetBandwidth>(ctx, params, modify),
        "DeleteIpv6InternetBandwidth" => run::<DeleteIpv6InternetBandwidth>(ctx, params, delete),
        "DescribeIpv6Addresses" => run::<DescribeIpv6Addresses>(ctx, params, describe),
        _ => return None,
    })
}

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
mod tests {
    use serde_json::Value;

    use crate::cloud::alibaba::actions::ipv6::Ipv6Address;
    use crate::emulator::ApiError;
    use crate::emulator::alibaba::testing::Bench;
    use crate::emulator::state::Record;

    /// Parameters, then the expected HTTP status and code.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    /// Parameters, then the ids listed.
    type FilterCase<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);

    const GW: &str = "ipv6gw-hz1natop0000000000";
    const A1: &str = "ipv6-hz01natop00000000";
    const A2: &str = "ipv6-hz02natop00000000";

    fn code(result: Result<Value, ApiError>) -> (u16, String) {
        let e = result.expect_err("the call should fail");
        (e.status, e.code)
    }

    fn allocate(bench: &mut Bench, address: &str, bandwidth: &str) -> String {
        let v = bench
            .call(
                "AllocateIpv6InternetBandwidth",
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", address),
                    ("Bandwidth", bandwidth),
                ],
            )
            .unwrap();
        assert_eq!(v["Ipv6AddressId"], address);
        v["InternetBandwidthId"].as_str().unwrap().to_string()
    }

    fn address(bench: &mut Bench, id: &str) -> Value {
        let v = bench
            .call("DescribeIpv6Addresses", &[("Ipv6AddressId", id)])
            .unwrap();
        assert_eq!(v["TotalCount"], 1);
        v["Ipv6Addresses"]["Ipv6Address"][0].clone()
    }

    fn listed(v: &Value) -> Vec<String> {
        v["Ipv6Addresses"]["Ipv6Address"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["Ipv6AddressId"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn a_list_lag_hides_young_bandwidth_from_listings_but_not_from_reads_by_id() {
        let mut bench = Bench::new();
        bench.list_lag_ms = 10_000;
        let id = allocate(&mut bench, A1, "10");
        let bandwidth_listed = |bench: &mut Bench| {
            let all = bench.call("DescribeIpv6Addresses", &[]).unwrap();
            let a1 = all["Ipv6Addresses"]["Ipv6Address"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["Ipv6AddressId"] == A1)
                .cloned()
                .unwrap();
            let public = bench
                .call("DescribeIpv6Addresses", &[("NetworkType", "Public")])
                .unwrap();
            (
                a1["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"].clone(),
                listed(&public),
            )
        };
        assert_eq!(
            bandwidth_listed(&mut bench),
            (Value::from(""), vec![]),
            "the listing shows the address as it was before the purchase"
        );
        let by_id = address(&mut bench, A1);
        assert_eq!(
            by_id["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"],
            id.as_str()
        );
        assert_eq!(by_id["NetworkType"], "Public");
        bench.advance(11);
        assert_eq!(
            bandwidth_listed(&mut bench),
            (Value::from(id.as_str()), vec![A1.to_string()])
        );
    }

    #[test]
    fn allocate_makes_the_address_public() {
        let mut bench = Bench::new();
        let before = address(&mut bench, A1);
        assert_eq!(before["NetworkType"], "Private");
        assert_eq!(before["RealBandwidth"], 0);
        assert_eq!(
            before["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"],
            ""
        );
        assert_eq!(before["Ipv6InternetBandwidth"]["Bandwidth"], 0);
        let id = allocate(&mut bench, A1, "10");
        assert!(id.starts_with("ipv6bw-") && id.len() == 29, "{id}");
        let a = address(&mut bench, A1);
        assert_eq!(a["NetworkType"], "Public");
        assert_eq!(a["RealBandwidth"], 10);
        assert_eq!(a["Ipv6Isp"], "BGP");
        assert_eq!(a["Status"], "Available");
        assert_eq!(a["Ipv6GatewayId"], GW);
        assert!(!a["AllocationTime"].as_str().unwrap().is_empty());
        let bw = &a["Ipv6InternetBandwidth"];
        assert_eq!(bw["Ipv6InternetBandwidthId"], id.as_str());
        assert_eq!(bw["Bandwidth"], 10);
        assert_eq!(bw["InternetChargeType"], "PayByBandwidth");
        assert_eq!(bw["InstanceChargeType"], "PostPaid");
        assert_eq!(bw["BusinessStatus"], "Normal");
        assert_eq!(address(&mut bench, A2)["NetworkType"], "Private");
    }

    #[test]
    fn allocate_validates_and_refuses_a_second_bandwidth() {
        let mut bench = Bench::new();
        let mut other = bench.state.ipv6_addresses[A2].clone();
        other.wire.ipv6_address_id = "ipv6-otherhz000000000000".to_string();
        other.wire.ipv6_gateway_id = "ipv6gw-other0000000000000".to_string();
        bench
            .state
            .ipv6_addresses
            .insert(other.wire.ipv6_address_id.clone(), other);
        let pending = "ipv6-hz03natop00000000";
        if let Some(a) = bench.state.ipv6_addresses.get_mut(pending) {
            a.wire.status = "Pending".to_string();
        }
        let cases: &[Case<'_>] = &[
            (
                &[("Ipv6AddressId", A1), ("Bandwidth", "1")],
                400,
                "MissingIpv6GatewayId",
            ),
            (
                &[("Ipv6GatewayId", GW), ("Bandwidth", "1")],
                400,
                "MissingIpv6AddressId",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", ""),
                    ("Bandwidth", "1"),
                ],
                400,
                "MissingIpv6AddressId",
            ),
            (
                &[("Ipv6GatewayId", GW), ("Ipv6AddressId", A1)],
                400,
                "MissingBandwidth",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "0"),
                ],
                400,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "5001"),
                ],
                400,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "501"),
                    ("InternetChargeType", "PayByTraffic"),
                ],
                400,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "5"),
                    ("InternetChargeType", "PayBySpec"),
                ],
                400,
                "InvalidInternetChargeType.ValueNotSupported",
            ),
            (
                &[
                    ("Ipv6GatewayId", "ipv6gw-none"),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "5"),
                ],
                404,
                "InvalidIpv6GatewayId.NotFound",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", "ipv6-none"),
                    ("Bandwidth", "5"),
                ],
                404,
                "InvalidIpv6AddressId.NotFound",
            ),
            (
                &[
                    ("Ipv6GatewayId", "ipv6gw-other0000000000000"),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "5"),
                ],
                400,
                "OperationFailed.Ipv6AddressNotBelongToIpv6Gateway",
            ),
            (
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", pending),
                    ("Bandwidth", "5"),
                ],
                400,
                "IncorrectStatus.Ipv6Address",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("AllocateIpv6InternetBandwidth", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        assert!(
            bench
                .state
                .ipv6_addresses
                .values()
                .all(|a| a.wire.ipv6_internet_bandwidth.is_none())
        );
        bench
            .call(
                "AllocateIpv6InternetBandwidth",
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "500"),
                    ("InternetChargeType", "PayByTraffic"),
                ],
            )
            .unwrap();
        assert_eq!(
            address(&mut bench, A1)["Ipv6InternetBandwidth"]["InternetChargeType"],
            "PayByTraffic"
        );
        let (s, c) = code(bench.call(
            "AllocateIpv6InternetBandwidth",
            &[
                ("Ipv6GatewayId", GW),
                ("Ipv6AddressId", A1),
                ("Bandwidth", "5"),
            ],
        ));
        assert_eq!(
            (s, c.as_str()),
            (400, "OperationFailed.Ipv6InternetBandwidthAlreadyExist")
        );
        allocate(&mut bench, A2, "5000");
    }

    #[test]
    fn modify_by_either_id() {
        let mut bench = Bench::new();
        let id = allocate(&mut bench, A1, "10");
        bench
            .call(
                "ModifyIpv6InternetBandwidth",
                &[("Ipv6InternetBandwidthId", &id), ("Bandwidth", "20")],
            )
            .unwrap();
        assert_eq!(
            address(&mut bench, A1)["Ipv6InternetBandwidth"]["Bandwidth"],
            20
        );
        bench
            .call(
                "ModifyIpv6InternetBandwidth",
                &[("Ipv6AddressId", A1), ("Bandwidth", "5000")],
            )
            .unwrap();
        let a = address(&mut bench, A1);
        assert_eq!(
            (
                a["Ipv6InternetBandwidth"]["Bandwidth"].clone(),
                a["RealBandwidth"].clone()
            ),
            (5000.into(), 5000.into())
        );
        let e = bench
            .call(
                "ModifyIpv6InternetBandwidth",
                &[
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "7"),
                    ("DryRun", "true"),
                ],
            )
            .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (400, "DryRunOperation"));
        assert_eq!(
            address(&mut bench, A1)["Ipv6InternetBandwidth"]["Bandwidth"],
            5000
        );
        let cases: &[Case<'_>] = &[
            (
                &[("Bandwidth", "5")],
                400,
                "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
            ),
            (&[("Ipv6AddressId", A1)], 400, "MissingBandwidth"),
            (
                &[("Ipv6AddressId", A1), ("Bandwidth", "0")],
                400,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[("Ipv6AddressId", A1), ("Bandwidth", "5001")],
                400,
                "InvalidBandwidth.ValueNotSupported",
            ),
            (
                &[
                    ("Ipv6InternetBandwidthId", "ipv6bw-none"),
                    ("Bandwidth", "5"),
                ],
                404,
                "InvalidIpv6InternetBandwidthId.NotFound",
            ),
            (
                &[("Ipv6AddressId", A2), ("Bandwidth", "5")],
                404,
                "InvalidIpv6InternetBandwidthId.NotFound",
            ),
            (
                &[("Ipv6AddressId", "ipv6-none"), ("Bandwidth", "5")],
                404,
                "InvalidIpv6AddressId.NotFound",
            ),
            (
                &[
                    ("Ipv6InternetBandwidthId", &id),
                    ("Ipv6AddressId", A2),
                    ("Bandwidth", "5"),
                ],
                404,
                "InvalidIpv6InternetBandwidthId.NotFound",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("ModifyIpv6InternetBandwidth", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
    }

    #[test]
    fn modify_keeps_the_pay_by_traffic_cap() {
        let mut bench = Bench::new();
        bench
            .call(
                "AllocateIpv6InternetBandwidth",
                &[
                    ("Ipv6GatewayId", GW),
                    ("Ipv6AddressId", A1),
                    ("Bandwidth", "5"),
                    ("InternetChargeType", "PayByTraffic"),
                ],
            )
            .unwrap();
        let (s, c) = code(bench.call(
            "ModifyIpv6InternetBandwidth",
            &[("Ipv6AddressId", A1), ("Bandwidth", "501")],
        ));
        assert_eq!((s, c.as_str()), (400, "InvalidBandwidth.ValueNotSupported"));
        bench
            .call(
                "ModifyIpv6InternetBandwidth",
                &[("Ipv6AddressId", A1), ("Bandwidth", "500")],
            )
            .unwrap();
    }

    #[test]
    fn delete_by_either_id_makes_the_address_private_again() {
        let mut bench = Bench::new();
        let first = allocate(&mut bench, A1, "10");
        allocate(&mut bench, A2, "10");
        let e = bench
            .call(
                "DeleteIpv6InternetBandwidth",
                &[("Ipv6InternetBandwidthId", &first), ("DryRun", "true")],
            )
            .unwrap_err();
        assert_eq!(e.code, "DryRunOperation");
        bench
            .call(
                "DeleteIpv6InternetBandwidth",
                &[("Ipv6InternetBandwidthId", &first)],
            )
            .unwrap();
        let a = address(&mut bench, A1);
        assert_eq!(a["NetworkType"], "Private");
        assert_eq!(a["RealBandwidth"], 0);
        assert_eq!(a["Ipv6InternetBandwidth"]["Ipv6InternetBandwidthId"], "");
        assert_eq!(a["Ipv6InternetBandwidth"]["Bandwidth"], 0);
        bench
            .call("DeleteIpv6InternetBandwidth", &[("Ipv6AddressId", A2)])
            .unwrap();
        assert_eq!(address(&mut bench, A2)["NetworkType"], "Private");
        let cases: &[Case<'_>] = &[
            (
                &[],
                400,
                "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
            ),
            (
                &[("Ipv6InternetBandwidthId", ""), ("Ipv6AddressId", "")],
                400,
                "BothEmptyParam.Ipv6AddressIdAndIpv6InternetBandwidthId",
            ),
            (
                &[("Ipv6InternetBandwidthId", &first)],
                404,
                "InvalidIpv6InternetBandwidthId.NotFound",
            ),
            (
                &[("Ipv6AddressId", A2)],
                404,
                "InvalidIpv6InternetBandwidthId.NotFound",
            ),
            (
                &[("Ipv6AddressId", "ipv6-none")],
                404,
                "InvalidIpv6AddressId.NotFound",
            ),
        ];
        for (params, status, expected) in cases {
            let (s, c) = code(bench.call("DeleteIpv6InternetBandwidth", params));
            assert_eq!((s, c.as_str()), (*status, *expected), "{params:?}");
        }
        allocate(&mut bench, A1, "3");
    }

    #[test]
    fn describe_paginates_in_a_stable_order() {
        let mut bench = Bench::new();
        let v = bench.call("DescribeIpv6Addresses", &[]).unwrap();
        assert_eq!(
            (
                v["TotalCount"].clone(),
                v["PageNumber"].clone(),
                v["PageSize"].clone()
            ),
            (12.into(), 1.into(), 10.into())
        );
        let first = listed(&v);
        assert_eq!(first.len(), 10);
        assert_eq!(first[0], A1);
        let v = bench
            .call("DescribeIpv6Addresses", &[("PageNumber", "2")])
            .unwrap();
        let second = listed(&v);
        assert_eq!(second, ["ipv6-hz11natop00000000", "ipv6-hz12natop00000000"]);
        let v = bench
            .call("DescribeIpv6Addresses", &[("PageSize", "50")])
            .unwrap();
        assert_eq!(listed(&v), [first, second].concat());
        let (s, c) = code(bench.call("DescribeIpv6Addresses", &[("PageNumber", "0")]));
        assert_eq!((s, c.as_str()), (400, "InvalidParameter.PageNumber"));
        let v = bench
            .call("DescribeIpv6Addresses", &[("PageNumber", "3")])
            .unwrap();
        assert_eq!(v["TotalCount"], 12);
        assert!(listed(&v).is_empty());
    }

    #[test]
    fn describe_filters() {
        let mut bench = Bench::new();
        let bw = allocate(&mut bench, A2, "10");
        let mut extra: Record<Ipv6Address> = bench.state.ipv6_addresses[A1].clone();
        extra.wire.ipv6_address_id = "ipv6-extra0000000000000".to_string();
        extra.wire.ipv6_address = "2408:4004:1::ff".to_string();
        extra.wire.ipv6_address_name = "web".to_string();
        extra.wire.vpc_id = "vpc-hz2natop0000000000".to_string();
        extra.wire.vswitch_id = "vsw-hz21natop000000000".to_string();
        extra.wire.associated_instance_id = "i-web".to_string();
        extra.wire.associated_instance_type = "EcsInstance".to_string();
        extra.created_ms += 1;
        bench
            .state
            .ipv6_addresses
            .insert(extra.wire.ipv6_address_id.clone(), extra);
        let cases: &[FilterCase<'_>] = &[
            (
                &[(
                    "Ipv6AddressId",
                    "ipv6-hz03natop00000000, ipv6-hz01natop00000000",
                )],
                &[A1, "ipv6-hz03natop00000000"],
            ),
            (&[("Ipv6Address", "2408:4004:1::2")], &[A2]),
            (&[("Ipv6InternetBandwidthId", &bw)], &[A2]),
            (&[("Ipv6InternetBandwidthId", "ipv6bw-none")], &[]),
            (&[("NetworkType", "Public")], &[A2]),
            (
                &[("VpcId", "vpc-hz2natop0000000000")],
                &["ipv6-extra0000000000000"],
            ),
            (
                &[("VSwitchId", "vsw-hz21natop000000000")],
                &["ipv6-extra0000000000000"],
            ),
            (&[("Name", "web")], &["ipv6-extra0000000000000"]),
            (
                &[("AssociatedInstanceId", "i-web")],
                &["ipv6-extra0000000000000"],
            ),
            (
                &[
                    ("AssociatedInstanceId", "i-web"),
                    ("AssociatedInstanceType", "EcsInstance"),
                ],
                &["ipv6-extra0000000000000"],
            ),
            (
                &[
                    ("AssociatedInstanceId", "i-web"),
                    ("AssociatedInstanceType", "NetworkInterface"),
                ],
                &[],
            ),
            (
                &[
                    ("NetworkType", "Private"),
                    ("VpcId", "vpc-hz1natop0000000000"),
                    ("PageSize", "50"),
                ],
                &[],
            ),
        ];
        for (params, expected) in cases {
            let v = bench.call("DescribeIpv6Addresses", params).unwrap();
            if params.iter().any(|(k, _)| *k == "PageSize") {
                assert_eq!(v["TotalCount"], 11, "{params:?}");
                assert!(!listed(&v).contains(&A2.to_string()));
                continue;
            }
            assert_eq!(listed(&v), *expected, "{params:?}");
            assert_eq!(v["TotalCount"], expected.len(), "{params:?}");
        }
        let v = bench
            .call(
                "DescribeIpv6Addresses",
                &[("AssociatedInstanceType", "EcsInstance")],
            )
            .unwrap();
        assert_eq!(v["TotalCount"], 13, "the type alone does not filter");
        let many = (1..=21)
            .map(|i| format!("ipv6-{i}"))
            .collect::<Vec<_>>()
            .join(",");
        let (s, c) = code(bench.call("DescribeIpv6Addresses", &[("Ipv6AddressId", &many)]));
        assert_eq!((s, c.as_str()), (400, "InvalidParameter"));
    }
}
