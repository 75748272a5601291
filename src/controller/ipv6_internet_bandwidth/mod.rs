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

pub mod decide;

use std::time::Duration;

use crate::controller::engine::Action;
use kube::{Api, ResourceExt};

use super::Context;
use super::engine::{self, Draft, ManagedKind};
use super::identity::client_token;
use super::location;
use super::reconcile::{self, ReconcileError, key, tell};
use super::status::Verdict;
use crate::api::ipv6_internet_bandwidth::{
    Ipv6InternetBandwidth, Ipv6InternetBandwidthSpec, Ipv6InternetBandwidthStatus,
};
use crate::api::{CloudLocation, ManagementPolicy};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::ipv6::{
    AllocateIpv6InternetBandwidth, DeleteIpv6InternetBandwidth, DescribeIpv6Addresses, Ipv6Address,
    ModifyIpv6InternetBandwidth,
};
use decide::{CleanupStep, Known, Replayed, Step, bandwidth_id, decide, decide_cleanup, is_ours};

/// The kind, for logs, metrics and events.
pub const KIND: &str = "Ipv6InternetBandwidth";
/// What an IPv6 internet bandwidth id starts with.
const ID_PREFIX: &str = "ipv6bw-";

/// How long to wait before looking again at something outside natop's hands.
const WAITING: Duration = Duration::from_secs(30);

/// The Alibaba client for `object` (at its recorded place, when it has one)
/// and where it acts, or a Stalled verdict saying why there is none.
async fn alibaba(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
) -> Result<Result<(AlibabaClient, CloudLocation), Verdict>, ReconcileError> {
    let recorded = object.status.as_ref().and_then(|s| s.location.as_ref());
    let spec = &object.spec;
    engine::alibaba(
        ctx,
        KIND,
        &object.namespace().unwrap_or_default(),
        recorded,
        &spec.provider_config_ref.name,
        spec.region.as_deref(),
    )
    .await
}

impl ManagedKind for Ipv6InternetBandwidth {
    const KIND: &'static str = KIND;
    type Status = Ipv6InternetBandwidthStatus;

