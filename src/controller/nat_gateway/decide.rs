//! The NatGateway decisions: pure functions from the spec and what the cloud
//! shows to the next cloud action. No client, no I/O: unit-tested alone.
//!
//! Longer than most files (about 630 lines before its tests) on purpose: the
//! order of the checks in [`decide`] is the gateway's whole lifecycle, and
//! each check is a few lines that read best next to the others.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::api::EXTERNAL_ID_ANNOTATION;
use crate::api::nat_gateway::{
    InstanceChargeType, InternetChargeType, NatGatewaySpec, NatType, NetworkType, PricingCycle,
};
use crate::api::validation::starts_with_letter;
use crate::cloud::alibaba::actions::eip::{AssociateEipAddress, EipAddress, UnassociateEipAddress};
use crate::cloud::alibaba::actions::nat_gateway::{
    CreateNatGateway, GetNatGatewayConvertStatusResponse, ModifyNatGatewayAttribute,
    ModifyNatGatewaySpec, NatGateway, Tag, UpdateNatGatewayNatType,
};
use crate::cloud::alibaba::actions::tag::{NAT_GATEWAY, TagResources, UnTagResources};
use crate::controller::identity::{
    OWNED_BY_ANOTHER_OPERATOR, Ownership, RESERVED_TAG_PREFIX, client_token, foreign_owner,
};

/// Who is asking, beside the spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The object's UID (ClientToken and owner tag).
    pub uid: String,
    /// The region calls go to.
    pub region: String,
    /// The gateway id natop knows (status or the external-id annotation).
    pub id: Option<String>,
    /// `Observe`: never write.
    pub observe_only: bool,
    /// The gateway was adopted through the annotation rather than created.
    pub adopted: bool,
    /// The tags naming natop's owner id and the object, which every gateway
    /// natop creates or manages carries.
    pub ownership: Ownership,
    /// The user's tags natop applied before (`status.tags`): a key no
    /// longer in `spec.tags` is removed from the gateway.
    pub applied_tags: BTreeMap<String, String>,
}

/// What the cloud shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    /// The gateway, when it exists.
    pub gateway: Option<NatGateway>,
    /// EIPs bound to the gateway, and every EIP the spec names (any state).
    pub eips: Vec<EipAddress>,
    /// Conversion progress, when one is or was under way.
    pub conversion: Option<GetNatGatewayConvertStatusResponse>,
}

/// The next step towards the spec.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Nothing to do: the gateway matches the spec.
    InSync,
    /// The cloud is busy with the gateway or an EIP; look again soon.
    Wait {
        /// CamelCase reason (`Creating`, `Modifying`, `Converting`, `Associating`, ...).
        reason: String,
        /// What a person reads.
        message: String,
    },
    /// Create the gateway (ClientToken and owner tag set).
    Create(CreateNatGateway),
    /// Rename or re-describe it.
    ModifyAttribute(ModifyNatGatewayAttribute),
    /// Resize it.
    ModifySpec(ModifyNatGatewaySpec),
    /// Convert Normal → Enhanced.
    Convert(UpdateNatGatewayNatType),
    /// Add or correct tags (natop's own and `spec.tags`).
    Tag(TagResources),
    /// Remove tags `spec.tags` no longer lists.
    Untag(UnTagResources),
    /// Bind an EIP.
    Associate(AssociateEipAddress),
    /// Unbind an EIP the spec no longer lists.
    Unassociate(UnassociateEipAddress),
    /// Observe only, and the cloud differs from the spec: report, never write.
    Drifted {
        /// What differs.
        message: String,
    },
    /// The spec cannot be reached (immutable field changed, Enhanced → Normal,
    /// an EIP bound elsewhere): Stalled until the object changes.
    Invalid {
        /// CamelCase reason (`InvalidSpec`, `EipInUse`, ...).
        reason: String,
        /// What a person reads and what to change.
        message: String,
    },
}

const AVAILABLE: &str = "Available";
const CONVERTING: &str = "Converting";
const ENHANCED: &str = "Enhanced";
const IN_USE: &str = "InUse";
const ASSOCIATING: &str = "Associating";
const UNASSOCIATING: &str = "Unassociating";
const NAT_INSTANCE: &str = "Nat";

// ---------------------------------------------------------------------------
// decide
// ---------------------------------------------------------------------------

/// The next step for `spec` (valid by the CRD's schema and CEL rules, which
/// the API server enforces), given what the cloud shows: the first of —
/// create (or report a missing gateway); an immutable change;
/// Enhanced → Normal; a busy gateway; in Observe mode, drift; otherwise the
/// first write still needed (convert, resize, rename, bind, unbind).
pub fn decide(spec: &NatGatewaySpec, subject: &Subject, observed: &Observed) -> Step {
    let Some(gateway) = &observed.gateway else {
        return missing_gateway(spec, subject);
    };
    let target = Target::new(subject, gateway);
    another_operators(&target)
        .or_else(|| immutable_change(spec, gateway))
        .or_else(|| downgrade(spec, &target))
        .or_else(|| size_without_one(spec, &target))
        .or_else(|| busy(&target, observed.conversion.as_ref()))
        .unwrap_or_else(|| {
            if subject.observe_only {
                drift(spec, &target, &observed.eips)
            } else {
                next_write(spec, &target, observed)
            }
        })
}

/// The gateway being reconciled and who asks.
struct Target<'a> {
    subject: &'a Subject,
    gateway: &'a NatGateway,
    /// The gateway id (the cloud's, or the one natop knows when the cloud left it out).
    id: &'a str,
}

impl<'a> Target<'a> {
    fn new(subject: &'a Subject, gateway: &'a NatGateway) -> Self {
        let id = if gateway.nat_gateway_id.is_empty() {
            subject.id.as_deref().unwrap_or_default()
        } else {
            gateway.nat_gateway_id.as_str()
        };
        Target {
            subject,
            gateway,
            id,
        }
    }

    fn region(&self) -> String {
        self.subject.region.clone()
    }
}

fn invalid(reason: &str, message: impl Into<String>) -> Step {
    Step::Invalid {
        reason: reason.to_string(),
        message: message.into(),
    }
}

fn wait(reason: &str, message: impl Into<String>) -> Step {
    Step::Wait {
        reason: reason.to_string(),
        message: message.into(),
    }
}

/// A cloud status as a condition reason, or `Unknown` when it is not one
/// word of letters and digits (condition reasons allow nothing else).
fn reason_of(status: &str) -> &str {
    let usable = status
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && status.chars().all(|c| c.is_ascii_alphanumeric());
    if usable { status } else { "Unknown" }
}

// --- 1. no gateway ---------------------------------------------------------

fn missing_gateway(spec: &NatGatewaySpec, subject: &Subject) -> Step {
    let which = subject
        .id
        .as_deref()
        .map_or_else(|| "the gateway".to_string(), |id| format!("gateway {id}"));
    let region = &subject.region;
    if subject.observe_only {
        return invalid(
            "NotFound",
            format!(
                "{which} does not exist in {region}, and spec.managementPolicy Observe never creates one: create it, point the object at an existing gateway, or set spec.managementPolicy to Manage"
            ),
        );
    }
    if subject.adopted {
        return invalid(
            "ExternalResourceNotFound",
            format!(
                "{which}, named by the {EXTERNAL_ID_ANNOTATION} annotation, does not exist in {region}: fix the annotation, or remove it to let natop create a gateway"
            ),
        );
    }
    Step::Create(create_request(spec, subject))
}

fn create_request(spec: &NatGatewaySpec, subject: &Subject) -> CreateNatGateway {
    let prepaid = spec.instance_charge_type == InstanceChargeType::PrePaid;
    let mut request = CreateNatGateway {
        region_id: subject.region.clone(),
        vpc_id: spec.vpc_id.clone(),
        vswitch_id: spec.v_switch_id.clone(),
        nat_type: Some(nat_type_name(spec.nat_type).to_string()),
        spec: spec.specification.map(|size| size.as_str().to_string()),
        // Only when not the cloud's default, so that an internet gateway's
        // request (and its ClientToken) is what it was before natop knew
        // of network types.
        network_type: (spec.network_type != NetworkType::Internet)
            .then(|| network_type_name(spec.network_type).to_string()),
        name: spec.name.clone(),
        description: spec.description.clone(),
        instance_charge_type: Some(charge_type_name(spec.instance_charge_type).to_string()),
        // The subscription settings only go with PrePaid: the cloud wants them
        // omitted for PostPaid, and wants AutoPay with PrePaid (false unless set:
        // never spend on the user's behalf by default).
        pricing_cycle: spec
            .pricing_cycle
            .filter(|_| prepaid)
            .map(|c| cycle_name(c).to_string()),
        duration: spec.duration.filter(|_| prepaid),
        auto_pay: prepaid.then(|| spec.auto_pay.unwrap_or(false)),
        internet_charge_type: create_charge_type(spec).map(str::to_string),
        tags: wanted_tags(spec, subject)
            .into_iter()
            .map(|(key, value)| Tag {
                key,
                value: Some(value),
            })
            .collect(),
        ..CreateNatGateway::default()
    };
    // A re-create after an out-of-band delete must not reuse the first
    // create's token: the cloud would answer with the deleted gateway.
    request.client_token = Some(token(&subject.uid, &request, subject.id.as_deref()));
    request
}

