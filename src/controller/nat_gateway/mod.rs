//! The NatGateway controller: dereference the ProviderConfig, validate, observe
//! the gateway and its EIPs, decide (pure, in [`decide`]), act, write status.

pub mod decide;

use std::sync::OnceLock;
use std::time::Duration;

use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};
use tracing::info;

use self::decide::{Observed, Step, Subject};
use super::Context;
use super::engine::{Draft, ManagedKind};
use super::providers::CloudClient;
use super::reconcile::{self, ReconcileError, event, key};
use super::status::Verdict;
use crate::api::DeletionPolicy;
use crate::api::nat_gateway::{InstanceChargeType, NatGateway, NatGatewayStatus};
use crate::api::{CloudLocation, ManagementPolicy};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::eip::{
    DescribeEipAddresses, EipAddress, UnassociateEipAddress,
};
use crate::cloud::alibaba::actions::forward_entry::DescribeForwardTableEntries;
use crate::cloud::alibaba::actions::nat_gateway::{
    DeleteNatGateway, DescribeNatGateways, GetNatGatewayConvertStatus, NatGateway as CloudGateway,
    Tag,
};
use crate::cloud::alibaba::actions::snat_entry::DescribeSnatTableEntries;
use crate::controller::identity::OWNER_TAG;
use crate::controller::{location, ownership};

const KIND: &str = "NatGateway";
/// What a NatGateway id starts with.
const ID_PREFIX: &str = "ngw-";

/// The gateway as messages name it.
fn describe_gateway(progress: &Progress) -> String {
    progress
        .status
        .id
        .as_ref()
        .map_or_else(|| "the gateway".to_string(), |id| format!("gateway {id}"))
}

/// What this reconcile found, for the status write.
type Progress = Draft<NatGatewayStatus>;

impl ManagedKind for NatGateway {
    const KIND: &'static str = KIND;
    type Status = NatGatewayStatus;

    fn status(&self) -> Option<&NatGatewayStatus> {
        self.status.as_ref()
    }
    fn provider_config(&self) -> &str {
        &self.spec.provider_config_ref.name
    }
    fn deletion_policy(&self) -> DeletionPolicy {
        self.spec.deletion_policy
    }
    fn management_policy(&self) -> ManagementPolicy {
        self.spec.management_policy
    }
    fn store(ctx: &Context) -> &OnceLock<Store<DeserializeGuard<Self>>> {
        &ctx.stores.nat_gateways
    }

    fn orphaned_note(&self, _ctx: &Context, draft: &Progress) -> Option<String> {
        let id = draft.status.id.as_deref().unwrap_or("(none)");
        Some(format!("left gateway {id} in the cloud"))
    }

    async fn apply(&self, ctx: &Context, draft: &mut Progress) -> Result<Action, ReconcileError> {
        apply(self, ctx, draft).await
    }

    async fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Progress,
    ) -> Result<Option<Action>, ReconcileError> {
        cleanup(self, ctx, draft).await
    }
}

/// The Alibaba client for ProviderConfig `reference` and `region` (the
/// ProviderConfig's when `None`), with the place it acts in; or a Stalled
/// verdict saying why there is none.
async fn alibaba(
    ctx: &Context,
    reference: &str,
    region: Option<&str>,
) -> Result<Result<(AlibabaClient, CloudLocation), Verdict>, ReconcileError> {
    let resolved = match ctx.providers.resolve(reference, region).await {
        Ok(r) => r,
        Err(e) if !e.is_retryable() => {
            return Ok(Err(Verdict::stalled(
                e.reason(),
                format!("ProviderConfig {reference}: {e}"),
            )));
        }
        Err(e) => return Err(e.into()),
    };
    let location = resolved.location();
    match resolved.cloud {
        CloudClient::Alibaba(client) => Ok(Ok((client, location))),
        CloudClient::UCloud(_) => Ok(Err(Verdict::stalled(
            "WrongProvider",
            format!(
                "ProviderConfig {} is not an Alibaba one; a NatGateway needs spec.provider Alibaba",
                resolved.name
            ),
        ))),
    }
}

/// The claims of every NatGateway object the controller knows.
fn claims(ctx: &Context) -> Vec<ownership::Claim> {
    ownership::claims(ctx.stores.nat_gateways.get(), |g: &NatGateway| {
        g.status.as_ref().and_then(|s| s.id.clone())
    })
}

