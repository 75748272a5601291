//! Deleting a NatGateway: a subscription is left alone; otherwise natop
//! waits until no object uses the gateway, unbinds the spec's EIPs one at a
//! time (unless `forceDelete`, with which the cloud releases them and the
//! entries itself) and deletes it. [`decide_cleanup`] decides each pass from
//! what [`cleanup`] observed; it is pure and table-tested below.

use std::time::Duration;

use crate::controller::engine::Action;
use crate::controller::events::EventType;
use kube::{Api, ResourceExt};

use super::decide::Subject;
use super::{KIND, describe_gateway, find_gateway};
use crate::api::nat_gateway::{InstanceChargeType, NatGateway, NatGatewaySpec, NatGatewayStatus};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::eip::{
    DescribeEipAddresses, EipAddress, UnassociateEipAddress,
};
use crate::cloud::alibaba::actions::forward_entry::DescribeForwardTableEntries;
use crate::cloud::alibaba::actions::nat_gateway::{DeleteNatGateway, NatGateway as CloudGateway};
use crate::cloud::alibaba::actions::snat_entry::DescribeSnatTableEntries;
use crate::controller::Context;
use crate::controller::engine::{self, Draft};
use crate::controller::identity::foreign_owner;
use crate::controller::location;
use crate::controller::reconcile::{ReconcileError, event, key, tell};
use crate::controller::status::Verdict;

/// What deletion found.
#[derive(Debug, Clone, Default)]
pub struct CleanupObserved {
    /// The gateway, by its recorded id (or natop's owner tag), if it exists.
    pub gateway: Option<CloudGateway>,
    /// The natop objects that still use it (`Kind/name, …`), if any.
    pub dependents: Option<String>,
    /// The spec's EIPs bound to it (read only when [`needs_eips`] says so).
    pub bound: Vec<EipAddress>,
}

/// What deletion does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CleanupStep {
    /// A subscription: natop never deletes it; the object goes.
    KeepSubscription,
    /// The gateway is gone; the object goes.
    Gone,
    /// Objects still use the gateway (and `forceDelete` is not set).
    WaitForDependents {
        /// The gateway.
        id: String,
        /// Who uses it.
        dependents: String,
    },
    /// The gateway is being deleted.
    Deleting {
        /// The gateway.
        id: String,
    },
    /// An EIP of the spec is between states.
    WaitForEip {
        /// The EIP.
        allocation_id: String,
        /// Its state.
        status: String,
    },
    /// Unbind this EIP of the spec before deleting.
    Unbind {
        /// The EIP.
        allocation_id: String,
        /// Its address.
        ip: String,
    },
    /// Delete the gateway.
    Delete {
        /// The gateway.
        id: String,
        /// With `forceDelete`: the cloud releases EIPs and entries itself.
        force: bool,
    },
}

/// Whether natop leaves the gateway in the cloud whatever it observes.
pub fn keeps_subscription(spec: &NatGatewaySpec) -> bool {
    spec.instance_charge_type == InstanceChargeType::PrePaid
}

/// Whether the decision needs the gateway's bound EIPs: it exists, is not
/// being deleted and no object holds its deletion.
pub fn needs_eips(spec: &NatGatewaySpec, observed: &CleanupObserved) -> bool {
    observed
        .gateway
        .as_ref()
        .is_some_and(|g| g.status != "Deleting")
        && (observed.dependents.is_none() || spec.force_delete)
}

