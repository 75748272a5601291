//! DNAT (forward table) entries: the five-tuple and its rules, then the
//! actions.

use std::net::Ipv4Addr;

use super::table::TableEntry;
use super::validate::{self, Port};
use super::{Gateway, dry_run_passed, given, is_gateway_ip, name_check, required, vpc_cidr};
use crate::cloud::alibaba::actions::forward_entry::{
    CreateForwardEntry, CreateForwardEntryResponse, DeleteForwardEntry, DeleteForwardEntryResponse,
    DescribeForwardTableEntries, DescribeForwardTableEntriesResponse, ForwardTableEntry,
    ModifyForwardEntry, ModifyForwardEntryResponse,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, paginate};

/// Above this external port, a DNAT entry sharing its IP with SNAT needs `PortBreak`.
const PORT_BREAK_ABOVE: u16 = 1024;

// ---------------------------------------------------------------------------
// DNAT: the five-tuple
// ---------------------------------------------------------------------------

/// A DNAT protocol; responses show it in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Protocol {
    Tcp,
    Udp,
    Any,
}

impl Protocol {
    pub(super) fn parse(text: &str) -> Option<Protocol> {
        match text.trim().to_ascii_lowercase().as_str() {
            "tcp" => Some(Protocol::Tcp),
            "udp" => Some(Protocol::Udp),
            "any" => Some(Protocol::Any),
            _ => None,
        }
    }

    fn wire(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Any => "any",
        }
    }

    /// `Any` covers both TCP and UDP.
    fn clashes(self, other: Protocol) -> bool {
        self == other || self == Protocol::Any || other == Protocol::Any
    }
}

fn port_text(port: Port) -> String {
    match port {
        Port::One(p) => p.to_string(),
        Port::Range(a, b) => format!("{a}/{b}"),
        Port::Any => "Any".to_string(),
    }
}

fn port_bounds(port: Port) -> (u16, u16) {
    match port {
        Port::One(p) => (p, p),
        Port::Range(a, b) => (a, b),
        Port::Any => (1, u16::MAX),
    }
}

fn ports_overlap(a: Port, b: Port) -> bool {
    let ((a1, a2), (b1, b2)) = (port_bounds(a), port_bounds(b));
    a1 <= b2 && b1 <= a2
}

/// The five-tuple of a DNAT entry.
#[derive(Debug, Clone, PartialEq)]
struct Mapping {
    external_ip: String,
    external_port: Port,
    protocol: Protocol,
    internal_ip: String,
    internal_port: Port,
}

impl Mapping {
    /// The tuple of a stored entry; unreadable parts count as `Any`, the
    /// widest reading, so they conflict rather than slip through.
    fn of(entry: &ForwardTableEntry) -> Mapping {
        let port = |p: &Option<String>| p.as_deref().and_then(Port::parse).unwrap_or(Port::Any);
        Mapping {
            external_ip: entry.external_ip.trim().to_string(),
            external_port: port(&entry.external_port),
            protocol: Protocol::parse(&entry.ip_protocol).unwrap_or(Protocol::Any),
            internal_ip: entry.internal_ip.trim().to_string(),
            internal_port: port(&entry.internal_port),
        }
    }

    fn clashes_externally(&self, other: &Mapping) -> bool {
        self.external_ip == other.external_ip
            && self.protocol.clashes(other.protocol)
            && ports_overlap(self.external_port, other.external_port)
    }

    fn clashes_internally(&self, other: &Mapping) -> bool {
        self.internal_ip == other.internal_ip
            && self.protocol.clashes(other.protocol)
            && ports_overlap(self.internal_port, other.internal_port)
    }

    /// Same public side (what decides whether the SNAT sharing rule must be re-checked).
    fn same_public_side(&self, other: &Mapping) -> bool {
        self.external_ip == other.external_ip
            && self.external_port == other.external_port
            && self.protocol == other.protocol
    }

    /// `Any` goes with `Any` ports only; a port range needs an internal range
    /// of the same size.
    fn check_shape(&self) -> Result<(), ApiError> {
        let any = self.protocol == Protocol::Any;
        if (self.external_port == Port::Any) != any {
            return Err(bad_external_port());
        }
        if (self.internal_port == Port::Any) != any {
            return Err(bad_internal_port());
        }
        if self.external_port.len() != self.internal_port.len() {
            return Err(bad_internal_port());
        }
        Ok(())
    }
}