/// The UID natop's owner tag on `gateway` names, if any.
fn tagged_owner(gateway: &CloudGateway) -> Option<&str> {
    gateway
        .tags
        .iter()
        .find(|t| t.tag_key == OWNER_TAG)
        .map(|t| t.tag_value.as_str())
}

async fn apply(
    gateway: &NatGateway,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let key = key(gateway);
    let annotated = match ownership::external_id(gateway.annotations(), &[ID_PREFIX]) {
        Ok(id) => id,
        Err(message) => {
            progress.verdict = Verdict::stalled(ownership::INVALID_EXTERNAL_ID, message);
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
    };
    let me = ownership::Claim::of(gateway, progress.status.id.clone());
    let adopting = annotated.as_ref().filter(|id| {
        progress
            .status
            .id
            .as_ref()
            .is_none_or(|recorded| recorded == *id)
    });
    if let Some(id) = adopting
        && let Some(message) = ownership::other_owner(&me, id, &claims(ctx), None)
    {
        progress.verdict = Verdict::stalled(ownership::OWNED_BY_ANOTHER_OBJECT, message);
        ctx.pacing.settled(&key);
        return Ok(Action::await_change());
    }
    let spec = &gateway.spec;
    let (client, here) =
        match alibaba(ctx, &spec.provider_config_ref.name, spec.region.as_deref()).await? {
            Ok(found) => found,
            Err(verdict) => {
                progress.verdict = verdict;
                ctx.pacing.settled(&key);
                return Ok(Action::await_change());
            }
        };
    let recorded = gateway.status.as_ref().and_then(|s| s.location.as_ref());
    if let Err(message) = location::check(recorded, &here, &describe_gateway(progress)) {
        progress.verdict = Verdict::stalled(location::LOCATION_CHANGED, message);
        ctx.pacing.settled(&key);
        return Ok(Action::await_change());
    }
    let region = here.region.clone();
    let subject = Subject {
        uid: gateway.uid().unwrap_or_default(),
        region: region.clone(),
        id: progress.status.id.clone().or_else(|| annotated.clone()),
        observe_only: gateway.spec.management_policy == ManagementPolicy::Observe,
        adopted: annotated.is_some(),
    };
    let wants_enhanced = gateway.spec.nat_type == crate::api::nat_gateway::NatType::Enhanced;
    let observed = observe(
        &client,
        &subject,
        &gateway.spec.eip_allocation_ids,
        wants_enhanced,
    )
    .await?;
    if let Some(found) = &observed.gateway
        && let Some(message) = ownership::other_owner(
            &me,
            &found.nat_gateway_id,
            &claims(ctx),
            tagged_owner(found),
        )
    {
        // Someone else's: nothing of it goes into this object's status.
        progress.verdict = Verdict::stalled(ownership::OWNED_BY_ANOTHER_OBJECT, message);
        ctx.pacing.settled(&key);
        return Ok(Action::await_change());
    }
    progress.status.location = Some(here);
    record_observed(&mut progress.status, observed.gateway.as_ref());
    record_conversion(&mut progress.status, observed.conversion.as_ref());
    let step = decide::decide(&gateway.spec, &subject, &observed);
    if matches!(step, Step::Create(_)) && recorded.is_none() {
        // Where the gateway will be goes into the status before it is
        // bought: a crash after the create still finds it there, and nowhere else.
        progress.verdict = Verdict::progressing(
            "Creating",
            format!(
                "creating a gateway in {}",
                progress.status.location.clone().unwrap_or_default()
            ),
        );
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    let was_ready = is_ready_and_current(gateway);
    act(
        gateway, ctx, &client, &subject, &observed, step, was_ready, progress,
    )
    .await
}

/// Whether the object was Ready for its current generation: a write now is a
/// drift correction.
fn is_ready_and_current(gateway: &NatGateway) -> bool {
    gateway.status.as_ref().is_some_and(|s| {
        s.observed_generation == gateway.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

#[allow(clippy::too_many_arguments)]
async fn act(
    gateway: &NatGateway,
    ctx: &Context,
    client: &AlibabaClient,
    subject: &Subject,
    observed: &Observed,
    step: Step,
    was_ready: bool,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let key = key(gateway);
    let soon = || Action::requeue(ctx.pacing.transitional(&key));
    match step {
        Step::InSync => {
            ctx.pacing.settled(&key);
            let id = progress.status.id.clone().unwrap_or_default();
            progress.verdict = if subject.observe_only {
                Verdict::ready(
                    "Observed",
                    format!("gateway {id} matches the spec (observed, not managed)"),
                )
            } else {
                Verdict::ready(
                    "Available",
                    format!("gateway {id} is available and matches the spec"),
                )
            };
            Ok(Action::requeue(reconcile::drift_interval(
                gateway,
                &ctx.config,
            )))
        }
        Step::Wait { reason, message } => {
            progress.verdict = Verdict::progressing(&reason, message);
            Ok(soon())
        }
        Step::Drifted { message } => {
            ctx.pacing.settled(&key);
            progress.verdict =
                Verdict::stalled("Drifted", format!("observed, not managed: {message}"));
            Ok(Action::requeue(reconcile::drift_interval(
                gateway,
                &ctx.config,
            )))
        }
        Step::Invalid { reason, message } => {
            ctx.pacing.settled(&key);
            progress.verdict = Verdict::stalled(&reason, message);
            Ok(Action::await_change())
        }
        Step::Create(request) => {
            let recreate = subject.id.is_some() && observed.gateway.is_none();
            let created = client.call(&request).await?;
            let id = created.nat_gateway_id.clone();
            progress.status.id = Some(id.clone());
            progress.status.status = Some("Creating".into());
            progress.status.forward_table_id = created.forward_table_ids.first().cloned();
            progress.status.snat_table_id = created.snat_table_ids.first().cloned();
            progress.verdict =
                Verdict::progressing("Creating", format!("gateway {id} is being created"));
            let (reason, type_, note) = if recreate {
                (
                    "Recreated",
                    EventType::Warning,
                    format!(
                        "gateway {} disappeared from the cloud; created {id} again",
                        subject.id.clone().unwrap_or_default()
                    ),
                )
            } else {
                (
                    "Created",
                    EventType::Normal,
                    format!("created gateway {id}"),
                )
            };
            info!(%id, reason, "NatGateway created");
            event(ctx, gateway, type_, reason, "Create", note).await;
            Ok(Action::requeue(Duration::from_secs(1)))
        }
        write => {
            let (action, note) = perform(client, write).await?;
            let reason = if was_ready {
                "DriftCorrected"
            } else {
                "Updated"
            };
            let note = if was_ready {
                format!("the cloud differed from the spec; {note}")
            } else {
                note
            };
            event(
                ctx,
                gateway,
                EventType::Normal,
                reason,
                action,
                note.clone(),
            )
            .await;
            progress.verdict = Verdict::progressing(reason, note);
            Ok(Action::requeue(Duration::from_secs(1)))
        }
    }
}

/// Send a modifying step; returns the event action and note.
async fn perform(
    client: &AlibabaClient,
    step: Step,
) -> Result<(&'static str, String), ReconcileError> {
    Ok(match step {
        Step::ModifyAttribute(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!("renamed or re-described gateway {}", r.nat_gateway_id),
            )
        }
        Step::ModifySpec(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!("resizing gateway {} to {}", r.nat_gateway_id, r.spec),
            )
        }
        Step::Convert(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!("converting gateway {} to {}", r.nat_gateway_id, r.nat_type),
            )
        }
        Step::Associate(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!(
                    "binding EIP {} to gateway {}",
                    r.allocation_id, r.instance_id
                ),
            )
        }
        Step::Unassociate(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!(
                    "unbinding EIP {} from gateway {}",
                    r.allocation_id,
                    r.instance_id.clone().unwrap_or_default()
                ),
            )
        }
        _ => ("Update", String::new()),
    })
}

