//! The Ipv6InternetBandwidth controller (work in progress).

use std::sync::Arc;

use super::Context;

/// Run the Ipv6InternetBandwidth controller until `ctx.cancel` is cancelled.
pub async fn run(ctx: Arc<Context>) {
    ctx.cancel.cancelled().await;
}