/// The next deletion step for a gateway with `spec`, given what was observed.
pub fn decide_cleanup(spec: &NatGatewaySpec, observed: &CleanupObserved) -> CleanupStep {
    if keeps_subscription(spec) {
        return CleanupStep::KeepSubscription;
    }
    let Some(gateway) = &observed.gateway else {
        return CleanupStep::Gone;
    };
    let id = gateway.nat_gateway_id.clone();
    if let Some(dependents) = observed.dependents.clone().filter(|_| !spec.force_delete) {
        return CleanupStep::WaitForDependents { id, dependents };
    }
    if gateway.status == "Deleting" {
        return CleanupStep::Deleting { id };
    }
    let ours: Vec<&EipAddress> = observed
        .bound
        .iter()
        .filter(|e| spec.eip_allocation_ids.contains(&e.allocation_id))
        .collect();
    if let Some(busy) = ours.iter().find(|e| e.status != "InUse") {
        return CleanupStep::WaitForEip {
            allocation_id: busy.allocation_id.clone(),
            status: busy.status.clone(),
        };
    }
    match ours.first().filter(|_| !spec.force_delete) {
        Some(eip) => CleanupStep::Unbind {
            allocation_id: eip.allocation_id.clone(),
            ip: eip.ip_address.clone(),
        },
        None => CleanupStep::Delete {
            id,
            force: spec.force_delete,
        },
    }
}

