//! EIP actions: binding elastic IPs to NAT gateways, unbinding them, and
//! listing them. Binding and unbinding are asynchronous: `Available` →
//! `Associating` → `InUse` → `Unassociating` → `Available`; in the
//! transitional states only queries are allowed on the EIP.
//!
//! The emulator knows NAT gateways only, so `InstanceType` must be `Nat`.

use serde_json::Value;

use super::{Ctx, missing, paginate, run};
use crate::cloud::alibaba::actions::eip::{
    AssociateEipAddress, AssociateEipAddressResponse, DescribeEipAddresses,
    DescribeEipAddressesResponse, EipAddress, Filter, UnassociateEipAddress,
    UnassociateEipAddressResponse,
};
use crate::cloud::wire::Params;
use crate::emulator::ApiError;
use crate::emulator::state::{AlibabaRegionState, Effect, Record, Transition};

/// Every instance type the service knows.
const INSTANCE_TYPES: &[&str] = &[
    "Nat",
    "EcsInstance",
    "SlbInstance",
    "NetworkInterface",
    "HaVip",
];

/// The type the service assumes when `InstanceType` is absent.
const DEFAULT_INSTANCE_TYPE: &str = "EcsInstance";

/// The handler of `action`, if this module serves it.
pub fn dispatch(
    ctx: &mut Ctx<'_>,
    action: &str,
    params: &Params,
) -> Option<Result<Value, ApiError>> {
    Some(match action {
        "AssociateEipAddress" => run::<AssociateEipAddress>(ctx, params, associate_eip_address),
        "UnassociateEipAddress" => {
            run::<UnassociateEipAddress>(ctx, params, unassociate_eip_address)
        }
        "DescribeEipAddresses" => run::<DescribeEipAddresses>(ctx, params, describe_eip_addresses),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

fn allocation_not_found() -> ApiError {
    ApiError::new(
        404,
        "InvalidAllocationId.NotFound",
        "Specified allocation ID is not found",
    )
}

fn incorrect_eip_status() -> ApiError {
    ApiError::new(
        400,
        "IncorrectEipStatus",
        "Current elastic IP status does not support this operation.",
    )
}

fn incorrect_instance_status() -> ApiError {
    ApiError::new(
        400,
        "IncorrectInstanceStatus",
        "Current instance status does not support this operation.",
    )
}

fn instance_type_not_supported(detail: &str) -> ApiError {
    ApiError::new(
        400,
        "InvalidInstanceType.ValueNotSupported",
        format!("The specified value of InstanceType is not supported. {detail}"),
    )
}

fn invalid_binding() -> ApiError {
    ApiError::new(
        400,
        "InvalidBindingStatus",
        "The eip binding status invalid.",
    )
}

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// The non-empty value of an optional parameter (an empty one counts as absent).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

fn check_known_type(instance_type: &str) -> Result<(), ApiError> {
    if INSTANCE_TYPES.contains(&instance_type) {
        Ok(())
    } else {
        Err(instance_type_not_supported(&format!(
            "Use one of {}.",
            INSTANCE_TYPES.join(", ")
        )))
    }
}

/// Whether the gateway `gateway_id` accepts writes (`Available`).
fn gateway_available(state: &AlibabaRegionState, gateway_id: &str) -> Option<bool> {
    state
        .nat_gateways
        .get(gateway_id)
        .map(|g| g.wire.status == "Available")
}

// ---------------------------------------------------------------------------
// AssociateEipAddress
// ---------------------------------------------------------------------------

fn associate_eip_address(
    ctx: &mut Ctx<'_>,
    req: AssociateEipAddress,
) -> Result<AssociateEipAddressResponse, ApiError> {
    for (name, value) in [
        ("AllocationId", &req.allocation_id),
        ("InstanceId", &req.instance_id),
    ] {
        if value.is_empty() {
            return Err(missing(name));
        }
    }
    let instance_type = given(&req.instance_type).unwrap_or(DEFAULT_INSTANCE_TYPE);
    check_known_type(instance_type)?;
    if instance_type != "Nat" {
        return Err(instance_type_not_supported(
            "The emulator binds EIPs to NAT gateways only (InstanceType=Nat).",
        ));
    }
    let mode = given(&req.mode).unwrap_or("NAT");
    if !["NAT", "MULTI_BINDED", "BINDED"].contains(&mode) {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            "The specified parameter is not valid: Mode must be NAT, MULTI_BINDED or BINDED.",
        ));
    }
    let region_id = ctx.region.region_id.clone();
    if given(&req.instance_region_id).is_some_and(|r| r != region_id) {
        return Err(ApiError::new(
            400,
            "InvalidParameter.Mismatch",
            "Specified elastic IP address and the instance are not in the same region.",
        ));
    }
    let eip = ctx
        .state
        .eips
        .get(&req.allocation_id)
        .ok_or_else(allocation_not_found)?;
    match gateway_available(ctx.state, &req.instance_id) {
        None => {
            return Err(ApiError::new(
                400,
                "InvalidParams.NotFound",
                "instance not found",
            ));
        }
        Some(false) => return Err(incorrect_instance_status()),
        Some(true) => {}
    }
    if eip.wire.status != "Available" {
        return Err(incorrect_eip_status());
    }
    let due_ms = ctx.due(ctx.durations.associating);
    let eip = ctx
        .state
        .eips
        .get_mut(&req.allocation_id)
        .ok_or_else(allocation_not_found)?;
    bind(eip, &req.instance_id, &region_id, mode, due_ms);
    Ok(AssociateEipAddressResponse::default())
}

/// Bind at once (the binding shows while `Associating`), `InUse` at `due_ms`.
fn bind(eip: &mut Record<EipAddress>, gateway_id: &str, region_id: &str, mode: &str, due_ms: i64) {
    eip.wire.status = "Associating".to_string();
    eip.wire.instance_id = gateway_id.to_string();
    eip.wire.instance_type = "Nat".to_string();
    eip.wire.instance_region_id = region_id.to_string();
    eip.wire.mode = mode.to_string();
    eip.transition = Some(Transition {
        to: "InUse".to_string(),
        due_ms,
        effect: None,
    });
}

// ---------------------------------------------------------------------------
// UnassociateEipAddress
// ---------------------------------------------------------------------------

fn unassociate_eip_address(
    ctx: &mut Ctx<'_>,
    req: UnassociateEipAddress,
) -> Result<UnassociateEipAddressResponse, ApiError> {
    if req.allocation_id.is_empty() {
        return Err(missing("AllocationId"));
    }
    if let Some(t) = given(&req.instance_type) {
        check_known_type(t)?;
    }
    let eip = ctx
        .state
        .eips
        .get(&req.allocation_id)
        .ok_or_else(allocation_not_found)?;
    if eip.wire.status != "InUse" {
        return Err(incorrect_eip_status());
    }
    let bound = &eip.wire;
    let other_instance = given(&req.instance_id).is_some_and(|i| i != bound.instance_id);
    let other_type = given(&req.instance_type).is_some_and(|t| t != bound.instance_type);
    if other_instance || other_type {
        return Err(invalid_binding());
    }
    let (gateway_id, ip) = (bound.instance_id.clone(), bound.ip_address.clone());
    if gateway_available(ctx.state, &gateway_id) == Some(false) {
        return Err(incorrect_instance_status());
    }
    if req.force == Some(true) {
        drop_entries_using(ctx.state, &gateway_id, &ip);
    } else {
        check_ip_unused(ctx.state, &gateway_id, &ip)?;
    }
    let due_ms = ctx.due(ctx.durations.associating);
    let eip = ctx
        .state
        .eips
        .get_mut(&req.allocation_id)
        .ok_or_else(allocation_not_found)?;
    eip.wire.status = "Unassociating".to_string();
    eip.transition = Some(Transition {
        to: "Available".to_string(),
        due_ms,
        effect: Some(Effect::ClearAssociation),
    });
    Ok(UnassociateEipAddressResponse::default())
}

/// Whether an SNAT entry's IP list holds `ip`.
fn snat_uses(snat_ip: &str, ip: &str) -> bool {
    snat_ip.split(',').any(|s| s.trim() == ip)
}

/// Without Force, no DNAT or SNAT entry of the gateway may use the IP.
fn check_ip_unused(state: &AlibabaRegionState, gateway_id: &str, ip: &str) -> Result<(), ApiError> {
    if state
        .forward_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == gateway_id && e.wire.external_ip == ip)
    {
        return Err(ApiError::new(
            400,
            "DependencyViolation.ForwardEntry",
            "The specified resource of Dnat depends on Eip, so the operation cannot be completed.",
        ));
    }
    if state
        .snat_entries
        .values()
        .any(|e| e.wire.nat_gateway_id == gateway_id && snat_uses(&e.wire.snat_ip, ip))
    {
        return Err(ApiError::new(
            400,
            "DependencyViolation.SnatEntry",
            "The specified resource of Snat depends on Eip, so the operation cannot be completed.",
        ));
    }
    Ok(())
}