fn parse_external_ip(text: &str) -> Result<String, ApiError> {
    validate::ipv4(text)
        .map(|ip| ip.to_string())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidExternalIp.Malformed",
                "The specified ExternalIp is not a valid IP address.",
            )
        })
}

fn parse_internal_ip(text: &str) -> Result<String, ApiError> {
    validate::ipv4(text)
        .map(|ip| ip.to_string())
        .ok_or_else(|| {
            ApiError::new(
                400,
                "InvalidInternalIp.Malformed",
                "The specified InternalIp is not a valid IP address.",
            )
        })
}

fn bad_external_port() -> ApiError {
    ApiError::new(
        400,
        "InvalidExternalPort.Malformed",
        "The specified ExternalPort is not a valid port.",
    )
}

fn bad_internal_port() -> ApiError {
    ApiError::new(
        400,
        "InvalidInternalPort.Malformed",
        "The specified InternalPort is not a valid port.",
    )
}

fn parse_external_port(text: &str) -> Result<Port, ApiError> {
    Port::parse(text).ok_or_else(bad_external_port)
}

fn parse_internal_port(text: &str) -> Result<Port, ApiError> {
    Port::parse(text).ok_or_else(bad_internal_port)
}

fn parse_protocol(text: &str) -> Result<Protocol, ApiError> {
    Protocol::parse(text).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidProtocol.ValueNotSupported",
            "The specified IpProtocol does not support.",
        )
    })
}

/// The rules a DNAT tuple must meet on its gateway and table. `exclude` is
/// the entry being modified; `check_snat` is false when a modify keeps the
/// public side, which was accepted before.
struct MappingCheck<'a> {
    gateway: &'a Gateway,
    table_id: &'a str,
    exclude: Option<&'a str>,
    port_break: bool,
    check_snat: bool,
}

