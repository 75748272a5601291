//! The NatGateway controller: dereference the ProviderConfig, validate, observe
//! the gateway and its EIPs, decide (pure, in [`decide`]), act, write status.

pub mod cleanup;
pub mod decide;

use std::time::Duration;

use crate::controller::engine::Action;
use crate::controller::events::EventType;
use kube::ResourceExt;
use tracing::info;

use self::decide::{Observed, Step, Subject};
use super::Context;
use super::engine::{self, Draft, ManagedKind};
use super::reconcile::{self, ReconcileError, event, key};
use super::status::Verdict;
use crate::api::ManagementPolicy;
use crate::api::nat_gateway::{NatGateway, NatGatewayStatus};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::eip::{DescribeEipAddresses, EipAddress};
use crate::cloud::alibaba::actions::nat_gateway::{
    DescribeNatGateways, GetNatGatewayConvertStatus, NatGateway as CloudGateway, Tag,
};
use crate::cloud::alibaba::actions::tag::{NAT_GATEWAY, UnTagResources};
use crate::controller::identity::{
    AMBIGUOUS_OWNERSHIP, Found, KIND_TAG, Lookup, OBJECT_TAG, OWNED_BY_ANOTHER_OPERATOR,
    OWNER_ID_TAG, OWNER_TAG, Ownership, decide_lookup, foreign_owner,
};
use crate::controller::{location, ownership};

const KIND: &str = "NatGateway";
/// What a NatGateway id starts with.
const ID_PREFIX: &str = "ngw-";

/// The gateway as messages name it.
pub(super) fn describe_gateway(draft: &Draft<NatGatewayStatus>) -> String {
    draft
        .status
        .id
        .as_ref()
        .map_or_else(|| "the gateway".to_string(), |id| format!("gateway {id}"))
}

impl ManagedKind for NatGateway {
    const KIND: &'static str = KIND;
    type Status = NatGatewayStatus;

