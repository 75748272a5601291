//! The Ipv6InternetBandwidth controller: the public bandwidth of one IPv6
//! address of an Alibaba Cloud IPv6 gateway.
//!
//! - The address is read with DescribeIpv6Addresses; its bandwidth (if any)
//!   is part of the answer.
//! - Allocate carries a ClientToken derived from the object's UID and the
//!   address (and the id of a bandwidth it replaces), so replaying it after a
//!   crash or a lost answer returns the bandwidth already bought.
//! - An address that already has a bandwidth natop did not buy is never taken
//!   over silently: the object is `Stalled` (reason `AlreadyExists`) and says
//!   how to adopt it with the annotation `natop.dev/external-id`.
//! - `bandwidth` follows the spec (ModifyIpv6InternetBandwidth); a change made
//!   outside natop is put back at the next look (drift interval). With the
//!   `Observe` policy nothing is written and differences are reported.
//! - A bandwidth deleted outside natop is bought again (event `Recreated`).
//! - `internetChargeType`, the address and the gateway cannot change; a spec
//!   that changes them anyway (servers without CEL) is `Stalled`.

mod decide;

use std::sync::OnceLock;
use std::time::Duration;

use kube::core::DeserializeGuard;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::{Api, ResourceExt};

use super::Context;
use super::engine::{Draft, ManagedKind};
use super::identity::client_token;
use super::providers::CloudClient;
use super::reconcile::{self, ReconcileError, event, key};
use super::status::Verdict;
use super::{location, ownership};
use crate::api::ipv6_internet_bandwidth::{
    Ipv6InternetBandwidth, Ipv6InternetBandwidthSpec, Ipv6InternetBandwidthStatus,
};
use crate::api::{CloudLocation, DeletionPolicy, ManagementPolicy};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::ipv6::{
    AllocateIpv6InternetBandwidth, DeleteIpv6InternetBandwidth, DescribeIpv6Addresses, Ipv6Address,
    ModifyIpv6InternetBandwidth,
};
use decide::{Known, Step, bandwidth_id, decide, is_ours};

/// The kind, for logs, metrics and events.
pub const KIND: &str = "Ipv6InternetBandwidth";
/// What an IPv6 internet bandwidth id starts with.
const ID_PREFIX: &str = "ipv6bw-";

/// How long to wait before looking again at something outside natop's hands.
const WAITING: Duration = Duration::from_secs(30);

/// What a reconcile found, for the status write.
type Progress = Draft<Ipv6InternetBandwidthStatus>;

impl ManagedKind for Ipv6InternetBandwidth {
    const KIND: &'static str = KIND;
    type Status = Ipv6InternetBandwidthStatus;

    fn status(&self) -> Option<&Ipv6InternetBandwidthStatus> {
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
        &ctx.stores.ipv6_bandwidths
    }

    fn orphaned_note(&self, ctx: &Context, draft: &Progress) -> Option<String> {
        // The recorded id, or one the annotation may adopt (never another object's).
        let id = draft
            .status
            .id
            .clone()
            .or_else(|| adoptable(self, ctx, None).ok().flatten())?;
        Some(format!("left IPv6 internet bandwidth {id} in the cloud"))
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

/// The Alibaba client for `object` (at its recorded place, when it has one)
/// and where it acts, or a Stalled verdict saying why there is none.
async fn alibaba(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
) -> Result<Result<(AlibabaClient, CloudLocation), Verdict>, ReconcileError> {
    let reference = &object.spec.provider_config_ref.name;
    let recorded = object.status.as_ref().and_then(|s| s.location.as_ref());
    let resolved = match ctx
        .providers
        .resolve_at(recorded, reference, object.spec.region.as_deref())
        .await
    {
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
                "ProviderConfig {} is not an Alibaba one; an Ipv6InternetBandwidth needs \
                 spec.provider Alibaba",
                resolved.name
            ),
        ))),
    }
}

