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

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Api, ResourceExt};

use super::Progress;
use crate::api::bandwidth_package::{BandwidthPackage, UCloudBandwidthPackage};
use crate::api::{EXTERNAL_ID_ANNOTATION, ManagementPolicy};
use crate::cloud::ErrorCategory;
use crate::cloud::ucloud::UcloudClient;
use crate::cloud::ucloud::actions::{
    BandwidthPackage as CloudPackage, CreateBandwidthPackage, DeleteBandwidthPackage,
    DescribeBandwidthPackage,
};
use crate::controller::Context;
use crate::controller::reconcile::{self, ReconcileError, event, key};
use crate::controller::status::Verdict;

/// Seconds of slack when comparing the service's clock with a window's end:
/// the `Date` header has whole seconds.
const CLOCK_SLACK_S: i64 = 5;

/// The longest natop waits before looking at a package again when a window
/// edge is near (the drift interval applies otherwise).
const EDGE_MARGIN: Duration = Duration::from_secs(2);

/// How often a package missing from the listing is looked for again.
const NOT_LISTED_RECHECK: Duration = Duration::from_secs(5);

/// `status.status` while a purchase may have been made but its id is not
/// recorded (set before CreateBandwidthPackage is sent).
const PURCHASING: &str = "Purchasing";

/// Whether a package not found in the listing is looked for again rather
/// than concluded gone: its window has not ended and it has been missing for
/// less than `grace` (`--listing-grace`). UCloud has no read of one package,
/// and a listing can lag behind a purchase or skip an item while its pages
/// shift: natop buys again, releases the object or reports a package gone
/// only after that long.
pub fn keep_looking(ended: bool, missing_for: Duration, grace: Duration) -> bool {
    !ended && missing_for < grace
}

/// What the package's window looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Bought; starts later.
    Scheduled,
    /// Running now.
    Active,
    /// Ended.
    Expired,
}

impl Phase {
    fn of(now: i64, enable: i64, disable: i64) -> Phase {
        if now + CLOCK_SLACK_S >= disable {
            Phase::Expired
        } else if now < enable {
            Phase::Scheduled
        } else {
            Phase::Active
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Phase::Scheduled => "Scheduled",
            Phase::Active => "Active",
            Phase::Expired => "Expired",
        }
    }
}

fn seconds(time: &Time) -> i64 {
    time.0.as_second()
}

fn time(seconds: i64) -> Option<Time> {
    Timestamp::from_second(seconds).ok().map(Time)
}