    engine::managed_fields!();
    fn id_prefixes(&self) -> &'static [&'static str] {
        &[ID_PREFIX]
    }

    fn orphaned_note(&self, _ctx: &Context, draft: &Draft<NatGatewayStatus>) -> Option<String> {
        let id = draft.status.id.as_deref().unwrap_or("(none)");
        Some(format!("left gateway {id} in the cloud"))
    }

    async fn apply(
        &self,
        ctx: &Context,
        draft: &mut Draft<NatGatewayStatus>,
    ) -> Result<Action, ReconcileError> {
        let gateway = self;
        let key = key(gateway);
        let me = ownership::Claim::of(gateway, draft.known.recorded.clone());
        let spec = &gateway.spec;
        let (client, here) = match engine::alibaba(
            ctx,
            KIND,
            &gateway.namespace().unwrap_or_default(),
            None,
            &spec.provider_config_ref.name,
            spec.region.as_deref(),
        )
        .await?
        {
            Ok(found) => found,
            Err(verdict) => {
                draft.verdict = verdict;
                ctx.pacing.settled(&key);
                return Ok(Action::await_change());
            }
        };
        let recorded = gateway.status.as_ref().and_then(|s| s.location.as_ref());
        if let Err(message) = location::check(recorded, &here, &describe_gateway(draft)) {
            draft.verdict = Verdict::stalled(location::LOCATION_CHANGED, message);
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
        let region = here.region.clone();
        let uid = gateway.uid().unwrap_or_default();
        let mut subject = Subject {
            uid: uid.clone(),
            region: region.clone(),
            id: draft.known.id().map(String::from),
            observe_only: gateway.spec.management_policy == ManagementPolicy::Observe,
            adopted: draft.known.annotated.is_some(),
            ownership: Ownership::new(
                &ctx.config.owner_id,
                KIND,
                &gateway.namespace().unwrap_or_default(),
                &gateway.name_any(),
                &uid,
            ),
            applied_tags: gateway
                .status
                .as_ref()
                .map(|s| s.tags.clone())
                .unwrap_or_default(),
        };
        let mut adopted_from_lookup = false;
        if subject.id.is_none() && !subject.observe_only {
            // No id: a gateway this owner id made for this object before (a
            // lost create answer, or a cluster rebuilt from Git) is found
            // before anything is bought.
            match lookup(&client, &subject).await? {
                Lookup::Create => {}
                Lookup::Found { id, adopted } => {
                    subject.id = Some(id);
                    adopted_from_lookup = adopted;
                }
                Lookup::Ambiguous(ids) => {
                    draft.verdict = Verdict::stalled(
                        AMBIGUOUS_OWNERSHIP,
                        format!(
                            "gateways {} in {region} all carry this natop's owner id ({}) and \
                             this object's kind and name: natop cannot tell which is this \
                             object's; delete the extra ones, or name one with the {} annotation",
                            ids.join(", "),
                            ctx.config.owner_id,
                            crate::api::EXTERNAL_ID_ANNOTATION
                        ),
                    );
                    ctx.pacing.settled(&key);
                    return Ok(Action::requeue(reconcile::drift_interval(
                        gateway,
                        &ctx.config,
                    )));
                }
                Lookup::Foreign { owner, ids } => {
                    draft.verdict = Verdict::stalled(
                        OWNED_BY_ANOTHER_OPERATOR,
                        format!(
                            "gateway {} in {region} was made for this object ({KIND} {}) by the \
                             natop whose owner id is \"{owner}\"; this one's is \"{}\": natop \
                             never adopts another owner's gateway, and buys no second one beside \
                             it. If this cluster replaces that one, run natop with --owner-id \
                             {owner}",
                            ids.join(", "),
                            subject.ownership.object,
                            ctx.config.owner_id,
                        ),
                    );
                    ctx.pacing.settled(&key);
                    return Ok(Action::requeue(reconcile::drift_interval(
                        gateway,
                        &ctx.config,
                    )));
                }
            }
        }
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
                &engine::claims::<NatGateway>(ctx),
                tagged_owner(found),
            )
        {
            // Someone else's: nothing of it goes into this object's status.
            draft.verdict = Verdict::stalled(ownership::OWNED_BY_ANOTHER_OBJECT, message);
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
        if !subject.observe_only
            && let Some(found) = &observed.gateway
            && let Some(owner) = foreign_owner(&ctx.config.owner_id, &tag_pairs(found))
        {
            // Another operator's: nothing of it goes into this object's status
            // (so that deleting this object never deletes it).
            draft.verdict = Verdict::stalled(
                OWNED_BY_ANOTHER_OPERATOR,
                format!(
                    "gateway {} belongs to the natop whose owner id is \"{owner}\" (this one's is \
                     \"{}\"): natop never adopts or changes another owner's gateway; run this \
                     natop with --owner-id {owner} if it replaces that one",
                    found.nat_gateway_id, ctx.config.owner_id
                ),
            );
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
        draft.status.location = Some(here);
        let managed_keys: Vec<String> = gateway
            .spec
            .tags
            .keys()
            .chain(subject.applied_tags.keys())
            .cloned()
            .collect();
        record_observed(&mut draft.status, observed.gateway.as_ref(), &managed_keys);
        if adopted_from_lookup && let Some(found) = &observed.gateway {
            let note = format!(
                "gateway {} carries this natop's owner id ({}) and was made for {KIND} {} \
                 before (the object was re-created, e.g. in a rebuilt cluster): adopted it",
                found.nat_gateway_id, ctx.config.owner_id, subject.ownership.object
            );
            info!(id = %found.nat_gateway_id, "NatGateway adopted by owner id");
            reconcile::tell(ctx, gateway, "Adopted", "Adopt", note).await;
        }
        record_conversion(&mut draft.status, observed.conversion.as_ref());
        let step = decide::decide(&gateway.spec, &subject, &observed);
        if matches!(step, Step::Create(_)) && recorded.is_none() {
            // Where the gateway will be goes into the status before it is
            // bought: a crash after the create still finds it there, and nowhere else.
            draft.verdict = Verdict::progressing(
                "Creating",
                format!(
                    "creating a gateway in {}",
                    draft.status.location.clone().unwrap_or_default()
                ),
            );
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        let was_ready = engine::was_ready(gateway);
        act(
            gateway, ctx, &client, &subject, &observed, step, was_ready, draft,
        )
        .await
    }

    /// Orphaned: natop's ownership tags come off the gateway (another
    /// owner's, or one already gone, is left as it is), so that it is no
    /// longer reported as natop's nor adopted by a later object.
    async fn orphan(
        &self,
        ctx: &Context,
        draft: &mut Draft<NatGatewayStatus>,
    ) -> Result<(), ReconcileError> {
        let (Some(id), Some(at)) = (draft.status.id.clone(), draft.status.location.clone()) else {
            return Ok(());
        };
        let client = match engine::alibaba(
            ctx,
            KIND,
            &self.namespace().unwrap_or_default(),
            None,
            &at.provider_config,
            Some(&at.region),
        )
        .await?
        {
            Ok((client, _)) => client,
            // The ProviderConfig is gone or broken: nothing can be untagged.
            Err(_) => return Ok(()),
        };
        let by_id = DescribeNatGateways {
            region_id: at.region.clone(),
            nat_gateway_id: Some(id.clone()),
            ..Default::default()
        };
        let Some(found) = describe_first(&client, &by_id)
            .await?
            .filter(|g| g.nat_gateway_id == id)
        else {
            return Ok(());
        };
        let tags = tag_pairs(&found);
        let ours = tags
            .iter()
            .any(|(k, v)| k == OWNER_ID_TAG && *v == ctx.config.owner_id);
        if !ours {
            return Ok(());
        }
        client
            .call(&UnTagResources {
                region_id: at.region.clone(),
                resource_type: NAT_GATEWAY.to_string(),
                resource_id: vec![id],
                tag_key: [OWNER_ID_TAG, KIND_TAG, OBJECT_TAG, OWNER_TAG]
                    .iter()
                    .map(|k| k.to_string())
                    .collect(),
                all: None,
            })
            .await?;
        Ok(())
    }

    /// Deletion: unbind natop's EIPs, delete, and wait until gone. `None` when
    /// the object may go; otherwise when to look again.
    async fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Draft<NatGatewayStatus>,
    ) -> Result<Option<Action>, ReconcileError> {
        cleanup::cleanup(self, ctx, draft).await
    }
}

/// The UID natop's owner tag on `gateway` names, if any.
fn tagged_owner(gateway: &CloudGateway) -> Option<&str> {
    gateway
        .tags
        .iter()
        .find(|t| t.tag_key == OWNER_TAG)
        .map(|t| t.tag_value.as_str())
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
    draft: &mut Draft<NatGatewayStatus>,
) -> Result<Action, ReconcileError> {
    let key = key(gateway);
    let soon = || Action::requeue(ctx.pacing.transitional(&key));
    match step {
        Step::InSync => {
            ctx.pacing.settled(&key);
            let id = draft.status.id.clone().unwrap_or_default();
            if subject.observe_only {
                draft.observed(&format!("gateway {id}"), None);
            } else {
                draft.verdict = Verdict::in_sync(&format!("gateway {id}"), false);
            }
            Ok(Action::requeue(reconcile::drift_interval(
                gateway,
                &ctx.config,
            )))
        }
        Step::Wait { reason, message } => {
            draft.verdict = Verdict::progressing(&reason, message);
            Ok(soon())
        }
        Step::Drifted { message } => {
            ctx.pacing.settled(&key);
            let id = draft.status.id.clone().unwrap_or_default();
            draft.observed(&format!("gateway {id}"), Some(message));
            Ok(Action::requeue(reconcile::drift_interval(
                gateway,
                &ctx.config,
            )))
        }
        Step::Invalid { reason, message } => {
            ctx.pacing.settled(&key);
            draft.verdict = Verdict::stalled(&reason, message);
            Ok(Action::await_change())
        }
        Step::Create(request) => {
            let recreate = subject.id.is_some() && observed.gateway.is_none();
            let created = client.call(&request).await?;
            let id = created.nat_gateway_id.clone();
            draft.status.id = Some(id.clone());
            draft.status.status = Some("Creating".into());
            draft.status.forward_table_id = created.forward_table_ids.first().cloned();
            draft.status.snat_table_id = created.snat_table_ids.first().cloned();
            draft.verdict =
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
            draft.verdict = Verdict::progressing(reason, note);
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
        Step::Tag(r) => {
            client.call(&r).await?;
            let keys: Vec<&str> = r.tags.iter().map(|t| t.key.as_str()).collect();
            (
                "Update",
                format!(
                    "tagged gateway {} ({})",
                    r.resource_id.join(","),
                    keys.join(", ")
                ),
            )
        }
        Step::Untag(r) => {
            client.call(&r).await?;
            (
                "Update",
                format!(
                    "removed tags {} from gateway {}",
                    r.tag_key.join(", "),
                    r.resource_id.join(",")
                ),
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
pub(crate) async fn observe(
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
    // The conversion's draft while it runs, and its last step when the spec
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
            Ok(draft) => Some(draft),
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

pub(super) async fn find_gateway(
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

/// A gateway's tags as key and value.
fn tag_pairs(gateway: &CloudGateway) -> Vec<(String, String)> {
    gateway
        .tags
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect()
}

/// Look for gateways whose tags name this object's kind and
/// `namespace/name` (every page), confirm each by reading it alone, and
/// decide whose they are.
async fn lookup(client: &AlibabaClient, subject: &Subject) -> Result<Lookup, ReconcileError> {
    let request = DescribeNatGateways {
        region_id: subject.region.clone(),
        tags: subject
            .ownership
            .identity_tags()
            .into_iter()
            .map(|(key, value)| Tag {
                key: key.to_string(),
                value: Some(value),
            })
            .collect(),
        ..Default::default()
    };
    let listed = match client.describe_all(&request).await {
        Ok(found) => found,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut found = Vec::new();
    for candidate in listed {
        let by_id = DescribeNatGateways {
            region_id: subject.region.clone(),
            nat_gateway_id: Some(candidate.nat_gateway_id.clone()),
            ..Default::default()
        };
        // A listing is no proof: only what a read of the one gateway shows.
        if let Some(g) = describe_first(client, &by_id)
            .await?
            .filter(|g| g.nat_gateway_id == candidate.nat_gateway_id)
        {
            found.push(Found {
                id: g.nat_gateway_id.clone(),
                tags: tag_pairs(&g),
                leaving: g.status == "Deleting",
            });
        }
    }
    Ok(decide_lookup(&subject.ownership, &found))
}

/// Copy what the cloud shows into the status; `managed_keys` are the user
/// tag keys natop applies (or applied).
fn record_observed(
    status: &mut NatGatewayStatus,
    gateway: Option<&CloudGateway>,
    managed_keys: &[String],
) {
    let Some(g) = gateway else {
        status.status = None;
        return;
    };
    status.owner_id = g
        .tags
        .iter()
        .find(|t| t.tag_key == OWNER_ID_TAG)
        .map(|t| t.tag_value.clone());
    status.tags = g
        .tags
        .iter()
        .filter(|t| managed_keys.contains(&t.tag_key))
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    status.id = Some(g.nat_gateway_id.clone());
    status.forward_table_id = g.forward_table_ids.first().cloned();
    status.snat_table_id = g.snat_table_ids.first().cloned();
    status.status = Some(g.status.clone());
    status.business_status = Some(g.business_status.clone()).filter(|s| !s.is_empty());
    status.nat_type = Some(g.nat_type.clone()).filter(|s| !s.is_empty());
    status.specification = Some(g.spec.clone()).filter(|s| !s.is_empty());
    status.network_type = Some(g.network_type.clone()).filter(|s| !s.is_empty());
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
