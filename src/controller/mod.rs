//! The controllers and the reconcile machinery they share: dereference →
//! validate → observe the cloud → decide (pure) → act → write status.

pub mod context;
pub mod identity;
pub mod nat_gateway;
pub mod provider_config;
pub mod providers;
pub mod reconcile;
pub mod status;
pub mod timing;

use std::sync::Arc;

pub use context::{Context, OperatorConfig};

/// Run every controller until `ctx.cancel` is cancelled.
pub async fn run(ctx: Arc<Context>) {
    tokio::join!(
        provider_config::run(ctx.clone()),
        nat_gateway::run(ctx.clone()),
    );
}
