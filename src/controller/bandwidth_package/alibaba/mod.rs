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

pub mod cleanup;
pub mod decide;

use std::time::Duration;

use crate::controller::engine::Action;
use kube::{Api, ResourceExt};

pub use self::cleanup::cleanup;
use self::decide::{Adoptable, Input, Queue, Step, adoptable, decide, same_package};
use super::KIND;
use crate::api::bandwidth_package::BandwidthPackageStatus;
use crate::api::bandwidth_package::{
    AlibabaBandwidthPackage, BandwidthPackage, BlockingEntry, PackageIpAddress,
};
use crate::api::{ForwardEntry, ManagementPolicy, NatGateway, SnatEntry};
use crate::cloud::ErrorCategory;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::bandwidth_package::{
    AddBandwidthPackageIps, BandwidthPackage as CloudPackage, ConvertBandwidthPackage,
    CreateBandwidthPackage, DescribeBandwidthPackages, ModifyBandwidthPackageAttribute,
    ModifyBandwidthPackageSpec, RemoveBandwidthPackageIps,
};
use crate::controller::Context;
use crate::controller::engine::read_through;
use crate::controller::engine::{self, Draft};
use crate::controller::identity::client_token;
use crate::controller::reconcile::{self, ReconcileError, key, tell};
use crate::controller::status::{Verdict, apply_status_unchanged_since};

/// How long to wait before looking again at something outside natop's hands
/// (a gateway that is not Ready, IPs still in use).
/// Say a change was sent (event `Updated`, verdict `Updating`), and look
/// again soon.
async fn updated(
    ctx: &Context,
    package: &BandwidthPackage,
    draft: &mut Draft<BandwidthPackageStatus>,
    note: String,
) -> Result<Action, ReconcileError> {
    tell(ctx, package, "Updated", "Update", note.clone()).await;
    draft.verdict = Verdict::progressing("Updating", note);
    Ok(Action::requeue(Duration::from_millis(200)))
}

pub(super) const WAITING: Duration = Duration::from_secs(30);

