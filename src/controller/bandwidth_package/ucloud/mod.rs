//! A UCloud temporary bandwidth package: extra bandwidth for an EIP from
//! `enableTime` for `timeRange` hours. There is no modify action, so the
//! package is bought once and then only watched.
//!
//! - **Never bought twice.** CreateBandwidthPackage has no idempotency token.
//!   Before every purchase natop records the window it is about to buy in
//!   `status.enableTime`/`status.disableTime` (read back fresh from the API
//!   server, not from the cache). When a purchase's answer is lost (or natop
//!   stops between the purchase and recording the id), the next attempt lists
//!   the region's packages and adopts the one on the same EIP with the same
//!   bandwidth and the recorded window (one no other object has claimed)
//!   instead of buying again. A default `enableTime` ("when created") is the
//!   time chosen for the first attempt, so every retry looks for the same
//!   window.
//! - **Times are the service's.** Windows start and end by UCloud's clock,
//!   which the client learns from the `Date` of its answers.
//! - **Expiry.** A package whose window has ended is `Expired`
//!   (`status.expired: true`, `status.status: Expired`) and is never bought
//!   again. Ready stays `True` with reason `Expired`: the object asked for
//!   bandwidth during a window and got it, so GitOps health stays green once a
//!   temporary package has run its course. Delete the object (nothing is
//!   called then) or create a new one for another window.
//! - **Gone early.** A package that disappears before its window ends was
//!   deleted outside natop: the object is `Stalled` (reason `PackageGone`) and
//!   natop does not buy another, because a second purchase would cost money
//!   nobody asked for twice.
//! - **Changed spec.** The spec is immutable (the schema says so on servers
//!   with CEL; the controller checks it everywhere): a spec that no longer
//!   matches the package bought is `Stalled` (reason `Immutable`), with no
//!   cloud call.

pub mod decide;

use std::time::Duration;

use crate::controller::engine::Action;
use kube::{Api, ResourceExt};

use self::decide::{
    CleanupInput, CleanupStep, Input, Phase, Purchase, PurchaseInput, REFUSED, Step, decide,
    decide_cleanup, decide_purchase, keep_looking, needs_listing, refusal_stands, seconds, show,
    time,
};
use crate::api::ManagementPolicy;
use crate::api::bandwidth_package::BandwidthPackageStatus;
use crate::api::bandwidth_package::{BandwidthPackage, UCloudBandwidthPackage};
use crate::cloud::ErrorCategory;
use crate::cloud::ucloud::UcloudClient;
use crate::cloud::ucloud::actions::{
    BandwidthPackage as CloudPackage, CreateBandwidthPackage, DeleteBandwidthPackage,
    DescribeBandwidthPackage,
};
use crate::controller::Context;
use crate::controller::engine::{self, Draft};
use crate::controller::reconcile::{self, ReconcileError, key, tell};
use crate::controller::status::Verdict;

/// The longest natop waits before looking at a package again when a window
/// edge is near (the drift interval applies otherwise).
const EDGE_MARGIN: Duration = Duration::from_secs(2);

/// How often a package missing from the listing is looked for again.
const NOT_LISTED_RECHECK: Duration = Duration::from_secs(5);

async fn list(client: &UcloudClient, region: &str) -> Result<Vec<CloudPackage>, ReconcileError> {
    Ok(client
        .describe_all(&DescribeBandwidthPackage {
            region: region.to_string(),
            ..Default::default()
        })
        .await?)
}

fn record(draft: &mut Draft<BandwidthPackageStatus>, cloud: &CloudPackage, phase: Phase) {
    let status = &mut draft.status;
    status.id = Some(cloud.bandwidth_package_id.clone());
    status.enable_time = cloud.enable_time.and_then(time);
    status.disable_time = cloud.disable_time.and_then(time);
    status.status = Some(phase.as_str().to_string());
    status.expired = Some(phase == Phase::Expired);
}

fn expired(draft: &mut Draft<BandwidthPackageStatus>, id: &str) {
    draft.status.status = Some(Phase::Expired.as_str().to_string());
    draft.status.expired = Some(true);
    let end = draft
        .status
        .disable_time
        .as_ref()
        .map(|t| format!(" at {}", show(seconds(t))))
        .unwrap_or_default();
    draft.verdict = Verdict::ready(
        "Expired",
        format!(
            "package {id} ended{end}; natop never buys it again: \
             create a new object for another window"
        ),
    );
}

