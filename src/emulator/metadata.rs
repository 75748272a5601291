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

    mod over_http {
        use crate::cloud::alibaba::{Service, signer};
        use crate::emulator::alibaba::oidc::tests::{PROVIDER_ARN, claims, sign};
        use crate::emulator::alibaba::sts::tests::{OIDC_ROLE, ram_fixture};
        use crate::emulator::{EmulatorConfig, RunningEmulator, clock};

        const CREDENTIALS: &str = "latest/meta-data/ram/security-credentials/";

        async fn start(with_role: bool) -> RunningEmulator {
            let mut fixture = ram_fixture();
            if !with_role {
                fixture.alibaba.instance_role = None;
            }
            RunningEmulator::start(EmulatorConfig {
                fixture,
                ..EmulatorConfig::default()
            })
            .await
            .unwrap()
        }

        /// The `Date` of an answer, as Unix seconds.
        fn date_of(answer: &reqwest::Response) -> i64 {
            let text = answer.headers()["date"].to_str().unwrap();
            jiff::fmt::rfc2822::parse(text)
                .unwrap()
                .timestamp()
                .as_second()
        }

        #[tokio::test]
        async fn instance_role_credentials_tokens_and_dates() {
            let running = start(true).await;
            let base = running.endpoint();
            let http = reqwest::Client::new();
            running.emulator.clock.advance(10.0 * 86_400.0);
            let virtual_s = running.emulator.clock.now_ms() / 1000;

            let list = http
                .get(format!("{base}{CREDENTIALS}"))
                .send()
                .await
                .unwrap();
            assert_eq!(list.status(), 200);
            assert!(
                (date_of(&list) - virtual_s).abs() <= 2,
                "Date follows the virtual clock"
            );
            assert_eq!(list.text().await.unwrap(), "natop-rrsa");

            let first: serde_json::Value = http
                .get(format!("{base}{CREDENTIALS}natop-rrsa"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap();
            assert_eq!(first["Code"], "Success");
            assert!(first["AccessKeyId"].as_str().unwrap().starts_with("STS."));
            let expires = first["Expiration"]
                .as_str()
                .unwrap()
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_second();
            assert!(
                (expires - virtual_s - 6 * 3600).abs() <= 2,
                "six hours on the virtual clock"
            );
            let again: serde_json::Value = http
                .get(format!("{base}{CREDENTIALS}natop-rrsa"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap();
            assert_eq!(again["AccessKeyId"], first["AccessKeyId"]);
            running.emulator.clock.advance(5.0 * 3600.0 + 10.0);
            let renewed: serde_json::Value = http
                .get(format!("{base}{CREDENTIALS}natop-rrsa"))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap();
            assert_ne!(renewed["AccessKeyId"], first["AccessKeyId"]);
            assert_ne!(renewed["LastUpdated"], first["LastUpdated"]);

            // The credentials sign API calls; sent as a form body.
            let mut params: crate::cloud::wire::Params = [
                ("Action", "GetCallerIdentity"),
                ("Version", Service::Sts.version()),
                ("Format", "JSON"),
                ("AccessKeyId", renewed["AccessKeyId"].as_str().unwrap()),
                ("SecurityToken", renewed["SecurityToken"].as_str().unwrap()),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureVersion", "1.0"),
                ("SignatureNonce", "n-1"),
                ("Timestamp", &clock::iso(clock::wall_ms())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            let (_, signature) = signer::sign(
                "POST",
                &params,
                renewed["AccessKeySecret"].as_str().unwrap(),
            );
            params.insert("Signature".into(), signature);
            let who = http.post(&base).form(&params).send().await.unwrap();
            assert_eq!(who.status(), 200);
            let who: serde_json::Value = who
                .text()
                .await
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap();
            assert_eq!(
                who["Arn"],
                "acs:ram::1380000000000001:assumed-role/natop-rrsa/ecs-instance"
            );

            // Session tokens.
            let no_ttl = http
                .put(format!("{base}latest/api/token"))
                .send()
                .await
                .unwrap();
            assert_eq!(no_ttl.status(), 400);
            let too_long = http
                .put(format!("{base}latest/api/token"))
                .header(super::TTL_HEADER, "21601")
                .send()
                .await
                .unwrap();
            assert_eq!(too_long.status(), 400);
            let token = http
                .put(format!("{base}latest/api/token"))
                .header(super::TTL_HEADER, "60")
                .send()
                .await
                .unwrap();
            assert_eq!(token.status(), 200);
            let token = token.text().await.unwrap();
            let with = |t: &str| {
                http.get(format!("{base}{CREDENTIALS}"))
                    .header(super::TOKEN_HEADER, t)
                    .send()
            };
            assert_eq!(with(&token).await.unwrap().status(), 200);
            assert_eq!(with("forged").await.unwrap().status(), 401);
            running.emulator.clock.advance(61.0);
            assert_eq!(with(&token).await.unwrap().status(), 401);
            let other = http
                .get(format!("{base}{CREDENTIALS}other-role"))
                .send()
                .await
                .unwrap();
            assert_eq!(other.status(), 404);
            running.stop().await;
        }

        #[tokio::test]
        async fn no_instance_role_and_oidc_in_a_form_body() {
            let running = start(false).await;
            let base = running.endpoint();
            let http = reqwest::Client::new();
            let list = http
                .get(format!("{base}{CREDENTIALS}"))
                .send()
                .await
                .unwrap();
            assert_eq!(list.status(), 404);
            // AssumeRoleWithOIDC, unsigned, its token in the body; the API's
            // answers are dated by the virtual clock too.
            running.emulator.clock.advance(3600.0);
            let now_s = running.emulator.clock.now_ms() / 1000;
            let token = sign(
                &claims(
                    serde_json::json!("sts.aliyuncs.com"),
                    "system:serviceaccount:natop:a",
                    now_s + 60,
                ),
                "natop-test-1",
            );
            let form = [
                ("Action", "AssumeRoleWithOIDC"),
                ("Version", Service::Sts.version()),
                ("Format", "JSON"),
                ("OIDCProviderArn", PROVIDER_ARN),
                ("RoleArn", OIDC_ROLE),
                ("RoleSessionName", "rrsa"),
                ("OIDCToken", token.as_str()),
            ];
            let answer = http.post(&base).form(&form).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            assert!((date_of(&answer) - now_s).abs() <= 2);
            let body: serde_json::Value = answer
                .text()
                .await
                .map(|t| serde_json::from_str(&t).unwrap())
                .unwrap();
            assert!(
                body["Credentials"]["AccessKeyId"]
                    .as_str()
                    .unwrap()
                    .starts_with("STS.")
            );
            running.stop().await;
        }
    }
}