fn show(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Length of the spec's window in seconds.
fn duration_s(spec: &UCloudBandwidthPackage) -> i64 {
    i64::from(spec.time_range) * 3600
}

/// How the package bought differs from the spec, if it does.
fn mismatch(spec: &UCloudBandwidthPackage, cloud: &CloudPackage) -> Option<String> {
    let mut differences = Vec::new();
    if cloud.eip_id != spec.eip_id {
        differences.push(format!("it is for {} not {}", cloud.eip_id, spec.eip_id));
    }
    if cloud.bandwidth != Some(spec.bandwidth) {
        differences.push(format!(
            "it has {} Mbps not {}",
            cloud.bandwidth.unwrap_or_default(),
            spec.bandwidth
        ));
    }
    if let (Some(enable), Some(disable)) = (cloud.enable_time, cloud.disable_time) {
        if disable - enable != duration_s(spec) {
            differences.push(format!(
                "it lasts {} s not {} hours",
                disable - enable,
                spec.time_range
            ));
        }
        if let Some(wanted) = &spec.enable_time
            && seconds(wanted) != enable
        {
            differences.push(format!(
                "it starts at {} not {}",
                show(enable),
                show(seconds(wanted))
            ));
        }
    }
    (!differences.is_empty()).then(|| differences.join(", "))
}

async fn list(client: &UcloudClient, region: &str) -> Result<Vec<CloudPackage>, ReconcileError> {
    Ok(client
        .describe_all(&DescribeBandwidthPackage {
            region: region.to_string(),
            ..Default::default()
        })
        .await?)
}

fn record(progress: &mut Progress, cloud: &CloudPackage, phase: Phase) {
    let status = &mut progress.status;
    status.id = Some(cloud.bandwidth_package_id.clone());
    status.enable_time = cloud.enable_time.and_then(time);
    status.disable_time = cloud.disable_time.and_then(time);
    status.status = Some(phase.as_str().to_string());
    status.expired = Some(phase == Phase::Expired);
}

fn expired(progress: &mut Progress, id: &str) {
    progress.status.status = Some(Phase::Expired.as_str().to_string());
    progress.status.expired = Some(true);
    let end = progress
        .status
        .disable_time
        .as_ref()
        .map(|t| format!(" at {}", show(seconds(t))))
        .unwrap_or_default();
    progress.verdict = Verdict::ready(
        "Expired",
        format!(
            "package {id} ended{end}; natop never buys it again: \
             create a new object for another window"
        ),
    );
}

/// Converge the package towards `spec`; fills `progress`.
pub async fn apply(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    let drift = reconcile::drift_interval(package, &ctx.config);
    let observe = package.spec.management_policy == ManagementPolicy::Observe;
    if progress.status.expired == Some(true) {
        // The end is final: nothing is called any more.
        ctx.pacing.settled(&object);
        let id = progress.status.id.clone().unwrap_or_default();
        expired(progress, &id);
        return Ok(Action::await_change());
    }
    let annotated = package.annotations().get(EXTERNAL_ID_ANNOTATION).cloned();
    let Some(id) = progress.status.id.clone().or(annotated) else {
        if observe {
            ctx.pacing.settled(&object);
            progress.verdict = Verdict::stalled(
                "NotFound",
                "no package to observe: set the annotation natop.dev/external-id",
            );
            return Ok(Action::await_change());
        }
        return create(package, spec, ctx, client, region, progress).await;
    };
    let packages = list(client, region).await?;
    let now = client.server_now().as_second();
    let Some(cloud) = packages.into_iter().find(|p| p.bandwidth_package_id == id) else {
        let ended = progress
            .status
            .disable_time
            .as_ref()
            .is_some_and(|end| now + CLOCK_SLACK_S >= seconds(end));
        if keep_looking(
            ended,
            ctx.pacing.missing_for(&object),
            ctx.config.listing_grace,
        ) {
            progress.status.id = Some(id.clone());
            progress.verdict = Verdict::progressing(
                "NotListed",
                format!(
                    "package {id} is not in the region's listing; listings can lag, so natop \
                     looks again for {} s before concluding it is gone",
                    ctx.config.listing_grace.as_secs()
                ),
            );
            return Ok(Action::requeue(NOT_LISTED_RECHECK));
        }
        return vanished(package, ctx, &id, now, progress);
    };
    let (Some(enable), Some(disable)) = (cloud.enable_time, cloud.disable_time) else {
        progress.status.id = Some(id.clone());
        progress.verdict =
            Verdict::progressing("Creating", format!("package {id} has no window yet"));
        return Ok(Action::requeue(ctx.pacing.transitional(&object)));
    };
    let phase = Phase::of(now, enable, disable);
    record(progress, &cloud, phase);
    ctx.pacing.settled(&object);
    if phase == Phase::Expired {
        expired(progress, &id);
        return Ok(Action::await_change());
    }
    if let Some(difference) = mismatch(spec, &cloud) {
        progress.verdict = if observe {
            Verdict::stalled("Drifted", format!("observed, not managed: {difference}"))
        } else {
            Verdict::stalled(
                "Immutable",
                format!(
                    "package {id} does not match the spec ({difference}) and UCloud packages \
                     cannot be changed: restore the spec, or delete this object and create a new one"
                ),
            )
        };
        return Ok(Action::requeue(drift));
    }
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
    progress.verdict = Verdict::ready(reason, message);
    // Look again when the window next changes (by the service's clock), or
    // after the drift interval, whichever comes first.
    let edge = if phase == Phase::Scheduled {
        enable
    } else {
        disable
    };
    let until_edge = Duration::from_secs(u64::try_from(edge - now).unwrap_or(0)) + EDGE_MARGIN;
    Ok(Action::requeue(until_edge.min(drift)))
}

/// The recorded package is no longer listed: expired, or deleted outside natop.
fn vanished(
    package: &BandwidthPackage,
    ctx: &Context,
    id: &str,
    now: i64,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    // Counters reset, the time it has been missing kept: a later check that
    // still misses it concludes at once, one that finds it settles.
    ctx.pacing.at_rest(&key(package));
    let end = progress.status.disable_time.as_ref().map(seconds);
    match end {
        Some(end) if now + CLOCK_SLACK_S >= end => {
            expired(progress, id);
            Ok(Action::await_change())
        }
        Some(end) => {
            progress.status.status = Some("Gone".into());
            progress.verdict = Verdict::stalled(
                "PackageGone",
                format!(
                    "package {id} disappeared before its end at {}: it was deleted outside natop; \
                     natop does not buy another (delete this object and create a new one to buy again)",
                    show(end)
                ),
            );
            // Looked at again on the drift timer: should a lagging listing
            // show it after all, the object recovers by itself.
            Ok(Action::requeue(reconcile::drift_interval(
                package,
                &ctx.config,
            )))
        }
        None => {
            progress.verdict = Verdict::stalled(
                "NotFound",
                format!("package {id} does not exist in the region"),
            );
            Ok(Action::requeue(reconcile::drift_interval(
                package,
                &ctx.config,
            )))
        }
    }
}

/// Ids of packages other BandwidthPackage objects have recorded: never
/// adopted by this one.
async fn claimed_by_others(
    package: &BandwidthPackage,
    ctx: &Context,
) -> Result<Vec<String>, ReconcileError> {
    let api: Api<BandwidthPackage> = match ctx.config.watch_namespaces.as_slice() {
        [one] => Api::namespaced(ctx.client.clone(), one),
        _ => Api::all(ctx.client.clone()),
    };
    let uid = package.uid();
    Ok(api
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter(|p| p.uid() != uid)
        .filter_map(|p| p.status.and_then(|s| s.id))
        .collect())
}

/// A package this object bought in an earlier attempt, found by its EIP,
/// bandwidth and recorded window.
fn find_bought<'a>(
    packages: &'a [CloudPackage],
    spec: &UCloudBandwidthPackage,
    enable: i64,
    claimed: &[String],
) -> Option<&'a CloudPackage> {
    packages
        .iter()
        .filter(|p| {
            p.eip_id == spec.eip_id
                && p.bandwidth == Some(spec.bandwidth)
                && p.enable_time == Some(enable)
                && p.disable_time == Some(enable + duration_s(spec))
                && !claimed.contains(&p.bandwidth_package_id)
        })
        .min_by_key(|p| (p.create_time, p.bandwidth_package_id.clone()))
}

