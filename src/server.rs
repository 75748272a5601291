//! The health and metrics endpoints of `natop run`:
//!
//! - `GET /metrics`: every natop metric, in the OpenMetrics text format;
//! - `GET /healthz`: 200 `ok` while the process runs (liveness);
//! - `GET /readyz`: 200 once the controllers run, or while this instance
//!   stands by as a leader-election follower (a follower is healthy); 503
//!   before start-up completes and once shutdown began.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The content type of `/metrics`.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Whether the operator is ready: started, and not shutting down.
#[derive(Debug, Clone)]
pub struct Readiness {
    started: Arc<AtomicBool>,
    shutdown: CancellationToken,
}

impl Readiness {
    /// Not ready until [`Readiness::mark_started`]; not ready again once
    /// `shutdown` is cancelled.
    pub fn new(shutdown: CancellationToken) -> Readiness {
        Readiness {
            started: Arc::new(AtomicBool::new(false)),
            shutdown,
        }
    }

    /// Start-up completed: the controllers run, or this instance stands by
    /// as a leader-election follower.
    pub fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.started.load(Ordering::Acquire) && !self.shutdown.is_cancelled()
    }
}

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    readiness: Readiness,
}

/// The router serving `/metrics`, `/healthz` and `/readyz`.
pub fn router(registry: Registry, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(AppState {
            registry: Arc::new(registry),
            readiness,
        })
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &state.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS_CONTENT_TYPE)], body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot encode the metrics");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot encode the metrics\n",
            )
                .into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if state.readiness.is_ready() {
        (StatusCode::OK, "ok")
    } else if state.readiness.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Serve `router` on `listener` until `stop` resolves, then finish the
/// requests in flight and return.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    async fn start(readiness: Readiness) -> (String, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let metrics = Metrics::default();
        metrics
            .cloud
            .record_call("alibaba", "DescribeNatGateways", "success");
        metrics
            .reconciles
            .get_or_create(&crate::metrics::KindLabels { kind: "NatGateway" })
            .inc();
        let stop = CancellationToken::new();
        let app = router(metrics.registry(), readiness);
        tokio::spawn(serve(listener, app, stop.clone().cancelled_owned()));
        (base, stop)
    }

    async fn get(url: String) -> (u16, Option<String>, String) {
        let response = reqwest::get(url).await.expect("answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        (status, content_type, response.text().await.expect("body"))
    }

    #[tokio::test]
    async fn readiness_follows_start_up_and_shutdown_while_health_stays_ok() {
        let shutdown = CancellationToken::new();
        let readiness = Readiness::new(shutdown.clone());
        let (base, stop) = start(readiness.clone()).await;

        assert_eq!(get(format!("{base}/healthz")).await.0, 200);
        let (status, _, body) = get(format!("{base}/readyz")).await;
        assert_eq!((status, body.as_str()), (503, "starting"));

        readiness.mark_started();
        assert_eq!(get(format!("{base}/readyz")).await.0, 200);

        shutdown.cancel();
        let (status, _, body) = get(format!("{base}/readyz")).await;
        assert_eq!((status, body.as_str()), (503, "shutting down"));
        let (status, _, body) = get(format!("{base}/healthz")).await;
        assert_eq!((status, body.as_str()), (200, "ok"));
        stop.cancel();
    }

    #[tokio::test]
    async fn metrics_are_openmetrics_text() {
        let (base, stop) = start(Readiness::new(CancellationToken::new())).await;
        let (status, content_type, body) = get(format!("{base}/metrics")).await;
        assert_eq!(status, 200);
        assert_eq!(content_type.as_deref(), Some(OPENMETRICS_CONTENT_TYPE));
        assert!(body.contains("# TYPE natop_cloud_calls counter"), "{body}");
        assert!(
            body.contains(
                r#"natop_cloud_calls_total{provider="alibaba",action="DescribeNatGateways",outcome="success"} 1"#
            ),
            "{body}"
        );
        assert!(
            body.contains(r#"natop_reconciles_total{kind="NatGateway"} 1"#),
            "{body}"
        );
        assert!(body.trim_end().ends_with("# EOF"), "{body}");
        assert_eq!(get(format!("{base}/nothing")).await.0, 404);
        stop.cancel();
    }
}
