//! The BandwidthPackage controller: one kind, two clouds. The ProviderConfig's
//! `provider` picks the cloud; `spec.alibaba` (a legacy NAT bandwidth package,
//! in [`alibaba`]) or `spec.ucloud` (a temporary bandwidth package for an EIP,
//! in [`ucloud`]) must match it. This module does what both share:
//! validation of the spec against the ProviderConfig, adoption checks and the
//! place recorded before a purchase; the engine does the shell.

pub mod alibaba;
pub mod ucloud;

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::BoxStream;
use kube::ResourceExt;

use super::Context;
use super::engine::{self, Action, Draft, ManagedKind, Shelf, changes_of, referrers, watched_in};
use super::entries::tables::ObjectName;
use super::location;
use super::providers::{CloudClient, Resolved};
use super::reconcile::{ReconcileError, key};
use super::status::Verdict;
use crate::api::bandwidth_package::{BandwidthPackage, BandwidthPackageStatus, validate_provider};
use crate::api::{CloudLocation, ManagementPolicy, NatGateway};

/// The kind, for logs, metrics and events.
pub const KIND: &str = "BandwidthPackage";

impl ManagedKind for BandwidthPackage {
    const KIND: &'static str = KIND;
    type Status = BandwidthPackageStatus;

    engine::managed_fields!();
    fn id_prefixes(&self) -> &'static [&'static str] {
        if self.spec.ucloud.is_some() {
            &["bwpack-"]
        } else {
            &["bwp-"]
        }
    }

    fn gateway_and_package(&self) -> (Option<&str>, Option<&str>) {
        let gateway = self
            .spec
            .alibaba
            .as_ref()
            .and_then(|a| a.nat_gateway_ref.as_ref());
        (gateway.map(|r| r.name.as_str()), None)
    }

    fn watches(
        ctx: &Arc<Context>,
        shelf: &Shelf<Self>,
        scope: Option<&str>,
    ) -> Vec<BoxStream<'static, ObjectName>> {
        let shelf = shelf.clone();
        // A gateway that becomes Ready (or goes) moves the packages naming it.
        vec![changes_of(
            watched_in::<NatGateway>(ctx, scope),
            ctx.config.watcher(),
            move |gateway| {
                let (namespace, name) =
                    (gateway.namespace().unwrap_or_default(), gateway.name_any());
                referrers(&shelf, |ns, hot| ns == namespace && hot.gateway() == name)
            },
        )]
    }

    fn orphaned_note(
        &self,
        _ctx: &Context,
        draft: &Draft<BandwidthPackageStatus>,
    ) -> Option<String> {
        let id = draft.status.id.as_ref()?;
        Some(format!("left bandwidth package {id} in the cloud"))
    }

    async fn apply(
        &self,
        ctx: &Context,
        draft: &mut Draft<BandwidthPackageStatus>,
    ) -> Result<Action, ReconcileError> {
        let package = self;
        let key = key(package);
        let stall = |draft: &mut Draft<BandwidthPackageStatus>, reason: &str, message: String| {
            draft.verdict = Verdict::stalled(reason, message);
            ctx.pacing.settled(&key);
            Ok(Action::await_change())
        };
        let recorded_id = draft.known.recorded.clone();
        let resolved = match resolve(package, ctx).await? {
            Ok(r) => r,
            Err(verdict) => {
                draft.verdict = verdict;
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
            return stall(draft, location::LOCATION_CHANGED, message);
        }
        draft.status.location = Some(here.clone());
        let buying = recorded_id.is_none()
            && draft.known.annotated.is_none()
            && package.spec.management_policy == ManagementPolicy::Manage;
        if buying && recorded.is_none() {
            // Where the package goes is recorded (the status write) before it is bought.
            draft.verdict = Verdict::progressing("Creating", format!("buying a package in {here}"));
            return Ok(Action::requeue(Duration::from_millis(200)));
        }
        match (&resolved.cloud, &package.spec.alibaba, &package.spec.ucloud) {
            (CloudClient::Alibaba(client), Some(spec), None) => {
                draft.status.cloud = Some("Alibaba".into());
                alibaba::apply(package, spec, ctx, client, &resolved.region, draft).await
            }
            (CloudClient::UCloud(client), None, Some(spec)) => {
                draft.status.cloud = Some("UCloud".into());
                ucloud::apply(package, spec, ctx, client, &resolved.region, draft).await
            }
            // The CRD's rules and validate_provider rule the other combinations out.
            _ => {
                draft.verdict = Verdict::stalled(
                    "InvalidSpec",
                    "the spec does not match the ProviderConfig's cloud",
                );
                Ok(Action::await_change())
            }
        }
    }

    /// `None` when the object may go; otherwise when to look again.
    async fn cleanup(
        &self,
        ctx: &Context,
        draft: &mut Draft<BandwidthPackageStatus>,
    ) -> Result<Option<Action>, ReconcileError> {
        let package = self;
        let spec = &package.spec;
        let id = draft.status.id.clone();
        // Nothing was ever made (or recorded, and the cloud module finds what an
        // unrecorded create made itself).
        let resolved = match resolve(package, ctx).await? {
            Ok(r) => r,
            Err(_) if id.is_none() && draft.status.location.is_none() => {
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
                draft.verdict = verdict;
                return Ok(Some(Action::requeue(Duration::from_secs(30))));
            }
        };
        let what = id
            .as_ref()
            .map_or_else(|| "the package".to_string(), |id| format!("package {id}"));
        if let Err(message) =
            location::check(draft.status.location.as_ref(), &resolved.location(), &what)
        {
            draft.verdict = Verdict::stalled(
                location::LOCATION_CHANGED,
                format!("not deleted: {message}"),
            );
            return Ok(Some(Action::requeue(Duration::from_secs(60))));
        }
        match (&resolved.cloud, &spec.alibaba, &spec.ucloud) {
            (CloudClient::Alibaba(client), Some(a), None) => {
                alibaba::cleanup(package, a, ctx, client, &resolved.region, draft).await
            }
            (CloudClient::UCloud(client), None, Some(u)) => {
                ucloud::cleanup(package, u, ctx, client, &resolved.region, draft).await
            }
            _ => Ok(None),
        }
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
    let resolved = match engine::provider(
        ctx,
        &package.namespace().unwrap_or_default(),
        recorded,
        reference,
        package.spec.region.as_deref(),
    )
    .await?
    {
        Ok(resolved) => resolved,
        Err(verdict) => return Ok(Err(verdict)),
    };
    if let Err(message) = validate_provider(&package.spec, resolved.provider) {
        return Ok(Err(Verdict::stalled("InvalidSpec", message)));
    }
    Ok(Ok(resolved))
}
