//! The BandwidthPackage controller: one kind, two clouds. The ProviderConfig's
//! `provider` picks the cloud; `spec.alibaba` (a legacy NAT bandwidth package,
//! in [`alibaba`]) or `spec.ucloud` (a temporary bandwidth package for an EIP,
//! in [`ucloud`]) must match it. This module does what both share:
//! validation, the ProviderConfig, the finalizer, deletion policies and the
//! status write.

pub mod alibaba;
pub mod ucloud;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};

use super::Context;
use super::providers::{CloudClient, Resolved};
use super::reconcile::{self, ReconcileError, event, key};
use super::status::{Verdict, apply_status, apply_status_unchanged_since, conditions};
use super::{location, ownership};
use crate::api::bandwidth_package::{BandwidthPackage, BandwidthPackageStatus, validate_provider};
use crate::api::{
    CloudLocation, DeletionPolicy, FINALIZER, ManagementPolicy, NatGateway, ProviderConfig,
};

/// The kind, for logs, metrics and events.
pub const KIND: &str = "BandwidthPackage";

/// What a reconcile found, for the status write.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The status to write (conditions and observedGeneration are filled in
    /// from `verdict` when it is written).
    pub status: BandwidthPackageStatus,
    /// The verdict.
    pub verdict: Verdict,
}

impl Progress {
    fn new(package: &BandwidthPackage) -> Progress {
        Progress {
            status: package.status.clone().unwrap_or_default(),
            verdict: Verdict::progressing("Reconciling", "looking at the cloud"),
        }
    }
}