impl MappingCheck<'_> {
    fn run(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        self.check_internal_ip(ctx, m)?;
        if !is_gateway_ip(ctx, &self.gateway.id, &m.external_ip) {
            return Err(ApiError::new(
                404,
                "InvalidExternalIp.NotFound",
                "Specified External Ip address does not found on the VRouter",
            ));
        }
        if self.check_snat {
            self.check_snat_sharing(ctx, m)?;
        }
        self.check_unique(ctx, m)
    }

    fn check_internal_ip(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let inside = match (
            vpc_cidr(ctx, &self.gateway.vpc_id),
            m.internal_ip.parse::<Ipv4Addr>(),
        ) {
            (Some(net), Ok(ip)) => net.contains(&ip),
            _ => false,
        };
        if inside {
            Ok(())
        } else {
            Err(ApiError::new(
                400,
                "Forbidden.DestinationIpOutOfVpcCIDR",
                "The specified Internal Ip is Out of VPC CIDR.",
            ))
        }
    }

    /// A public IP used by SNAT may also serve DNAT port mappings; an IP
    /// mapping (`Any`) needs the whole address, and external ports above 1024
    /// collide with SNAT's port space unless `PortBreak` is set.
    fn check_snat_sharing(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let shared = ctx.state.snat_entries.values().any(|e| {
            e.wire.nat_gateway_id == self.gateway.id
                && e.wire
                    .snat_ip
                    .split(',')
                    .any(|ip| ip.trim() == m.external_ip)
        });
        let high_port = port_bounds(m.external_port).1 > PORT_BREAK_ABOVE;
        if shared && (m.protocol == Protocol::Any || (high_port && !self.port_break)) {
            return Err(ApiError::new(
                400,
                "Forbidden.ExternalIp.UsedInSnatTable",
                "The specified ExternalIp is already used in SnatTable",
            ));
        }
        Ok(())
    }

    fn check_unique(&self, ctx: &Ctx<'_>, m: &Mapping) -> Result<(), ApiError> {
        let others: Vec<Mapping> = ctx
            .state
            .forward_entries
            .values()
            .filter(|e| e.wire.forward_table_id == self.table_id)
            .filter(|e| Some(e.wire.forward_entry_id.as_str()) != self.exclude)
            .map(|e| Mapping::of(&e.wire))
            .collect();
        if others.iter().any(|o| m.clashes_externally(o)) {
            return Err(ApiError::new(
                400,
                "Forbidden.PortOccupied",
                "The specified ExternalIp, ExternalPort and IpProtocol are already used by another forward entry.",
            ));
        }
        if others.iter().any(|o| m.clashes_internally(o)) {
            return Err(ApiError::new(
                400,
                "OperationUnsupported.ForwardEntry",
                "Duplicated destination ip port is unsupported.",
            ));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// DNAT actions
// ---------------------------------------------------------------------------

/// Message of an unknown DNAT table in the write actions.
const MISSING_FORWARD_TABLE: &str = "Specified forward table does not exist.";
/// Message of an unknown DNAT entry.
const MISSING_FORWARD_ENTRY: &str = "Specified forward entry ID does not exist";

pub(super) fn create_forward_entry(
    ctx: &mut Ctx<'_>,
    req: CreateForwardEntry,
) -> Result<CreateForwardEntryResponse, ApiError> {
    required(&req.forward_table_id, "ForwardTableId")?;
    required(&req.external_ip, "ExternalIp")?;
    required(&req.external_port, "ExternalPort")?;
    required(&req.internal_ip, "InternalIp")?;
    required(&req.internal_port, "InternalPort")?;
    required(&req.ip_protocol, "IpProtocol")?;
    name_check(req.forward_entry_name.as_ref())?;
    let mapping = Mapping {
        external_ip: parse_external_ip(&req.external_ip)?,
        external_port: parse_external_port(&req.external_port)?,
        protocol: parse_protocol(&req.ip_protocol)?,
        internal_ip: parse_internal_ip(&req.internal_ip)?,
        internal_port: parse_internal_port(&req.internal_port)?,
    };
    mapping.check_shape()?;
    let table_id = req.forward_table_id.trim();
    let gateway = ForwardTableEntry::table_for_new_entry(ctx, table_id, MISSING_FORWARD_TABLE)?;
    MappingCheck {
        gateway: &gateway,
        table_id,
        exclude: None,
        port_break: req.port_break.unwrap_or(false),
        check_snat: true,
    }
    .run(ctx, &mapping)?;
    if req.dry_run == Some(true) {
        return Err(dry_run_passed());
    }
    let id = ctx.new_id("fwd");
    let wire = forward_wire(&mapping, &id, table_id, &gateway.id, req.forward_entry_name);
    ForwardTableEntry::insert_pending(ctx, wire);
    Ok(CreateForwardEntryResponse {
        forward_entry_id: id,
        ..Default::default()
    })
}

fn forward_wire(
    m: &Mapping,
    id: &str,
    table_id: &str,
    gateway_id: &str,
    name: Option<String>,
) -> ForwardTableEntry {
    ForwardTableEntry {
        external_ip: m.external_ip.clone(),
        external_port: Some(port_text(m.external_port)),
        forward_entry_id: id.to_string(),
        forward_entry_name: name.unwrap_or_default(),
        forward_table_id: table_id.to_string(),
        internal_ip: m.internal_ip.clone(),
        internal_port: Some(port_text(m.internal_port)),
        ip_protocol: m.protocol.wire().to_string(),
        status: "Pending".to_string(),
        nat_gateway_id: gateway_id.to_string(),
    }
}

/// The tuple after a modify: given parameters replace the entry's values.
fn modified_mapping(req: &ModifyForwardEntry, old: &Mapping) -> Result<Mapping, ApiError> {
    let m = Mapping {
        external_ip: match given(req.external_ip.as_ref()) {
            Some(v) => parse_external_ip(v)?,
            None => old.external_ip.clone(),
        },
        external_port: match given(req.external_port.as_ref()) {
            Some(v) => parse_external_port(v)?,
            None => old.external_port,
        },
        protocol: match given(req.ip_protocol.as_ref()) {
            Some(v) => parse_protocol(v)?,
            None => old.protocol,
        },
        internal_ip: match given(req.internal_ip.as_ref()) {
            Some(v) => parse_internal_ip(v)?,
            None => old.internal_ip.clone(),
        },
        internal_port: match given(req.internal_port.as_ref()) {
            Some(v) => parse_internal_port(v)?,
            None => old.internal_port,
        },
    };
    m.check_shape()?;
    Ok(m)
}

pub(super) fn modify_forward_entry(
    ctx: &mut Ctx<'_>,
    req: ModifyForwardEntry,
) -> Result<ModifyForwardEntryResponse, ApiError> {
    let (table_id, entry_id) =
        ForwardTableEntry::required_ids(&req.forward_table_id, &req.forward_entry_id)?;
    name_check(req.forward_entry_name.as_ref())?;
    let (gateway, entry) = ForwardTableEntry::locate(
        ctx,
        table_id,
        entry_id,
        MISSING_FORWARD_TABLE,
        MISSING_FORWARD_ENTRY,
    )?;
    let old = Mapping::of(&entry);
    let new = modified_mapping(&req, &old)?;
    ForwardTableEntry::check_writable(ctx, &gateway, table_id)?;
    MappingCheck {
        gateway: &gateway,
        table_id,
        exclude: Some(entry_id),
        port_break: req.port_break.unwrap_or(false),
        check_snat: !new.same_public_side(&old),
    }
    .run(ctx, &new)?;
    let name = given(req.forward_entry_name.as_ref())
        .map(str::to_string)
        .or(Some(entry.forward_entry_name));
    ForwardTableEntry::set_pending(ctx, entry_id, |wire| {
        *wire = forward_wire(&new, entry_id, table_id, &gateway.id, name);
    });
    Ok(ModifyForwardEntryResponse::default())
}

pub(super) fn describe_forward_table_entries(
    ctx: &mut Ctx<'_>,
    req: DescribeForwardTableEntries,
) -> Result<DescribeForwardTableEntriesResponse, ApiError> {
    let filter = ForwardFilter::of(&req);
    let list = |ctx: &Ctx<'_>| {
        ForwardTableEntry::listed(
            ctx,
            req.forward_table_id.trim(),
            given(req.nat_gateway_id.as_ref()),
            "Specified forwardTableId does not exist",
            filter.entry_id.is_some(),
            |e| filter.matches(e),
        )
    };
    let mut items = list(ctx)?;
    if ForwardTableEntry::shift_pages(ctx, &items, req.page_number, req.page_size) {
        items = list(ctx)?;
    }
    let (page, total, number, size) = paginate(&items, req.page_number, req.page_size)?;
    Ok(DescribeForwardTableEntriesResponse {
        total_count: Some(total),
        page_number: Some(number),
        page_size: Some(size),
        forward_table_entries: page,
        ..Default::default()
    })
}

/// The optional filters of DescribeForwardTableEntries.
struct ForwardFilter<'a> {
    entry_id: Option<&'a str>,
    external_ip: Option<&'a str>,
    external_port: Option<&'a str>,
    internal_ip: Option<&'a str>,
    internal_port: Option<&'a str>,
    protocol: Option<&'a str>,
    name: Option<&'a str>,
}