/// A ClientToken for `request` on behalf of `uid`. `earlier` names an earlier
/// attempt that is over (a deleted gateway, a failed conversion): the cloud
/// replays the first answer to a token it has seen, so a new attempt needs a
/// new token, while retries of one attempt keep theirs.
fn token<P: Serialize, E: Serialize>(uid: &str, request: &P, earlier: Option<E>) -> String {
    match earlier {
        None => client_token(uid, request),
        Some(earlier) => client_token(uid, &(request, earlier)),
    }
}

fn nat_type_name(nat_type: NatType) -> &'static str {
    match nat_type {
        NatType::Normal => "Normal",
        NatType::Enhanced => ENHANCED,
    }
}

fn network_type_name(network: NetworkType) -> &'static str {
    match network {
        NetworkType::Internet => "internet",
        NetworkType::Intranet => "intranet",
    }
}

/// The charge type a create names: the spec's; or `PayBySpec` for an
/// Enhanced gateway with a size, which only that billing has (the cloud's
/// default for Enhanced is `PayByLcu`, without a size).
fn create_charge_type(spec: &NatGatewaySpec) -> Option<&'static str> {
    match (spec.internet_charge_type, spec.nat_type, spec.specification) {
        (Some(charge), _, _) => Some(internet_charge_name(charge)),
        (None, NatType::Enhanced, Some(_)) => Some("PayBySpec"),
        (None, _, _) => None,
    }
}

/// Whether a gateway the cloud reports has a size (`Spec`): a Normal one
/// (`NatType` as reported), or one billed by specification. An Enhanced
/// gateway billed by capacity units (`PayByLcu`) has none, whatever `Spec`
/// says, so it is never resized.
pub fn sized(nat_type: &str, internet_charge_type: &str) -> bool {
    nat_type != ENHANCED || internet_charge_type == "PayBySpec"
}

fn charge_type_name(charge: InstanceChargeType) -> &'static str {
    match charge {
        InstanceChargeType::PostPaid => "PostPaid",
        InstanceChargeType::PrePaid => "PrePaid",
    }
}

fn cycle_name(cycle: PricingCycle) -> &'static str {
    match cycle {
        PricingCycle::Month => "Month",
        PricingCycle::Year => "Year",
    }
}

fn internet_charge_name(charge: InternetChargeType) -> &'static str {
    match charge {
        InternetChargeType::PayBySpec => "PayBySpec",
        InternetChargeType::PayByLcu => "PayByLcu",
    }
}

// --- 2.–4. what blocks every write -----------------------------------------

/// An immutable setting that differs from the cloud. A value the cloud does
/// not report (empty) cannot differ.
fn immutable_change(spec: &NatGatewaySpec, gateway: &NatGateway) -> Option<Step> {
    let vswitch = gateway
        .nat_gateway_private_info
        .as_ref()
        .map_or("", |info| info.vswitch_id.as_str());
    [
        ("spec.vpcId", "is in", gateway.vpc_id.as_str(), Some(spec.vpc_id.as_str())),
        ("spec.vSwitchId", "is in", vswitch, spec.v_switch_id.as_deref()),
        (
            "spec.networkType",
            "is",
            gateway.network_type.as_str(),
            Some(network_type_name(spec.network_type)),
        ),
        (
            "spec.internetChargeType",
            "is billed",
            gateway.internet_charge_type.as_str(),
            spec.internet_charge_type.map(internet_charge_name),
        ),
        (
            "spec.instanceChargeType",
            "is",
            gateway.instance_charge_type.as_str(),
            Some(charge_type_name(spec.instance_charge_type)),
        ),
    ]
    .into_iter()
    .find_map(|(field, verb, cloud, wanted)| {
        let wanted = wanted?;
        (!cloud.is_empty() && cloud != wanted).then(|| {
            invalid(
                "InvalidSpec",
                format!("{field} is immutable: the gateway {verb} {cloud}, the spec says {wanted}; restore it or create a new NatGateway"),
            )
        })
    })
}

fn downgrade(spec: &NatGatewaySpec, target: &Target<'_>) -> Option<Step> {
    (spec.nat_type == NatType::Normal && target.gateway.nat_type == ENHANCED).then(|| {
        invalid(
            "InvalidSpec",
            format!("an Enhanced gateway cannot become Normal: {} is Enhanced; set spec.natType to Enhanced, or create a new NatGateway", target.id),
        )
    })
}

/// Any status but Available: the cloud accepts only queries meanwhile.
fn busy(
    target: &Target<'_>,
    conversion: Option<&GetNatGatewayConvertStatusResponse>,
) -> Option<Step> {
    let status = target.gateway.status.as_str();
    if status == AVAILABLE {
        return None;
    }
    let id = target.id;
    let message = match status {
        CONVERTING => format!(
            "{id} is converting to Enhanced{}",
            conversion_progress(conversion)
        ),
        "" => format!("{id} reports no status; waiting until it is Available"),
        _ => format!("{id} is {status}; waiting until it is Available"),
    };
    Some(wait(reason_of(status), message))
}

fn conversion_progress(conversion: Option<&GetNatGatewayConvertStatusResponse>) -> String {
    conversion
        .and_then(|c| c.convert_steps.last())
        .map(|step| format!(": step {} is {}", step.step_name, step.step_status))
        .unwrap_or_default()
}

// --- 5. Observe --------------------------------------------------------------

fn drift(spec: &NatGatewaySpec, target: &Target<'_>, eips: &[EipAddress]) -> Step {
    let differences = differences(spec, target, eips);
    if differences.is_empty() {
        return Step::InSync;
    }
    Step::Drifted {
        message: format!(
            "{} differs from the spec, and spec.managementPolicy Observe leaves it as it is: {}",
            target.id,
            differences.join("; ")
        ),
    }
}

fn differences(spec: &NatGatewaySpec, target: &Target<'_>, eips: &[EipAddress]) -> Vec<String> {
    let gateway = target.gateway;
    let mut found = Vec::new();
    if wants_conversion(spec, gateway) {
        found.push(format!(
            "spec.natType is Enhanced, the gateway is {}",
            cloud_nat_type(gateway)
        ));
    }
    if let Some(size) = resize(spec, gateway) {
        found.push(format!(
            "spec.specification is {size}, the gateway is {}",
            gateway.spec
        ));
    }
    if let Some(name) = changed(spec.name.as_deref(), &gateway.name) {
        found.push(format!(
            "spec.name is \"{name}\", the gateway's is \"{}\"",
            gateway.name
        ));
    }
    if let Some(text) = changed(spec.description.as_deref(), &gateway.description) {
        found.push(format!(
            "spec.description is \"{text}\", the gateway's is \"{}\"",
            gateway.description
        ));
    }
    for (key, value) in &spec.tags {
        match cloud_tag(gateway, key) {
            Some(have) if have == value => {}
            Some(have) => found.push(format!(
                "spec.tags {key} is \"{value}\", the gateway's is \"{have}\""
            )),
            None => found.push(format!("spec.tags {key} is not on the gateway")),
        }
    }
    for id in &spec.eip_allocation_ids {
        if !eips
            .iter()
            .any(|e| &e.allocation_id == id && bound_here(e, target.id))
        {
            found.push(format!(
                "spec.eipAllocationIds lists {id}, which is not bound to the gateway"
            ));
        }
    }
    for eip in extra_eips(spec, target.id, eips) {
        found.push(format!(
            "{} is bound to the gateway but not listed in spec.eipAllocationIds",
            eip.allocation_id
        ));
    }
    found
}