/// Whether a package (or purchase) missing from the listing is still looked
/// for: missing for less than `--listing-grace`.
fn within_grace(package: &BandwidthPackage, ctx: &Context) -> bool {
    keep_looking(
        false,
        ctx.pacing.missing_for(&key(package)),
        ctx.config.listing_grace,
    )
}

/// Converge the package towards `spec`; fills `draft`.
pub async fn apply(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    let drift = reconcile::drift_interval(package, &ctx.config);
    let observe = package.spec.management_policy == ManagementPolicy::Observe;
    let mut input = Input {
        status: draft.status.clone(),
        observe,
        wanted: draft.status.id.clone().or(draft.known.annotated.clone()),
        ..Input::default()
    };
    if needs_listing(&input) {
        input.packages = list(client, region).await?;
        input.now = client.server_now().as_second();
        input.within_grace = within_grace(package, ctx);
    }
    let listed = |id: &str| {
        input
            .packages
            .iter()
            .find(|p| p.bandwidth_package_id == id)
            .cloned()
    };
    match decide(spec, &input) {
        Step::Expired { id } => {
            // The end is final: nothing is called any more.
            if let Some(cloud) = listed(&id) {
                record(draft, &cloud, Phase::Expired);
            }
            ctx.pacing.at_rest(&object);
            ctx.pacing.settled(&object);
            expired(draft, &id);
            Ok(Action::await_change())
        }
        Step::NothingToObserve => {
            ctx.pacing.settled(&object);
            draft.verdict = Verdict::stalled(
                "NotFound",
                "no package to observe: set the annotation natop.dev/external-id",
            );
            Ok(Action::await_change())
        }
        Step::Purchase => create(package, spec, ctx, client, region, draft).await,
        Step::NotListed { id } => {
            draft.status.id = Some(id.clone());
            draft.verdict = Verdict::progressing(
                "NotListed",
                format!(
                    "package {id} is not in the region's listing; listings can lag, so natop \
                     looks again for {} s before concluding it is gone",
                    ctx.config.listing_grace.as_secs()
                ),
            );
            Ok(Action::requeue(NOT_LISTED_RECHECK))
        }
        Step::Gone { id, end } => {
            // Counters reset, the time it has been missing kept: a later
            // check that still misses it concludes at once, one that finds it
            // settles.
            ctx.pacing.at_rest(&object);
            draft.status.status = Some("Gone".into());
            draft.verdict = Verdict::stalled(
                "PackageGone",
                format!(
                    "package {id} disappeared before its end at {}: it was deleted outside \
                     natop; natop does not buy another (delete this object and create a new one \
                     to buy again)",
                    show(end)
                ),
            );
            // Looked at again on the drift timer: should a lagging listing
            // show it after all, the object recovers by itself.
            Ok(Action::requeue(drift))
        }
        Step::NotFound { id } => {
            ctx.pacing.at_rest(&object);
            draft.verdict = Verdict::stalled(
                "NotFound",
                format!("package {id} does not exist in the region"),
            );
            Ok(Action::requeue(drift))
        }
        Step::NoWindow { id } => {
            draft.status.id = Some(id.clone());
            draft.verdict =
                Verdict::progressing("Creating", format!("package {id} has no window yet"));
            Ok(Action::requeue(ctx.pacing.transitional(&object)))
        }
        Step::Differs { id, difference } => {
            if let Some(cloud) = listed(&id) {
                record(draft, &cloud, phase_of(&cloud, input.now));
            }
            ctx.pacing.settled(&object);
            if observe {
                draft.observed(&format!("package {id}"), Some(difference));
            } else {
                draft.verdict = Verdict::stalled(
                    "Immutable",
                    format!(
                        "package {id} does not match the spec ({difference}) and UCloud \
                         packages cannot be changed: restore the spec, or delete this object \
                         and create a new one"
                    ),
                );
            }
            Ok(Action::requeue(drift))
        }
        Step::InSync {
            id,
            phase,
            enable,
            disable,
        } => {
            if let Some(cloud) = listed(&id) {
                record(draft, &cloud, phase);
            }
            ctx.pacing.settled(&object);
            let window = format!("from {} to {}", show(enable), show(disable));
            let (reason, message) = match (phase, observe) {
                (_, true) => (
                    "Observed",
                    format!("package {id} runs {window} (observed, not managed)"),
                ),
                (Phase::Scheduled, false) => (
                    "Scheduled",
                    format!("package {id} is bought and runs {window}"),
                ),
                _ => ("Active", format!("package {id} is active {window}")),
            };
            draft.verdict = Verdict::ready(reason, message);
            if observe {
                draft.drift = Some(None);
            }
            // Look again when the window next changes (by the service's
            // clock), or after the drift interval, whichever comes first.
            let edge = if phase == Phase::Scheduled {
                enable
            } else {
                disable
            };
            let until_edge =
                Duration::from_secs(u64::try_from(edge - input.now).unwrap_or(0)) + EDGE_MARGIN;
            Ok(Action::requeue(until_edge.min(drift)))
        }
    }
}