/// Force: the gateway's DNAT and SNAT entries using the IP are deleted.
fn drop_entries_using(state: &mut AlibabaRegionState, gateway_id: &str, ip: &str) {
    state
        .forward_entries
        .retain(|_, e| !(e.wire.nat_gateway_id == gateway_id && e.wire.external_ip == ip));
    state
        .snat_entries
        .retain(|_, e| !(e.wire.nat_gateway_id == gateway_id && snat_uses(&e.wire.snat_ip, ip)));
}

// ---------------------------------------------------------------------------
// DescribeEipAddresses
// ---------------------------------------------------------------------------

/// The checked filters of a DescribeEipAddresses call.
struct Query<'q> {
    req: &'q DescribeEipAddresses,
    allocation_ids: Option<Vec<&'q str>>,
    addresses: Option<Vec<&'q str>>,
    instance_type: Option<&'q str>,
    created_from_ms: Option<i64>,
    created_to_ms: Option<i64>,
}

fn describe_eip_addresses(
    ctx: &mut Ctx<'_>,
    req: DescribeEipAddresses,
) -> Result<DescribeEipAddressesResponse, ApiError> {
    let query = query_of(&req)?;
    if req.dry_run == Some(true) {
        return Err(ApiError::new(
            400,
            "DryRunOperation",
            "Request validation has been passed with DryRun flag set.",
        ));
    }
    let mut matching: Vec<&Record<EipAddress>> = ctx
        .state
        .eips
        .values()
        .filter(|e| query.accepts(e))
        .collect();
    matching.sort_by(|a, b| {
        (a.created_ms, &a.wire.allocation_id).cmp(&(b.created_ms, &b.wire.allocation_id))
    });
    let (page, total, number, size) = paginate(&matching, req.page_number, req.page_size)?;
    Ok(DescribeEipAddressesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        eip_addresses: page.iter().map(|e| e.wire.clone()).collect(),
        ..DescribeEipAddressesResponse::default()
    })
}