// --- 6. writes ---------------------------------------------------------------

fn next_write(spec: &NatGatewaySpec, target: &Target<'_>, observed: &Observed) -> Step {
    if wants_conversion(spec, target.gateway) {
        return convert(spec, target, observed);
    }
    if let Some(size) = resize(spec, target.gateway) {
        return modify_spec(spec, target, size);
    }
    tag_step(spec, target)
        .or_else(|| attribute_change(spec, target))
        .or_else(|| eip_step(spec, target, &observed.eips))
        .unwrap_or(Step::InSync)
}

/// The cloud leaves `NatType` out for some classic gateways: those are Normal.
fn cloud_nat_type(gateway: &NatGateway) -> &str {
    if gateway.nat_type.is_empty() {
        "Normal"
    } else {
        &gateway.nat_type
    }
}

fn wants_conversion(spec: &NatGatewaySpec, gateway: &NatGateway) -> bool {
    spec.nat_type == NatType::Enhanced && cloud_nat_type(gateway) != ENHANCED
}

fn convert(spec: &NatGatewaySpec, target: &Target<'_>, observed: &Observed) -> Step {
    // The cloud refuses to convert while an EIP of the gateway is half-way.
    if let Some(step) = eip_busy_on_gateway(target, &observed.eips) {
        return step;
    }
    let Some(vswitch) = spec.v_switch_id.clone() else {
        return invalid("InvalidSpec", "spec.natType Enhanced needs spec.vSwitchId");
    };
    let mut request = UpdateNatGatewayNatType {
        nat_gateway_id: target.id.to_string(),
        nat_type: ENHANCED.to_string(),
        region_id: target.region(),
        vswitch_id: vswitch,
        ..UpdateNatGatewayNatType::default()
    };
    // After a conversion that failed (the gateway is Normal again), the
    // last step it reported makes the retry's token new.
    let earlier = observed
        .conversion
        .as_ref()
        .and_then(|c| c.convert_steps.last());
    request.client_token = Some(token(&target.subject.uid, &request, earlier));
    Step::Convert(request)
}

fn eip_busy_on_gateway(target: &Target<'_>, eips: &[EipAddress]) -> Option<Step> {
    eips.iter()
        .filter(|e| bound_here(e, target.id))
        .find_map(|e| eip_in_flight(e, target.id))
}

/// The size to resize to: the spec's, when it names one, the gateway has a
/// size (by the type and billing the cloud reports) and it differs.
fn resize(spec: &NatGatewaySpec, gateway: &NatGateway) -> Option<&'static str> {
    let wanted = spec.specification?.as_str();
    (sized(cloud_nat_type(gateway), &gateway.internet_charge_type) && gateway.spec != wanted)
        .then_some(wanted)
}

/// A size asked of a gateway that has none (billed by capacity units): said,
/// instead of resized in vain.
fn size_without_one(spec: &NatGatewaySpec, target: &Target<'_>) -> Option<Step> {
    let gateway = target.gateway;
    let size = spec.specification?;
    (!sized(cloud_nat_type(gateway), &gateway.internet_charge_type)).then(|| {
        invalid(
            "InvalidSpec",
            format!(
                "spec.specification is {}, but {} is billed by capacity units ({}) and has no size: remove spec.specification",
                size.as_str(),
                target.id,
                gateway.internet_charge_type
            ),
        )
    })
}

/// No ClientToken: a resize is reversible, and the cloud replays the first
/// answer to a token it has seen, so a deterministic token would turn a later
/// resize back to this size into a silent no-op. The gateway shows
/// `Modifying` right away, so a lost answer is not re-sent.
fn modify_spec(spec: &NatGatewaySpec, target: &Target<'_>, size: &str) -> Step {
    let prepaid = spec.instance_charge_type == InstanceChargeType::PrePaid;
    Step::ModifySpec(ModifyNatGatewaySpec {
        nat_gateway_id: target.id.to_string(),
        region_id: target.region(),
        spec: size.to_string(),
        client_token: None,
        auto_pay: prepaid.then(|| spec.auto_pay.unwrap_or(false)),
    })
}

/// `wanted` when the spec sets it and it differs from the cloud's: an unset
/// field leaves the cloud's value (its default name is the gateway id).
fn changed<'s>(wanted: Option<&'s str>, cloud: &str) -> Option<&'s str> {
    wanted.filter(|w| *w != cloud)
}

fn attribute_change(spec: &NatGatewaySpec, target: &Target<'_>) -> Option<Step> {
    let name = changed(spec.name.as_deref(), &target.gateway.name);
    let description = changed(spec.description.as_deref(), &target.gateway.description);
    if name.is_none() && description.is_none() {
        return None;
    }
    // ModifyNatGatewayAttribute is stricter than CreateNatGateway here.
    if description.is_some_and(|d| !starts_with_letter(d)) {
        return Some(invalid(
            "InvalidSpec",
            "spec.description must start with a letter or a Chinese character to change the description of an existing gateway",
        ));
    }
    Some(Step::ModifyAttribute(ModifyNatGatewayAttribute {
        nat_gateway_id: target.id.to_string(),
        region_id: target.region(),
        name: name.map(str::to_string),
        description: description.map(str::to_string),
        ..ModifyNatGatewayAttribute::default()
    }))
}

// --- tags --------------------------------------------------------------------

/// Another operator's gateway (its owner tag names another owner id): never
/// changed, whatever names it. Observe may still look at it.
fn another_operators(target: &Target<'_>) -> Option<Step> {
    if target.subject.observe_only {
        return None;
    }
    let tags: Vec<(String, String)> = target
        .gateway
        .tags
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    let owner = foreign_owner(&target.subject.ownership.owner_id, &tags)?;
    Some(invalid(
        OWNED_BY_ANOTHER_OPERATOR,
        format!(
            "{} belongs to the natop whose owner id is \"{owner}\" (this one's is \"{}\"): \
             natop never changes another owner's gateway; run this natop with --owner-id {owner} \
             if it replaces that one, or point this object at another gateway",
            target.id, target.subject.ownership.owner_id
        ),
    ))
}

/// The tags a gateway natop manages carries: natop's own (owner id, kind,
/// object, UID) and the user's.
fn wanted_tags(spec: &NatGatewaySpec, subject: &Subject) -> BTreeMap<String, String> {
    let mut wanted: BTreeMap<String, String> = spec
        .tags
        .iter()
        .filter(|(k, _)| !k.starts_with(RESERVED_TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !subject.ownership.owner_id.is_empty() {
        wanted.extend(
            subject
                .ownership
                .tags()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v)),
        );
    }
    wanted
}

fn cloud_tag<'g>(gateway: &'g NatGateway, key: &str) -> Option<&'g str> {
    gateway
        .tags
        .iter()
        .find(|t| t.tag_key == key)
        .map(|t| t.tag_value.as_str())
}

/// Tag what is missing or differs (one call for all), then remove what
/// `spec.tags` no longer lists (only keys natop applied: a tag someone else
/// put on the gateway stays).
fn tag_step(spec: &NatGatewaySpec, target: &Target<'_>) -> Option<Step> {
    let missing: Vec<Tag> = wanted_tags(spec, target.subject)
        .into_iter()
        .filter(|(k, v)| cloud_tag(target.gateway, k) != Some(v.as_str()))
        .map(|(key, value)| Tag {
            key,
            value: Some(value),
        })
        .collect();
    if !missing.is_empty() {
        return Some(Step::Tag(TagResources {
            region_id: target.region(),
            resource_type: NAT_GATEWAY.to_string(),
            resource_id: vec![target.id.to_string()],
            tags: missing,
        }));
    }
    let dropped: Vec<String> = target
        .subject
        .applied_tags
        .keys()
        .filter(|k| !spec.tags.contains_key(*k) && !k.starts_with(RESERVED_TAG_PREFIX))
        .filter(|k| cloud_tag(target.gateway, k).is_some())
        .cloned()
        .collect();
    (!dropped.is_empty()).then(|| {
        Step::Untag(UnTagResources {
            region_id: target.region(),
            resource_type: NAT_GATEWAY.to_string(),
            resource_id: vec![target.id.to_string()],
            tag_key: dropped,
            all: None,
        })
    })
}

// --- EIPs --------------------------------------------------------------------

fn bound_here(eip: &EipAddress, gateway_id: &str) -> bool {
    eip.instance_id == gateway_id && eip.instance_type.eq_ignore_ascii_case(NAT_INSTANCE)
}

