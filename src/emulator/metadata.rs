//! The ECS instance metadata service, as far as RAM roles go: the emulated
//! instance's role (fixture `alibaba.instanceRole`) and its temporary
//! credentials, on the emulator's listener.
//!
//! - `PUT /latest/api/token` with `X-aliyun-ecs-metadata-token-ttl-seconds: N`
//!   (1 to 21600) answers a session token (text); without a valid TTL, 400.
//! - `GET /latest/meta-data/ram/security-credentials/` answers the role's name.
//! - `GET /latest/meta-data/ram/security-credentials/<role>` answers
//!   [`InstanceRoleCredentials`] JSON: credentials valid six hours on the
//!   emulator's clock, renewed when less than an hour remains.
//!
//! A request carrying `X-aliyun-ecs-metadata-token` must carry a valid,
//! unexpired one (401 otherwise); requests without it are served (the
//! instance's normal mode). No instance role, or another role's name: 404.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};

use super::Emulator;
use super::alibaba::sts::Sts;
use super::clock::iso;
use crate::cloud::alibaba::actions::sts::InstanceRoleCredentials;

/// The header asking for a session token's lifetime.
pub const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
/// The header carrying a session token.
pub const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
/// How long instance role credentials last.
pub const CREDENTIALS_SECONDS: u32 = 6 * 3600;
/// Credentials with less than this left are renewed.
const RENEW_BEFORE_MS: i64 = 3600 * 1000;
/// The session name of the instance role's credentials.
const SESSION_NAME: &str = "ecs-instance";

/// The metadata routes.
pub fn router() -> Router<Arc<Emulator>> {
    Router::new()
        .route("/latest/api/token", put(token))
        .route("/latest/meta-data/ram/security-credentials", get(role_name))
        .route(
            "/latest/meta-data/ram/security-credentials/",
            get(role_name),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            get(credentials),
        )
}

/// The lifetime a token request asks for, in seconds: 1 to 21600.
pub fn token_ttl(header: Option<&str>) -> Option<u32> {
    header
        .and_then(|v| v.trim().parse::<u32>().ok())
        .filter(|ttl| (1..=21_600).contains(ttl))
}

/// Whether a request may read: without a token header yes; with one, only if
/// it is a token still valid at `now_ms`.
pub fn token_accepted(expires_ms: Option<i64>, sent: bool, now_ms: i64) -> bool {
    !sent || expires_ms.is_some_and(|expires| now_ms < expires)
}

/// Whether credentials expiring at `expires_ms` must be renewed at `now_ms`.
pub fn needs_renewal(expires_ms: Option<i64>, now_ms: i64) -> bool {
    expires_ms.is_none_or(|expires| expires - now_ms < RENEW_BEFORE_MS)
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [("content-type", "text/plain")], body).into_response()
}

fn not_found() -> Response {
    refusal(StatusCode::NOT_FOUND)
}

/// The metadata service's bare refusal page for `status`.
fn refusal(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or_default();
    text(status, format!("{} - {reason}", status.as_u16()))
}

async fn token(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let ttl = token_ttl(headers.get(TTL_HEADER).and_then(|v| v.to_str().ok()));
    let Some(ttl) = ttl else {
        return refusal(StatusCode::BAD_REQUEST);
    };
    let now = emulator.clock.now_ms();
    let mut inner = emulator.lock();
    inner.metadata_tokens.retain(|_, expires| *expires > now);
    let token: String = (0..56)
        .map(|_| {
            char::from(
                b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    [inner.rng.usize(..62)],
            )
        })
        .collect();
    inner
        .metadata_tokens
        .insert(token.clone(), now + i64::from(ttl) * 1000);
    text(StatusCode::OK, token)
}

/// The instance role's name when the request may read, else the status of
/// the refusal.
fn instance_role(emulator: &Emulator, headers: &HeaderMap) -> Result<String, StatusCode> {
    let sent = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    if let Some(sent_token) = sent {
        let expires = emulator.lock().metadata_tokens.get(sent_token).copied();
        if !token_accepted(expires, true, emulator.clock.now_ms()) {
            return Err(StatusCode::UNAUTHORIZED);
        }
    }
    let fixture = &emulator.config.fixture.alibaba;
    fixture
        .instance_role
        .as_deref()
        .and_then(|arn| fixture.role(arn))
        .map(|role| role.name().to_string())
        .ok_or(StatusCode::NOT_FOUND)
}

async fn role_name(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    match instance_role(&emulator, &headers) {
        Ok(name) => text(StatusCode::OK, name),
        Err(status) => refusal(status),
    }
}

async fn credentials(
    State(emulator): State<Arc<Emulator>>,
    Path(asked): Path<String>,
    headers: HeaderMap,
) -> Response {
    match instance_role(&emulator, &headers) {
        Ok(name) if name == asked => {}
        Ok(_) => return not_found(),
        Err(status) => return refusal(status),
    }
    let fixture = &emulator.config.fixture.alibaba;
    let Some(role) = fixture
        .instance_role
        .as_deref()
        .and_then(|a| fixture.role(a))
    else {
        return not_found();
    };
    let now = emulator.clock.now_ms();
    let mut inner = emulator.lock();
    let current = inner
        .instance_key
        .as_ref()
        .and_then(|key| inner.sts.get(key).map(|s| (key.clone(), s.expires_ms)));
    let key = match current {
        Some((key, expires)) if !needs_renewal(Some(expires), now) => key,
        _ => {
            let inner = &mut *inner;
            let mut sts = Sts {
                fixture,
                sessions: &mut inner.sts,
                rng: &mut inner.rng,
                now_ms: now,
            };
            let (issued, _) = sts.issue(role, SESSION_NAME, CREDENTIALS_SECONDS, None);
            inner.instance_key = Some(issued.access_key_id.clone());
            issued.access_key_id
        }
    };
    let Some(session) = inner.sts.get(&key) else {
        return not_found();
    };
    let answer = InstanceRoleCredentials {
        code: "Success".to_string(),
        access_key_id: key.clone(),
        access_key_secret: session.access_key_secret.clone(),
        security_token: session.security_token.clone(),
        expiration: iso(session.expires_ms),
        last_updated: iso(session.expires_ms - i64::from(CREDENTIALS_SECONDS) * 1000),
    };
    match serde_json::to_string(&answer) {
        Ok(body) => text(StatusCode::OK, body),
        Err(_) => text(StatusCode::INTERNAL_SERVER_ERROR, String::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        let table = [
            (None, None),
            (Some(""), None),
            (Some("0"), None),
            (Some("1"), Some(1)),
            (Some("21600"), Some(21_600)),
            (Some("21601"), None),
            (Some("-5"), None),
            (Some("sixty"), None),
        ];
        for (header, want) in table {
            assert_eq!(token_ttl(header), want, "{header:?}");
        }
    }

    #[test]
    fn tokens_and_renewal() {
        let table = [
            (None, false, 10, true),
            (None, true, 10, false),
            (Some(20), true, 10, true),
            (Some(20), true, 20, false),
        ];
        for (expires, sent, now, want) in table {
            assert_eq!(token_accepted(expires, sent, now), want);
        }
        let hour = 3_600_000;
        assert!(needs_renewal(None, 0));
        assert!(!needs_renewal(Some(6 * hour), 0));
        assert!(!needs_renewal(Some(6 * hour), 5 * hour));
        assert!(needs_renewal(Some(6 * hour), 5 * hour + 1));
    }
}