async fn create(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let object = key(package);
    // The cache may lag behind what an earlier attempt recorded: read fresh.
    let api: Api<BandwidthPackage> =
        Api::namespaced(ctx.client.clone(), &package.namespace().unwrap_or_default());
    let fresh = api.get_status(&package.name_any()).await?;
    let recorded = fresh.status.clone().unwrap_or_default();
    if recorded.id.is_some() || recorded.expired == Some(true) {
        progress.status = recorded;
        progress.verdict = Verdict::progressing("Creating", "reading the package recorded");
        return Ok(Action::requeue(Duration::from_millis(100)));
    }
    let packages = list(client, region).await?;
    let now = client.server_now().as_second();
    if let Some(pending) = recorded.enable_time.as_ref().map(seconds) {
        // An earlier attempt chose this window and may have bought it.
        let claimed = claimed_by_others(package, ctx).await?;
        if let Some(found) = find_bought(&packages, spec, pending, &claimed) {
            let found = found.clone();
            let id = found.bandwidth_package_id.clone();
            progress.status = recorded;
            let phase = Phase::of(
                now,
                found.enable_time.unwrap_or(pending),
                found.disable_time.unwrap_or(pending),
            );
            record(progress, &found, phase);
            let note = format!(
                "found package {id}, bought by an earlier attempt whose answer was lost; recorded it"
            );
            event(
                ctx,
                package,
                EventType::Normal,
                "Adopted",
                "Create",
                note.clone(),
            )
            .await;
            progress.verdict = Verdict::progressing("Creating", note);
            return Ok(Action::requeue(Duration::from_millis(100)));
        }
        if now + CLOCK_SLACK_S >= pending + duration_s(spec) {
            // The window chosen earlier is over and nothing of it is listed:
            // it either ended or was never bought. Never buy a past window.
            progress.status = recorded;
            expired(progress, "(none listed)");
            ctx.pacing.settled(&object);
            return Ok(Action::await_change());
        }
        if recorded.status.as_deref() == Some(PURCHASING)
            && keep_looking(
                false,
                ctx.pacing.missing_for(&object),
                ctx.config.listing_grace,
            )
        {
            // A purchase may have been made (its answer lost, or natop
            // stopped before recording it) and the listing may not show it
            // yet: buy again only once it has stayed missing long enough.
            progress.status = recorded;
            progress.verdict = Verdict::progressing(
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
    }
    // Nothing was bought for this object: choose the window and record it
    // before buying, so that a lost answer is found again by that window.
    let enable = match &spec.enable_time {
        Some(t) => seconds(t),
        None => recorded
            .enable_time
            .as_ref()
            .map(seconds)
            // A window chosen earlier but refused (or never sent) is replaced
            // once it has started: the service refuses starts in the past.
            .filter(|t| *t + 60 >= now)
            .unwrap_or(now),
    };
    let disable = enable + duration_s(spec);
    if now + CLOCK_SLACK_S >= disable {
        ctx.pacing.settled(&object);
        progress.verdict = Verdict::stalled(
            "WindowPassed",
            format!(
                "the window from {} to {} is over: nothing was bought; set a later enableTime",
                show(enable),
                show(disable)
            ),
        );
        return Ok(Action::await_change());
    }
    let mut pending = recorded.clone();
    pending.enable_time = time(enable);
    pending.disable_time = time(disable);
    pending.status = Some(PURCHASING.into());
    pending.cloud = Some("UCloud".into());
    progress.status = pending;
    progress.verdict =
        Verdict::progressing("Creating", format!("buying a package for {}", spec.eip_id));
    // Recorded only if nobody wrote since `fresh` was read: of two writers
    // (a leader-election overlap, two installs) one records and buys, the
    // other gets a Conflict and, next time, finds the record.
    crate::controller::engine::write_status_unchanged_since(&api, &fresh, progress).await?;
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
            progress.verdict = Verdict::progressing(
                "UnknownOutcome",
                "the answer to CreateBandwidthPackage was lost; natop lists the region's \
                 packages before buying again",
            );
            return Ok(Action::requeue(ctx.pacing.backoff(&object)));
        }
        Err(e) => {
            // A definite answer: nothing was bought, and the next attempt
            // need not wait for a purchase to show up in the listing.
            progress.status.status = Some("Refused".into());
            return Err(e.into());
        }
    };
    // Bought: the time spent looking for an earlier purchase is over.
    ctx.pacing.settled(&object);
    progress.status.id = Some(id.clone());
    let note = format!(
        "bought package {id} for {} from {} to {}",
        spec.eip_id,
        show(enable),
        show(disable)
    );
    event(
        ctx,
        package,
        EventType::Normal,
        "Created",
        "Create",
        note.clone(),
    )
    .await;
    progress.verdict = Verdict::progressing("Creating", note);
    Ok(Action::requeue(Duration::from_millis(200)))
}