fn bound_elsewhere(eip: &EipAddress, gateway_id: &str) -> bool {
    !eip.instance_id.is_empty() && eip.instance_id != gateway_id
}

/// EIPs bound to the gateway that the spec does not list.
fn extra_eips<'a>(
    spec: &'a NatGatewaySpec,
    gateway_id: &'a str,
    eips: &'a [EipAddress],
) -> impl Iterator<Item = &'a EipAddress> {
    eips.iter().filter(move |e| {
        bound_here(e, gateway_id) && !spec.eip_allocation_ids.contains(&e.allocation_id)
    })
}

/// Bind what the spec lists, in its order, then unbind what it does not.
fn eip_step(spec: &NatGatewaySpec, target: &Target<'_>, eips: &[EipAddress]) -> Option<Step> {
    spec.eip_allocation_ids
        .iter()
        .find_map(|id| bind_step(target, id, eips))
        .or_else(|| extra_eips(spec, target.id, eips).find_map(|e| unbind_step(target, e)))
}

fn eip_in_flight(eip: &EipAddress, gateway_id: &str) -> Option<Step> {
    let id = &eip.allocation_id;
    match eip.status.as_str() {
        ASSOCIATING => Some(wait(
            ASSOCIATING,
            format!(
                "EIP {id} is being bound to {}; waiting until it is InUse",
                or_instance(&eip.instance_id, gateway_id)
            ),
        )),
        UNASSOCIATING => Some(wait(
            UNASSOCIATING,
            format!(
                "EIP {id} is being unbound from {}; waiting until it is Available",
                or_instance(&eip.instance_id, gateway_id)
            ),
        )),
        _ => None,
    }
}

fn or_instance<'a>(instance: &'a str, fallback: &'a str) -> &'a str {
    if instance.is_empty() {
        fallback
    } else {
        instance
    }
}

/// The step for one EIP the spec lists; `None` once it is bound here.
fn bind_step(target: &Target<'_>, id: &str, eips: &[EipAddress]) -> Option<Step> {
    let Some(eip) = eips.iter().find(|e| e.allocation_id == id) else {
        return Some(invalid(
            "EipNotFound",
            format!(
                "EIP {id} in spec.eipAllocationIds does not exist in {}: allocate it, or remove it from spec.eipAllocationIds",
                target.subject.region
            ),
        ));
    };
    // Leaving another instance: it will be free soon, so wait rather than stall.
    if eip.status == UNASSOCIATING {
        return eip_in_flight(eip, target.id);
    }
    if bound_elsewhere(eip, target.id) {
        return Some(invalid(
            "EipInUse",
            format!(
                "EIP {id} is bound to {} ({}): unbind it there, or remove it from spec.eipAllocationIds",
                eip.instance_id,
                or_instance(&eip.instance_type, "unknown type")
            ),
        ));
    }
    match eip.status.as_str() {
        ASSOCIATING => eip_in_flight(eip, target.id),
        AVAILABLE => Some(associate(target, id)),
        IN_USE => None,
        other => Some(wait(
            reason_of(other),
            format!("EIP {id} is {other}; waiting until it is Available or InUse"),
        )),
    }
}

/// No ClientToken: binding is reversible, and a token the cloud has seen
/// replays its first answer, so a deterministic token would make a re-bind
/// after an unbind a silent no-op. The EIP shows `Associating` right away,
/// so a lost answer is not re-sent.
fn associate(target: &Target<'_>, id: &str) -> Step {
    Step::Associate(AssociateEipAddress {
        region_id: target.region(),
        allocation_id: id.to_string(),
        instance_id: target.id.to_string(),
        instance_type: Some(NAT_INSTANCE.to_string()),
        ..AssociateEipAddress::default()
    })
}