    engine::managed_fields!();
    fn id_prefixes(&self) -> &'static [&'static str] {
        &[ID_PREFIX]
    }

    fn orphaned_note(
        &self,
        _ctx: &Context,
        draft: &Draft<Ipv6InternetBandwidthStatus>,
    ) -> Option<String> {
        // The recorded id, or one the annotation may adopt (never another object's).
        let id = draft.known.id()?;
        Some(format!("left IPv6 internet bandwidth {id} in the cloud"))
    }

    async fn apply(
        &self,
        ctx: &Context,
        draft: &mut Draft<Ipv6InternetBandwidthStatus>,
    ) -> Result<Action, ReconcileError> {
        let object = self;
        let key = key(object);
        let spec = &object.spec;
        let annotated = draft.known.adopting().map(String::from);
        let (client, here) = match alibaba(object, ctx).await? {
            Ok(found) => found,
            Err(verdict) => {
                draft.verdict = verdict;
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
            draft.verdict = Verdict::stalled(location::LOCATION_CHANGED, message);
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
        draft.status.location = Some(here.clone());
        let region = here.region.clone();
        let observe = observing(object);
        let address = describe(&client, &region, &spec.ipv6_address_id).await?;
        let mut known = Known {
            recorded: draft.status.id.clone(),
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
            draft.status.id.clone_from(&known.recorded);
        }
        let step = decide(spec, &known, address.as_ref());
        if let Some(address) = &address
            && is_ours(&known, address)
        {
            record(draft, address);
        }
        act(object, ctx, &client, &region, step, draft).await
    }

    /// `None` when the object may go; otherwise when to look again.
    async fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Draft<Ipv6InternetBandwidthStatus>,
    ) -> Result<Option<Action>, ReconcileError> {
        let object = self;
        let spec: &Ipv6InternetBandwidthSpec = &object.spec;
        // The recorded id, or one the annotation may adopt (never another object's).
        let id = draft.known.id().map(String::from);
        let recorded_at = draft.status.location.clone();
        let (client, here) = match alibaba(object, ctx).await? {
            Ok(found) => found,
            Err(verdict) => {
                if id.is_none() && recorded_at.is_none() {
                    // natop records the place before buying: nothing was bought.
                    return Ok(None);
                }
                draft.verdict = verdict;
                return Ok(Some(Action::requeue(WAITING)));
            }
        };
        let what = format!("the bandwidth of IPv6 address {}", spec.ipv6_address_id);
        if let Err(message) = location::check(recorded_at.as_ref(), &here, &what) {
            draft.verdict = Verdict::stalled(
                location::LOCATION_CHANGED,
                format!("not deleted: {message}"),
            );
            return Ok(Some(Action::requeue(WAITING)));
        }
        let region = here.region.clone();
        let address = describe(&client, &region, &spec.ipv6_address_id).await?;
        let mut replayed = None;
        let id = loop {
            match decide_cleanup(id.as_deref(), address.as_ref(), replayed.as_ref()) {
                CleanupStep::Gone | CleanupStep::NotOurs => return Ok(None),
                // No id recorded, but an allocate may have been answered and
                // the answer lost: its ClientToken replays to the same id when
                // it was ours.
                CleanupStep::Replay(_) => {
                    let answer = client
                        .call(&AllocateIpv6InternetBandwidth {
                            region_id: region.clone(),
                            ipv6_gateway_id: spec.ipv6_gateway_id.clone(),
                            ipv6_address_id: spec.ipv6_address_id.clone(),
                            bandwidth: Some(spec.bandwidth),
                            internet_charge_type: Some(
                                spec.internet_charge_type.as_str().to_string(),
                            ),
                            client_token: Some(allocate_token(object, None)),
                        })
                        .await;
                    replayed = Some(match answer {
                        Ok(r) => Replayed::Bandwidth(r.internet_bandwidth_id),
                        Err(e) if e.code() == Some("IdempotentParameterMismatch") => {
                            Replayed::OtherParameters
                        }
                        Err(e) if e.is_retryable() => return Err(e.into()),
                        Err(_) => Replayed::Refused,
                    });
                }
                CleanupStep::Unrecorded(current) => {
                    // This object allocated once, with other parameters: the
                    // bandwidth is probably its own, but not certainly.
                    draft.verdict = Verdict::progressing(
                        "Unrecorded",
                        format!(
                            "cannot tell whether bandwidth {current} was bought by this object: \
                             set the annotation natop.dev/external-id to {current} to delete it, \
                             or deletionPolicy Orphan to leave it"
                        ),
                    );
                    return Ok(Some(Action::requeue(WAITING)));
                }
                CleanupStep::Wait { status } => {
                    draft.verdict = Verdict::progressing(
                        "Deleting",
                        format!(
                            "waiting for IPv6 address {} ({status})",
                            spec.ipv6_address_id
                        ),
                    );
                    return Ok(Some(Action::requeue(ctx.pacing.transitional(&key(object)))));
                }
                CleanupStep::Delete(id) => break id,
            }
        };
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
        tell(
            ctx,
            object,
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
}

/// Before the first purchase: record where it goes (the status write that
/// follows), and buy on the next pass.
fn record_place_first(draft: &mut Draft<Ipv6InternetBandwidthStatus>) -> Action {
    draft.verdict = Verdict::progressing(
        "Allocating",
        format!(
            "buying the bandwidth in {}",
            draft.status.location.clone().unwrap_or_default()
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

fn record(draft: &mut Draft<Ipv6InternetBandwidthStatus>, address: &Ipv6Address) {
    let status = &mut draft.status;
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

/// Carry out `step`.
async fn act(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    step: Step,
    draft: &mut Draft<Ipv6InternetBandwidthStatus>,
) -> Result<Action, ReconcileError> {
    let key = key(object);
    let spec = &object.spec;
    let drift = reconcile::drift_interval(object, &ctx.config);
    let observe = observing(object);
    let id = draft.status.id.clone().unwrap_or_default();
    // Observed only: a difference is the Drifted condition, never an error.
    let observed = match &step {
        Step::InSync if observe => Some(None),
        Step::Drifted { was } => Some(Some(format!(
            "it has {was} Mbps, the spec {}",
            spec.bandwidth
        ))),
        Step::ChargeDiffers { charge } if observe => Some(Some(format!(
            "it is billed {charge}, the spec {}",
            spec.internet_charge_type.as_str()
        ))),
        _ => None,
    };
    let (verdict, action) = match step {
        Step::Allocate { earlier } => {
            return allocate(object, ctx, client, region, earlier, draft).await;
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
            tell(ctx, object, "Updated", "Update", note.clone()).await;
            draft.status.bandwidth = Some(spec.bandwidth);
            draft.verdict = Verdict::progressing("Updating", note);
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        Step::Wait { state } => {
            draft.verdict = Verdict::progressing(
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
    match observed {
        Some(difference) => draft.observed(&format!("bandwidth {id}"), difference),
        None => draft.verdict = verdict,
    }
    Ok(action)
}

/// Buy the bandwidth. `earlier` is the id of one this object had, now gone.
async fn allocate(
    object: &Ipv6InternetBandwidth,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    earlier: Option<String>,
    draft: &mut Draft<Ipv6InternetBandwidthStatus>,
) -> Result<Action, ReconcileError> {
    if object
        .status
        .as_ref()
        .and_then(|s| s.location.as_ref())
        .is_none()
    {
        return Ok(record_place_first(draft));
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
            draft.verdict = Verdict::stalled(
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
            draft.verdict = Verdict::stalled(
                "IdempotentParameterMismatch",
                "bandwidth was already bought for this object with other parameters; \
                 set the annotation natop.dev/external-id to its id to adopt it",
            );
            return Ok(Action::await_change());
        }
        Err(e) => return Err(e.into()),
    };
    draft.status.id = Some(id.clone());
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
    tell(ctx, object, reason, "Create", note.clone()).await;
    draft.verdict = Verdict::progressing("Creating", note);
    Ok(Action::requeue(Duration::from_millis(200)))
}
