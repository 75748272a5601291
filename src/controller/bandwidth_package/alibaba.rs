//! An Alibaba Cloud NAT bandwidth package (legacy accounts only): shared
//! bandwidth plus public IPs on a NAT gateway.
//!
//! - The gateway is `natGatewayId`, or the NatGateway object `natGatewayRef`
//!   once it is Ready (its watch wakes the package).
//! - Create carries a ClientToken derived from the object's UID and the
//!   gateway, so replaying it after a crash or a lost answer returns the
//!   package already made instead of buying a second one. (A replay with
//!   other parameters is refused with `IdempotentParameterMismatch`: the
//!   object is then `Stalled` and says how to adopt the package.)
//! - `bandwidth` (ModifyBandwidthPackageSpec), `name` and `description`
//!   (ModifyBandwidthPackageAttribute) and `ipCount` (AddBandwidthPackageIps /
//!   RemoveBandwidthPackageIps) follow the spec. A lower `ipCount` removes the
//!   last IPs only, so that the positions `externalIpFrom`/`snatIpsFrom` count
//!   never shift, and only while they are idle; otherwise the object waits
//!   and `status.blockedBy` names the entries holding them.
//! - `convertToCommonBandwidth` converts once (ConvertBandwidthPackage): the
//!   package becomes a shared bandwidth (`status.convertedInstanceId`) whose
//!   IPs are EIPs on the same gateway. From then on the object only describes
//!   what happened: it is Ready with reason `Converted`, its spec is no longer
//!   applied, and deleting it leaves the shared bandwidth alone.

use std::time::Duration;

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::{KIND, Progress};
use crate::api::bandwidth_package::{
    AlibabaBandwidthPackage, BandwidthPackage, BlockingEntry, PackageIpAddress,
};
use crate::api::{EXTERNAL_ID_ANNOTATION, ForwardEntry, ManagementPolicy, NatGateway, SnatEntry};
use crate::cloud::ErrorCategory;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::bandwidth_package::{
    AddBandwidthPackageIps, BandwidthPackage as CloudPackage, ConvertBandwidthPackage,
    CreateBandwidthPackage, DeleteBandwidthPackage, DescribeBandwidthPackages,
    ModifyBandwidthPackageAttribute, ModifyBandwidthPackageSpec, RemoveBandwidthPackageIps,
};
use crate::controller::Context;
use crate::controller::identity::client_token;
use crate::controller::reconcile::{self, ReconcileError, event, key};
use crate::controller::status::{Verdict, apply_status_unchanged_since};

/// How long to wait before looking again at something outside natop's hands
/// (a gateway that is not Ready, IPs still in use).
const WAITING: Duration = Duration::from_secs(30);

/// At most this many IPs per RemoveBandwidthPackageIps call.
const MAX_REMOVED_PER_CALL: usize = 20;

/// What a write should do, decided from the spec and the package.
#[derive(Debug, PartialEq)]
enum Step {
    /// Matches the spec.
    InSync,
    /// The cloud is busy with it.
    Wait(String),
    Convert,
    Bandwidth(u32),
    Attribute {
        name: Option<String>,
        description: Option<String>,
    },
    AddIps(u32),
    RemoveIps(Vec<String>),
    /// The IPs to remove are in use.
    Blocked(Vec<PackageIpAddress>),
}

impl Step {
    fn differences(&self) -> Option<String> {
        Some(match self {
            Step::InSync | Step::Wait(_) => return None,
            Step::Convert => "convertToCommonBandwidth is true".into(),
            Step::Bandwidth(b) => format!("bandwidth should be {b} Mbps"),
            Step::Attribute { .. } => "name or description differ".into(),
            Step::AddIps(n) => format!("{n} IPs short"),
            Step::RemoveIps(ips) => format!("{} IPs too many", ips.len()),
            Step::Blocked(ips) => format!("{} IPs too many", ips.len()),
        })
    }
}

