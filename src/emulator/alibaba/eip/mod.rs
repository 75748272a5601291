//! EIP actions: binding elastic IPs to NAT gateways, unbinding them, and
//! listing them. Binding and unbinding are asynchronous: `Available` →
//! `Associating` → `InUse` → `Unassociating` → `Available`; in the
//! transitional states only queries are allowed on the EIP.
//!
//! The emulator knows NAT gateways only, so `InstanceType` must be `Nat`.

use super::{Ctx, Served, missing, paginate};
use crate::cloud::alibaba::actions::eip::{
    AssociateEipAddress, AssociateEipAddressResponse, DescribeEipAddresses,
    DescribeEipAddressesResponse, EipAddress, Filter, UnassociateEipAddress,
    UnassociateEipAddressResponse,
};
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

/// The actions this module serves.
pub const SERVED: &[Served] = &[
    serve!(AssociateEipAddress, associate_eip_address),
    serve!(UnassociateEipAddress, unassociate_eip_address),
    serve!(DescribeEipAddresses, describe_eip_addresses),
];

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
    if ctx
        .state
        .nat_gateways
        .get(&req.instance_id)
        .is_some_and(|g| g.wire.network_type == "intranet")
    {
        return Err(ApiError::new(
            400,
            "OperationUnsupported.VpcNatGateway",
            "EIPs cannot be associated with a VPC NAT gateway (NetworkType intranet).",
        ));
    }
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
mod tests;