/// The bandwidth id the annotation names, when this object may use it:
/// `Err` is the verdict refusing it.
fn adoptable(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    recorded: Option<&String>,
) -> Result<Option<String>, Verdict> {
    let annotated = ownership::external_id(object.annotations(), &[ID_PREFIX])
        .map_err(|m| Verdict::stalled(ownership::INVALID_EXTERNAL_ID, m))?;
    let Some(id) = annotated else {
        return Ok(None);
    };
    if recorded.is_some_and(|r| *r != id) {
        // Recorded another one: the annotation adopts nothing any more.
        return Ok(None);
    }
    let claims = ownership::claims(
        ctx.stores.ipv6_bandwidths.get(),
        |b: &Ipv6InternetBandwidth| b.status.as_ref().and_then(|s| s.id.clone()),
    );
    match ownership::other_owner(
        &ownership::Claim::of(object, recorded.cloned()),
        &id,
        &claims,
        None,
    ) {
        Some(message) => Err(Verdict::stalled(
            ownership::OWNED_BY_ANOTHER_OBJECT,
            message,
        )),
        None => Ok(Some(id)),
    }
}

/// Before the first purchase: record where it goes (the status write that
/// follows), and buy on the next pass.
fn record_place_first(progress: &mut Progress) -> Action {
    progress.verdict = Verdict::progressing(
        "Allocating",
        format!(
            "buying the bandwidth in {}",
            progress.status.location.clone().unwrap_or_default()
        ),
    );
    Action::requeue(Duration::from_millis(200))
}

/// The address, as the cloud lists it.
async fn describe(
    client: &AlibabaClient,
    region: &str,
    address: &str,
) -> Result<Option<Ipv6Address>, ReconcileError> {
    let found = client
        .describe_all(&DescribeIpv6Addresses {
            region_id: region.to_string(),
            ipv6_address_id: Some(address.to_string()),
            ..Default::default()
        })
        .await?;
    Ok(found.into_iter().find(|a| a.ipv6_address_id == address))
}

fn record(progress: &mut Progress, address: &Ipv6Address) {
    let status = &mut progress.status;
    status.status = Some(address.status.clone()).filter(|s| !s.is_empty());
    match &address.ipv6_internet_bandwidth {
        Some(b) if !b.ipv6_internet_bandwidth_id.is_empty() => {
            status.id = Some(b.ipv6_internet_bandwidth_id.clone());
            status.bandwidth = b.bandwidth;
            status.internet_charge_type =
                Some(b.internet_charge_type.clone()).filter(|s| !s.is_empty());
            status.business_status = Some(b.business_status.clone()).filter(|s| !s.is_empty());
        }
        _ => {
            status.bandwidth = None;
            status.internet_charge_type = None;
            status.business_status = None;
        }
    }
}

/// The ClientToken of buying the bandwidth: the object and its address (and
/// the id of a bandwidth it replaces).
fn allocate_token(object: &Ipv6InternetBandwidth, earlier: Option<&str>) -> String {
    client_token(
        &object.uid().unwrap_or_default(),
        &(
            KIND,
            "allocate",
            &object.spec.ipv6_address_id,
            &object.spec.ipv6_gateway_id,
            earlier,
        ),
    )
}

fn observing(object: &Ipv6InternetBandwidth) -> bool {
    object.spec.management_policy == ManagementPolicy::Observe
}