/// Compare the package with the spec; one change at a time (the package is
/// `Modifying`-free in the API, but one write per reconcile keeps every
/// write observed before the next).
fn decide(spec: &AlibabaBandwidthPackage, cloud: &CloudPackage) -> Step {
    if cloud.status != "Available" {
        return Step::Wait(format!("package is {}", cloud.status));
    }
    if spec.convert_to_common_bandwidth {
        return Step::Convert;
    }
    if cloud.bandwidth != Some(spec.bandwidth) {
        return Step::Bandwidth(spec.bandwidth);
    }
    let name = spec.name.clone().filter(|n| *n != cloud.name);
    let description = spec.description.clone().filter(|d| *d != cloud.description);
    if name.is_some() || description.is_some() {
        return Step::Attribute { name, description };
    }
    let held = cloud.public_ip_addresses.len();
    let wanted = spec.ip_count as usize;
    if held < wanted {
        return Step::AddIps(u32::try_from(wanted - held).unwrap_or(u32::MAX));
    }
    if held > wanted {
        let tail = &cloud.public_ip_addresses[wanted..];
        let busy: Vec<PackageIpAddress> = tail
            .iter()
            .filter(|ip| !is_idle(&ip.using_status))
            .map(|ip| PackageIpAddress {
                ip: ip.ip_address.clone(),
                allocation_id: ip.allocation_id.clone(),
                using_status: ip.using_status.clone(),
            })
            .collect();
        if !busy.is_empty() {
            return Step::Blocked(busy);
        }
        return Step::RemoveIps(
            tail.iter()
                .rev()
                .take(MAX_REMOVED_PER_CALL)
                .map(|ip| ip.ip_address.clone())
                .collect(),
        );
    }
    Step::InSync
}

/// `Idle` (or `Available`, as one reference spells it): used by no entry.
fn is_idle(using_status: &str) -> bool {
    using_status.eq_ignore_ascii_case("idle") || using_status.eq_ignore_ascii_case("available")
}