/// The phase of a listed package's window at `now`.
fn phase_of(cloud: &CloudPackage, now: i64) -> Phase {
    match (cloud.enable_time, cloud.disable_time) {
        (Some(enable), Some(disable)) => Phase::of(now, enable, disable),
        _ => Phase::Scheduled,
    }
}

/// Ids of packages other BandwidthPackage objects have recorded: never
/// adopted by this one.
async fn claimed_by_others(
    package: &BandwidthPackage,
    ctx: &Context,
) -> Result<Vec<String>, ReconcileError> {
    let uid = package.uid();
    let mut claimed = Vec::new();
    // The watched namespaces only: natop may list nothing else.
    for scope in engine::scopes(&ctx.config.watch_namespaces) {
        let api: Api<BandwidthPackage> = match scope {
            Some(namespace) => Api::namespaced(ctx.client.clone(), &namespace),
            None => Api::all(ctx.client.clone()),
        };
        claimed.extend(
            api.list(&Default::default())
                .await?
                .items
                .into_iter()
                .filter(|p| p.uid() != uid)
                .filter_map(|p| p.status.and_then(|s| s.id)),
        );
    }
    Ok(claimed)
}

async fn create(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    // The cache may lag behind what an earlier attempt recorded: read fresh.
    let api: Api<BandwidthPackage> =
        Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
    let fresh = api.get_status(&package.name_any()).await?;
    let recorded = fresh.status.clone().unwrap_or_default();
    let refusal = refusal(&fresh);
    let mut input = PurchaseInput {
        recorded: recorded.clone(),
        refused_for: refusal.as_ref().map(|(age, _)| *age),
        recheck: reconcile::drift_interval(package, &ctx.config),
        ..PurchaseInput::default()
    };
    if recorded.id.is_none() && recorded.expired != Some(true) && refusal_stands(&input).is_none() {
        input.packages = list(client, region).await?;
        input.now = client.server_now().as_second();
        input.claimed = claimed_by_others(package, ctx).await?;
        if recorded.enable_time.is_some() {
            input.within_grace = within_grace(package, ctx);
        }
    }
    let (enable, disable) = match decide_purchase(spec, &input) {
        Purchase::Reread => {
            draft.status = recorded;
            draft.verdict = Verdict::progressing("Creating", "reading the package recorded");
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        Purchase::Refused { again_in } => {
            draft.status = recorded;
            if let Some((_, verdict)) = refusal {
                draft.verdict = verdict;
            }
            ctx.pacing.settled(&object);
            return Ok(Action::requeue(again_in));
        }
        Purchase::Adopt(found) => {
            let id = found.bandwidth_package_id.clone();
            draft.status = recorded;
            record(draft, &found, phase_of(&found, input.now));
            let note = if input.recorded.enable_time.is_some() {
                format!(
                    "found package {id}, bought by an earlier attempt whose answer was lost; \
                     recorded it"
                )
            } else {
                format!(
                    "package {id} on EIP {} gives what the spec asks for and no other object \
                     claims it (made for this object before, e.g. in a rebuilt cluster): \
                     adopted it",
                    spec.eip_id
                )
            };
            tell(ctx, package, "Adopted", "Create", note.clone()).await;
            draft.verdict = Verdict::progressing("Creating", note);
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        Purchase::WindowOver => {
            draft.status = recorded;
            expired(draft, "(none listed)");
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
        Purchase::Confirming => {
            // A purchase may have been made (its answer lost, or natop
            // stopped before recording it) and the listing may not show it
            // yet: buy again only once it has stayed missing long enough.
            draft.status = recorded;
            draft.verdict = Verdict::progressing(
                "Confirming",
                format!(
                    "an earlier purchase for {} may have been made; natop looks for it in the \
                     region's listing for {} s before buying",
                    spec.eip_id,
                    ctx.config.listing_grace.as_secs()
                ),
            );
            return Ok(Action::requeue(NOT_LISTED_RECHECK));
        }
        Purchase::WindowPassed { enable, disable } => {
            ctx.pacing.settled(&object);
            draft.verdict = Verdict::stalled(
                "WindowPassed",
                format!(
                    "the window from {} to {} is over: nothing was bought; set a later \
                     enableTime",
                    show(enable),
                    show(disable)
                ),
            );
            return Ok(Action::await_change());
        }
        Purchase::Buy { enable, disable } => (enable, disable),
    };
    let mut pending = recorded.clone();
    pending.enable_time = time(enable);
    pending.disable_time = time(disable);
    pending.status = Some(decide::PURCHASING.into());
    pending.cloud = Some("UCloud".into());
    draft.status = pending;
    draft.verdict =
        Verdict::progressing("Creating", format!("buying a package for {}", spec.eip_id));
    // Recorded only if nobody wrote since `fresh` was read: of two writers
    // (a leader-election overlap, two installs) one records and buys, the
    // other gets a Conflict and, next time, finds the record.
    crate::controller::engine::write_status_unchanged_since(ctx, &api, &fresh, draft).await?;
    let response = client
        .call(&CreateBandwidthPackage {
            region: region.to_string(),
            project_id: None,
            bandwidth: Some(spec.bandwidth),
            eip_id: spec.eip_id.clone(),
            time_range: Some(spec.time_range),
            enable_time: Some(enable),
            coupon_id: spec.coupon_id.clone(),
        })
        .await;
    let id = match response {
        Ok(r) => r.bandwidth_package_id,
        Err(e) if e.category() == ErrorCategory::UnknownOutcome => {
            // Look before trying again: the next attempt lists the packages.
            draft.verdict = Verdict::progressing(
                "UnknownOutcome",
                "the answer to CreateBandwidthPackage was lost; natop lists the region's \
                 packages before buying again",
            );
            return Ok(Action::requeue(ctx.pacing.backoff(&object)));
        }
        Err(e) => {
            // A definite answer: nothing was bought, and the next attempt
            // need not wait for a purchase to show up in the listing.
            draft.status.status = Some(REFUSED.into());
            return Err(e.into());
        }
    };
    // Bought: the time spent looking for an earlier purchase is over.
    ctx.pacing.settled(&object);
    draft.status.id = Some(id.clone());
    let note = format!(
        "bought package {id} for {} from {} to {}",
        spec.eip_id,
        show(enable),
        show(disable)
    );
    tell(ctx, package, "Created", "Create", note.clone()).await;
    draft.verdict = Verdict::progressing("Creating", note);
    Ok(Action::requeue(Duration::from_millis(200)))
}

/// The refusal `fresh` records for its current generation: how long ago the
/// service refused its purchase, and the Stalled verdict that says why.
fn refusal(fresh: &BandwidthPackage) -> Option<(Duration, Verdict)> {
    let status = fresh.status.as_ref()?;
    if status.status.as_deref() != Some(REFUSED) || status.id.is_some() {
        return None;
    }
    let stalled = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Stalled" && c.status == "True")?;
    if stalled.observed_generation != fresh.metadata.generation {
        return None;
    }
    let since = jiff::Timestamp::now().duration_since(stalled.last_transition_time.0);
    Some((
        Duration::try_from(since).unwrap_or_default(),
        Verdict::stalled(&stalled.reason, stalled.message.clone()),
    ))
}

/// Delete the package: `None` once it is gone, else when to look again.
/// Deleting an expired package is a no-op: it no longer exists.
pub async fn cleanup(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Option<Action>, ReconcileError> {
    let mut input = CleanupInput {
        status: draft.status.clone(),
        ..CleanupInput::default()
    };
    if decide::cleanup_needs_listing(&input.status) {
        input.packages = list(client, region).await?;
        input.now = client.server_now().as_second();
        if input.status.id.is_none() && input.status.enable_time.is_some() {
            input.claimed = claimed_by_others(package, ctx).await?;
            input.within_grace = within_grace(package, ctx);
        }
    }
    let id = match decide_cleanup(spec, &input) {
        CleanupStep::Nothing => return Ok(None),
        CleanupStep::Confirming => {
            // It may have been bought and not be listed yet.
            draft.verdict = Verdict::progressing(
                "Confirming",
                format!(
                    "a purchase for {} may have been made; natop looks for it in the \
                     region's listing for {} s before releasing the object",
                    spec.eip_id,
                    ctx.config.listing_grace.as_secs()
                ),
            );
            return Ok(Some(Action::requeue(NOT_LISTED_RECHECK)));
        }
        CleanupStep::Delete(id) => id,
    };
    match client
        .call(&DeleteBandwidthPackage {
            region: region.to_string(),
            project_id: None,
            bandwidth_package_id: id.clone(),
        })
        .await
    {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    tell(
        ctx,
        package,
        "Deleted",
        "Delete",
        format!("deleted package {id}"),
    )
    .await;
    Ok(None)
}