async fn apply(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let key = key(object);
    let spec = &object.spec;
    let annotated = match adoptable(object, ctx, progress.status.id.as_ref()) {
        Ok(id) => id,
        Err(verdict) => {
            progress.verdict = verdict;
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
    };
    let (client, here) = match alibaba(object, ctx).await? {
        Ok(found) => found,
        Err(verdict) => {
            progress.verdict = verdict;
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
    };
    let recorded_at = object.status.as_ref().and_then(|s| s.location.as_ref());
    // The spec's place too: a recorded place is used while the spec points elsewhere.
    let effective = CloudLocation {
        provider_config: spec.provider_config_ref.name.clone(),
        region: spec.region.clone().unwrap_or_else(|| here.region.clone()),
        ..here.clone()
    };
    let what = format!("the bandwidth of IPv6 address {}", spec.ipv6_address_id);
    if let Err(message) = location::check(recorded_at, &effective, &what)
        .and_then(|()| location::check(recorded_at, &here, &what))
    {
        progress.verdict = Verdict::stalled(location::LOCATION_CHANGED, message);
        ctx.pacing.settled(&key);
        return Ok(Action::await_change());
    }
    progress.status.location = Some(here.clone());
    let region = here.region.clone();
    let observe = observing(object);
    let address = describe(&client, &region, &spec.ipv6_address_id).await?;
    let mut known = Known {
        recorded: progress.status.id.clone(),
        annotated,
        observe,
    };
    let current = address
        .as_ref()
        .and_then(|a| bandwidth_id(a))
        .map(str::to_string);
    if address
        .as_ref()
        .is_some_and(|a| a.ipv6_gateway_id == spec.ipv6_gateway_id)
        && !observe
        && known.annotated.is_none()
        && (current.is_none() || current != known.recorded)
    {
        // About to buy: the cache may lag behind an id an earlier pass
        // recorded, so take the recorded id from a fresh read.
        let api: Api<Ipv6InternetBandwidth> =
            Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
        let fresh = api.get_status(&object.name_any()).await?;
        known.recorded = fresh.status.and_then(|s| s.id);
        progress.status.id.clone_from(&known.recorded);
    }
    let step = decide(spec, &known, address.as_ref());
    if let Some(address) = &address
        && is_ours(&known, address)
    {
        record(progress, address);
    }
    act(object, ctx, &client, &region, step, progress).await
}

/// Carry out `step`.
async fn act(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    step: Step,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let key = key(object);
    let spec = &object.spec;
    let drift = reconcile::drift_interval(object, &ctx.config);
    let observe = observing(object);
    let id = progress.status.id.clone().unwrap_or_default();
    let (verdict, action) = match step {
        Step::Allocate { earlier } => {
            return allocate(object, ctx, client, region, earlier, progress).await;
        }
        Step::Resize { was } => {
            client
                .call(&ModifyIpv6InternetBandwidth {
                    region_id: region.to_string(),
                    ipv6_internet_bandwidth_id: Some(id.clone()),
                    ipv6_address_id: Some(spec.ipv6_address_id.clone()),
                    bandwidth: Some(spec.bandwidth),
                    // Setting an absolute bandwidth is idempotent; a token would make
                    // a later return to the same value a replay that changes nothing.
                    client_token: None,
                    dry_run: None,
                })
                .await?;
            let note = format!("set bandwidth {id} from {was} to {} Mbps", spec.bandwidth);
            event(
                ctx,
                object,
                EventType::Normal,
                "Updated",
                "Update",
                note.clone(),
            )
            .await;
            progress.status.bandwidth = Some(spec.bandwidth);
            progress.verdict = Verdict::progressing("Updating", note);
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        Step::Wait { state } => {
            progress.verdict = Verdict::progressing(
                "Configuring",
                format!("IPv6 address {} is {state}", spec.ipv6_address_id),
            );
            return Ok(Action::requeue(ctx.pacing.transitional(&key)));
        }
        Step::NoAddress => (
            Verdict::stalled(
                "Ipv6AddressNotFound",
                format!(
                    "IPv6 address {} does not exist in region {region}",
                    spec.ipv6_address_id
                ),
            ),
            Action::requeue(drift),
        ),
        Step::WrongGateway { gateway } => (
            Verdict::stalled(
                "InvalidSpec",
                format!(
                    "IPv6 address {} belongs to gateway {gateway}, not spec.ipv6GatewayId {}",
                    spec.ipv6_address_id, spec.ipv6_gateway_id
                ),
            ),
            Action::await_change(),
        ),
        Step::Mismatch { found, wanted } => (
            Verdict::stalled(
                "AdoptionMismatch",
                format!(
                    "IPv6 address {} carries bandwidth {found}, not {}",
                    spec.ipv6_address_id,
                    wanted.as_deref().unwrap_or("the one named")
                ),
            ),
            Action::requeue(drift),
        ),
        Step::Missing => (
            Verdict::stalled(
                "NotFound",
                format!(
                    "IPv6 address {} has no internet bandwidth (observed, not managed)",
                    spec.ipv6_address_id
                ),
            ),
            Action::requeue(drift),
        ),
        Step::ChargeDiffers { charge } => (
            Verdict::stalled(
                if observe { "Drifted" } else { "Immutable" },
                format!(
                    "bandwidth {id} is billed {charge}, not {}: the charge type cannot change; \
                     restore the spec, or delete this object and create a new one",
                    spec.internet_charge_type.as_str()
                ),
            ),
            Action::requeue(drift),
        ),
        Step::InSync if observe => (
            Verdict::ready(
                "Observed",
                format!("bandwidth {id} matches the spec (observed, not managed)"),
            ),
            Action::requeue(drift),
        ),
        Step::InSync => (
            Verdict::ready(
                "Available",
                format!(
                    "bandwidth {id} gives IPv6 address {} {} Mbps",
                    spec.ipv6_address_id, spec.bandwidth
                ),
            ),
            Action::requeue(drift),
        ),
        Step::Drifted { was } => (
            Verdict::stalled(
                "Drifted",
                format!(
                    "observed, not managed: bandwidth {id} has {was} Mbps, the spec {}",
                    spec.bandwidth
                ),
            ),
            Action::requeue(drift),
        ),
    };
    ctx.pacing.settled(&key);
    progress.verdict = verdict;
    Ok(action)
}

/// Buy the bandwidth. `earlier` is the id of one this object had, now gone.
async fn allocate(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    earlier: Option<String>,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    if object
        .status
        .as_ref()
        .and_then(|s| s.location.as_ref())
        .is_none()
    {
        return Ok(record_place_first(progress));
    }
    let spec = &object.spec;
    let response = client
        .call(&AllocateIpv6InternetBandwidth {
            region_id: region.to_string(),
            ipv6_gateway_id: spec.ipv6_gateway_id.clone(),
            ipv6_address_id: spec.ipv6_address_id.clone(),
            bandwidth: Some(spec.bandwidth),
            internet_charge_type: Some(spec.internet_charge_type.as_str().to_string()),
            client_token: Some(allocate_token(object, earlier.as_deref())),
        })
        .await;
    let id = match response {
        Ok(r) => r.internet_bandwidth_id,
        Err(e) if e.code() == Some("OperationFailed.Ipv6InternetBandwidthAlreadyExist") => {
            ctx.pacing.settled(&key(object));
            progress.verdict = Verdict::stalled(
                "AlreadyExists",
                format!(
                    "IPv6 address {} already has internet bandwidth that natop did not buy; \
                     set the annotation natop.dev/external-id to its id to adopt it",
                    spec.ipv6_address_id
                ),
            );
            return Ok(Action::requeue(WAITING));
        }
        Err(e) if e.code() == Some("IdempotentParameterMismatch") => {
            ctx.pacing.settled(&key(object));
            progress.verdict = Verdict::stalled(
                "IdempotentParameterMismatch",
                "bandwidth was already bought for this object with other parameters; \
                 set the annotation natop.dev/external-id to its id to adopt it",
            );
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };
    progress.status.id = Some(id.clone());
    let (reason, note) = match &earlier {
        Some(old) if *old != id => (
            "Recreated",
            format!(
                "bandwidth {old} was gone; bought {id} for IPv6 address {}",
                spec.ipv6_address_id
            ),
        ),
        _ => (
            "Created",
            format!(
                "bought bandwidth {id} for IPv6 address {}",
                spec.ipv6_address_id
            ),
        ),
    };
    event(
        ctx,
        object,
        EventType::Normal,
        reason,
        "Create",
        note.clone(),
    )
    .await;
    progress.verdict = Verdict::progressing("Creating", note);
    Ok(Action::requeue(Duration::from_millis(200)))
}

/// `None` when the object may go; otherwise when to look again.
async fn cleanup(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let spec: &Ipv6InternetBandwidthSpec = &object.spec;
    // The recorded id, or one the annotation may adopt (never another object's).
    let id = progress
        .status
        .id
        .clone()
        .or_else(|| adoptable(object, ctx, None).ok().flatten());
    let recorded_at = progress.status.location.clone();
    let (client, here) = match alibaba(object, ctx).await? {
        Ok(found) => found,
        Err(verdict) => {
            if id.is_none() && recorded_at.is_none() {
                // natop records the place before buying: nothing was bought.
                return Ok(None);
            }
            progress.verdict = verdict;
            return Ok(Some(Action::requeue(WAITING)));
        }
    };
    let what = format!("the bandwidth of IPv6 address {}", spec.ipv6_address_id);
    if let Err(message) = location::check(recorded_at.as_ref(), &here, &what) {
        progress.verdict = Verdict::stalled(
            location::LOCATION_CHANGED,
            format!("not deleted: {message}"),
        );
        return Ok(Some(Action::requeue(WAITING)));
    }
    let region = here.region.clone();
    let Some(address) = describe(&client, &region, &spec.ipv6_address_id).await? else {
        return Ok(None);
    };
    let Some(current) = bandwidth_id(&address).map(str::to_string) else {
        return Ok(None);
    };
    let id = match id {
        Some(id) if id == current => id,
        // Another bandwidth: not this object's to delete.
        Some(_) => return Ok(None),
        // No id recorded, but an allocate may have been answered and the
        // answer lost: its ClientToken replays to the same id when it was ours.
        None => {
            match client
                .call(&AllocateIpv6InternetBandwidth {
                    region_id: region.clone(),
                    ipv6_gateway_id: spec.ipv6_gateway_id.clone(),
                    ipv6_address_id: spec.ipv6_address_id.clone(),
                    bandwidth: Some(spec.bandwidth),
                    internet_charge_type: Some(spec.internet_charge_type.as_str().to_string()),
                    client_token: Some(allocate_token(object, None)),
                })
                .await
            {
                Ok(r) if r.internet_bandwidth_id == current => current,
                Ok(_) => return Ok(None),
                Err(e) if e.code() == Some("IdempotentParameterMismatch") => {
                    // This object allocated once, with other parameters:
                    // the bandwidth is probably its own, but not certainly.
                    progress.verdict = Verdict::progressing(
                        "Unrecorded",
                        format!(
                            "cannot tell whether bandwidth {current} was bought by this object: \
                             set the annotation natop.dev/external-id to {current} to delete it, \
                             or deletionPolicy Orphan to leave it"
                        ),
                    );
                    return Ok(Some(Action::requeue(WAITING)));
                }
                Err(e) if e.is_retryable() => return Err(e.into()),
                Err(_) => return Ok(None),
            }
        }
    };
    if address.status != "Available" {
        progress.verdict = Verdict::progressing(
            "Deleting",
            format!(
                "waiting for IPv6 address {} ({})",
                spec.ipv6_address_id, address.status
            ),
        );
        return Ok(Some(Action::requeue(ctx.pacing.transitional(&key(object)))));
    }
    match client
        .call(&DeleteIpv6InternetBandwidth {
            region_id: region.clone(),
            ipv6_internet_bandwidth_id: Some(id.clone()),
            ipv6_address_id: Some(spec.ipv6_address_id.clone()),
            client_token: Some(client_token(
                &object.uid().unwrap_or_default(),
                &(KIND, "delete", &id),
            )),
            dry_run: None,
        })
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    event(
        ctx,
        object,
        EventType::Normal,
        "Deleted",
        "Delete",
        format!(
            "deleted bandwidth {id}; IPv6 address {} is private again",
            spec.ipv6_address_id
        ),
    )
    .await;
    Ok(None)
}