/// The step for an EIP bound here that the spec does not list; no ClientToken,
/// for the reason [`associate`] gives.
fn unbind_step(target: &Target<'_>, eip: &EipAddress) -> Option<Step> {
    match eip.status.as_str() {
        IN_USE => Some(Step::Unassociate(UnassociateEipAddress {
            region_id: target.region(),
            allocation_id: eip.allocation_id.clone(),
            instance_id: Some(target.id.to_string()),
            instance_type: Some(NAT_INSTANCE.to_string()),
            ..UnassociateEipAddress::default()
        })),
        _ => eip_in_flight(eip, target.id),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::api::nat_gateway::Specification;
    use crate::cloud::alibaba::actions::nat_gateway::{
        ConvertStep, NatGatewayPrivateInfo, ResourceTag,
    };

    const UID: &str = "0f6f3c2e-8a3b-4c1d-9e2f-123456789abc";
    const REGION: &str = "cn-hangzhou";
    const GW: &str = "ngw-1";

    /// A spec from its JSON form, on top of `{"vpcId": "vpc-a"}`.
    /// A spec of the Normal gateway `gateway()` is (most cases are about a
    /// gateway that has a size); `enhanced_spec` is natType's default.
    fn spec(extra: Value) -> NatGatewaySpec {
        let mut value = json!({"vpcId": "vpc-a", "natType": "Normal"});
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    fn subject() -> Subject {
        Subject {
            uid: UID.to_string(),
            region: REGION.to_string(),
            id: Some(GW.to_string()),
            observe_only: false,
            adopted: false,
            ownership: Ownership::new("blue", "NatGateway", "team", "gw", UID),
            applied_tags: BTreeMap::new(),
        }
    }

    fn new_subject() -> Subject {
        Subject {
            id: None,
            ..subject()
        }
    }

    fn observe() -> Subject {
        Subject {
            observe_only: true,
            ..subject()
        }
    }

    /// An Available, Normal, Small, PostPaid gateway in vpc-a named by the cloud.
    fn gateway() -> NatGateway {
        NatGateway {
            nat_gateway_id: GW.to_string(),
            vpc_id: "vpc-a".to_string(),
            status: "Available".to_string(),
            nat_type: "Normal".to_string(),
            spec: "Small".to_string(),
            instance_charge_type: "PostPaid".to_string(),
            name: GW.to_string(),
            region_id: REGION.to_string(),
            tags: subject()
                .ownership
                .tags()
                .into_iter()
                .map(|(k, v)| ResourceTag {
                    tag_key: k.to_string(),
                    tag_value: v,
                })
                .collect(),
            ..NatGateway::default()
        }
    }

    fn tagged(mut gateway: NatGateway, key: &str, value: &str) -> NatGateway {
        gateway.tags.retain(|t| t.tag_key != key);
        gateway.tags.push(ResourceTag {
            tag_key: key.to_string(),
            tag_value: value.to_string(),
        });
        gateway
    }

    #[test]
    fn tags_natop_s_own_and_the_user_s_and_removes_only_what_natop_applied() {
        let step = |spec_tags: Value, applied: &[(&str, &str)], gateway: NatGateway| {
            let subject = Subject {
                applied_tags: applied
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..subject()
            };
            decide(
                &spec(json!({"tags": spec_tags})),
                &subject,
                &seen(gateway, vec![]),
            )
        };
        let tags_of = |step: &Step| match step {
            Step::Tag(r) => r
                .tags
                .iter()
                .map(|t| format!("{}={}", t.key, t.value.clone().unwrap_or_default()))
                .collect::<Vec<_>>(),
            other => panic!("not a tag step: {other:?}"),
        };
        // In sync: natop's tags and the user's are there.
        let both = tagged(gateway(), "team", "payments");
        assert_eq!(
            step(json!({"team": "payments"}), &[], both.clone()),
            Step::InSync
        );
        // A user tag missing or changed, in one call.
        let got = step(json!({"team": "payments", "cost": "42"}), &[], gateway());
        assert_eq!(tags_of(&got), ["cost=42", "team=payments"]);
        let got = step(
            json!({"team": "payments"}),
            &[],
            tagged(gateway(), "team", "other"),
        );
        assert_eq!(tags_of(&got), ["team=payments"]);
        // natop's own tags (an older gateway, or an adopted one whose UID tag
        // names the object it was made for).
        let got = step(
            json!({}),
            &[],
            tagged(both.clone(), "natop.dev/owner-uid", "old"),
        );
        assert_eq!(tags_of(&got), [format!("natop.dev/owner-uid={UID}")]);
        let got = step(
            json!({}),
            &[],
            NatGateway {
                tags: vec![],
                ..gateway()
            },
        );
        assert_eq!(tags_of(&got).len(), 4);
        // A key natop applied and the spec dropped goes; one someone else
        // put there stays.
        let extra = tagged(both.clone(), "console", "x");
        match step(json!({}), &[("team", "payments")], extra.clone()) {
            Step::Untag(r) => assert_eq!(r.tag_key, vec!["team".to_string()]),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            step(json!({}), &[], tagged(gateway(), "console", "x")),
            Step::InSync
        );
        // Observe reports a differing user tag, and writes nothing.
        let observed = Subject {
            observe_only: true,
            ..subject()
        };
        let got = decide(
            &spec(json!({"tags": {"team": "payments"}})),
            &observed,
            &seen(gateway(), vec![]),
        );
        assert!(
            matches!(&got, Step::Drifted { message } if message.contains("spec.tags team")),
            "{got:?}"
        );
    }

    #[test]
    fn never_changes_another_operator_s_gateway() {
        let foreign = tagged(gateway(), "natop.dev/owner", "green");
        let got = decide(
            &spec(json!({"specification": "Large"})),
            &subject(),
            &seen(foreign.clone(), vec![]),
        );
        assert_eq!(reason(&got), "OwnedByAnotherOperator");
        assert!(
            message(&got).contains("green") && message(&got).contains("--owner-id green"),
            "{got:?}"
        );
        // Observe may look at it.
        let observed = Subject {
            observe_only: true,
            ..subject()
        };
        assert_eq!(
            decide(&spec(json!({})), &observed, &seen(foreign, vec![])),
            Step::InSync
        );
    }

    fn enhanced(vswitch: &str) -> NatGateway {
        NatGateway {
            nat_type: "Enhanced".to_string(),
            nat_gateway_private_info: Some(NatGatewayPrivateInfo {
                vswitch_id: vswitch.to_string(),
                ..NatGatewayPrivateInfo::default()
            }),
            ..gateway()
        }
    }

    fn with_status(status: &str) -> NatGateway {
        NatGateway {
            status: status.to_string(),
            ..gateway()
        }
    }

    fn eip(id: &str, status: &str, instance: &str) -> EipAddress {
        EipAddress {
            allocation_id: id.to_string(),
            status: status.to_string(),
            instance_id: instance.to_string(),
            instance_type: if instance.is_empty() {
                String::new()
            } else {
                "Nat".to_string()
            },
            region_id: REGION.to_string(),
            ..EipAddress::default()
        }
    }

    fn seen(gateway: NatGateway, eips: Vec<EipAddress>) -> Observed {
        Observed {
            gateway: Some(gateway),
            eips,
            conversion: None,
        }
    }

    fn gone() -> Observed {
        Observed::default()
    }

    fn reason(step: &Step) -> &str {
        match step {
            Step::Wait { reason, .. } | Step::Invalid { reason, .. } => reason,
            _ => "",
        }
    }

    fn message(step: &Step) -> &str {
        match step {
            Step::Wait { message, .. }
            | Step::Invalid { message, .. }
            | Step::Drifted { message } => message,
            _ => "",
        }
    }

    fn created(step: Step) -> CreateNatGateway {
        match step {
            Step::Create(request) => request,
            other => panic!("expected Create, got {other:?}"),
        }
    }

    fn is_write(step: &Step) -> bool {
        matches!(
            step,
            Step::Create(_)
                | Step::ModifyAttribute(_)
                | Step::ModifySpec(_)
                | Step::Convert(_)
                | Step::Associate(_)
                | Step::Unassociate(_)
        )
    }

    // --- 1. create -----------------------------------------------------------

    #[test]
    fn creates_a_missing_gateway_with_owner_tag_and_token() {
        let spec = spec(json!({
            "vSwitchId": "vsw-1", "natType": "Enhanced", "specification": "XLarge.1",
            "name": "main", "description": "main gateway", "internetChargeType": "PayBySpec",
        }));
        let request = created(decide(&spec, &new_subject(), &gone()));
        assert_eq!(request.region_id, REGION);
        assert_eq!(request.vpc_id, "vpc-a");
        assert_eq!(request.vswitch_id.as_deref(), Some("vsw-1"));
        assert_eq!(request.nat_type.as_deref(), Some("Enhanced"));
        assert_eq!(request.spec.as_deref(), Some("XLarge.1"));
        assert_eq!(request.name.as_deref(), Some("main"));
        assert_eq!(request.description.as_deref(), Some("main gateway"));
        assert_eq!(request.instance_charge_type.as_deref(), Some("PostPaid"));
        assert_eq!(request.internet_charge_type.as_deref(), Some("PayBySpec"));
        assert_eq!(request.network_type, None, "internet: the cloud's default");
        assert_eq!(
            (
                request.pricing_cycle.as_deref(),
                request.duration,
                request.auto_pay
            ),
            (None, None, None)
        );
        let tag = |key: &str, value: &str| Tag {
            key: key.to_string(),
            value: Some(value.to_string()),
        };
        assert_eq!(
            request.tags,
            vec![
                tag("natop.dev/kind", "NatGateway"),
                tag("natop.dev/object", "team/gw"),
                tag("natop.dev/owner", "blue"),
                tag("natop.dev/owner-uid", UID),
            ]
        );
        let token = request.client_token.clone().unwrap();
        let without = CreateNatGateway {
            client_token: None,
            ..request
        };
        assert_eq!(
            token,
            client_token(UID, &without),
            "derived from the parameters without the token"
        );
    }

    #[test]
    fn create_sends_normal_explicitly_and_defaults_unset_fields() {
        let request = created(decide(&spec(json!({})), &new_subject(), &gone()));
        assert_eq!(request.nat_type.as_deref(), Some("Normal"));
        assert_eq!(request.spec, None, "no size named: the cloud's default");
        assert_eq!(
            (request.name, request.description, request.vswitch_id),
            (None, None, None)
        );
        assert_eq!(request.internet_charge_type, None);
    }

    fn enhanced_spec(extra: Value) -> NatGatewaySpec {
        let mut value = json!({"vpcId": "vpc-a", "vSwitchId": "vsw-1"});
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    /// An Enhanced gateway billed by capacity units, as the cloud reports one:
    /// no size.
    fn enhanced_gateway() -> NatGateway {
        NatGateway {
            nat_type: "Enhanced".to_string(),
            spec: String::new(),
            internet_charge_type: "PayByLcu".to_string(),
            nat_gateway_private_info: Some(NatGatewayPrivateInfo {
                vswitch_id: "vsw-1".to_string(),
                ..NatGatewayPrivateInfo::default()
            }),
            ..gateway()
        }
    }

    #[test]
    fn only_gateways_billed_by_specification_have_a_size() {
        // (NatType, InternetChargeType as the cloud reports them): sized?
        let table = [
            ("Normal", "", true),
            ("Normal", "PayBySpec", true),
            ("", "", true),
            ("Enhanced", "PayBySpec", true),
            ("Enhanced", "PayByLcu", false),
            ("Enhanced", "", false),
        ];
        for (nat_type, charge, expected) in table {
            assert_eq!(sized(nat_type, charge), expected, "{nat_type:?} {charge:?}");
        }
    }

    #[test]
    fn a_default_gateway_is_enhanced_in_its_vswitch_without_a_size() {
        let request = created(decide(&enhanced_spec(json!({})), &new_subject(), &gone()));
        assert_eq!(request.nat_type.as_deref(), Some("Enhanced"));
        assert_eq!(request.vswitch_id.as_deref(), Some("vsw-1"));
        assert_eq!((request.spec, request.internet_charge_type), (None, None));
        let intranet = created(decide(
            &enhanced_spec(json!({"networkType": "intranet"})),
            &new_subject(),
            &gone(),
        ));
        assert_eq!(intranet.network_type.as_deref(), Some("intranet"));
        // A size asks for the billing that has one.
        let sized = created(decide(
            &enhanced_spec(json!({"specification": "Large"})),
            &new_subject(),
            &gone(),
        ));
        assert_eq!(
            (sized.spec.as_deref(), sized.internet_charge_type.as_deref()),
            (Some("Large"), Some("PayBySpec"))
        );
        let normal = created(decide(
            &spec(json!({"specification": "Large"})),
            &new_subject(),
            &gone(),
        ));
        assert_eq!(
            (normal.spec.as_deref(), normal.internet_charge_type),
            (Some("Large"), None)
        );
    }

    #[test]
    fn a_gateway_without_a_size_is_never_resized() {
        // Whatever the cloud reports as its Spec: no resize for a gateway
        // billed by capacity units, and a size asked of it is refused.
        for reported in ["", "Small", "Large"] {
            let cloud = NatGateway {
                spec: reported.to_string(),
                ..enhanced_gateway()
            };
            let step = decide(
                &enhanced_spec(json!({})),
                &subject(),
                &seen(cloud.clone(), Vec::new()),
            );
            assert_eq!(step, Step::InSync, "{reported:?}");
            let mut sized_spec = enhanced_spec(json!({}));
            sized_spec.specification = Some(Specification::Middle);
            let step = decide(&sized_spec, &subject(), &seen(cloud, Vec::new()));
            assert_eq!(reason(&step), "InvalidSpec", "{reported:?}: {step:?}");
            assert!(message(&step).contains("has no size"), "{step:?}");
        }
        // A Normal gateway keeps the size it has when the spec names none, and
        // is resized when it names another; so is an Enhanced one billed by
        // specification.
        let large = NatGateway {
            spec: "Large".to_string(),
            ..gateway()
        };
        assert_eq!(
            decide(
                &spec(json!({})),
                &subject(),
                &seen(large.clone(), Vec::new())
            ),
            Step::InSync
        );
        assert!(matches!(
            decide(
                &spec(json!({"specification": "Middle"})),
                &subject(),
                &seen(large, Vec::new())
            ),
            Step::ModifySpec(_)
        ));
        let by_spec = NatGateway {
            internet_charge_type: "PayBySpec".to_string(),
            spec: "Small".to_string(),
            ..enhanced_gateway()
        };
        assert!(matches!(
            decide(
                &enhanced_spec(json!({"specification": "Middle"})),
                &subject(),
                &seen(by_spec, Vec::new())
            ),
            Step::ModifySpec(_)
        ));
    }

    #[test]
    fn the_network_type_and_the_billing_are_immutable() {
        let step = decide(
            &enhanced_spec(json!({"networkType": "intranet"})),
            &subject(),
            &seen(
                NatGateway {
                    network_type: "internet".to_string(),
                    ..enhanced_gateway()
                },
                Vec::new(),
            ),
        );
        assert!(
            message(&step).contains("spec.networkType is immutable"),
            "{step:?}"
        );
        let step = decide(
            &enhanced_spec(json!({"internetChargeType": "PayBySpec"})),
            &subject(),
            &seen(enhanced_gateway(), Vec::new()),
        );
        assert!(
            message(&step).contains("spec.internetChargeType is immutable"),
            "{step:?}"
        );
    }

    #[test]
    fn create_sends_subscription_settings_only_for_prepaid() {
        let prepaid =
            spec(json!({"instanceChargeType": "PrePaid", "pricingCycle": "Year", "duration": 2}));
        let request = created(decide(&prepaid, &new_subject(), &gone()));
        assert_eq!(request.instance_charge_type.as_deref(), Some("PrePaid"));
        assert_eq!(request.pricing_cycle.as_deref(), Some("Year"));
        assert_eq!(request.duration, Some(2));
        assert_eq!(
            request.auto_pay,
            Some(false),
            "AutoPay is required with PrePaid; never pay unasked"
        );
        let paid = spec(
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1, "autoPay": true}),
        );
        assert_eq!(
            created(decide(&paid, &new_subject(), &gone())).auto_pay,
            Some(true)
        );
        let postpaid = spec(json!({"pricingCycle": "Month", "duration": 1, "autoPay": true}));
        let request = created(decide(&postpaid, &new_subject(), &gone()));
        assert_eq!(
            (request.pricing_cycle, request.duration, request.auto_pay),
            (None, None, None)
        );
    }

    #[test]
    fn create_token_is_stable_for_a_spec_and_changes_with_it() {
        let token = |extra: Value, subject: &Subject| {
            created(decide(&spec(extra), subject, &gone()))
                .client_token
                .unwrap()
        };
        let first = token(json!({"specification": "Middle"}), &new_subject());
        assert_eq!(
            first,
            token(json!({"specification": "Middle"}), &new_subject())
        );
        assert!(first.len() <= 64 && first.is_ascii(), "{first}");
        for (extra, subject) in [
            (json!({"specification": "Large"}), new_subject()),
            (
                json!({"specification": "Middle", "name": "other"}),
                new_subject(),
            ),
            (
                json!({"specification": "Middle"}),
                Subject {
                    uid: "another-uid".to_string(),
                    ..new_subject()
                },
            ),
        ] {
            assert_ne!(first, token(extra.clone(), &subject), "{extra} {subject:?}");
        }
    }

    #[test]
    fn recreates_a_gateway_deleted_out_of_band_with_a_new_token() {
        let spec = spec(json!({}));
        let first = created(decide(&spec, &new_subject(), &gone()));
        let again = created(decide(&spec, &subject(), &gone()));
        assert_eq!(
            CreateNatGateway {
                client_token: None,
                ..again.clone()
            },
            CreateNatGateway {
                client_token: None,
                ..first.clone()
            }
        );
        // The first token would make the cloud answer with the deleted gateway.
        assert_ne!(again.client_token, first.client_token);
        assert_eq!(
            again,
            created(decide(&spec, &subject(), &gone())),
            "stable across retries"
        );
        let later = Subject {
            id: Some("ngw-2".to_string()),
            ..subject()
        };
        assert_ne!(
            created(decide(&spec, &later, &gone())).client_token,
            again.client_token
        );
    }

    #[test]
    fn never_creates_for_observe_or_an_adopted_gateway() {
        let spec = spec(json!({}));
        let cases = [
            (observe(), "NotFound"),
            (
                Subject {
                    id: None,
                    ..observe()
                },
                "NotFound",
            ),
            (
                Subject {
                    adopted: true,
                    ..observe()
                },
                "NotFound",
            ),
            (
                Subject {
                    adopted: true,
                    ..subject()
                },
                "ExternalResourceNotFound",
            ),
        ];
        for (subject, expected) in cases {
            let step = decide(&spec, &subject, &gone());
            assert!(
                matches!(step, Step::Invalid { .. }),
                "{subject:?}: {step:?}"
            );
            assert_eq!(reason(&step), expected, "{subject:?}");
        }
        let step = decide(&spec, &observe(), &gone());
        assert!(
            message(&step).contains("ngw-1") && message(&step).contains("Observe"),
            "{step:?}"
        );
        let step = decide(
            &spec,
            &Subject {
                adopted: true,
                ..subject()
            },
            &gone(),
        );
        assert!(message(&step).contains(EXTERNAL_ID_ANNOTATION), "{step:?}");
    }

    // --- 2.–4. immutable, downgrade, busy ------------------------------------

    #[test]
    fn refuses_changes_to_immutable_settings() {
        let cases = [
            (
                spec(json!({"vpcId": "vpc-b"})),
                gateway(),
                "spec.vpcId is immutable: the gateway is in vpc-a, the spec says vpc-b; restore it or create a new NatGateway",
            ),
            (
                spec(json!({"natType": "Enhanced", "vSwitchId": "vsw-b"})),
                enhanced("vsw-a"),
                "spec.vSwitchId is immutable: the gateway is in vsw-a, the spec says vsw-b",
            ),
            (
                spec(
                    json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1}),
                ),
                gateway(),
                "spec.instanceChargeType is immutable: the gateway is PostPaid, the spec says PrePaid",
            ),
        ];
        for (spec, gateway, expected) in cases {
            for subject in [subject(), observe()] {
                let step = decide(&spec, &subject, &seen(gateway.clone(), vec![]));
                assert_eq!(reason(&step), "InvalidSpec", "{step:?}");
                assert!(message(&step).contains(expected), "{step:?}");
            }
        }
    }

    #[test]
    fn compares_the_vswitch_only_where_the_cloud_reports_one() {
        // A Normal gateway shows no private info: a vSwitch set ahead of a
        // conversion is not a difference.
        let step = decide(
            &spec(json!({"vSwitchId": "vsw-b"})),
            &subject(),
            &seen(gateway(), vec![]),
        );
        assert_eq!(step, Step::InSync);
        let blank = NatGateway {
            nat_gateway_private_info: Some(NatGatewayPrivateInfo::default()),
            ..gateway()
        };
        assert_eq!(
            decide(
                &spec(json!({"vSwitchId": "vsw-b"})),
                &subject(),
                &seen(blank, vec![])
            ),
            Step::InSync
        );
    }

    #[test]
    fn refuses_enhanced_to_normal() {
        for subject in [subject(), observe()] {
            let step = decide(&spec(json!({})), &subject, &seen(enhanced("vsw-a"), vec![]));
            assert_eq!(reason(&step), "InvalidSpec");
            assert!(
                message(&step).contains("an Enhanced gateway cannot become Normal"),
                "{step:?}"
            );
        }
    }

    #[test]
    fn waits_while_the_gateway_is_busy() {
        let spec = spec(
            json!({"specification": "Large", "name": "renamed", "eipAllocationIds": ["eip-1"]}),
        );
        for (status, expected) in [
            ("Creating", "Creating"),
            ("Modifying", "Modifying"),
            ("Converting", "Converting"),
            ("Deleting", "Deleting"),
            ("Initiating", "Initiating"),
            ("", "Unknown"),
            ("in progress", "Unknown"),
        ] {
            for subject in [subject(), observe()] {
                let step = decide(&spec, &subject, &seen(with_status(status), vec![]));
                assert!(matches!(step, Step::Wait { .. }), "{status}: {step:?}");
                assert_eq!(reason(&step), expected);
                assert!(message(&step).contains(GW), "{step:?}");
            }
        }
    }

    #[test]
    fn a_conversion_wait_names_the_current_step() {
        let spec = spec(json!({"natType": "Enhanced", "vSwitchId": "vsw-1"}));
        let mut observed = seen(with_status("Converting"), vec![]);
        let step = decide(&spec, &subject(), &observed);
        assert_eq!(step, wait("Converting", "ngw-1 is converting to Enhanced"));
        observed.conversion = Some(GetNatGatewayConvertStatusResponse {
            nat_gateway_id: GW.to_string(),
            dst_nat_type: "Enhanced".to_string(),
            convert_steps: vec![
                convert_step("init", "successful"),
                convert_step("check", "successful"),
                convert_step("configure", "processing"),
            ],
            ..GetNatGatewayConvertStatusResponse::default()
        });
        let step = decide(&spec, &subject(), &observed);
        assert_eq!(reason(&step), "Converting");
        assert!(
            message(&step).contains("step configure is processing"),
            "{step:?}"
        );
    }

    fn convert_step(name: &str, status: &str) -> ConvertStep {
        ConvertStep {
            step_name: name.to_string(),
            step_status: status.to_string(),
            step_start_time: "2020-08-26T08:27:19Z".to_string(),
        }
    }

    // --- 5. Observe ----------------------------------------------------------

    #[test]
    fn observe_reports_drift_and_never_writes() {
        let cases = [
            (
                json!({"natType": "Enhanced", "vSwitchId": "vsw-1"}),
                vec![],
                "spec.natType is Enhanced, the gateway is Normal",
            ),
            (
                json!({"specification": "Large"}),
                vec![],
                "spec.specification is Large, the gateway is Small",
            ),
            (
                json!({"name": "renamed"}),
                vec![],
                "spec.name is \"renamed\", the gateway's is \"ngw-1\"",
            ),
            (
                json!({"description": "new text"}),
                vec![],
                "spec.description is \"new text\"",
            ),
            (
                json!({"eipAllocationIds": ["eip-1"]}),
                vec![eip("eip-1", "Available", "")],
                "spec.eipAllocationIds lists eip-1, which is not bound",
            ),
            (
                json!({"eipAllocationIds": ["eip-1"]}),
                vec![],
                "spec.eipAllocationIds lists eip-1, which is not bound",
            ),
            (
                json!({}),
                vec![eip("eip-9", "InUse", GW)],
                "eip-9 is bound to the gateway but not listed",
            ),
        ];
        for (extra, eips, expected) in cases {
            let spec = spec(extra.clone());
            let observed = seen(gateway(), eips);
            let managed = decide(&spec, &subject(), &observed);
            assert!(
                is_write(&managed) || matches!(managed, Step::Invalid { .. }),
                "{extra}: Manage would act: {managed:?}"
            );
            let step = decide(&spec, &observe(), &observed);
            assert!(matches!(step, Step::Drifted { .. }), "{extra}: {step:?}");
            assert!(message(&step).contains(expected), "{extra}: {step:?}");
        }
    }

    #[test]
    fn observe_lists_every_difference() {
        let spec = spec(json!({"specification": "Large", "name": "renamed"}));
        let step = decide(&spec, &observe(), &seen(gateway(), vec![]));
        assert!(
            message(&step).contains("spec.specification") && message(&step).contains("spec.name"),
            "{step:?}"
        );
    }

    #[test]
    fn observe_in_sync() {
        let spec = spec(json!({"eipAllocationIds": ["eip-1"]}));
        let step = decide(
            &spec,
            &observe(),
            &seen(gateway(), vec![eip("eip-1", "InUse", GW)]),
        );
        assert_eq!(step, Step::InSync);
    }

    // --- 6. writes -----------------------------------------------------------

    #[test]
    fn converts_normal_to_enhanced_first() {
        let spec = spec(
            json!({"natType": "Enhanced", "vSwitchId": "vsw-1", "specification": "Large", "name": "renamed"}),
        );
        let step = decide(&spec, &subject(), &seen(gateway(), vec![]));
        let Step::Convert(request) = step else {
            panic!("expected Convert, got {step:?}");
        };
        assert_eq!(request.nat_gateway_id, GW);
        assert_eq!(request.region_id, REGION);
        assert_eq!(request.nat_type, "Enhanced");
        assert_eq!(request.vswitch_id, "vsw-1");
        assert_eq!(request.dry_run, None);
        let token = request.client_token.clone().unwrap();
        assert_eq!(
            token,
            client_token(
                UID,
                &UpdateNatGatewayNatType {
                    client_token: None,
                    ..request
                }
            )
        );
        // A gateway whose type the cloud leaves out is a classic (Normal) one.
        let blank = NatGateway {
            nat_type: String::new(),
            ..gateway()
        };
        assert!(matches!(
            decide(&spec, &subject(), &seen(blank, vec![])),
            Step::Convert(_)
        ));
    }

    #[test]
    fn a_new_conversion_after_a_failed_one_gets_a_new_token() {
        let spec = spec(json!({"natType": "Enhanced", "vSwitchId": "vsw-1"}));
        let token = |observed: &Observed| match decide(&spec, &subject(), observed) {
            Step::Convert(request) => request.client_token.unwrap(),
            other => panic!("expected Convert, got {other:?}"),
        };
        let first = token(&seen(gateway(), vec![]));
        let mut failed = seen(gateway(), vec![]);
        failed.conversion = Some(GetNatGatewayConvertStatusResponse {
            convert_steps: vec![
                convert_step("rollback", "successful"),
                convert_step("end_fail", "failed"),
            ],
            ..GetNatGatewayConvertStatusResponse::default()
        });
        assert_ne!(first, token(&failed));
        assert_eq!(token(&failed), token(&failed));
    }

    #[test]
    fn a_conversion_waits_for_an_eip_half_way() {
        let spec = spec(
            json!({"natType": "Enhanced", "vSwitchId": "vsw-1", "eipAllocationIds": ["eip-1"]}),
        );
        let step = decide(
            &spec,
            &subject(),
            &seen(gateway(), vec![eip("eip-1", "Associating", GW)]),
        );
        assert_eq!(reason(&step), "Associating", "{step:?}");
    }

    #[test]
    fn resizes_before_renaming() {
        let spec = spec(json!({"specification": "XLarge.1", "name": "renamed"}));
        let step = decide(&spec, &subject(), &seen(gateway(), vec![]));
        assert_eq!(
            step,
            Step::ModifySpec(ModifyNatGatewaySpec {
                nat_gateway_id: GW.to_string(),
                region_id: REGION.to_string(),
                spec: "XLarge.1".to_string(),
                client_token: None,
                auto_pay: None,
            })
        );
        let prepaid = spec_prepaid(json!({"specification": "Large"}));
        let prepaid_gateway = NatGateway {
            instance_charge_type: "PrePaid".to_string(),
            ..gateway()
        };
        let Step::ModifySpec(request) =
            decide(&prepaid, &subject(), &seen(prepaid_gateway, vec![]))
        else {
            panic!("expected ModifySpec");
        };
        assert_eq!(request.auto_pay, Some(false));
    }

    fn spec_prepaid(extra: Value) -> NatGatewaySpec {
        let mut value =
            json!({"instanceChargeType": "PrePaid", "pricingCycle": "Month", "duration": 1});
        if let (Some(base), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            base.extend(extra.clone());
        }
        spec(value)
    }

    fn attribute(name: Option<&str>, description: Option<&str>) -> Step {
        Step::ModifyAttribute(ModifyNatGatewayAttribute {
            nat_gateway_id: GW.to_string(),
            region_id: REGION.to_string(),
            name: name.map(str::to_string),
            description: description.map(str::to_string),
            ..ModifyNatGatewayAttribute::default()
        })
    }

    #[test]
    fn renames_and_redescribes_only_what_changed() {
        let described = NatGateway {
            description: "old text".to_string(),
            ..gateway()
        };
        let cases = [
            (
                json!({"name": "renamed"}),
                gateway(),
                attribute(Some("renamed"), None),
            ),
            (
                json!({"description": "new text"}),
                described.clone(),
                attribute(None, Some("new text")),
            ),
            (
                json!({"name": "renamed", "description": "new text"}),
                described.clone(),
                attribute(Some("renamed"), Some("new text")),
            ),
            (
                json!({"name": "renamed", "description": "old text"}),
                described.clone(),
                attribute(Some("renamed"), None),
            ),
            (
                json!({"name": "ngw-1", "description": "new text"}),
                described,
                attribute(None, Some("new text")),
            ),
            // No fight over the cloud's defaults when the spec sets nothing.
            (
                json!({}),
                NatGateway {
                    description: "set in the console".to_string(),
                    ..gateway()
                },
                Step::InSync,
            ),
        ];
        for (extra, gateway, expected) in cases {
            assert_eq!(
                decide(&spec(extra.clone()), &subject(), &seen(gateway, vec![])),
                expected,
                "{extra}"
            );
        }
    }

    #[test]
    fn refuses_a_description_the_modify_call_would_refuse() {
        let step = decide(
            &spec(json!({"description": "1st gateway"})),
            &subject(),
            &seen(gateway(), vec![]),
        );
        assert_eq!(reason(&step), "InvalidSpec");
        assert!(
            message(&step).contains("spec.description must start with a letter"),
            "{step:?}"
        );
        // Creating accepts it.
        assert!(matches!(
            decide(
                &spec(json!({"description": "1st gateway"})),
                &new_subject(),
                &gone()
            ),
            Step::Create(_)
        ));
    }

    fn associate_step(id: &str) -> Step {
        Step::Associate(AssociateEipAddress {
            region_id: REGION.to_string(),
            allocation_id: id.to_string(),
            instance_id: GW.to_string(),
            instance_type: Some("Nat".to_string()),
            ..AssociateEipAddress::default()
        })
    }

    fn unassociate_step(id: &str) -> Step {
        Step::Unassociate(UnassociateEipAddress {
            region_id: REGION.to_string(),
            allocation_id: id.to_string(),
            instance_id: Some(GW.to_string()),
            instance_type: Some("Nat".to_string()),
            ..UnassociateEipAddress::default()
        })
    }

    #[test]
    fn binds_and_unbinds_eips() {
        let two = json!({"eipAllocationIds": ["eip-1", "eip-2"]});
        let ecs = EipAddress {
            instance_type: "EcsInstance".to_string(),
            ..eip("eip-2", "InUse", "i-123")
        };
        let cases: Vec<(Value, Vec<EipAddress>, Step)> = vec![
            (
                two.clone(),
                vec![eip("eip-1", "Available", ""), eip("eip-2", "Available", "")],
                associate_step("eip-1"),
            ),
            (
                two.clone(),
                vec![eip("eip-1", "InUse", GW), eip("eip-2", "Available", "")],
                associate_step("eip-2"),
            ),
            (
                two.clone(),
                vec![
                    eip("eip-1", "Associating", GW),
                    eip("eip-2", "Available", ""),
                ],
                wait(
                    "Associating",
                    "EIP eip-1 is being bound to ngw-1; waiting until it is InUse",
                ),
            ),
            (
                two.clone(),
                vec![
                    eip("eip-1", "InUse", GW),
                    eip("eip-2", "Unassociating", "i-123"),
                ],
                wait(
                    "Unassociating",
                    "EIP eip-2 is being unbound from i-123; waiting until it is Available",
                ),
            ),
            (
                two.clone(),
                vec![eip("eip-1", "InUse", GW), eip("eip-2", "InUse", GW)],
                Step::InSync,
            ),
            (
                json!({"eipAllocationIds": ["eip-1"]}),
                vec![eip("eip-1", "InUse", GW), eip("eip-9", "InUse", GW)],
                unassociate_step("eip-9"),
            ),
            (
                json!({}),
                vec![eip("eip-9", "InUse", GW)],
                unassociate_step("eip-9"),
            ),
            (
                json!({}),
                vec![eip("eip-9", "Unassociating", GW)],
                wait(
                    "Unassociating",
                    "EIP eip-9 is being unbound from ngw-1; waiting until it is Available",
                ),
            ),
            (
                json!({}),
                vec![eip("eip-9", "Associating", GW)],
                wait(
                    "Associating",
                    "EIP eip-9 is being bound to ngw-1; waiting until it is InUse",
                ),
            ),
            // Binding what the spec lists comes before unbinding what it does not.
            (
                json!({"eipAllocationIds": ["eip-1"]}),
                vec![eip("eip-9", "InUse", GW), eip("eip-1", "Available", "")],
                associate_step("eip-1"),
            ),
            // EIPs of other instances are not this gateway's to unbind.
            (json!({}), vec![ecs.clone()], Step::InSync),
            (
                json!({"eipAllocationIds": ["eip-1"]}),
                vec![ecs, eip("eip-1", "InUse", GW)],
                Step::InSync,
            ),
        ];
        for (extra, eips, expected) in cases {
            let step = decide(
                &spec(extra.clone()),
                &subject(),
                &seen(gateway(), eips.clone()),
            );
            assert_eq!(step, expected, "{extra} {eips:?}");
        }
    }

    #[test]
    fn refuses_missing_eips_and_eips_bound_elsewhere() {
        let spec = spec(json!({"eipAllocationIds": ["eip-1", "eip-2"]}));
        let step = decide(
            &spec,
            &subject(),
            &seen(gateway(), vec![eip("eip-1", "InUse", GW)]),
        );
        assert_eq!(reason(&step), "EipNotFound");
        assert!(
            message(&step).contains("eip-2") && message(&step).contains(REGION),
            "{step:?}"
        );
        for status in ["InUse", "Associating"] {
            let elsewhere = EipAddress {
                instance_type: "EcsInstance".to_string(),
                ..eip("eip-2", status, "i-123")
            };
            let step = decide(
                &spec,
                &subject(),
                &seen(gateway(), vec![eip("eip-1", "InUse", GW), elsewhere]),
            );
            assert_eq!(reason(&step), "EipInUse", "{status}");
            assert!(message(&step).contains("i-123 (EcsInstance)"), "{step:?}");
            let other_gateway = eip("eip-2", status, "ngw-other");
            let step = decide(
                &spec,
                &subject(),
                &seen(gateway(), vec![eip("eip-1", "InUse", GW), other_gateway]),
            );
            assert_eq!(reason(&step), "EipInUse", "{status}");
            assert!(message(&step).contains("ngw-other"), "{step:?}");
        }
    }

    #[test]
    fn in_sync_when_everything_matches() {
        let spec = spec(json!({
            "natType": "Enhanced", "vSwitchId": "vsw-a", "specification": "Large",
            "name": "main", "description": "main gateway", "eipAllocationIds": ["eip-1"],
        }));
        let gateway = NatGateway {
            spec: "Large".to_string(),
            internet_charge_type: "PayBySpec".to_string(),
            name: "main".to_string(),
            description: "main gateway".to_string(),
            ..enhanced("vsw-a")
        };
        let observed = seen(gateway, vec![eip("eip-1", "InUse", GW)]);
        assert_eq!(decide(&spec, &subject(), &observed), Step::InSync);
        assert_eq!(decide(&spec, &observe(), &observed), Step::InSync);
    }

    #[test]
    fn uses_the_known_id_when_the_cloud_leaves_it_out() {
        let nameless = NatGateway {
            nat_gateway_id: String::new(),
            ..gateway()
        };
        let step = decide(
            &spec(json!({"eipAllocationIds": ["eip-1"]})),
            &subject(),
            &seen(nameless, vec![eip("eip-1", "Available", "")]),
        );
        assert_eq!(step, associate_step("eip-1"));
    }
}
