//! SNAT table entries: sources and public IPs and their rules, then the
//! actions.

use ipnet::Ipv4Net;

use super::forward::Protocol;
use super::table::TableEntry;
use super::validate;
use super::{Gateway, given, is_gateway_ip, name_check, required, vpc_cidr};
use crate::cloud::alibaba::actions::snat_entry::{
    CreateSnatEntry, CreateSnatEntryResponse, DeleteSnatEntry, DeleteSnatEntryResponse,
    DescribeSnatTableEntries, DescribeSnatTableEntriesResponse, ModifySnatEntry,
    ModifySnatEntryResponse, SnatTableEntry,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, paginate};

/// At most this many public IPs in one SNAT entry (the service's fixed limit).
const MAX_SNAT_IPS: usize = 64;

// ---------------------------------------------------------------------------
// SNAT: sources and IPs
// ---------------------------------------------------------------------------

/// Where an SNAT entry's traffic comes from: a vSwitch (with its CIDR) or a CIDR block.
struct Source {
    vswitch_id: String,
    cidr: Ipv4Net,
}

fn invalid_parameter() -> ApiError {
    ApiError::new(400, "INVALID_PARAMETER", "The parameter invalid.")
}

fn bad_snat_ip() -> ApiError {
    ApiError::new(
        400,
        "InvalidSnatIp.Malformed",
        "The specified SnatIp is not a valid IP address.",
    )
}