impl<'a> ForwardFilter<'a> {
    fn of(req: &'a DescribeForwardTableEntries) -> ForwardFilter<'a> {
        ForwardFilter {
            entry_id: given(req.forward_entry_id.as_ref()),
            external_ip: given(req.external_ip.as_ref()),
            external_port: given(req.external_port.as_ref()),
            internal_ip: given(req.internal_ip.as_ref()),
            internal_port: given(req.internal_port.as_ref()),
            protocol: given(req.ip_protocol.as_ref()),
            name: given(req.forward_entry_name.as_ref()),
        }
    }

    fn matches(&self, e: &ForwardTableEntry) -> bool {
        let exact = |want: Option<&str>, have: &str| want.is_none_or(|w| w == have);
        let folded = |want: Option<&str>, have: Option<&String>| {
            want.is_none_or(|w| have.is_some_and(|h| h.eq_ignore_ascii_case(w)))
        };
        exact(self.entry_id, &e.forward_entry_id)
            && exact(self.external_ip, &e.external_ip)
            && exact(self.internal_ip, &e.internal_ip)
            && exact(self.name, &e.forward_entry_name)
            && folded(self.external_port, e.external_port.as_ref())
            && folded(self.internal_port, e.internal_port.as_ref())
            && folded(self.protocol, Some(&e.ip_protocol))
    }
}

pub(super) fn delete_forward_entry(
    ctx: &mut Ctx<'_>,
    req: DeleteForwardEntry,
) -> Result<DeleteForwardEntryResponse, ApiError> {
    ForwardTableEntry::delete(
        ctx,
        &req.forward_table_id,
        &req.forward_entry_id,
        MISSING_FORWARD_TABLE,
        MISSING_FORWARD_ENTRY,
    )?;
    Ok(DeleteForwardEntryResponse::default())
}

#[cfg(test)]
mod tests;