/// Delete the package: `None` once it is gone, else when to look again.
/// Deleting an expired package is a no-op: it no longer exists.
pub async fn cleanup(
    package: &BandwidthPackage,
    spec: &UCloudBandwidthPackage,
    ctx: &Context,
    client: &UcloudClient,
    region: &str,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    if progress.status.expired == Some(true) {
        return Ok(None);
    }
    let packages = list(client, region).await?;
    let now = client.server_now().as_second();
    let ended = |end: Option<i64>| end.is_some_and(|end| now + CLOCK_SLACK_S >= end);
    // Only what this object recorded: an annotation it never adopted names
    // nothing of its own.
    let id = match progress.status.id.clone() {
        // Listed or not (a listing can lag or skip), a recorded package is
        // deleted by its id unless its window has ended: the delete's answer
        // is the only read of one package UCloud has.
        Some(id) => {
            let end = match packages.iter().find(|p| p.bandwidth_package_id == id) {
                Some(listed) => listed.disable_time,
                None => progress.status.disable_time.as_ref().map(seconds),
            };
            if ended(end) {
                return Ok(None);
            }
            id
        }
        // A purchase whose answer was lost is found by its window.
        None => {
            let Some(pending) = progress.status.enable_time.as_ref().map(seconds) else {
                return Ok(None);
            };
            let claimed = claimed_by_others(package, ctx).await?;
            match find_bought(&packages, spec, pending, &claimed) {
                Some(found) if !ended(found.disable_time) => found.bandwidth_package_id.clone(),
                Some(_) => return Ok(None),
                None if progress.status.status.as_deref() == Some(PURCHASING)
                    && !ended(Some(pending + duration_s(spec)))
                    && keep_looking(
                        false,
                        ctx.pacing.missing_for(&key(package)),
                        ctx.config.listing_grace,
                    ) =>
                {
                    // It may have been bought and not be listed yet.
                    progress.verdict = Verdict::progressing(
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
                None => return Ok(None),
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_package_missing_from_the_listing_is_looked_for_until_the_grace_is_over() {
        let grace = Duration::from_secs(60);
        for (ended, missing_s, expected) in [
            (false, 0, true),
            (false, 59, true),
            (false, 60, false),
            (false, 3600, false),
            // A window that has ended explains the absence at once.
            (true, 0, false),
            (true, 59, false),
        ] {
            assert_eq!(
                keep_looking(ended, Duration::from_secs(missing_s), grace),
                expected,
                "ended {ended}, missing for {missing_s} s"
            );
        }
    }
}
