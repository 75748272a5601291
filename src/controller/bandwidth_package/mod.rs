//! The BandwidthPackage controller: one kind, two clouds. The ProviderConfig's
//! `provider` picks the cloud; `spec.alibaba` (a legacy NAT bandwidth package,
//! in [`alibaba`]) or `spec.ucloud` (a temporary bandwidth package for an EIP,
//! in [`ucloud`]) must match it. This module does what both share:
//! validation of the spec against the ProviderConfig, adoption checks and the
//! place recorded before a purchase; the engine does the shell.

pub mod alibaba;
pub mod ucloud;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, ResourceExt};

use super::Context;
use super::engine::{Draft, ManagedKind};
use super::providers::{CloudClient, Resolved};
use super::reconcile::{ReconcileError, key};
use super::status::Verdict;
use super::{location, ownership};
use crate::api::bandwidth_package::{BandwidthPackage, BandwidthPackageStatus, validate_provider};
use crate::api::{CloudLocation, DeletionPolicy, ManagementPolicy, NatGateway};

/// The kind, for logs, metrics and events.
pub const KIND: &str = "BandwidthPackage";

/// What a reconcile found, for the status write.
pub type Progress = Draft<BandwidthPackageStatus>;

impl ManagedKind for BandwidthPackage {
    const KIND: &'static str = KIND;
    type Status = BandwidthPackageStatus;

    fn status(&self) -> Option<&BandwidthPackageStatus> {
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
        &ctx.stores.bandwidth_packages
    }

    fn watches(
        controller: Controller<DeserializeGuard<Self>>,
        ctx: &Arc<Context>,
        store: Store<DeserializeGuard<Self>>,
    ) -> Controller<DeserializeGuard<Self>> {
        let gateways: Api<DeserializeGuard<NatGateway>> =
            match ctx.config.watch_namespaces.as_slice() {
                [one] => Api::namespaced(ctx.client.clone(), one),
                _ => Api::all(ctx.client.clone()),
            };
        // A gateway that becomes Ready (or goes) moves the packages naming it.
        controller.watches(gateways, ctx.config.watcher(), move |gateway| {
            let (name, namespace) = (gateway.name_any(), gateway.namespace());
            store
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
    }

    fn orphaned_note(&self, _ctx: &Context, draft: &Progress) -> Option<String> {
        let id = draft.status.id.as_ref()?;
        Some(format!("left bandwidth package {id} in the cloud"))
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

/// `None` when the object may go; otherwise when to look again.
async fn cleanup(
    package: &BandwidthPackage,
    ctx: &Context,
    progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    let spec = &package.spec;
    let id = progress.status.id.clone();
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