/// Delete `gateway`'s cloud resource: `None` when the object may go,
/// otherwise when to look again.
pub(super) async fn cleanup(
    gateway: &NatGateway,
    ctx: &Context,
    draft: &mut Draft<NatGatewayStatus>,
) -> Result<Option<Action>, ReconcileError> {
    let spec = &gateway.spec;
    if keeps_subscription(spec) {
        let id = draft.status.id.as_deref().unwrap_or("(none)");
        let note = format!(
            "gateway {id} is a subscription (PrePaid): natop never deletes it; release it in \
             the console"
        );
        event(ctx, gateway, EventType::Warning, "Orphaned", "Delete", note).await;
        return Ok(None);
    }
    // Only what this object recorded: an annotation it never adopted (one
    // refused as invalid or as another object's) names nothing of its own.
    let recorded_id = draft.status.id.clone();
    let recorded = draft.status.location.clone();
    let (reference, wanted_region) = match &recorded {
        Some(at) => (at.provider_config.clone(), Some(at.region.clone())),
        None => (spec.provider_config_ref.name.clone(), spec.region.clone()),
    };
    let (client, here) = match engine::alibaba(
        ctx,
        KIND,
        &gateway.namespace().unwrap_or_default(),
        None,
        &reference,
        wanted_region.as_deref(),
    )
    .await?
    {
        Ok(found) => found,
        Err(_) if recorded.is_none() && recorded_id.is_none() => {
            // natop records where a gateway goes before creating it: with
            // nothing recorded, nothing was made.
            return Ok(None);
        }
        Err(verdict) => {
            draft.verdict = verdict;
            return Ok(Some(Action::requeue(Duration::from_secs(30))));
        }
    };
    if let Err(message) = location::check(recorded.as_ref(), &here, &describe_gateway(draft)) {
        draft.verdict = Verdict::stalled(
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
        ..Subject::default()
    };
    let mut observed = CleanupObserved {
        gateway: find_gateway(&client, &subject).await?,
        ..CleanupObserved::default()
    };
    if observed.gateway.is_some() {
        observed.dependents = dependents(gateway, ctx).await?;
    }
    if let Some(id) = observed.gateway.as_ref().map(|g| g.nat_gateway_id.clone())
        && needs_eips(spec, &observed)
    {
        observed.bound = client
            .describe_all(&DescribeEipAddresses {
                region_id: region.clone(),
                associated_instance_type: Some("Nat".into()),
                associated_instance_id: Some(id),
                ..Default::default()
            })
            .await?;
    }
    let key = key(gateway);
    let transitional = Action::requeue(ctx.pacing.transitional(&key));
    let Some(cloud) = observed.gateway.clone() else {
        let gone = "the gateway is gone".to_string();
        tell(ctx, gateway, "Deleted", "Delete", gone).await;
        return Ok(None);
    };
    let tags: Vec<(String, String)> = cloud
        .tags
        .iter()
        .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
        .collect();
    if let Some(owner) = foreign_owner(&ctx.config.owner_id, &tags) {
        // Another operator's gateway is never deleted from here.
        let note = format!(
            "gateway {} belongs to the natop whose owner id is \"{owner}\": left it in the cloud",
            cloud.nat_gateway_id
        );
        event(ctx, gateway, EventType::Warning, "Orphaned", "Delete", note).await;
        return Ok(None);
    }
    match decide_cleanup(spec, &observed) {
        CleanupStep::KeepSubscription | CleanupStep::Gone => Ok(None),
        CleanupStep::WaitForDependents { id, dependents } => {
            draft.verdict = Verdict::progressing(
                "DependentsExist",
                format!(
                    "waiting until these objects no longer use gateway {id}: {dependents} (or \
                     set spec.forceDelete)"
                ),
            );
            Ok(Some(Action::requeue(Duration::from_secs(5))))
        }
        CleanupStep::Deleting { id } => {
            draft.verdict =
                Verdict::progressing("Deleting", format!("gateway {id} is being deleted"));
            Ok(Some(transitional))
        }
        CleanupStep::WaitForEip {
            allocation_id,
            status,
        } => {
            draft.verdict = Verdict::progressing(
                "Unassociating",
                format!("waiting for EIP {allocation_id} ({status})"),
            );
            Ok(Some(transitional))
        }
        CleanupStep::Unbind { allocation_id, ip } => {
            let unbound = client
                .call(&UnassociateEipAddress {
                    region_id: region.clone(),
                    allocation_id: allocation_id.clone(),
                    instance_id: Some(cloud.nat_gateway_id.clone()),
                    instance_type: Some("Nat".into()),
                    ..Default::default()
                })
                .await;
            if let Err(e) = unbound {
                let what = format!("EIP {allocation_id} ({ip})");
                return blocked(&client, &region, &cloud, Some(&ip), &what, e, draft).await;
            }
            draft.verdict = Verdict::progressing(
                "Unassociating",
                format!(
                    "unbinding EIP {allocation_id} before deleting gateway {}",
                    cloud.nat_gateway_id
                ),
            );
            Ok(Some(Action::requeue(Duration::from_secs(1))))
        }
        CleanupStep::Delete { id, force } => {
            let deleted = client
                .call(&DeleteNatGateway {
                    region_id: region.clone(),
                    nat_gateway_id: id.clone(),
                    force: Some(force),
                })
                .await;
            match deleted {
                Ok(_) => {}
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => {
                    let what = format!("gateway {id}");
                    return blocked(&client, &region, &cloud, None, &what, e, draft).await;
                }
            }
            let note = format!("deleting gateway {id}");
            tell(ctx, gateway, "Deleting", "Delete", note).await;
            draft.verdict =
                Verdict::progressing("Deleting", format!("gateway {id} is being deleted"));
            Ok(Some(Action::requeue(Duration::from_secs(1))))
        }
    }
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
    draft: &mut Draft<NatGatewayStatus>,
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
    draft.verdict = Verdict::stalled("DeleteBlocked", blocked_message(what, &code, &ids));
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(extra: serde_json::Value) -> NatGatewaySpec {
        let mut spec = json!({
            "providerConfigRef": {"name": "pc"},
            "vpcId": "vpc-1",
            "vSwitchId": "vsw-1",
            "eipAllocationIds": ["eip-1", "eip-2"],
        });
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        serde_json::from_value(spec).unwrap()
    }

    fn gateway(status: &str) -> Option<CloudGateway> {
        Some(CloudGateway {
            nat_gateway_id: "ngw-1".into(),
            status: status.into(),
            ..Default::default()
        })
    }

    fn eip(id: &str, status: &str) -> EipAddress {
        EipAddress {
            allocation_id: id.into(),
            ip_address: format!("47.0.0.{}", id.len()),
            status: status.into(),
            ..Default::default()
        }
    }

    fn observed(
        gateway: Option<CloudGateway>,
        dependents: Option<&str>,
        bound: Vec<EipAddress>,
    ) -> CleanupObserved {
        CleanupObserved {
            gateway,
            dependents: dependents.map(String::from),
            bound,
        }
    }

    #[test]
    fn decide_cleanup_covers_every_deletion_path() {
        let force = json!({"forceDelete": true});
        let prepaid = json!({"instanceChargeType": "PrePaid"});
        let delete = |force| CleanupStep::Delete {
            id: "ngw-1".into(),
            force,
        };
        for (name, spec, observed, expected) in [
            (
                "a subscription is never deleted, whatever is there",
                spec(prepaid),
                observed(gateway("Available"), None, vec![]),
                CleanupStep::KeepSubscription,
            ),
            (
                "nothing found: gone",
                spec(json!({})),
                observed(None, None, vec![]),
                CleanupStep::Gone,
            ),
            (
                "objects still use it: wait for them",
                spec(json!({})),
                observed(gateway("Available"), Some("ForwardEntry/web"), vec![]),
                CleanupStep::WaitForDependents {
                    id: "ngw-1".into(),
                    dependents: "ForwardEntry/web".into(),
                },
            ),
            (
                "objects still use it, forceDelete: delete with force",
                spec(force.clone()),
                observed(gateway("Available"), Some("ForwardEntry/web"), vec![]),
                delete(true),
            ),
            (
                "being deleted: wait",
                spec(json!({})),
                observed(gateway("Deleting"), None, vec![]),
                CleanupStep::Deleting { id: "ngw-1".into() },
            ),
            (
                "an EIP of the spec between states: wait for it",
                spec(json!({})),
                observed(
                    gateway("Available"),
                    None,
                    vec![eip("eip-2", "Unassociating")],
                ),
                CleanupStep::WaitForEip {
                    allocation_id: "eip-2".into(),
                    status: "Unassociating".into(),
                },
            ),
            (
                "an EIP of the spec bound: unbind it first",
                spec(json!({})),
                observed(
                    gateway("Available"),
                    None,
                    vec![eip("eip-1", "InUse"), eip("eip-2", "InUse")],
                ),
                CleanupStep::Unbind {
                    allocation_id: "eip-1".into(),
                    ip: "47.0.0.5".into(),
                },
            ),
            (
                "an EIP of the spec bound, forceDelete: the cloud unbinds it",
                spec(force),
                observed(gateway("Available"), None, vec![eip("eip-1", "InUse")]),
                delete(true),
            ),
            (
                "only EIPs the spec does not name are bound: delete",
                spec(json!({})),
                observed(gateway("Available"), None, vec![eip("eip-9", "InUse")]),
                delete(false),
            ),
            (
                "nothing holds it: delete",
                spec(json!({})),
                observed(gateway("Available"), None, vec![]),
                delete(false),
            ),
        ] {
            assert_eq!(decide_cleanup(&spec, &observed), expected, "{name}");
        }
    }

    #[test]
    fn the_eips_are_read_only_when_the_decision_needs_them() {
        let plain = spec(json!({}));
        let force = spec(json!({"forceDelete": true}));
        for (name, spec, observed, expected) in [
            ("gone", &plain, observed(None, None, vec![]), false),
            (
                "deleting",
                &plain,
                observed(gateway("Deleting"), None, vec![]),
                false,
            ),
            (
                "held",
                &plain,
                observed(gateway("Available"), Some("SnatEntry/a"), vec![]),
                false,
            ),
            (
                "held, forced",
                &force,
                observed(gateway("Available"), Some("SnatEntry/a"), vec![]),
                true,
            ),
            (
                "free",
                &plain,
                observed(gateway("Available"), None, vec![]),
                true,
            ),
        ] {
            assert_eq!(needs_eips(spec, &observed), expected, "{name}");
        }
    }

    #[test]
    fn a_blocked_delete_names_the_entries_and_the_ways_out() {
        let message = blocked_message(
            "gateway ngw-1",
            "DependencyViolation.Entries",
            &["fwd-1".into()],
        );
        assert!(message.contains("used by entries fwd-1"), "{message}");
        assert!(message.contains("spec.forceDelete"), "{message}");
        let bare = blocked_message("EIP eip-1", "DependencyViolation", &[]);
        assert!(
            bare.contains("the cloud says DependencyViolation;"),
            "{bare}"
        );
    }
}