/// The gateway id, or a verdict saying what the package waits for.
pub(super) async fn gateway_id(
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
    let ready_id = |g: &NatGateway| {
        let status = g.status.as_ref()?;
        let ready = status
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        ready.then(|| status.id.clone()).flatten()
    };
    let gateway = read_through(ctx, &namespace, &reference.name, |g: &NatGateway| {
        ready_id(g).is_some()
    })
    .await?;
    let ready = gateway.as_ref().and_then(ready_id);
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

/// Where `package` stands among the other objects on its gateway that ask
/// for the same package and have none recorded (oldest first).
fn queue(package: &BandwidthPackage, spec: &AlibabaBandwidthPackage, ctx: &Context) -> Queue {
    let Some(store) = ctx.stores.get::<BandwidthPackage>() else {
        return Queue::default();
    };
    let namespace = package.namespace();
    let uid = package.uid();
    let me = (package.creation_timestamp(), package.name_any());
    let mut queue = Queue::default();
    for guard in store.state() {
        let Ok(other) = guard.0.as_ref() else {
            continue;
        };
        let status = other.status.clone().unwrap_or_default();
        let asks = other.uid() != uid
            && other.namespace() == namespace
            && other.metadata.deletion_timestamp.is_none()
            && status.id.is_none()
            && other
                .spec
                .alibaba
                .as_ref()
                .is_some_and(|theirs| same_package(spec, theirs));
        if !asks {
            continue;
        }
        queue.in_flight |= status.status.as_deref() == Some(ORDERING);
        if (other.creation_timestamp(), other.name_any()) < me {
            queue.rank += 1;
        }
    }
    queue
}

/// Whether the package's gateway is a NatGateway object's whose gateway
/// carries this natop's owner id.
async fn gateway_owned(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
) -> Result<bool, ReconcileError> {
    let Some(reference) = &spec.nat_gateway_ref else {
        return Ok(false);
    };
    let owner = |g: &NatGateway| g.status.as_ref().and_then(|s| s.owner_id.clone());
    let namespace = package.namespace().unwrap_or_default();
    let gateway = read_through(ctx, &namespace, &reference.name, |g: &NatGateway| {
        owner(g).is_some()
    })
    .await?;
    Ok(gateway
        .and_then(|g| g.status)
        .and_then(|s| s.owner_id)
        .is_some_and(|owner| owner == ctx.config.owner_id))
}

pub(super) async fn describe(
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

fn record(draft: &mut Draft<BandwidthPackageStatus>, cloud: &CloudPackage) {
    let status = &mut draft.status;
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
pub(super) const ORDERING: &str = "Ordering";

/// The create of the package on `gateway` (replacing `earlier`), with its
/// ClientToken: sent again unchanged, it answers with the package it made.
pub(super) fn create_request(
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

/// Converge the package towards `spec`; fills `draft`.
pub async fn apply(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    let drift = reconcile::drift_interval(package, &ctx.config);
    let observe = spec_observe(package);
    let annotated = draft.known.annotated.clone();
    let mut input = Input {
        converted: draft.status.converted_instance_id.clone(),
        observe,
        wanted: draft.status.id.clone().or(annotated.clone()),
        package: None,
    };
    if input.converted.is_none() {
        input.package = match &input.wanted {
            Some(id) => describe(client, region, id).await?,
            None => None,
        };
        if input.package.is_none() && !observe && annotated.is_none() {
            // About to buy: the cache may lag behind an id an earlier pass
            // recorded, so take the recorded id from a fresh read.
            let api: Api<BandwidthPackage> =
                Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
            let fresh = api.get_status(&package.name_any()).await?;
            let id = fresh.status.and_then(|s| s.id);
            if id != input.wanted {
                draft.status.id.clone_from(&id);
                input.wanted = id;
                if let Some(id) = &input.wanted {
                    input.package = describe(client, region, id).await?;
                }
            }
        }
    }
    if let Some(cloud) = &input.package {
        record(draft, cloud);
    }
    let step = decide(spec, &input);
    if !matches!(step, Step::Blocked(_)) {
        draft.status.blocked_by.clear();
    }
    let cloud = input.package.clone().unwrap_or_default();
    let id = cloud.bandwidth_package_id.clone();
    let soon = Action::requeue(ctx.pacing.transitional(&object));
    match step {
        Step::Converted(shared) => {
            ctx.pacing.settled(&object);
            draft.status.status = Some("Converted".into());
            draft.verdict = Verdict::ready(
                "Converted",
                format!(
                    "converted into shared bandwidth {shared}: its IPs are EIPs on the same \
                     gateway; this object no longer manages a package, and deleting it leaves \
                     {shared} alone"
                ),
            );
            Ok(Action::await_change())
        }
        Step::NotFound(wanted) => {
            ctx.pacing.settled(&object);
            draft.verdict = Verdict::stalled(
                "NotFound",
                match &wanted {
                    Some(id) => format!("package {id} does not exist (observed, not managed)"),
                    None => "no package to observe: set the annotation natop.dev/external-id"
                        .to_string(),
                },
            );
            Ok(Action::requeue(drift))
        }
        Step::Create { earlier } => {
            create(package, spec, ctx, client, region, earlier, draft).await
        }
        Step::Drifted(what) => {
            ctx.pacing.settled(&object);
            draft.observed(&format!("package {id}"), Some(what));
            Ok(Action::requeue(drift))
        }
        Step::InSync => {
            ctx.pacing.settled(&object);
            if observe {
                draft.observed(&format!("package {id}"), None);
            } else {
                draft.verdict = Verdict::in_sync(&format!("package {id}"), false);
            }
            Ok(Action::requeue(drift))
        }
        Step::Wait(message) => {
            draft.verdict = Verdict::progressing("Creating", message);
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
            draft.status.converted_instance_id = Some(shared.clone());
            draft.status.status = Some("Converted".into());
            let note = format!("converted package {id} into shared bandwidth {shared}");
            tell(ctx, package, "Converted", "Convert", note.clone()).await;
            draft.verdict = Verdict::ready("Converted", note);
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
            updated(ctx, package, draft, note).await
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
            updated(ctx, package, draft, note).await
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
            updated(ctx, package, draft, note).await
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
            updated(ctx, package, draft, note).await
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
            draft.status.blocked_by = blocked;
            draft.verdict = Verdict::progressing(
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
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Action, ReconcileError> {
    let gateway = match gateway_id(package, spec, ctx).await? {
        Ok(id) => id,
        Err(verdict) => {
            draft.verdict = verdict;
            return Ok(Action::requeue(WAITING));
        }
    };
    if earlier.is_none() && gateway_owned(package, spec, ctx).await? {
        // Nothing recorded, on a gateway this natop owns: a package made
        // for this object before (a cluster rebuilt from Git) is adopted
        // rather than bought again.
        let on_gateway = client
            .describe_all(&DescribeBandwidthPackages {
                region_id: region.to_string(),
                nat_gateway_id: Some(gateway.clone()),
                ..Default::default()
            })
            .await?;
        let uid = package.uid().unwrap_or_default();
        let claimed: Vec<String> = engine::claims::<BandwidthPackage>(ctx)
            .into_iter()
            .filter(|c| c.uid != uid)
            .flat_map(|c| [c.recorded, c.annotated])
            .flatten()
            .collect();
        match adoptable(spec, &on_gateway, &claimed, &queue(package, spec, ctx)) {
            Adoptable::None => {}
            Adoptable::One(id) => {
                if let Some(cloud) = on_gateway.iter().find(|p| p.bandwidth_package_id == id) {
                    record(draft, cloud);
                }
                let note = format!(
                    "package {id} on gateway {gateway} (which carries this natop's owner id) \
                     is what the spec describes and no other object claims it: adopted it"
                );
                tell(ctx, package, "Adopted", "Adopt", note.clone()).await;
                draft.verdict = Verdict::progressing("Adopted", note);
                return Ok(Action::requeue(Duration::from_millis(200)));
            }
            Adoptable::Wait => {
                draft.verdict = Verdict::progressing(
                    "Queued",
                    format!(
                        "another object asking for the same package on gateway {gateway} is \
                         buying one: looking again once its package is recorded"
                    ),
                );
                return Ok(Action::requeue(Duration::from_secs(2)));
            }
        }
    }
    // Recorded before the call: should natop stop before it records the id,
    // a delete replays this create (same token) to learn which package it
    // made, instead of concluding there is none.
    // Written once (the conditions as they are, so that retries after a
    // refusal do not make the object flap), over the version just read.
    let api: Api<BandwidthPackage> =
        Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
    let fresh = api.get_status(&package.name_any()).await?;
    let recorded = fresh.status.clone().unwrap_or_default();
    draft.status.status = Some(ORDERING.into());
    if recorded.status.as_deref() != Some(ORDERING) {
        let mut record = draft.status.clone();
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
            draft.verdict = Verdict::stalled(
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
    draft.status.id = Some(id.clone());
    draft.status.status = Some("Creating".into());
    let note = match &earlier {
        Some(old) => format!("package {old} was gone; created {id} on gateway {gateway}"),
        None => format!("created package {id} on gateway {gateway}"),
    };
    let reason = if earlier.is_some() {
        "Recreated"
    } else {
        "Created"
    };
    tell(ctx, package, reason, "Create", note.clone()).await;
    draft.verdict = Verdict::progressing("Creating", note);
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

#[cfg(test)]
mod tests {
    use super::decide::tests::cloud;
    use super::*;

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
}
