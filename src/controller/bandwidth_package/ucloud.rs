//! BandwidthPackage on ucloud (work in progress).

use kube::runtime::controller::Action;

use super::Progress;
use crate::api::bandwidth_package::{BandwidthPackage, UCloudBandwidthPackage};
use crate::controller::Context;
use crate::controller::reconcile::ReconcileError;
use crate::controller::status::Verdict;

/// Converge the package towards `spec`; fills `progress`.
pub async fn apply(
    _package: &BandwidthPackage,
    _spec: &UCloudBandwidthPackage,
    _ctx: &Context,
    _client: &crate::cloud::ucloud::UcloudClient,
    _region: &str,
    progress: &mut Progress,
) -> Result<Action, ReconcileError> {
    progress.verdict = Verdict::stalled("NotImplemented", "not implemented yet");
    Ok(Action::await_change())
}

/// Delete the package: `None` once it is gone, else when to look again.
pub async fn cleanup(
    _package: &BandwidthPackage,
    _spec: &UCloudBandwidthPackage,
    _ctx: &Context,
    _client: &crate::cloud::ucloud::UcloudClient,
    _region: &str,
    _progress: &mut Progress,
) -> Result<Option<Action>, ReconcileError> {
    Ok(None)
}
