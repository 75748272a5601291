//! The controllers and the reconcile machinery they share: dereference →
//! validate → observe the cloud → decide (pure) → act → write status.

pub mod bandwidth_package;
pub mod context;
pub mod engine;
pub mod entries;
pub mod events;
pub mod identity;
pub mod ipv6_internet_bandwidth;
pub mod location;
pub mod nat_gateway;
pub mod ownership;
pub mod provider_config;
pub mod providers;
pub mod reconcile;
pub mod status;
pub mod timing;

use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

pub use context::{Context, OperatorConfig, RrsaDefaults};

/// After shutdown begins, how long in-flight reconciles get to finish.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Run every controller until `ctx.cancel` is cancelled; then give in-flight
/// reconciles [`SHUTDOWN_GRACE`] to finish, so that a stuck call or watch never
/// holds the process up.
pub async fn run(ctx: Arc<Context>) {
    let controllers = async {
        tokio::join!(
            provider_config::run(ctx.clone()),
            engine::run::<crate::api::NatGateway>(ctx.clone()),
            engine::run::<crate::api::BandwidthPackage>(ctx.clone()),
            engine::run::<crate::api::Ipv6InternetBandwidth>(ctx.clone()),
            engine::run::<crate::api::ForwardEntry>(ctx.clone()),
            engine::run::<crate::api::SnatEntry>(ctx.clone()),
        );
    };
    let deadline = async {
        ctx.cancel.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        () = controllers => {}
        () = deadline => warn!(grace = ?SHUTDOWN_GRACE, "controllers did not stop in time; stopping anyway"),
    }
}
