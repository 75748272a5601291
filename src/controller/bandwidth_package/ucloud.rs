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
    let drift = reconcile::drift_interval(package, ctx.config.drift_interval);
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
    ctx.pacing.settled(&key(package));
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
            Ok(Action::await_change())
        }
        None => {
            progress.verdict = Verdict::stalled(
                "NotFound",
                format!("package {id} does not exist in the region"),
            );
            Ok(Action::requeue(reconcile::drift_interval(
                package,
                ctx.config.drift_interval,
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
    pending.status = Some("Purchasing".into());
    pending.cloud = Some("UCloud".into());
    progress.status = pending;
    progress.verdict =
        Verdict::progressing("Creating", format!("buying a package for {}", spec.eip_id));
    super::write_status(&api, &fresh, progress).await?;
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
        Err(e) => return Err(e.into()),
    };
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
    // Only what this object recorded: an annotation it never adopted names
    // nothing of its own.
    let target = match progress.status.id.clone() {
        Some(id) => packages.iter().find(|p| p.bandwidth_package_id == id),
        // A purchase whose answer was lost is found by its window.
        None => match progress.status.enable_time.as_ref().map(seconds) {
            Some(pending) => {
                let claimed = claimed_by_others(package, ctx).await?;
                find_bought(&packages, spec, pending, &claimed)
            }
            None => None,
        },
    };
    let Some(target) = target else {
        return Ok(None);
    };
    let id = target.bandwidth_package_id.clone();
    if target
        .disable_time
        .is_some_and(|end| now + CLOCK_SLACK_S >= end)
    {
        return Ok(None);
    }
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