/// Check the filter values (with the service's codes) and split the lists.
fn query_of(req: &DescribeEipAddresses) -> Result<Query<'_>, ApiError> {
    let (allocation_ids, addresses) =
        (split_list(&req.allocation_id), split_list(&req.eip_address));
    if [&allocation_ids, &addresses]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| l.len() > 50))
    {
        return Err(ApiError::new(
            400,
            "InvalidParameter",
            "The specified parameter is not valid: at most 50 AllocationIds or EipAddresses.",
        ));
    }
    let instance_type = associated_type(req)?;
    check_choices(req)?;
    let (created_from_ms, created_to_ms) = creation_window(&req.filter)?;
    Ok(Query {
        req,
        allocation_ids,
        addresses,
        instance_type,
        created_from_ms,
        created_to_ms,
    })
}

/// A comma-separated list parameter, when given.
fn split_list(value: &Option<String>) -> Option<Vec<&str>> {
    given(value).map(|s| {
        s.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// The instance type filter: as given, or the service's default when only an
/// instance id is given.
fn associated_type(req: &DescribeEipAddresses) -> Result<Option<&str>, ApiError> {
    let explicit = given(&req.associated_instance_type);
    if explicit.is_some_and(|t| !INSTANCE_TYPES.contains(&t)) {
        return Err(ApiError::new(
            400,
            "InvalidIAssociatedInstanceType.ValueNotSupported",
            "The specified value of AssociatedInstanceType is not supported.",
        ));
    }
    let with_id = given(&req.associated_instance_id).is_some();
    Ok(explicit.or(with_id.then_some(DEFAULT_INSTANCE_TYPE)))
}

fn check_choices(req: &DescribeEipAddresses) -> Result<(), ApiError> {
    if given(&req.charge_type).is_some_and(|c| !["PostPaid", "PrePaid"].contains(&c)) {
        return Err(ApiError::new(
            400,
            "InvalidChargeType.ValueNotSupported",
            "The specified ChargeType is not supported.",
        ));
    }
    if given(&req.lock_reason).is_some_and(|r| !["financial", "security"].contains(&r)) {
        return Err(ApiError::new(
            404,
            "InvalidLockReason.NotFound",
            "The specified LockReason is not found",
        ));
    }
    Ok(())
}

/// `Filter.N`: `CreationStartTime` / `CreationEndTime` as `YYYY-MM-DDThh:mmZ`.
fn creation_window(filters: &[Filter]) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let mut window = (None, None);
    for f in filters {
        let ms = jiff::civil::DateTime::strptime("%Y-%m-%dT%H:%MZ", &f.value)
            .and_then(|t| t.to_zoned(jiff::tz::TimeZone::UTC))
            .map(|z| z.timestamp().as_millisecond())
            .map_err(|_| {
                ApiError::new(
                    404,
                    "InvalidFilterValue",
                    "The specified Filter.N.Value is not a time of the form YYYY-MM-DDThh:mmZ.",
                )
            });
        match f.key.as_str() {
            "CreationStartTime" => window.0 = Some(ms?),
            "CreationEndTime" => window.1 = Some(ms?),
            _ => {
                return Err(ApiError::new(
                    404,
                    "InvalidFilterKey.NotFound",
                    "The specified Filter.N.Key is not CreationStartTime or CreationEndTime.",
                ));
            }
        }
    }
    Ok(window)
}

impl Query<'_> {
    fn accepts(&self, record: &Record<EipAddress>) -> bool {
        let e = &record.wire;
        let eq = |filter: &Option<String>, value: &str| given(filter).is_none_or(|f| f == value);
        let listed = |list: &Option<Vec<&str>>, value: &str| {
            list.as_ref().is_none_or(|l| l.contains(&value))
        };
        listed(&self.allocation_ids, &e.allocation_id)
            && listed(&self.addresses, &e.ip_address)
            && eq(&self.req.status, &e.status)
            && eq(&self.req.associated_instance_id, &e.instance_id)
            && self.instance_type.is_none_or(|t| t == e.instance_type)
            && eq(&self.req.charge_type, &e.charge_type)
            && eq(&self.req.isp, &e.isp)
            && eq(&self.req.resource_group_id, &e.resource_group_id)
            && eq(&self.req.segment_instance_id, &e.segment_instance_id)
            && given(&self.req.lock_reason)
                .is_none_or(|r| e.operation_locks.iter().any(|l| l.lock_reason == r))
            && self.created_from_ms.is_none_or(|t| record.created_ms >= t)
            && self.created_to_ms.is_none_or(|t| record.created_ms <= t)
            && self.req.tag.iter().all(|t| e.tags.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use crate::cloud::alibaba::actions::eip::{LockReason, Tag};
    use crate::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
    use crate::cloud::alibaba::actions::snat_entry::SnatTableEntry;
    use crate::emulator::ApiError;
    use crate::emulator::alibaba::testing::Bench;
    use crate::emulator::state::Record;

    const EIP1: &str = "eip-hz01natop00000000";
    const EIP2: &str = "eip-hz02natop00000000";

    /// Parameters, then the expected HTTP status and code.
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

    fn code(result: Result<Value, ApiError>) -> (u16, String) {
        let e = result.expect_err("an error");
        (e.status, e.code)
    }

    /// An Available gateway.
    fn gateway(b: &mut Bench) -> String {
        let v = b
            .call("CreateNatGateway", &[("VpcId", "vpc-hz1natop0000000000")])
            .unwrap();
        b.advance(60);
        v["NatGatewayId"].as_str().unwrap().to_string()
    }

    fn associate(b: &mut Bench, eip: &str, gw: &str) -> Result<Value, ApiError> {
        b.call(
            "AssociateEipAddress",
            &[
                ("AllocationId", eip),
                ("InstanceId", gw),
                ("InstanceType", "Nat"),
            ],
        )
    }

    /// `eip` bound (InUse) to a new gateway; returns the gateway and the IP.
    fn bound(b: &mut Bench, eip: &str) -> (String, String) {
        let gw = gateway(b);
        associate(b, eip, &gw).unwrap();
        b.advance(3);
        (gw, b.state.eips[eip].wire.ip_address.clone())
    }

    fn eip(b: &mut Bench, id: &str) -> Value {
        let v = b
            .call("DescribeEipAddresses", &[("AllocationId", id)])
            .unwrap();
        v["EipAddresses"]["EipAddress"][0].clone()
    }

    fn add_dnat(b: &mut Bench, gw: &str, ip: &str) {
        let entry = ForwardTableEntry {
            forward_entry_id: "fwd-1".into(),
            nat_gateway_id: gw.into(),
            external_ip: ip.into(),
            status: "Available".into(),
            ..ForwardTableEntry::default()
        };
        b.state
            .forward_entries
            .insert("fwd-1".into(), Record::new(entry, None, 0));
    }

    fn add_snat(b: &mut Bench, gw: &str, snat_ip: &str) {
        let entry = SnatTableEntry {
            snat_entry_id: "snat-1".into(),
            nat_gateway_id: gw.into(),
            snat_ip: snat_ip.into(),
            status: "Available".into(),
            ..SnatTableEntry::default()
        };
        b.state
            .snat_entries
            .insert("snat-1".into(), Record::new(entry, None, 0));
    }

    #[test]
    fn associate_binds_at_once_and_is_in_use_after_the_duration() {
        let mut b = Bench::new();
        let gw = gateway(&mut b);
        associate(&mut b, EIP1, &gw).unwrap();
        let e = eip(&mut b, EIP1);
        assert_eq!(e["Status"], "Associating");
        assert_eq!(e["InstanceId"], gw.as_str());
        assert_eq!(e["InstanceType"], "Nat");
        assert_eq!(e["InstanceRegionId"], "cn-hangzhou");
        assert_eq!(e["Mode"], "NAT");
        // The gateway lists the IP while it is being bound.
        let g = b
            .call("DescribeNatGateways", &[("NatGatewayId", &gw)])
            .unwrap();
        assert_eq!(
            g["NatGateways"]["NatGateway"][0]["IpLists"]["IpList"][0]["AllocationId"],
            EIP1
        );
        b.advance(2);
        assert_eq!(eip(&mut b, EIP1)["Status"], "Associating");
        b.advance(1);
        assert_eq!(eip(&mut b, EIP1)["Status"], "InUse");
        let busy = code(associate(&mut b, EIP1, &gw));
        assert_eq!(busy, (400, "IncorrectEipStatus".into()), "already bound");
    }

    #[test]
    fn associate_checks_its_parameters_and_the_gateway() {
        let mut b = Bench::new();
        let gw = gateway(&mut b);
        let cases: &[Case] = &[
            (&[("InstanceId", "ngw-x")], 400, "MissingAllocationId"),
            (
                &[("AllocationId", EIP1), ("InstanceId", "")],
                400,
                "MissingInstanceId",
            ),
            (
                &[("AllocationId", EIP1), ("InstanceId", &gw)],
                400,
                "InvalidInstanceType.ValueNotSupported",
            ),
            (
                &[
                    ("AllocationId", EIP1),
                    ("InstanceId", &gw),
                    ("InstanceType", "SlbInstance"),
                ],
                400,
                "InvalidInstanceType.ValueNotSupported",
            ),
            (
                &[
                    ("AllocationId", EIP1),
                    ("InstanceId", &gw),
                    ("InstanceType", "Router"),
                ],
                400,
                "InvalidInstanceType.ValueNotSupported",
            ),
            (
                &[
                    ("AllocationId", EIP1),
                    ("InstanceId", &gw),
                    ("InstanceType", "Nat"),
                    ("Mode", "X"),
                ],
                400,
                "InvalidParameter",
            ),
            (
                &[
                    ("AllocationId", EIP1),
                    ("InstanceId", &gw),
                    ("InstanceType", "Nat"),
                    ("InstanceRegionId", "cn-beijing"),
                ],
                400,
                "InvalidParameter.Mismatch",
            ),
            (
                &[
                    ("AllocationId", "eip-nope"),
                    ("InstanceId", &gw),
                    ("InstanceType", "Nat"),
                ],
                404,
                "InvalidAllocationId.NotFound",
            ),
            (
                &[
                    ("AllocationId", EIP1),
                    ("InstanceId", "ngw-nope"),
                    ("InstanceType", "Nat"),
                ],
                400,
                "InvalidParams.NotFound",
            ),
        ];
        for (params, http, expected) in cases {
            let got = code(b.call("AssociateEipAddress", params));
            assert_eq!(got, (*http, expected.to_string()), "{params:?}");
        }
        assert_eq!(
            b.state.eips[EIP1].wire.status, "Available",
            "nothing changed"
        );

        let creating = b
            .call("CreateNatGateway", &[("VpcId", "vpc-hz1natop0000000000")])
            .unwrap()["NatGatewayId"]
            .as_str()
            .unwrap()
            .to_string();
        let got = code(associate(&mut b, EIP1, &creating));
        assert_eq!(got, (400, "IncorrectInstanceStatus".into()));
        b.call(
            "AssociateEipAddress",
            &[
                ("AllocationId", EIP2),
                ("InstanceId", &gw),
                ("InstanceType", "Nat"),
                ("Mode", "MULTI_BINDED"),
            ],
        )
        .unwrap();
        assert_eq!(b.state.eips[EIP2].wire.mode, "MULTI_BINDED");
        let got = code(associate(&mut b, EIP2, &gw));
        assert_eq!(got, (400, "IncorrectEipStatus".into()), "while Associating");
    }

    #[test]
    fn unassociate_goes_through_unassociating_and_clears_the_binding() {
        let mut b = Bench::new();
        let (gw, _) = bound(&mut b, EIP1);
        b.call(
            "UnassociateEipAddress",
            &[
                ("AllocationId", EIP1),
                ("InstanceId", &gw),
                ("InstanceType", "Nat"),
            ],
        )
        .unwrap();
        let e = eip(&mut b, EIP1);
        assert_eq!(e["Status"], "Unassociating");
        assert_eq!(e["InstanceId"], gw.as_str(), "bound until done");
        let again = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
        assert_eq!(again, (400, "IncorrectEipStatus".into()));
        b.advance(3);
        let e = eip(&mut b, EIP1);
        assert_eq!(e["Status"], "Available");
        assert_eq!(e["InstanceId"], "");
        assert_eq!(e["InstanceType"], "");
        let unbound = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
        assert_eq!(unbound, (400, "IncorrectEipStatus".into()));
    }

    #[test]
    fn unassociate_checks_the_binding() {
        let mut b = Bench::new();
        let (gw, _) = bound(&mut b, EIP1);
        let cases: &[Case] = &[
            (&[], 400, "MissingAllocationId"),
            (
                &[("AllocationId", "eip-nope")],
                404,
                "InvalidAllocationId.NotFound",
            ),
            (
                &[("AllocationId", EIP1), ("InstanceId", "ngw-other")],
                400,
                "InvalidBindingStatus",
            ),
            (
                &[("AllocationId", EIP1), ("InstanceType", "EcsInstance")],
                400,
                "InvalidBindingStatus",
            ),
            (
                &[("AllocationId", EIP1), ("InstanceType", "Router")],
                400,
                "InvalidInstanceType.ValueNotSupported",
            ),
        ];
        for (params, http, expected) in cases {
            let got = code(b.call("UnassociateEipAddress", params));
            assert_eq!(got, (*http, expected.to_string()), "{params:?}");
        }
        b.state.nat_gateways.get_mut(&gw).unwrap().wire.status = "Modifying".into();
        let got = code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
        assert_eq!(got, (400, "IncorrectInstanceStatus".into()));
    }

    #[test]
    fn unassociate_refuses_an_ip_in_use_unless_forced() {
        let mut b = Bench::new();
        let (gw, ip) = bound(&mut b, EIP1);
        let (_, ip2) = bound(&mut b, EIP2);
        add_dnat(&mut b, &gw, &ip);
        let unbind =
            |b: &mut Bench| code(b.call("UnassociateEipAddress", &[("AllocationId", EIP1)]));
        assert_eq!(
            unbind(&mut b),
            (400, "DependencyViolation.ForwardEntry".into())
        );
        b.state.forward_entries.clear();
        add_snat(&mut b, &gw, &format!("{ip2}, {ip}"));
        assert_eq!(
            unbind(&mut b),
            (400, "DependencyViolation.SnatEntry".into())
        );
        add_dnat(&mut b, &gw, &ip);
        b.call(
            "UnassociateEipAddress",
            &[("AllocationId", EIP1), ("Force", "true")],
        )
        .unwrap();
        assert!(b.state.forward_entries.is_empty() && b.state.snat_entries.is_empty());
        assert_eq!(b.state.eips[EIP1].wire.status, "Unassociating");
    }

    #[test]
    fn an_ip_used_by_another_gateway_does_not_block() {
        let mut b = Bench::new();
        let (_, ip) = bound(&mut b, EIP1);
        add_dnat(&mut b, "ngw-other", &ip);
        b.call("UnassociateEipAddress", &[("AllocationId", EIP1)])
            .unwrap();
        assert_eq!(b.state.forward_entries.len(), 1);
    }

    #[test]
    fn describe_filters() {
        let mut b = Bench::new();
        let (gw, ip1) = bound(&mut b, EIP1);
        associate(&mut b, EIP2, &gw).unwrap();
        let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
            let v = b.call("DescribeEipAddresses", params).unwrap();
            v["EipAddresses"]["EipAddress"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["AllocationId"].as_str().unwrap().to_string())
                .collect()
        };
        let both = vec![EIP1.to_string(), EIP2.to_string()];
        assert_eq!(
            ids(&mut b, &[("AllocationId", &format!("{EIP1}, {EIP2}"))]),
            both
        );
        assert_eq!(ids(&mut b, &[("EipAddress", &ip1)]), vec![EIP1.to_string()]);
        assert_eq!(
            ids(&mut b, &[("Status", "Associating")]),
            vec![EIP2.to_string()]
        );
        assert_eq!(ids(&mut b, &[("Status", "InUse")]), vec![EIP1.to_string()]);
        assert_eq!(
            ids(
                &mut b,
                &[
                    ("AssociatedInstanceType", "Nat"),
                    ("AssociatedInstanceId", &gw)
                ]
            ),
            both
        );
        assert_eq!(ids(&mut b, &[("AssociatedInstanceType", "Nat")]), both);
        assert_eq!(
            ids(&mut b, &[("AssociatedInstanceId", &gw)]),
            Vec::<String>::new(),
            "without a type the service looks for an ECS instance"
        );
        assert_eq!(
            ids(&mut b, &[("ChargeType", "PostPaid"), ("ISP", "BGP")]).len(),
            10
        );
        assert_eq!(ids(&mut b, &[("ChargeType", "PrePaid")]).len(), 0);
        assert_eq!(ids(&mut b, &[("ResourceGroupId", "rg-x")]).len(), 0);
        assert_eq!(ids(&mut b, &[("SegmentInstanceId", "eipsg-x")]).len(), 0);

        let e = &mut b.state.eips.get_mut(EIP2).unwrap().wire;
        e.operation_locks.push(LockReason {
            lock_reason: "financial".into(),
        });
        e.tags.push(Tag {
            key: "owner".into(),
            value: "natop".into(),
        });
        assert_eq!(
            ids(&mut b, &[("LockReason", "financial")]),
            vec![EIP2.to_string()]
        );
        assert_eq!(ids(&mut b, &[("LockReason", "security")]).len(), 0);
        assert_eq!(
            ids(&mut b, &[("Tag.1.Key", "owner"), ("Tag.1.Value", "natop")]),
            vec![EIP2.to_string()]
        );
        assert_eq!(
            ids(&mut b, &[("Tag.1.Key", "owner"), ("Tag.1.Value", "x")]).len(),
            0
        );
    }

    #[test]
    fn describe_creation_time_filters() {
        let mut b = Bench::new();
        b.state.eips.get_mut(EIP2).unwrap().created_ms += 3_600_000;
        let ids = |b: &mut Bench, params: &[(&str, &str)]| -> Vec<String> {
            let v = b.call("DescribeEipAddresses", params).unwrap();
            v["EipAddresses"]["EipAddress"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["AllocationId"].as_str().unwrap().to_string())
                .collect()
        };
        // The bench starts at 2001-09-09T01:46:40Z.
        let late = [
            ("Filter.1.Key", "CreationStartTime"),
            ("Filter.1.Value", "2001-09-09T02:00Z"),
        ];
        assert_eq!(ids(&mut b, &late), vec![EIP2.to_string()]);
        let early = [
            ("Filter.1.Key", "CreationEndTime"),
            ("Filter.1.Value", "2001-09-09T02:00Z"),
            ("PageSize", "50"),
        ];
        assert_eq!(ids(&mut b, &early).len(), 11);
        let bad_key = code(b.call(
            "DescribeEipAddresses",
            &[
                ("Filter.1.Key", "Color"),
                ("Filter.1.Value", "2001-09-09T02:00Z"),
            ],
        ));
        assert_eq!(bad_key, (404, "InvalidFilterKey.NotFound".into()));
        let bad_value = code(b.call(
            "DescribeEipAddresses",
            &[
                ("Filter.1.Key", "CreationStartTime"),
                ("Filter.1.Value", "yesterday"),
            ],
        ));
        assert_eq!(bad_value, (404, "InvalidFilterValue".into()));
    }

    #[test]
    fn describe_validates_filters() {
        let mut b = Bench::new();
        let cases: &[Case] = &[
            (
                &[("AssociatedInstanceType", "Router")],
                400,
                "InvalidIAssociatedInstanceType.ValueNotSupported",
            ),
            (
                &[("ChargeType", "Free")],
                400,
                "InvalidChargeType.ValueNotSupported",
            ),
            (
                &[("LockReason", "boredom")],
                404,
                "InvalidLockReason.NotFound",
            ),
            (&[("DryRun", "true")], 400, "DryRunOperation"),
            (&[("PageNumber", "0")], 400, "InvalidParameter.PageNumber"),
        ];
        for (params, http, expected) in cases {
            let got = code(b.call("DescribeEipAddresses", params));
            assert_eq!(got, (*http, expected.to_string()), "{params:?}");
        }
        let many: String = (0..51).map(|i| format!("eip-{i},")).collect();
        let got = code(b.call("DescribeEipAddresses", &[("AllocationId", &many)]));
        assert_eq!(got, (400, "InvalidParameter".into()));
    }

    #[test]
    fn describe_paginates() {
        let mut b = Bench::new();
        let page = |b: &mut Bench, number: &str| {
            b.call(
                "DescribeEipAddresses",
                &[("PageNumber", number), ("PageSize", "5")],
            )
            .unwrap()
        };
        let first = page(&mut b, "1");
        assert_eq!(first["TotalCount"], 12);
        assert_eq!(first["PageNumber"], 1);
        assert_eq!(first["PageSize"], 5);
        assert_eq!(first["EipAddresses"]["EipAddress"][0]["AllocationId"], EIP1);
        let third = page(&mut b, "3");
        let last: Vec<&str> = third["EipAddresses"]["EipAddress"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["AllocationId"].as_str().unwrap())
            .collect();
        assert_eq!(last, vec!["eip-hz11natop00000000", "eip-hz12natop00000000"]);
        let default = b.call("DescribeEipAddresses", &[]).unwrap();
        assert_eq!(default["PageSize"], 10);
        assert_eq!(
            default["EipAddresses"]["EipAddress"]
                .as_array()
                .unwrap()
                .len(),
            10
        );
        assert_eq!(default["EipAddresses"]["EipAddress"][0]["Descritpion"], "");
    }
}
