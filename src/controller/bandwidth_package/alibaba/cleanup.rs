//! Deleting an Alibaba bandwidth package: a converted one is left alone; an
//! unrecorded create is replayed to learn which package it made; the
//! package is deleted once no entry uses its IPs.

use crate::controller::engine::Action;

use super::decide::{CleanupInput, CleanupStep, decide_cleanup};
use super::{ORDERING, WAITING, create_request, describe, gateway_id, refused};
use crate::api::bandwidth_package::BandwidthPackageStatus;
use crate::api::bandwidth_package::{AlibabaBandwidthPackage, BandwidthPackage};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::bandwidth_package::DeleteBandwidthPackage;
use crate::controller::Context;
use crate::controller::engine::Draft;
use crate::controller::reconcile::{self, ReconcileError, key, tell};
use crate::controller::status::Verdict;

/// Delete the package: `None` once it is gone, else when to look again.
pub async fn cleanup(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    draft: &mut Draft<BandwidthPackageStatus>,
) -> Result<Option<Action>, ReconcileError> {
    // Only what this object recorded: an annotation it never adopted names
    // nothing of its own.
    let converted = draft.status.converted_instance_id.clone();
    let recorded = draft.status.id.clone();
    let listed = match (&converted, &recorded) {
        (None, Some(id)) => describe(client, region, id)
            .await?
            .map(|p| p.bandwidth_package_id),
        _ => None,
    };
    let step = decide_cleanup(&CleanupInput {
        converted,
        recorded,
        ordering: draft.status.status.as_deref() == Some(ORDERING),
        listed,
    });
    let id = match step {
        CleanupStep::KeepShared(shared) => {
            let note =
                format!("the package became shared bandwidth {shared}; left it in the cloud");
            tell(ctx, package, "Orphaned", "Delete", note).await;
            return Ok(None);
        }
        CleanupStep::NothingMade => return Ok(None),
        CleanupStep::Gone(id) => {
            let note = format!("package {id} is gone");
            tell(ctx, package, "Deleted", "Delete", note).await;
            return Ok(None);
        }
        CleanupStep::Replay { earlier } => {
            match replay_create(package, spec, ctx, client, region, earlier).await? {
                Some(id) => id,
                None => return Ok(None),
            }
        }
        CleanupStep::Delete(id) => id,
    };
    let deleted = client
        .call(&DeleteBandwidthPackage {
            region_id: region.to_string(),
            bandwidth_package_id: id.clone(),
            force: None,
        })
        .await;
    match deleted {
        Ok(_) => {}
        Err(e) if e.code().is_some_and(|c| c.ends_with(".NotFound")) => {}
        Err(e)
            if e.code()
                .is_some_and(|c| c.starts_with("DependencyViolation")) =>
        {
            let code = e.code().unwrap_or_default().to_string();
            draft.verdict = Verdict::progressing(
                &reconcile::sanitize_reason(&code),
                format!(
                    "waiting to delete package {id}: DNAT or SNAT entries still use its IPs ({code})"
                ),
            );
            return Ok(Some(Action::requeue(WAITING)));
        }
        Err(e) => return Err(e.into()),
    }
    if describe(client, region, &id).await?.is_some() {
        draft.verdict =
            Verdict::progressing("Deleting", format!("waiting until package {id} is gone"));
        return Ok(Some(Action::requeue(
            ctx.pacing.transitional(&key(package)),
        )));
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

/// The package an unrecorded create made, by sending that create again: the
/// token makes it answer with the package it made (had it never been sent,
/// this makes the package, which the caller then deletes). `None` when its
/// gateway is gone (and the package with it).
async fn replay_create(
    package: &BandwidthPackage,
    spec: &AlibabaBandwidthPackage,
    ctx: &Context,
    client: &AlibabaClient,
    region: &str,
    earlier: Option<String>,
) -> Result<Option<String>, ReconcileError> {
    let Ok(gateway) = gateway_id(package, spec, ctx).await? else {
        return Ok(None);
    };
    let request = create_request(spec, region, &gateway, package, earlier.as_deref());
    match client.call(&request).await {
        Ok(created) => Ok(Some(created.bandwidth_package_id)),
        // Refused for good: this create never made a package.
        Err(e) if refused(e.category()) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
