//! Loopback admin endpoints for tests: state, call counts, the call log,
//! faults, clock, reset.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::Emulator;
use super::faults::FaultConfig;

/// The `/_emulator` routes.
pub fn router() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/state", get(state))
        .route("/calls", get(calls))
        .route("/log", get(log))
        .route("/faults", get(get_faults).put(put_faults))
        .route("/clock", get(get_clock).post(post_clock))
        .route("/reset", post(reset))
        .layer(middleware::from_fn(local_only))
}

/// Admin calls are answered only from loopback peers.
async fn local_only(request: Request, next: Next) -> Response {
    let remote = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(addr)| !addr.ip().is_loopback());
    if remote {
        return (
            StatusCode::FORBIDDEN,
            "admin endpoints answer loopback only",
        )
            .into_response();
    }
    next.run(request).await
}

async fn state(State(emulator): State<Arc<Emulator>>) -> Response {
    let now = emulator.clock.now_ms();
    let mut inner = emulator.lock();
    inner.world.settle(now);
    Json(json!({ "clockMs": now, "world": inner.world })).into_response()
}

async fn calls(State(emulator): State<Arc<Emulator>>) -> Response {
    Json(json!(emulator.lock().calls)).into_response()
}

/// `?since=N`: only the calls after N.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogQuery {
    #[serde(default)]
    since: u64,
}

async fn log(State(emulator): State<Arc<Emulator>>, Query(query): Query<LogQuery>) -> Response {
    Json(json!({ "calls": emulator.lock().log.since(query.since) })).into_response()
}

async fn get_faults(State(emulator): State<Arc<Emulator>>) -> Response {
    Json(json!(emulator.lock().faults)).into_response()
}

async fn put_faults(
    State(emulator): State<Arc<Emulator>>,
    Json(config): Json<FaultConfig>,
) -> Response {
    if let Err(e) = config.validate() {
        return (StatusCode::BAD_REQUEST, e).into_response();
    }
    emulator.lock().faults = config.clone();
    Json(json!(config)).into_response()
}

/// `{"advanceSeconds": N}` or `{"speed": F}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance_seconds: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
}

fn clock_json(emulator: &Emulator) -> serde_json::Value {
    json!({ "nowMs": emulator.clock.now_ms(), "speed": emulator.clock.speed() })
}

async fn get_clock(State(emulator): State<Arc<Emulator>>) -> Response {
    Json(clock_json(&emulator)).into_response()
}

async fn post_clock(
    State(emulator): State<Arc<Emulator>>,
    Json(request): Json<ClockRequest>,
) -> Response {
    match (request.advance_seconds, request.speed) {
        (Some(s), None) if s.is_finite() && s >= 0.0 => emulator.clock.advance(s),
        (None, Some(f)) if f.is_finite() && f > 0.0 => emulator.clock.set_speed(f),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "give exactly one of advanceSeconds (>= 0) or speed (> 0)",
            )
                .into_response();
        }
    }
    let now = emulator.clock.now_ms();
    let mut inner = emulator.lock();
    inner.world.settle(now);
    emulator.save(&inner);
    drop(inner);
    Json(clock_json(&emulator)).into_response()
}

async fn reset(State(emulator): State<Arc<Emulator>>) -> Response {
    emulator.reset();
    Json(json!({ "reset": true })).into_response()
}