/// The gateway id, or a verdict saying what the package waits for.
async fn gateway_id(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
) -> Result<Result<String, Verdict>, ReconcileError> {
    if let Some(id) = &spec.nat_gateway_id {
        return Ok(Ok(id.clone()));
    }
    let Some(reference) = &spec.nat_gateway_ref else {
        return Ok(Err(Verdict::stalled(
            "InvalidSpec",
            "set natGatewayRef or natGatewayId",
        )));
    };
    let namespace = package.namespace().unwrap_or_default();
    let api: Api<NatGateway> = Api::namespaced(ctx.client.clone(), &namespace);
    let gateway = match api.get_opt(&reference.name).await {
        Ok(found) => found,
        Err(kube::Error::SerdeError(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let ready = gateway.as_ref().and_then(|g| {
        let status = g.status.as_ref()?;
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then(|| status.id.clone()).flatten()
    });
    Ok(match (ready, gateway) {
        (Some(id), _) => Ok(id),
        (None, Some(_)) => Err(Verdict::progressing(
            "WaitingForGateway",
            format!("NatGateway {} is not Ready", reference.name),
        )),
        (None, None) => Err(Verdict::progressing(
            "WaitingForGateway",
            format!("NatGateway {} does not exist (yet)", reference.name),
        )),
    })
}

async fn describe(
    client: &AlibabaClient,
    region: &str,
    id: &str,
) -> Result<Option<CloudPackage>, ReconcileError> {
    let found = client
        .describe_all(&DescribeBandwidthPackages {
            region_id: region.to_string(),
            bandwidth_package_id: Some(id.to_string()),
            ..Default::default()
        })
        .await?;
    Ok(found.into_iter().find(|p| p.bandwidth_package_id == id))
}

fn record(progress: &mut Progress, cloud: &CloudPackage) {
    let status = &mut progress.status;
    status.id = Some(cloud.bandwidth_package_id.clone());
    status.status = Some(cloud.status.clone());
    status.business_status = Some(cloud.business_status.clone()).filter(|s| !s.is_empty());
    status.public_ip_addresses = cloud
        .public_ip_addresses
        .iter()
        .map(|ip| PackageIpAddress {
            ip: ip.ip_address.clone(),
            allocation_id: ip.allocation_id.clone(),
            using_status: ip.using_status.clone(),
        })
        .collect();
}

/// The ClientToken of adding `count` IPs to `cloud`: one per intended change.
/// The same spec generation, the same IPs held and the same count give the
/// same token, so a retry after a lost answer (the IPs not listed yet) adds
/// nothing twice; a later change of the spec (ipCount 2→4→2→4) is a new
/// change with a new token, never a replay of the first answer.
fn add_ips_token(package: &BandwidthPackage, cloud: &CloudPackage, count: u32) -> String {
    let mut held: Vec<&str> = cloud
        .public_ip_addresses
        .iter()
        .map(|ip| ip.allocation_id.as_str())
        .collect();
    held.sort_unstable();
    client_token(
        &package.uid().unwrap_or_default(),
        &(
            KIND,
            "add-ips",
            &cloud.bandwidth_package_id,
            package.metadata.generation,
            held,
            count,
        ),
    )
}

/// `status.status` from just before CreateBandwidthPackage is sent until the
/// new package's id is recorded.
const ORDERING: &str = "Ordering";

/// The create of the package on `gateway` (replacing `earlier`), with its
/// ClientToken: sent again unchanged, it answers with the package it made.
fn create_request(
    spec: &AlibabaBandwidthPackage,
    region: &str,
    gateway: &str,
    package: &BandwidthPackage,
    earlier: Option<&str>,
) -> CreateBandwidthPackage {
    CreateBandwidthPackage {
        region_id: region.to_string(),
        nat_gateway_id: gateway.to_string(),
        bandwidth: Some(spec.bandwidth),
        ip_count: Some(spec.ip_count),
        name: spec.name.clone(),
        description: spec.description.clone(),
        isp: Some(spec.isp.as_str().to_string()),
        internet_charge_type: Some(spec.internet_charge_type.as_str().to_string()),
        zone: spec.zone.clone(),
        client_token: Some(create_token(package, gateway, earlier)),
    }
}

/// Whether a replayed create's failure says its token never made anything:
/// a refusal that will not change by trying again (a token that made a
/// package is answered with that package). Throttling, a busy resource, a
/// failed service or a lost answer say nothing.
pub fn refused(category: ErrorCategory) -> bool {
    matches!(
        category,
        ErrorCategory::NotFound
            | ErrorCategory::Auth
            | ErrorCategory::Validation
            | ErrorCategory::Quota
            | ErrorCategory::Dependency
            | ErrorCategory::FinancialLock
    )
}

/// The ClientToken of creating the package: the object and its gateway (and
/// the id of a package it replaces).
fn create_token(package: &BandwidthPackage, gateway: &str, earlier: Option<&str>) -> String {
    client_token(
        &package.uid().unwrap_or_default(),
        &(KIND, "create", gateway, earlier),
    )
}

/// Converge the package towards `spec`; fills `progress`.
pub async fn apply(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    let drift = reconcile::drift_interval(package, &ctx.config);
    if let Some(shared) = progress.status.converted_instance_id.clone() {
        ctx.pacing.settled(&object);
        progress.status.status = Some("Converted".into());
        progress.status.blocked_by.clear();
        progress.verdict = Verdict::ready(
            "Converted",
            format!(
                "converted into shared bandwidth {shared}: its IPs are EIPs on the same gateway; \
                 this object no longer manages a package, and deleting it leaves {shared} alone"
            ),
        );
        return Ok(Action::await_change());
    }
    let observe = spec_observe(package);
    let annotated = package.annotations().get(EXTERNAL_ID_ANNOTATION).cloned();
    let mut recorded = progress.status.id.clone().or(annotated.clone());
    let mut cloud = match &recorded {
        Some(id) => describe(client, region, id).await?,
        None => None,
    };
    if cloud.is_none() && !observe && annotated.is_none() {
        // About to buy: the cache may lag behind an id an earlier pass
        // recorded, so take the recorded id from a fresh read.
        let api: Api<BandwidthPackage> =
            Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
        let fresh = api.get_status(&package.name_any()).await?;
        let id = fresh.status.and_then(|s| s.id);
        if id != recorded {
            progress.status.id.clone_from(&id);
            recorded = id;
            if let Some(id) = &recorded {
                cloud = describe(client, region, id).await?;
            }
        }
    }
    let Some(cloud) = cloud else {
        if observe {
            ctx.pacing.settled(&object);
            progress.verdict = Verdict::stalled(
                "NotFound",
                match &recorded {
                    Some(id) => format!("package {id} does not exist (observed, not managed)"),
                    None => "no package to observe: set the annotation natop.dev/external-id"
                        .to_string(),
                },
            );
            return Ok(Action::requeue(drift));
        }
        return create(package, spec, ctx, client, region, recorded, progress).await;
    };
    record(progress, &cloud);
    let step = decide(spec, &cloud);
    if step != Step::InSync
        && !matches!(step, Step::Wait(_))
        && let (true, Some(what)) = (observe, step.differences())
    {
        ctx.pacing.settled(&object);
        progress.status.blocked_by.clear();
        progress.verdict = Verdict::stalled("Drifted", format!("observed, not managed: {what}"));
        return Ok(Action::requeue(drift));
    }
    if !matches!(step, Step::Blocked(_)) {
        progress.status.blocked_by.clear();
    }
    let id = cloud.bandwidth_package_id.clone();
    let soon = Action::requeue(ctx.pacing.transitional(&object));
    let changed = |what: String| Verdict::progressing("Updating", what);
    match step {
        Step::InSync => {
            ctx.pacing.settled(&object);
            progress.verdict = if observe {
                Verdict::ready(
                    "Observed",
                    format!("package {id} matches the spec (observed, not managed)"),
                )
            } else {
                Verdict::ready(
                    "Available",
                    format!("package {id} is available and matches the spec"),
                )
            };
            Ok(Action::requeue(drift))
        }
        Step::Wait(message) => {
            progress.verdict = Verdict::progressing("Creating", message);
            Ok(soon)
        }
        Step::Convert => {
            let response = client
                .call(&ConvertBandwidthPackage {
                    region_id: region.to_string(),
                    bandwidth_package_id: id.clone(),
                    client_token: Some(client_token(
                        &package.uid().unwrap_or_default(),
                        &(KIND, "convert", &id),
                    )),
                })
                .await?;
            let shared = response.convert_instance_id;
            progress.status.converted_instance_id = Some(shared.clone());
            progress.status.status = Some("Converted".into());
            let note = format!("converted package {id} into shared bandwidth {shared}");
            event(
                ctx,
                package,
                EventType::Normal,
                "Converted",
                "Convert",
                note.clone(),
            )
            .await;
            progress.verdict = Verdict::ready("Converted", note);
            Ok(Action::await_change())
        }
        Step::Bandwidth(bandwidth) => {
            client
                .call(&ModifyBandwidthPackageSpec {
                    region_id: region.to_string(),
                    bandwidth_package_id: id.clone(),
                    bandwidth: Some(bandwidth),
                })
                .await?;
            let note = format!("set the bandwidth of package {id} to {bandwidth} Mbps");
            event(
                ctx,
                package,
                EventType::Normal,
                "Updated",
                "Update",
                note.clone(),
            )
            .await;
            progress.verdict = changed(note);
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Step::Attribute { name, description } => {
            client
                .call(&ModifyBandwidthPackageAttribute {
                    region_id: region.to_string(),
                    bandwidth_package_id: id.clone(),
                    name,
                    description,
                })
                .await?;
            let note = format!("updated the name and description of package {id}");
            event(
                ctx,
                package,
                EventType::Normal,
                "Updated",
                "Update",
                note.clone(),
            )
            .await;
            progress.verdict = changed(note);
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Step::AddIps(count) => {
            client
                .call(&AddBandwidthPackageIps {
                    region_id: region.to_string(),
                    bandwidth_package_id: id.clone(),
                    ip_count: Some(count),
                    client_token: Some(add_ips_token(package, &cloud, count)),
                })
                .await?;
            let note = format!("added {count} IPs to package {id}");
            event(
                ctx,
                package,
                EventType::Normal,
                "Updated",
                "Update",
                note.clone(),
            )
            .await;
            progress.verdict = changed(note);
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Step::RemoveIps(ips) => {
            client
                .call(&RemoveBandwidthPackageIps {
                    region_id: region.to_string(),
                    bandwidth_package_id: id.clone(),
                    removed_ip_addresses: ips.clone(),
                    client_token: None,
                })
                .await?;
            let note = format!("removed idle IPs {} from package {id}", ips.join(", "));
            event(
                ctx,
                package,
                EventType::Normal,
                "Updated",
                "Update",
                note.clone(),
            )
            .await;
            progress.verdict = changed(note);
            Ok(Action::requeue(Duration::from_millis(200)))
        }
        Step::Blocked(busy) => {
            ctx.pacing.settled(&object);
            let blocked = blocking_entries(package, ctx, &busy).await?;
            let names: Vec<String> = blocked
                .iter()
                .map(|b| match (&b.name, &b.id) {
                    (Some(name), _) => format!("{} {name} uses {}", b.kind, b.ip),
                    (None, Some(id)) => format!("{} entry {id} uses {}", b.kind, b.ip),
                    (None, None) => format!("a {} entry uses {}", b.kind, b.ip),
                })
                .collect();
            progress.status.blocked_by = blocked;
            progress.verdict = Verdict::progressing(
                "IpsInUse",
                format!(
                    "cannot lower ipCount to {}: the last IPs of package {id} are in use ({}); \
                     they are removed once idle",
                    spec.ip_count,
                    names.join("; ")
                ),
            );
            Ok(Action::requeue(WAITING))
        }
    }
}

fn spec_observe(package: &BandwidthPackage) -> bool {
    package.spec.management_policy == ManagementPolicy::Observe
}

#[allow(clippy::too_many_arguments)]
async fn create(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    earlier: Option<String>,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let gateway = match gateway_id(package, spec, ctx).await? {
        Ok(id) => id,
        Err(verdict) => {
            progress.verdict = verdict;
            return Ok(Action::requeue(WAITING));
        }
    };
    // Recorded before the call: should natop stop before it records the id,
    // a delete replays this create (same token) to learn which package it
    // made, instead of concluding there is none.
    // Written once (the conditions as they are, so that retries after a
    // refusal do not make the object flap), over the version just read.
    let api: Api<BandwidthPackage> =
        Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
    let fresh = api.get_status(&package.name_any()).await?;
    let recorded = fresh.status.clone().unwrap_or_default();
    progress.status.status = Some(ORDERING.into());
    if recorded.status.as_deref() != Some(ORDERING) {
        let mut record = progress.status.clone();
        record.conditions = recorded.conditions;
        record.observed_generation = recorded.observed_generation;
        apply_status_unchanged_since(&api, &fresh, &record).await?;
    }
    let response = client
        .call(&create_request(
            spec,
            region,
            &gateway,
            package,
            earlier.as_deref(),
        ))
        .await;
    let id = match response {
        Ok(r) => r.bandwidth_package_id,
        Err(e) if e.code() == Some("IdempotentParameterMismatch") => {
            progress.verdict = Verdict::stalled(
                "IdempotentParameterMismatch",
                "a package was already created for this object with other parameters; \
                 find it on the gateway and set the annotation natop.dev/external-id to adopt it",
            );
            return Ok(Action::await_change());
        }
        // The record stays: whatever the answer, a delete replays this
        // create, and a refusal then says nothing was made.
        Err(e) => return Err(e.into()),
    };
    progress.status.id = Some(id.clone());
    progress.status.status = Some("Creating".into());
    let note = match &earlier {
        Some(old) => format!("package {old} was gone; created {id} on gateway {gateway}"),
        None => format!("created package {id} on gateway {gateway}"),
    };
    let reason = if earlier.is_some() {
        "Recreated"
    } else {
        "Created"
    };
    event(
        ctx,
        package,
        EventType::Normal,
        reason,
        "Create",
        note.clone(),
    )
    .await;
    progress.verdict = Verdict::progressing("Creating", note);
    Ok(Action::requeue(ctx.pacing.transitional(&key(package))))
}

/// The entries using `busy` IPs: natop objects of the namespace first, else
/// what the cloud says.
async fn blocking_entries(
    package: &BandwidthPackage,
    ctx: &Context,
    busy: &[PackageIpAddress],
) -> Result<Vec<BlockingEntry>, ReconcileError> {
    let namespace = package.namespace().unwrap_or_default();
    let forwards: Api<ForwardEntry> = Api::namespaced(ctx.client.clone(), &namespace);
    let snats: Api<SnatEntry> = Api::namespaced(ctx.client.clone(), &namespace);
    let forwards = forwards.list(&Default::default()).await?.items;
    let snats = snats.list(&Default::default()).await?.items;
    let mut blocked = Vec::new();
    for ip in busy {
        let mut found = false;
        for f in &forwards {
            let status = f.status.as_ref();
            if status.and_then(|s| s.external_ip.as_deref()) == Some(ip.ip.as_str()) {
                found = true;
                blocked.push(BlockingEntry {
                    ip: ip.ip.clone(),
                    kind: "ForwardEntry".into(),
                    name: Some(f.name_any()),
                    id: status.and_then(|s| s.id.clone()),
                });
            }
        }
        for s in &snats {
            let status = s.status.as_ref();
            let uses = status
                .and_then(|s| s.snat_ips.as_deref())
                .is_some_and(|ips| ips.split(',').any(|i| i.trim() == ip.ip));
            if uses {
                found = true;
                blocked.push(BlockingEntry {
                    ip: ip.ip.clone(),
                    kind: "SnatEntry".into(),
                    name: Some(s.name_any()),
                    id: status.and_then(|s| s.id.clone()),
                });
            }
        }
        if !found {
            let kind = if ip.using_status.contains("Snat") {
                "SnatEntry"
            } else {
                "ForwardEntry"
            };
            blocked.push(BlockingEntry {
                ip: ip.ip.clone(),
                kind: kind.into(),
                name: None,
                id: None,
            });
        }
    }
    Ok(blocked)
}

/// Delete the package: `None` once it is gone, else when to look again.
pub async fn cleanup(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    if let Some(shared) = progress.status.converted_instance_id.clone() {
        event(
            ctx,
            package,
            EventType::Normal,
            "Orphaned",
            "Delete",
            format!("the package became shared bandwidth {shared}; left it in the cloud"),
        )
        .await;
        return Ok(None);
    }
    // Only what this object recorded: an annotation it never adopted names
    // nothing of its own.
    let recorded = progress.status.id.clone();
    let listed = match &recorded {
        Some(id) => describe(client, region, id).await?,
        None => None,
    };
    let ordering = progress.status.status.as_deref() == Some(ORDERING);
    let id = match (listed, recorded, ordering) {
        (Some(found), _, _) => found.bandwidth_package_id,
        // A create was sent (or about to be) and its package never recorded
        // (natop stopped, or the answer was lost): the same create, sent
        // again, answers with the package it made.
        (None, earlier, true) => {
            match replay_create(package, spec, ctx, client, region, earlier).await? {
                Some(id) => id,
                None => return Ok(None),
            }
        }
        (None, None, false) => return Ok(None),
        (None, Some(id), false) => {
            event(
                ctx,
                package,
                EventType::Normal,
                "Deleted",
                "Delete",
                format!("package {id} is gone"),
            )
            .await;
            return Ok(None);
        }
    };
    let deleted = client
        .call(&DeleteBandwidthPackage {
            region_id: region.to_string(),
            bandwidth_package_id: id.clone(),
            force: None,
        })
        .await;
    match deleted {
        Ok(_) => {}
        Err(e) if e.code().is_some_and(|c| c.ends_with(".NotFound")) => {}
        Err(e)
            if e.code()
                .is_some_and(|c| c.starts_with("DependencyViolation")) =>
        {
            let code = e.code().unwrap_or_default().to_string();
            progress.verdict = Verdict::progressing(
                &reconcile::sanitize_reason(&code),
                format!(
                    "waiting to delete package {id}: DNAT or SNAT entries still use its IPs ({code})"
                ),
            );
            return Ok(Some(Action::requeue(WAITING)));
        }
        Err(e) => return Err(e.into()),
    }
    if describe(client, region, &id).await?.is_some() {
        progress.verdict =
            Verdict::progressing("Deleting", format!("waiting until package {id} is gone"));
        return Ok(Some(Action::requeue(
            ctx.pacing.transitional(&key(package)),
        )));
    }
    event(
        ctx,
        package,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!("deleted package {id}"),
    )
    .await;
    Ok(None)
}

/// The package an unrecorded create made, by sending that create again: the
/// token makes it answer with the package it made (had it never been sent,
/// this makes the package, which the caller then deletes). `None` when its
/// gateway is gone (and the package with it).
async fn replay_create(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    earlier: Option<String>,
) -> Result<Option<String>, ReconcileError> {
    let Ok(gateway) = gateway_id(package, spec, ctx).await? else {
        return Ok(None);
    };
    let request = create_request(spec, region, &gateway, package, earlier.as_deref());
    match client.call(&request).await {
        Ok(created) => Ok(Some(created.bandwidth_package_id)),
        // Refused for good: this create never made a package.
        Err(e) if refused(e.category()) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::actions::bandwidth_package::PublicIpAddress;

    fn spec() -> AlibabaBandwidthPackage {
        serde_json::from_value(serde_json::json!({
            "natGatewayId": "ngw-1", "bandwidth": 10, "ipCount": 2
        }))
        .unwrap()
    }

    fn cloud(ips: &[(&str, &str)]) -> CloudPackage {
        CloudPackage {
            bandwidth_package_id: "bwp-1".into(),
            status: "Available".into(),
            bandwidth: Some(10),
            public_ip_addresses: ips
                .iter()
                .map(|(ip, using)| PublicIpAddress {
                    ip_address: ip.to_string(),
                    allocation_id: format!("nateip-{ip}"),
                    using_status: using.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn one_change_at_a_time_in_a_fixed_order() {
        let two = [("1.1.1.1", "Idle"), ("1.1.1.2", "Idle")];
        assert_eq!(decide(&spec(), &cloud(&two)), Step::InSync);
        let mut s = spec();
        s.bandwidth = 20;
        s.name = Some("edge".into());
        assert_eq!(decide(&s, &cloud(&two)), Step::Bandwidth(20));
        s.bandwidth = 10;
        assert_eq!(
            decide(&s, &cloud(&two)),
            Step::Attribute {
                name: Some("edge".into()),
                description: None
            }
        );
        let mut creating = cloud(&two);
        creating.status = "Creating".into();
        assert!(matches!(decide(&s, &creating), Step::Wait(_)));
        let mut c = spec();
        c.convert_to_common_bandwidth = true;
        assert_eq!(decide(&c, &cloud(&two)), Step::Convert);
    }

    #[test]
    fn only_a_refusal_says_a_create_made_nothing() {
        use ErrorCategory as C;
        for (category, expected) in [
            (C::Throttled, false),
            (C::Busy, false),
            (C::Auth, true),
            (C::Validation, true),
            (C::Quota, true),
            (C::Dependency, true),
            (C::Unavailable, false),
            (C::Transport, false),
            (C::Timeout, false),
            (C::Decode, false),
            (C::UnknownOutcome, false),
            (C::Conflict, false),
        ] {
            assert_eq!(refused(category), expected, "{category:?}");
        }
    }

    #[test]
    fn an_ip_add_token_is_one_per_intended_change() {
        let package = |generation: i64| -> BandwidthPackage {
            serde_json::from_value(serde_json::json!({
                "apiVersion": "natop.dev/v1alpha1",
                "kind": "BandwidthPackage",
                "metadata": {"name": "pkg", "namespace": "ns", "uid": "u-1", "generation": generation},
                "spec": {"alibaba": {"natGatewayId": "ngw-1", "bandwidth": 10, "ipCount": 4}},
            }))
            .unwrap()
        };
        let two = cloud(&[("1.1.1.1", "Idle"), ("1.1.1.2", "Idle")]);
        let reversed = cloud(&[("1.1.1.2", "Idle"), ("1.1.1.1", "Idle")]);
        let other = cloud(&[("1.1.1.1", "Idle"), ("1.1.1.3", "Idle")]);
        let first = add_ips_token(&package(2), &two, 2);
        // A retry of the same change is the same call: a replay adds nothing twice.
        assert_eq!(first, add_ips_token(&package(2), &two, 2));
        assert_eq!(first, add_ips_token(&package(2), &reversed, 2));
        // ipCount 2→4→2→4: the second growth is a change of its own.
        assert_ne!(first, add_ips_token(&package(4), &two, 2));
        // Other IPs held or another count: another change.
        assert_ne!(first, add_ips_token(&package(2), &other, 2));
        assert_ne!(first, add_ips_token(&package(2), &two, 1));
        assert!(first.len() <= 64 && first.starts_with("natop-"), "{first}");
    }

    #[test]
    fn ip_count_grows_and_shrinks_from_the_tail_only_while_idle() {
        let mut s = spec();
        s.ip_count = 4;
        let two = [("1.1.1.1", "Idle"), ("1.1.1.2", "UsedByForwardTable")];
        assert_eq!(decide(&s, &cloud(&two)), Step::AddIps(2));
        s.ip_count = 1;
        // The second IP is in use: nothing is removed, the busy one is named.
        match decide(&s, &cloud(&two)) {
            Step::Blocked(busy) => assert_eq!(busy[0].ip, "1.1.1.2"),
            other => panic!("{other:?}"),
        }
        // An idle tail goes, even when an earlier IP is in use.
        let three = [
            ("1.1.1.1", "UsedBySnatTable"),
            ("1.1.1.2", "idle"),
            ("1.1.1.3", "Idle"),
        ];
        assert_eq!(
            decide(&s, &cloud(&three)),
            Step::RemoveIps(vec!["1.1.1.3".into(), "1.1.1.2".into()])
        );
    }
}