/// The public IPs of `SnatIp`: one or more IPv4 addresses separated by commas.
fn parse_snat_ips(text: &str) -> Result<Vec<String>, ApiError> {
    let ips = text
        .split(',')
        .map(|part| {
            validate::ipv4(part)
                .map(|ip| ip.to_string())
                .ok_or_else(bad_snat_ip)
        })
        .collect::<Result<Vec<String>, ApiError>>()?;
    if ips.len() > MAX_SNAT_IPS {
        return Err(ApiError::new(
            400,
            "SNAT_IP_POOL_COUNT_TOO_MANY",
            "The Snat pool ip too many.",
        ));
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    if unique.len() != ips.len() {
        return Err(invalid_parameter());
    }
    Ok(ips)
}

fn check_eip_affinity(value: Option<u8>) -> Result<(), ApiError> {
    match value {
        None | Some(0 | 1) => Ok(()),
        Some(_) => Err(ApiError::new(
            400,
            "InvalidParameter",
            "The specified EipAffinity is not valid: it must be 0 or 1.",
        )),
    }
}

/// Each SNAT IP must be an IP of the gateway, and not one that a DNAT entry
/// maps as a whole (`Any`): port-mapped DNAT IPs may be shared.
fn check_snat_ips(ctx: &Ctx<'_>, gateway: &Gateway, ips: &[String]) -> Result<(), ApiError> {
    for ip in ips {
        if !is_gateway_ip(ctx, &gateway.id, ip) {
            return Err(ApiError::new(
                404,
                "InvalidSnatIp.NotFound",
                "Specified SnatIp does not found on the NAT Gateway",
            ));
        }
        let ip_mapped = ctx.state.forward_entries.values().any(|e| {
            e.wire.nat_gateway_id == gateway.id
                && e.wire.external_ip == *ip
                && Protocol::parse(&e.wire.ip_protocol) == Some(Protocol::Any)
        });
        if ip_mapped {
            return Err(ApiError::new(
                400,
                "Forbidden.IpUsedInForwardTable",
                "The specified SnatIp already used in forward table",
            ));
        }
    }
    Ok(())
}

/// The source of a new SNAT entry: exactly one of a vSwitch of the gateway's
/// VPC or a CIDR block inside that VPC.
fn snat_source(
    ctx: &Ctx<'_>,
    gateway: &Gateway,
    req: &CreateSnatEntry,
) -> Result<Source, ApiError> {
    match (
        given(req.source_vswitch_id.as_ref()),
        given(req.source_cidr.as_ref()),
    ) {
        (Some(vswitch_id), None) => vswitch_source(ctx, gateway, vswitch_id),
        (None, Some(cidr)) => {
            let net = validate::cidr(cidr).ok_or_else(invalid_parameter)?;
            let inside = vpc_cidr(ctx, &gateway.vpc_id).is_some_and(|vpc| vpc.contains(&net));
            if !inside {
                return Err(ApiError::new(
                    400,
                    "NOT_ALLOW_USE_SOURCECIDR",
                    "The User not in nat_scope_unlimited white list. Cannot use SourceCidr param.",
                ));
            }
            Ok(Source {
                vswitch_id: String::new(),
                cidr: net,
            })
        }
        _ => Err(invalid_parameter()),
    }
}

fn vswitch_source(ctx: &Ctx<'_>, gateway: &Gateway, vswitch_id: &str) -> Result<Source, ApiError> {
    let (vpc, vswitch) = ctx
        .region
        .vpcs
        .iter()
        .flat_map(|v| v.v_switches.iter().map(move |s| (v, s)))
        .find(|(_, s)| s.v_switch_id == vswitch_id)
        .ok_or_else(|| {
            ApiError::new(
                404,
                "InvalidVSwitchId.NotFound",
                "The specified virtual switch does not exist.",
            )
        })?;
    if vpc.vpc_id != gateway.vpc_id {
        return Err(ApiError::new(
            400,
            "OperationFailed.VswitchNotBelongToVpc",
            "Operation failed because the specified VSwitch is not bound to the same VPC with NAT gateway.",
        ));
    }
    let cidr = validate::cidr(&vswitch.cidr_block).ok_or_else(invalid_parameter)?;
    Ok(Source {
        vswitch_id: vswitch_id.to_string(),
        cidr,
    })
}

/// One SNAT entry per vSwitch or CIDR block, and no overlapping blocks in a table.
fn check_source_free(ctx: &Ctx<'_>, table_id: &str, source: &Source) -> Result<(), ApiError> {
    for entry in ctx.state.snat_entries.values() {
        let e = &entry.wire;
        if e.snat_table_id != table_id {
            continue;
        }
        let same_vswitch =
            !source.vswitch_id.is_empty() && e.source_vswitch_id == source.vswitch_id;
        let other = validate::cidr(&e.source_cidr);
        if same_vswitch || other == Some(source.cidr) {
            return Err(ApiError::new(
                400,
                "Forbidden.SourceVSwitchId.Duplicated",
                "The specified SourceCIDR is duplicated.",
            ));
        }
        let overlaps = other.is_some_and(|o| {
            o.contains(&source.cidr.network()) || source.cidr.contains(&o.network())
        });
        if overlaps {
            return Err(ApiError::new(
                400,
                "OperationUnsupported.CidrConflict",
                "The specified CIDR block conflicts with an existing SNAT entry.",
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// SNAT actions
// ---------------------------------------------------------------------------

/// Message of an unknown SNAT table.
const MISSING_SNAT_TABLE: &str = "Specified SNAT table does not exist.";

pub(super) fn create_snat_entry(
    ctx: &mut Ctx<'_>,
    req: CreateSnatEntry,
) -> Result<CreateSnatEntryResponse, ApiError> {
    required(&req.snat_table_id, "SnatTableId")?;
    required(&req.snat_ip, "SnatIp")?;
    name_check(req.snat_entry_name.as_ref())?;
    check_eip_affinity(req.eip_affinity)?;
    if given(req.source_vswitch_id.as_ref()).is_some() == given(req.source_cidr.as_ref()).is_some()
    {
        return Err(invalid_parameter());
    }
    let ips = parse_snat_ips(&req.snat_ip)?;
    let table_id = req.snat_table_id.trim();
    let gateway = SnatTableEntry::table_for_new_entry(ctx, table_id, MISSING_SNAT_TABLE)?;
    let source = snat_source(ctx, &gateway, &req)?;
    check_source_free(ctx, table_id, &source)?;
    check_snat_ips(ctx, &gateway, &ips)?;
    let id = ctx.new_id("snat");
    let wire = SnatTableEntry {
        snat_entry_id: id.clone(),
        snat_entry_name: req.snat_entry_name.unwrap_or_default(),
        snat_ip: ips.join(","),
        snat_table_id: table_id.to_string(),
        source_cidr: source.cidr.to_string(),
        source_vswitch_id: source.vswitch_id,
        status: "Pending".to_string(),
        eip_affinity: Some(req.eip_affinity.unwrap_or(0)),
        nat_gateway_id: gateway.id.clone(),
        network_interface_id: String::new(),
    };
    SnatTableEntry::insert_pending(ctx, wire);
    Ok(CreateSnatEntryResponse {
        snat_entry_id: id,
        ..Default::default()
    })
}

pub(super) fn modify_snat_entry(
    ctx: &mut Ctx<'_>,
    req: ModifySnatEntry,
) -> Result<ModifySnatEntryResponse, ApiError> {
    let (table_id, entry_id) =
        SnatTableEntry::required_ids(&req.snat_table_id, &req.snat_entry_id)?;
    name_check(req.snat_entry_name.as_ref())?;
    check_eip_affinity(req.eip_affinity)?;
    let ips = given(req.snat_ip.as_ref())
        .map(parse_snat_ips)
        .transpose()?;
    let (gateway, _) = SnatTableEntry::locate(
        ctx,
        table_id,
        entry_id,
        MISSING_SNAT_TABLE,
        "Specified SNAT entry does not exist.",
    )?;
    SnatTableEntry::check_writable(ctx, &gateway, table_id)?;
    if let Some(ips) = &ips {
        check_snat_ips(ctx, &gateway, ips)?;
    }
    let name = given(req.snat_entry_name.as_ref()).map(str::to_string);
    SnatTableEntry::set_pending(ctx, entry_id, |wire| {
        if let Some(ips) = ips {
            wire.snat_ip = ips.join(",");
        }
        if let Some(name) = name {
            wire.snat_entry_name = name;
        }
        if let Some(affinity) = req.eip_affinity {
            wire.eip_affinity = Some(affinity);
        }
    });
    Ok(ModifySnatEntryResponse::default())
}

pub(super) fn describe_snat_table_entries(
    ctx: &mut Ctx<'_>,
    req: DescribeSnatTableEntries,
) -> Result<DescribeSnatTableEntriesResponse, ApiError> {
    let filter = SnatFilter::of(&req);
    let list = |ctx: &Ctx<'_>| {
        SnatTableEntry::listed(
            ctx,
            req.snat_table_id.trim(),
            given(req.nat_gateway_id.as_ref()),
            MISSING_SNAT_TABLE,
            filter.entry_id.is_some(),
            |e| filter.matches(e),
        )
    };
    let mut items = list(ctx)?;
    if SnatTableEntry::shift_pages(ctx, &items, req.page_number, req.page_size) {
        items = list(ctx)?;
    }
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeSnatTableEntriesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        snat_table_entries: page,
        ..Default::default()
    })
}

/// The optional filters of DescribeSnatTableEntries.
struct SnatFilter<'a> {
    entry_id: Option<&'a str>,
    vswitch_id: Option<&'a str>,
    cidr: Option<&'a str>,
    ips: Option<Vec<&'a str>>,
    name: Option<&'a str>,
}

impl<'a> SnatFilter<'a> {
    fn of(req: &'a DescribeSnatTableEntries) -> SnatFilter<'a> {
        SnatFilter {
            entry_id: given(req.snat_entry_id.as_ref()),
            vswitch_id: given(req.source_vswitch_id.as_ref()),
            cidr: given(req.source_cidr.as_ref()),
            ips: given(req.snat_ip.as_ref()).map(|s| s.split(',').map(str::trim).collect()),
            name: given(req.snat_entry_name.as_ref()),
        }
    }

    /// `SnatIp` matches entries whose IP pool holds every IP asked for.
    fn matches(&self, e: &SnatTableEntry) -> bool {
        let exact = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        let has_ips = self.ips.as_ref().is_none_or(|want| {
            want.iter()
                .all(|w| e.snat_ip.split(',').any(|have| have.trim() == *w))
        });
        exact(self.entry_id, &e.snat_entry_id)
            && exact(self.vswitch_id, &e.source_vswitch_id)
            && exact(self.cidr, &e.source_cidr)
            && exact(self.name, &e.snat_entry_name)
            && has_ips
    }
}

pub(super) fn delete_snat_entry(
    ctx: &mut Ctx<'_>,
    req: DeleteSnatEntry,
) -> Result<DeleteSnatEntryResponse, ApiError> {
    SnatTableEntry::delete(
        ctx,
        &req.snat_table_id,
        &req.snat_entry_id,
        MISSING_SNAT_TABLE,
        "Specified Snat entry ID does not exist",
    )?;
    Ok(DeleteSnatEntryResponse::default())
}

#[cfg(test)]
mod tests;