/// Run the BandwidthPackage controller until `ctx.cancel` is cancelled.
pub async fn run(ctx: Arc<Context>) {
    let api: Api<DeserializeGuard<BandwidthPackage>> = match ctx.config.watch_namespaces.as_slice()
    {
        [one] => Api::namespaced(ctx.client.clone(), one),
        _ => Api::all(ctx.client.clone()),
    };
    let gateways: Api<DeserializeGuard<NatGateway>> = match ctx.config.watch_namespaces.as_slice() {
        [one] => Api::namespaced(ctx.client.clone(), one),
        _ => Api::all(ctx.client.clone()),
    };
    let configs: Api<ProviderConfig> = Api::all(ctx.client.clone());
    let controller = Controller::new(api, ctx.config.watcher());
    let store = controller.store();
    // Only the first run on a context registers its cache.
    let _ = ctx.stores.bandwidth_packages.set(store.clone());
    let by_gateway = store.clone();
    let cancel = ctx.cancel.clone();
    controller
        .with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.config.concurrency),
        )
        // A ProviderConfig that changes re-checks every package using it.
        .watches(configs, ctx.config.watcher(), move |config| {
            let name = config.name_any();
            store
                .state()
                .into_iter()
                .filter(|p| {
                    p.0.as_ref()
                        .is_ok_and(|p| p.spec.provider_config_ref.name == name)
                })
                .map(|p| ObjectRef::from_obj(&*p))
                .collect::<Vec<_>>()
        })
        // A gateway that becomes Ready (or goes) moves the packages naming it.
        .watches(gateways, ctx.config.watcher(), move |gateway| {
            let (name, namespace) = (gateway.name_any(), gateway.namespace());
            by_gateway
                .state()
                .into_iter()
                .filter(|p| {
                    p.0.as_ref().is_ok_and(|p| {
                        p.namespace() == namespace
                            && p.spec
                                .alibaba
                                .as_ref()
                                .and_then(|a| a.nat_gateway_ref.as_ref())
                                .is_some_and(|r| r.name == name)
                    })
                })
                .map(|p| ObjectRef::from_obj(&*p))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(async move { cancel.cancelled().await })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(
    guard: Arc<DeserializeGuard<BandwidthPackage>>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    reconcile::on_error(KIND, &guard, error, &ctx)
}

async fn reconcile(
    guard: Arc<DeserializeGuard<BandwidthPackage>>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let result =
        reconcile::measured(KIND, &guard, &ctx, |package| reconcile_valid(package, &ctx)).await;
    reconcile::count_retrying(KIND, &ctx);
    result
}

async fn reconcile_valid(
    package: &BandwidthPackage,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let namespace = package.namespace().unwrap_or_default();
    let watched = &ctx.config.watch_namespaces;
    if !watched.is_empty() && !watched.contains(&namespace) {
        return Ok(Action::await_change());
    }
    let api: Api<BandwidthPackage> = Api::namespaced(ctx.client.clone(), &namespace);
    if package.meta().deletion_timestamp.is_some() {
        if !package.finalizers().iter().any(|f| f == FINALIZER) {
            return Ok(Action::await_change());
        }
        return cleanup(package, &api, ctx).await;
    }
    if reconcile::ensure_finalizer(&api, package).await? {
        return Ok(Action::await_change());
    }
    let mut progress = Progress::new(package);
    let outcome = apply(package, ctx, &mut progress).await;
    let action = match &outcome {
        Ok(action) => action.clone(),
        Err(e) if e.is_cancelled() => return Ok(Action::await_change()),
        Err(e) => {
            progress.verdict = if e.is_retryable() {
                Verdict::progressing(&e.reason(), e.stable_message())
            } else {
                Verdict::stalled(&e.reason(), e.stable_message())
            };
            if e.is_retryable() {
                Action::await_change()
            } else {
                reconcile::after_error(ctx, &key(package), e)
            }
        }
    };
    reconcile::note_drift(&mut progress.verdict, package, &ctx.config);
    write_status(&api, package, &progress).await?;
    match outcome {
        Err(e) if e.is_retryable() => Err(e),
        _ => Ok(action),
    }
}

async fn write_status(
    api: &Api<BandwidthPackage>,
    package: &BandwidthPackage,
    progress: &Progress,
) -> Result<(), ReconcileError> {
    let mut status = progress.status.clone();
    let previous = package
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    status.observed_generation = package.metadata.generation;
    status.conditions = conditions(&previous, package.metadata.generation, &progress.verdict);
    apply_status(api, package, &status).await?;
    Ok(())
}

/// [`write_status`] only if `package` is still at the resourceVersion it was
/// read at (a Conflict otherwise): the record of a purchase about to be made.
async fn write_status_unchanged_since(
    api: &Api<BandwidthPackage>,
    package: &BandwidthPackage,
    progress: &Progress,
) -> Result<(), ReconcileError> {
    let mut status = progress.status.clone();
    let previous = package
        .status
        .as_ref()
        .map(|s| s.conditions.clone())
        .unwrap_or_default();
    status.observed_generation = package.metadata.generation;
    status.conditions = conditions(&previous, package.metadata.generation, &progress.verdict);
    apply_status_unchanged_since(api, package, &status).await?;
    Ok(())
}

/// The resolved ProviderConfig for `package`, or a Stalled verdict saying
/// why there is none (or why it serves the other cloud).
async fn resolve(
    package: &BandwidthPackage,
    ctx: &Context,
) -> Result<Result<Resolved, Verdict>, ReconcileError> {
    let reference = &package.spec.provider_config_ref.name;
    let recorded = package.status.as_ref().and_then(|s| s.location.as_ref());
    let resolved = match ctx
        .providers
        .resolve_at(recorded, reference, package.spec.region.as_deref())
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
    if let Err(message) = validate_provider(&package.spec, resolved.provider) {
        return Ok(Err(Verdict::stalled("InvalidSpec", message)));
    }
    Ok(Ok(resolved))
}

async fn apply(
    package: &BandwidthPackage,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    let key = key(package);
    let stall = |progress: &mut Progress, reason: &str, message: String| {
        progress.verdict = Verdict::stalled(reason, message);
        ctx.pacing.settled(&key);
        Ok(Action::await_change())
    };
    let prefixes: &[&str] = if package.spec.ucloud.is_some() {
        &["bwpack-"]
    } else {
        &["bwp-"]
    };
    let annotated = match ownership::external_id(package.annotations(), prefixes) {
        Ok(id) => id,
        Err(message) => return stall(progress, ownership::INVALID_EXTERNAL_ID, message),
    };
    let recorded_id = progress.status.id.clone();
    if let Some(id) = annotated
        .as_ref()
        .filter(|id| recorded_id.as_ref().is_none_or(|r| r == *id))
    {
        let claims = ownership::claims(
            ctx.stores.bandwidth_packages.get(),
            |p: &BandwidthPackage| p.status.as_ref().and_then(|s| s.id.clone()),
        );
        let me = ownership::Claim::of(package, recorded_id.clone());
        if let Some(message) = ownership::other_owner(&me, id, &claims, None) {
            return stall(progress, ownership::OWNED_BY_ANOTHER_OBJECT, message);
        }
    }
    let resolved = match resolve(package, ctx).await? {
        Ok(r) => r,
        Err(verdict) => {
            progress.verdict = verdict;
            ctx.pacing.settled(&key);
            return Ok(Action::await_change());
        }
    };
    let here = resolved.location();
    let recorded = package.status.as_ref().and_then(|s| s.location.as_ref());
    // The spec's place too: the recorded one is used while the spec points elsewhere.
    let effective = CloudLocation {
        provider_config: package.spec.provider_config_ref.name.clone(),
        region: package
            .spec
            .region
            .clone()
            .unwrap_or_else(|| here.region.clone()),
        ..here.clone()
    };
    let what = recorded_id
        .as_ref()
        .map_or_else(|| "the package".to_string(), |id| format!("package {id}"));
    if let Err(message) = location::check(recorded, &effective, &what)
        .and_then(|()| location::check(recorded, &here, &what))
    {
        return stall(progress, location::LOCATION_CHANGED, message);
    }
    progress.status.location = Some(here.clone());
    let buying = recorded_id.is_none()
        && annotated.is_none()
        && package.spec.management_policy == ManagementPolicy::Manage;
    if buying && recorded.is_none() {
        // Where the package goes is recorded (the status write) before it is bought.
        progress.verdict = Verdict::progressing("Creating", format!("buying a package in {here}"));
        return Ok(Action::requeue(Duration::from_millis(200)));
    }
    match (&resolved.cloud, &package.spec.alibaba, &package.spec.ucloud) {
        (CloudClient::Alibaba(client), Some(spec), None) => {
            progress.status.cloud = Some("Alibaba".into());
            alibaba::apply(package, spec, ctx, client, &resolved.region, progress).await
        }
        (CloudClient::UCloud(client), None, Some(spec)) => {
            progress.status.cloud = Some("UCloud".into());
            ucloud::apply(package, spec, ctx, client, &resolved.region, progress).await
        }
        // The CRD's rules and validate_provider rule the other combinations out.
        _ => {
            progress.verdict = Verdict::stalled(
                "InvalidSpec",
                "the spec does not match the ProviderConfig's cloud",
            );
            Ok(Action::await_change())
        }
    }
}

async fn cleanup(
    package: &BandwidthPackage,
    api: &Api<BandwidthPackage>,
    ctx: &Context,
) -> Result<Action, ReconcileError> {
    let key = key(package);
    let mut progress = Progress::new(package);
    match cleanup_step(package, ctx, &mut progress).await {
        Ok(None) => {
            ctx.pacing.settled(&key);
            reconcile::remove_finalizer(api, package).await?;
            Ok(Action::await_change())
        }
        Ok(Some(action)) => {
            write_status(api, package, &progress).await?;
            Ok(action)
        }
        Err(e) => {
            if e.is_cancelled() {
                return Ok(Action::await_change());
            }
            progress.verdict =
                Verdict::progressing(&e.reason(), format!("deleting: {}", e.stable_message()));
            write_status(api, package, &progress).await?;
            if e.is_retryable() {
                Err(e)
            } else {
                Ok(Action::requeue(ctx.pacing.backoff(&key)))
            }
        }
    }
}

/// `None` when the object may go; otherwise when to look again.
async fn cleanup_step(
    package: &BandwidthPackage,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let spec = &package.spec;
    let id = progress.status.id.clone();
    if spec.deletion_policy == DeletionPolicy::Orphan
        || spec.management_policy == ManagementPolicy::Observe
    {
        if let Some(id) = id {
            event(
                ctx,
                package,
                EventType::Normal,
                "Orphaned",
                "Delete",
                format!("left bandwidth package {id} in the cloud"),
            )
            .await;
        }
        return Ok(None);
    }
    // Nothing was ever made (or recorded, and the cloud module finds what an
    // unrecorded create made itself).
    let resolved = match resolve(package, ctx).await? {
        Ok(r) => r,
        Err(_) if id.is_none() && progress.status.location.is_none() => {
            // natop records the place before buying: nothing was bought.
            return Ok(None);
        }
        Err(verdict) => {
            let invalid =
                matches!(&verdict, Verdict::Stalled { reason, .. } if reason == "InvalidSpec");
            if invalid && id.is_none() {
                // A spec this ProviderConfig cannot serve never reached the
                // cloud.
                return Ok(None);
            }
            progress.verdict = verdict;
            return Ok(Some(Action::requeue(Duration::from_secs(30))));
        }
    };
    let what = id
        .as_ref()
        .map_or_else(|| "the package".to_string(), |id| format!("package {id}"));
    if let Err(message) = location::check(
        progress.status.location.as_ref(),
        &resolved.location(),
        &what,
    ) {
        progress.verdict = Verdict::stalled(
            location::LOCATION_CHANGED,
            format!("not deleted: {message}"),
        );
        return Ok(Some(Action::requeue(Duration::from_secs(60))));
    }
    match (&resolved.cloud, &spec.alibaba, &spec.ucloud) {
        (CloudClient::Alibaba(client), Some(a), None) => {
            alibaba::cleanup(package, a, ctx, client, &resolved.region, progress).await
        }
        (CloudClient::UCloud(client), None, Some(u)) => {
            ucloud::cleanup(package, u, ctx, client, &resolved.region, progress).await
        }
        _ => Ok(None),
    }
}