/// Read the gateway (by id, else by natop's owner tag: a gateway created by a
/// reconcile that crashed before recording its id), its EIPs and its conversion.
async fn observe(
    client: &AlibabaClient,
    subject: &Subject,
    eip_ids: &[String],
    wants_enhanced: bool,
) -> Result<Observed, ReconcileError> {
    let gateway = find_gateway(client, subject).await?;
    let mut eips: Vec<EipAddress> = Vec::new();
    if let Some(g) = &gateway {
        eips = client
            .describe_all(&DescribeEipAddresses {
                region_id: subject.region.clone(),
                associated_instance_type: Some("Nat".into()),
                associated_instance_id: Some(g.nat_gateway_id.clone()),
                ..Default::default()
            })
            .await?;
    }
    let missing: Vec<&String> = eip_ids
        .iter()
        .filter(|id| !eips.iter().any(|e| &e.allocation_id == *id))
        .collect();
    for chunk in missing.chunks(50) {
        let ids = chunk
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(",");
        eips.extend(
            client
                .describe_all(&DescribeEipAddresses {
                    region_id: subject.region.clone(),
                    allocation_id: Some(ids),
                    ..Default::default()
                })
                .await?,
        );
    }
    // The conversion's progress while it runs, and its last step when the spec
    // still asks for Enhanced (a failed conversion must not be replayed).
    let converting = gateway
        .as_ref()
        .filter(|g| g.status == "Converting" || (wants_enhanced && g.nat_type != "Enhanced"));
    let conversion = match converting {
        Some(g) => match client
            .call(&GetNatGatewayConvertStatus {
                region_id: subject.region.clone(),
                nat_gateway_id: g.nat_gateway_id.clone(),
            })
            .await
        {
            Ok(progress) => Some(progress),
            Err(e) if e.is_not_found() => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    Ok(Observed {
        gateway,
        eips,
        conversion,
    })
}

async fn find_gateway(
    client: &AlibabaClient,
    subject: &Subject,
) -> Result<Option<CloudGateway>, ReconcileError> {
    if let Some(id) = &subject.id {
        let by_id = DescribeNatGateways {
            region_id: subject.region.clone(),
            nat_gateway_id: Some(id.clone()),
            ..Default::default()
        };
        // Only the gateway asked for: an answer naming another is no answer.
        if let Some(found) = describe_first(client, &by_id)
            .await?
            .filter(|g| g.nat_gateway_id == *id)
        {
            return Ok(Some(found));
        }
    }
    // Not known, or not found by id: a gateway carrying natop's owner tag for
    // this object is ours (never create a second one while it exists).
    let by_tag = DescribeNatGateways {
        region_id: subject.region.clone(),
        tags: vec![Tag {
            key: OWNER_TAG.into(),
            value: Some(subject.uid.clone()),
        }],
        ..Default::default()
    };
    describe_first(client, &by_tag).await
}

async fn describe_first(
    client: &AlibabaClient,
    request: &DescribeNatGateways,
) -> Result<Option<CloudGateway>, ReconcileError> {
    match client.describe_all(request).await {
        Ok(found) => Ok(found.into_iter().next()),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Copy what the cloud shows into the status.
fn record_observed(status: &mut NatGatewayStatus, gateway: Option<&CloudGateway>) {
    let Some(g) = gateway else {
        status.status = None;
        return;
    };
    status.id = Some(g.nat_gateway_id.clone());
    status.forward_table_id = g.forward_table_ids.first().cloned();
    status.snat_table_id = g.snat_table_ids.first().cloned();
    status.status = Some(g.status.clone());
    status.business_status = Some(g.business_status.clone()).filter(|s| !s.is_empty());
    status.nat_type = Some(g.nat_type.clone()).filter(|s| !s.is_empty());
    status.specification = Some(g.spec.clone()).filter(|s| !s.is_empty());
    status.creation_time = Some(g.creation_time.clone()).filter(|s| !s.is_empty());
    status.ip_addresses = g
        .ip_lists
        .iter()
        .map(|ip| crate::api::nat_gateway::IpAddress {
            ip: ip.ip_address.clone(),
            allocation_id: ip.allocation_id.clone(),
            using_status: ip.using_status.clone(),
        })
        .collect();
}

/// Copy a conversion's steps into the status (kept once it completed).
fn record_conversion(
    status: &mut NatGatewayStatus,
    conversion: Option<
        &crate::cloud::alibaba::actions::nat_gateway::GetNatGatewayConvertStatusResponse,
    >,
) {
    let Some(c) = conversion else {
        return;
    };
    status.conversion = Some(crate::api::nat_gateway::Conversion {
        dst_nat_type: c.dst_nat_type.clone(),
        steps: c
            .convert_steps
            .iter()
            .map(|step| crate::api::nat_gateway::ConversionStep {
                name: step.step_name.clone(),
                status: step.step_status.clone(),
                start_time: Some(step.step_start_time.clone()).filter(|t| !t.is_empty()),
            })
            .collect(),
    });
}

/// Deletion: unbind natop's EIPs, delete, and wait until gone. `None` when
/// the object may go; otherwise when to look again.
async fn cleanup(
    gateway: &NatGateway,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let spec = &gateway.spec;
    if spec.instance_charge_type == InstanceChargeType::PrePaid {
        let id = progress
            .status
            .id
            .clone()
            .unwrap_or_else(|| "(none)".into());
        event(ctx, gateway, EventType::Warning, "Orphaned", "Delete", format!("gateway {id} is a subscription (PrePaid): natop never deletes it; release it in the console")).await;
        return Ok(None);
    }
    // Only what this object recorded: an annotation it never adopted (one
    // refused as invalid or as another object's) names nothing of its own.
    let recorded_id = progress.status.id.clone();
    let recorded = progress.status.location.clone();
    let (reference, wanted_region) = match &recorded {
        Some(at) => (at.provider_config.clone(), Some(at.region.clone())),
        None => (spec.provider_config_ref.name.clone(), spec.region.clone()),
    };
    let (client, here) = match alibaba(ctx, &reference, wanted_region.as_deref()).await? {
        Ok(found) => found,
        Err(_) if recorded.is_none() && recorded_id.is_none() => {
            // natop records where a gateway goes before creating it: with
            // nothing recorded, nothing was made.
            return Ok(None);
        }
        Err(verdict) => {
            progress.verdict = verdict;
            return Ok(Some(Action::requeue(Duration::from_secs(30))));
        }
    };
    if let Err(message) = location::check(recorded.as_ref(), &here, &describe_gateway(progress)) {
        progress.verdict = Verdict::stalled(
            location::LOCATION_CHANGED,
            format!("not deleted: {message}"),
        );
        return Ok(Some(Action::requeue(Duration::from_secs(60))));
    }
    let region = here.region.clone();
    let subject = Subject {
        uid: gateway.uid().unwrap_or_default(),
        region: region.clone(),
        id: recorded_id,
        observe_only: false,
        adopted: false,
    };
    let key = key(gateway);
    let Some(cloud) = find_gateway(&client, &subject).await? else {
        event(
            ctx,
            gateway,
            EventType::Normal,
            "Deleted",
            "Delete",
            "the gateway is gone".into(),
        )
        .await;
        return Ok(None);
    };
    let id = cloud.nat_gateway_id.clone();
    if let Some(dependents) = dependents(gateway, ctx).await?
        && !spec.force_delete
    {
        progress.verdict = Verdict::progressing(
            "DependentsExist",
            format!(
                "waiting until these objects no longer use gateway {id}: {dependents} (or set spec.forceDelete)"
            ),
        );
        return Ok(Some(Action::requeue(Duration::from_secs(5))));
    }
    if cloud.status == "Deleting" {
        progress.verdict =
            Verdict::progressing("Deleting", format!("gateway {id} is being deleted"));
        return Ok(Some(Action::requeue(ctx.pacing.transitional(&key))));
    }
    let bound = client
        .describe_all(&DescribeEipAddresses {
            region_id: region.clone(),
            associated_instance_type: Some("Nat".into()),
            associated_instance_id: Some(id.clone()),
            ..Default::default()
        })
        .await?;
    let ours: Vec<&EipAddress> = bound
        .iter()
        .filter(|e| spec.eip_allocation_ids.contains(&e.allocation_id))
        .collect();
    if let Some(busy) = ours.iter().find(|e| e.status != "InUse") {
        progress.verdict = Verdict::progressing(
            "Unassociating",
            format!("waiting for EIP {} ({})", busy.allocation_id, busy.status),
        );
        return Ok(Some(Action::requeue(ctx.pacing.transitional(&key))));
    }
    // With forceDelete the cloud releases the EIPs and entries itself.
    if let Some(eip) = ours.first().filter(|_| !spec.force_delete) {
        let unbound = client
            .call(&UnassociateEipAddress {
                region_id: region.clone(),
                allocation_id: eip.allocation_id.clone(),
                instance_id: Some(id.clone()),
                instance_type: Some("Nat".into()),
                ..Default::default()
            })
            .await;
        if let Err(e) = unbound {
            let what = format!("EIP {} ({})", eip.allocation_id, eip.ip_address);
            return blocked(
                &client,
                &region,
                &cloud,
                Some(&eip.ip_address),
                &what,
                e,
                progress,
            )
            .await;
        }
        progress.verdict = Verdict::progressing(
            "Unassociating",
            format!(
                "unbinding EIP {} before deleting gateway {id}",
                eip.allocation_id
            ),
        );
        return Ok(Some(Action::requeue(Duration::from_secs(1))));
    }
    match client
        .call(&DeleteNatGateway {
            region_id: region.clone(),
            nat_gateway_id: id.clone(),
            force: Some(spec.force_delete),
        })
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => {
            let what = format!("gateway {id}");
            return blocked(&client, &region, &cloud, None, &what, e, progress).await;
        }
    }
    event(
        ctx,
        gateway,
        EventType::Normal,
        "Deleting",
        "Delete",
        format!("deleting gateway {id}"),
    )
    .await;
    progress.verdict = Verdict::progressing("Deleting", format!("gateway {id} is being deleted"));
    Ok(Some(Action::requeue(Duration::from_secs(1))))
}

/// How often a delete blocked by what no natop object manages looks again.
const BLOCKED_RECHECK: Duration = Duration::from_secs(10);

/// A delete step refused with `error`: when the cloud says something still
/// depends on `what` (DependencyViolation), the object is Stalled naming the
/// entries that block it (those using `ip`, or every entry of the gateway)
/// and looks again every [`BLOCKED_RECHECK`], so it finishes by itself once
/// they are gone; any other error is the caller's.
async fn blocked(
    client: &AlibabaClient,
    region: &str,
    cloud: &CloudGateway,
    ip: Option<&str>,
    what: &str,
    error: crate::cloud::CloudError,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let Some(code) = error
        .code()
        .filter(|c| c.starts_with("DependencyViolation"))
        .map(str::to_string)
    else {
        return Err(error.into());
    };
    let mut ids = Vec::new();
    for table in &cloud.forward_table_ids {
        let entries = client
            .describe_all(&DescribeForwardTableEntries {
                region_id: region.to_string(),
                forward_table_id: table.clone(),
                external_ip: ip.map(str::to_string),
                ..Default::default()
            })
            .await?;
        ids.extend(entries.into_iter().map(|e| e.forward_entry_id));
    }
    for table in &cloud.snat_table_ids {
        let entries = client
            .describe_all(&DescribeSnatTableEntries {
                region_id: region.to_string(),
                snat_table_id: table.clone(),
                ..Default::default()
            })
            .await?;
        ids.extend(
            entries
                .into_iter()
                .filter(|e| ip.is_none_or(|ip| e.snat_ip.split(',').any(|s| s.trim() == ip)))
                .map(|e| e.snat_entry_id),
        );
    }
    progress.verdict = Verdict::stalled("DeleteBlocked", blocked_message(what, &code, &ids));
    Ok(Some(Action::requeue(BLOCKED_RECHECK)))
}

/// The message of a delete the cloud refused with DependencyViolation `code`:
/// what is blocked, the entries that block it, and the ways out.
fn blocked_message(what: &str, code: &str, entries: &[String]) -> String {
    let by = match entries {
        [] => format!("the cloud says {code}"),
        ids => format!("the cloud says {code}: used by entries {}", ids.join(", ")),
    };
    format!(
        "cannot delete {what}: {by}; delete them (a natop object's entry goes when its \
         object is deleted), or set spec.forceDelete to let the cloud delete them with the \
         gateway; natop looks again every {} s",
        BLOCKED_RECHECK.as_secs()
    )
}

/// natop objects in the gateway's namespace that still use it (also while
/// they are being deleted: they need the gateway's tables to go), as
/// `Kind/name, …`. Read as dynamic objects, so a malformed one still counts.
async fn dependents(gateway: &NatGateway, ctx: &Context) -> Result<Option<String>, ReconcileError> {
    use kube::core::{ApiResource, DynamicObject};
    let namespace = gateway.namespace().unwrap_or_default();
    let name = gateway.name_any();
    let kinds = [
        (
            ApiResource::erase::<crate::api::ForwardEntry>(&()),
            "/spec/natGatewayRef/name",
        ),
        (
            ApiResource::erase::<crate::api::SnatEntry>(&()),
            "/spec/natGatewayRef/name",
        ),
        (
            ApiResource::erase::<crate::api::BandwidthPackage>(&()),
            "/spec/alibaba/natGatewayRef/name",
        ),
    ];
    let mut users = Vec::new();
    for (resource, pointer) in kinds {
        let api: Api<DynamicObject> =
            Api::namespaced_with(ctx.client.clone(), &namespace, &resource);
        let objects = match api.list(&Default::default()).await {
            Ok(list) => list.items,
            // That kind is not installed: nothing of it can use the gateway.
            Err(kube::Error::Api(e)) if e.code == 404 => continue,
            Err(e) => return Err(e.into()),
        };
        for object in objects {
            if object.data.pointer(pointer).and_then(|v| v.as_str()) == Some(name.as_str()) {
                users.push(format!("{}/{}", resource.kind, object.name_any()));
            }
        }
    }
    Ok((!users.is_empty()).then(|| users.join(", ")))
}
