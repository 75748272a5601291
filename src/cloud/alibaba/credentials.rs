//! Where an Alibaba client's signing keys come from: a fixed key pair, or
//! temporary STS credentials (RRSA `AssumeRoleWithOIDC`, `AssumeRole` on top
//! of another source, or the ECS instance metadata service), cached and
//! refreshed before they expire on the service's clock.
//!
//! The service's clock is learnt from the `Date` header of its answers
//! ([`ServerClock`]), so credentials are renewed in time even when the local
//! clock is off. Keys, secrets, security tokens and OIDC tokens never appear
//! in a `Debug` output, a log line or an error message.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tracing::{debug, info};
use url::Url;

use super::actions::sts::{AssumeRole, AssumeRoleWithOidc, StsCredentials};
use super::client::{AlibabaClient, AlibabaCredentials};
use crate::cloud::{CloudError, ErrorCategory, Provider};

/// The default lifetime natop asks STS for, in seconds.
pub const DEFAULT_DURATION_SECONDS: u32 = 3600;

/// The session name natop assumes roles with when none is configured.
pub const DEFAULT_SESSION_NAME: &str = "natop";

/// The shortest time credentials are used for before natop asks again, so a
/// source that hands out the same credentials until shortly before they
/// expire (the instance metadata service) is not asked on every call.
const MIN_REFRESH_INTERVAL_MS: i64 = 60_000;

/// Credentials closer than this to their expiry are not used.
const EXPIRY_SAFETY_MS: i64 = 10_000;

/// Condition reasons of a failed credential refresh (bounded, CamelCase).
pub mod reason {
    /// The OIDC token file cannot be read (absent, empty, not text).
    pub const OIDC_TOKEN_UNREADABLE: &str = "OidcTokenUnreadable";
    /// STS refused the OIDC token for a reason not named below.
    pub const OIDC_TOKEN_REJECTED: &str = "OidcTokenRejected";
    /// The OIDC token expired.
    pub const OIDC_TOKEN_EXPIRED: &str = "OidcTokenExpired";
    /// The OIDC token is not meant for STS (its audience).
    pub const OIDC_AUDIENCE_MISMATCH: &str = "OidcAudienceMismatch";
    /// The role's trust policy does not admit the token's subject (another
    /// service account) or OIDC provider.
    pub const OIDC_SUBJECT_NOT_ALLOWED: &str = "OidcSubjectNotAllowed";
    /// STS refused `AssumeRole`.
    pub const ASSUME_ROLE_FAILED: &str = "AssumeRoleFailed";
    /// The instance metadata service did not give the role's credentials.
    pub const ECS_RAM_ROLE_FAILED: &str = "EcsRamRoleFailed";
    /// STS (or the metadata service) could not be reached or was busy.
    pub const CREDENTIALS_SERVICE_UNAVAILABLE: &str = "CredentialsServiceUnavailable";

    /// Every reason above.
    pub const ALL: &[&str] = &[
        OIDC_TOKEN_UNREADABLE,
        OIDC_TOKEN_REJECTED,
        OIDC_TOKEN_EXPIRED,
        OIDC_AUDIENCE_MISMATCH,
        OIDC_SUBJECT_NOT_ALLOWED,
        ASSUME_ROLE_FAILED,
        ECS_RAM_ROLE_FAILED,
        CREDENTIALS_SERVICE_UNAVAILABLE,
    ];
}

/// The service's clock as its answers tell it: the offset between the
/// `Date` header and the local clock at the latest answer.
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_ms: AtomicI64,
}

impl ServerClock {
    /// Record an answer's `Date` header (RFC 7231 IMF-fixdate); an absent or
    /// unreadable one changes nothing. The header has whole seconds, so an
    /// offset under a second is not worth a change.
    pub fn observe(&self, date: Option<&str>) {
        let Some(server) = date.and_then(parse_http_date) else {
            return;
        };
        let offset = server - local_ms();
        let known = self.offset_ms.load(Ordering::Relaxed);
        if (offset - known).abs() >= 1_000 {
            self.offset_ms.store(offset, Ordering::Relaxed);
        }
    }

    /// The service's now, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        local_ms() + self.offset_ms.load(Ordering::Relaxed)
    }
}

fn local_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// An HTTP `Date` header in Unix milliseconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    jiff::fmt::rfc2822::parse(text.trim())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

/// An STS `Expiration` (`2026-12-06T09:00:00Z`) in Unix milliseconds.
pub fn parse_expiration(text: &str) -> Option<i64> {
    text.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(jiff::Timestamp::as_millisecond)
}

/// When credentials valid from `issued_ms` to `expires_ms` (the service's
/// clock) are renewed: 15–25 % of their lifetime before they expire (`jitter`
/// in `[0, 1)` picks where, so that many clients do not renew at once), at
/// least a minute before, and never before `now_ms` plus the minimum
/// interval unless that is too close to the expiry.
pub fn refresh_at(issued_ms: i64, expires_ms: i64, now_ms: i64, jitter: f64) -> i64 {
    let lifetime = (expires_ms - issued_ms).max(0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let margin = ((lifetime as f64) * (0.15 + 0.1 * jitter.clamp(0.0, 1.0))) as i64;
    let planned = expires_ms - margin.max(60_000);
    let earliest = now_ms + MIN_REFRESH_INTERVAL_MS;
    let latest = expires_ms - EXPIRY_SAFETY_MS;
    planned.max(earliest.min(latest))
}

/// Where temporary credentials come from.
#[derive(Debug)]
pub enum CredentialSource {
    /// A fixed key pair (with an optional fixed STS token).
    Static(Arc<AlibabaCredentials>),
    /// RRSA: the pod's projected service account token, exchanged with
    /// `AssumeRoleWithOIDC` (an unsigned call).
    Oidc {
        /// The role to assume.
        role_arn: String,
        /// The OIDC provider the role trusts.
        oidc_provider_arn: String,
        /// The token file (read again at every refresh: the kubelet renews it).
        token_file: PathBuf,
        /// Session name.
        session_name: String,
        /// Lifetime asked for, seconds.
        duration_seconds: u32,
    },
    /// `AssumeRole`, signed by a client of another source.
    AssumeRole {
        /// The client whose credentials ask.
        base: Box<AlibabaClient>,
        /// The role to assume.
        role_arn: String,
        /// Session name.
        session_name: String,
        /// The external id the role's trust policy may require.
        external_id: Option<String>,
        /// Lifetime asked for, seconds.
        duration_seconds: u32,
    },
    /// The ECS instance metadata service (hardened mode: a session token first).
    EcsRamRole {
        /// The role attached to the instance; `None` asks the service.
        role_name: Option<String>,
        /// The metadata service, `http://100.100.100.200` on ECS.
        endpoint: Url,
    },
}

impl CredentialSource {
    /// The kind of source, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            CredentialSource::Static(_) => "secretRef",
            CredentialSource::Oidc { .. } => "rrsa",
            CredentialSource::AssumeRole { .. } => "assumeRole",
            CredentialSource::EcsRamRole { .. } => "ecsRamRole",
        }
    }

    /// A stable name of the identity calls are made as, for rate-limit
    /// buckets (temporary key ids change at every refresh).
    pub fn principal(&self) -> String {
        match self {
            CredentialSource::Static(c) => c.access_key_id.clone(),
            CredentialSource::Oidc { role_arn, .. }
            | CredentialSource::AssumeRole { role_arn, .. } => role_arn.clone(),
            CredentialSource::EcsRamRole {
                role_name,
                endpoint,
            } => format!(
                "ecs-ram-role:{}@{}",
                role_name.as_deref().unwrap_or("*"),
                endpoint.host_str().unwrap_or_default()
            ),
        }
    }
}

/// Credentials in use and when to renew them.
#[derive(Debug, Clone)]
struct Cached {
    credentials: Arc<AlibabaCredentials>,
    refresh_at_ms: i64,
    expires_ms: i64,
}

/// A source and its cached credentials: [`CredentialProvider::current`]
/// renews them once they are due, one refresh at a time.
#[derive(Debug)]
pub struct CredentialProvider {
    source: CredentialSource,
    clock: Arc<ServerClock>,
    cached: Mutex<Option<Cached>>,
}

impl CredentialProvider {
    /// A provider of `source`'s credentials, judging expiry by `clock`.
    pub fn new(source: CredentialSource, clock: Arc<ServerClock>) -> CredentialProvider {
        CredentialProvider {
            source,
            clock,
            cached: Mutex::new(None),
        }
    }

    /// The source.
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }

    /// The service's clock this provider judges expiry by.
    pub fn clock(&self) -> &Arc<ServerClock> {
        &self.clock
    }

    /// Whether the credentials are temporary ones natop renews.
    pub fn refreshes(&self) -> bool {
        !matches!(self.source, CredentialSource::Static(_))
    }

    /// The fixed credentials, for a static source.
    pub fn fixed(&self) -> Option<&Arc<AlibabaCredentials>> {
        match &self.source {
            CredentialSource::Static(c) => Some(c),
            _ => None,
        }
    }

    /// Forget the cached credentials (the service said they expired).
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The credentials to sign with now, renewed first when due. `client`
    /// makes the unsigned `AssumeRoleWithOIDC` call and reaches the metadata
    /// service.
    pub async fn current(
        &self,
        client: &AlibabaClient,
    ) -> Result<Arc<AlibabaCredentials>, CloudError> {
        if let CredentialSource::Static(c) = &self.source {
            return Ok(c.clone());
        }
        let mut cached = self.cached.lock().await;
        let now = self.clock.now_ms();
        if let Some(c) = cached.as_ref()
            && now < c.refresh_at_ms
        {
            return Ok(c.credentials.clone());
        }
        match Box::pin(self.fetch(client)).await {
            Ok(fresh) => {
                let what = if cached.is_some() {
                    "renewed temporary credentials"
                } else {
                    "obtained temporary credentials"
                };
                info!(
                    source = self.source.kind(),
                    principal = %self.source.principal(),
                    access_key_id = %fresh.credentials.access_key_id,
                    expires_in_s = (fresh.expires_ms - self.clock.now_ms()) / 1000,
                    renew_in_s = (fresh.refresh_at_ms - self.clock.now_ms()) / 1000,
                    "{what}"
                );
                let credentials = fresh.credentials.clone();
                *cached = Some(fresh);
                Ok(credentials)
            }
            // Renewal failed, but the credentials in hand still work: use
            // them, and ask again at the next call.
            Err(error) => match cached.as_ref() {
                Some(c) if self.clock.now_ms() < c.expires_ms - EXPIRY_SAFETY_MS => {
                    debug!(%error, "renewing credentials failed; the current ones still work");
                    Ok(c.credentials.clone())
                }
                _ => Err(error),
            },
        }
    }

    async fn fetch(&self, client: &AlibabaClient) -> Result<Cached, CloudError> {
        let (credentials, issued_ms, expires_ms) = match &self.source {
            CredentialSource::Static(c) => {
                return Ok(Cached {
                    credentials: c.clone(),
                    refresh_at_ms: i64::MAX,
                    expires_ms: i64::MAX,
                });
            }
            CredentialSource::Oidc {
                role_arn,
                oidc_provider_arn,
                token_file,
                session_name,
                duration_seconds,
            } => {
                let token = read_token(token_file).await?;
                let request = AssumeRoleWithOidc {
                    oidc_provider_arn: oidc_provider_arn.clone(),
                    role_arn: role_arn.clone(),
                    oidc_token: token.expose_secret().to_string(),
                    role_session_name: session_name.clone(),
                    duration_seconds: Some(*duration_seconds),
                    policy: None,
                };
                let answer = client
                    .call(&request)
                    .await
                    .map_err(|e| refresh_error("AssumeRoleWithOIDC", &e))?;
                sts_credentials(&answer.credentials, self.clock.now_ms())?
            }
            CredentialSource::AssumeRole {
                base,
                role_arn,
                session_name,
                external_id,
                duration_seconds,
            } => {
                let request = AssumeRole {
                    role_arn: role_arn.clone(),
                    role_session_name: session_name.clone(),
                    duration_seconds: Some(*duration_seconds),
                    external_id: external_id.clone(),
                    policy: None,
                };
                let answer = base.call(&request).await.map_err(|e| match e {
                    // The base source's own failure keeps its reason.
                    e @ CloudError::Credentials { .. } => e,
                    e => refresh_error("AssumeRole", &e),
                })?;
                sts_credentials(&answer.credentials, self.clock.now_ms())?
            }
            CredentialSource::EcsRamRole {
                role_name,
                endpoint,
            } => {
                let answer = client
                    .instance_role_credentials(endpoint, role_name.as_deref())
                    .await?;
                if answer.code != "Success" {
                    return Err(credentials_error(
                        reason::ECS_RAM_ROLE_FAILED,
                        format!(
                            "the instance metadata service answered Code {:?}",
                            answer.code
                        ),
                    ));
                }
                let issued =
                    parse_expiration(&answer.last_updated).unwrap_or_else(|| self.clock.now_ms());
                let sts = StsCredentials {
                    access_key_id: answer.access_key_id.clone(),
                    access_key_secret: answer.access_key_secret.clone(),
                    security_token: answer.security_token.clone(),
                    expiration: answer.expiration.clone(),
                };
                let (credentials, _, expires) = sts_credentials(&sts, issued)?;
                (credentials, issued, expires)
            }
        };
        let now = self.clock.now_ms();
        if expires_ms - EXPIRY_SAFETY_MS <= now {
            return Err(credentials_error(
                self.failure_reason(),
                "the credentials handed out are already expired on the service's clock".to_string(),
            ));
        }
        Ok(Cached {
            credentials: Arc::new(credentials),
            refresh_at_ms: refresh_at(issued_ms, expires_ms, now, fastrand::f64()),
            expires_ms,
        })
    }

    fn failure_reason(&self) -> &'static str {
        match self.source {
            CredentialSource::Oidc { .. } => reason::OIDC_TOKEN_REJECTED,
            CredentialSource::AssumeRole { .. } => reason::ASSUME_ROLE_FAILED,
            CredentialSource::EcsRamRole { .. } | CredentialSource::Static(_) => {
                reason::ECS_RAM_ROLE_FAILED
            }
        }
    }
}

/// Read the OIDC token file afresh.
async fn read_token(path: &std::path::Path) -> Result<SecretString, CloudError> {
    let unreadable = |what: String| {
        credentials_error(
            reason::OIDC_TOKEN_UNREADABLE,
            format!("the OIDC token file {}: {what}", path.display()),
        )
    };
    let bytes = tokio::fs::read(path)
        .await
        .map_err(|e| unreadable(format!("cannot be read: {}", e.kind())))?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable("is not text".to_string()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(unreadable("is empty".to_string()));
    }
    Ok(SecretString::from(token.to_string()))
}

/// Credentials from an STS answer: them, `issued_ms` and their expiry.
fn sts_credentials(
    sts: &StsCredentials,
    issued_ms: i64,
) -> Result<(AlibabaCredentials, i64, i64), CloudError> {
    let expires = parse_expiration(&sts.expiration).ok_or_else(|| CloudError::Decode {
        provider: Provider::Alibaba,
        action: "AssumeRole".to_string(),
        status: 200,
        detail: format!("Expiration {:?} is not a time", sts.expiration),
    })?;
    if sts.access_key_id.is_empty() || sts.access_key_secret.is_empty() {
        return Err(CloudError::Decode {
            provider: Provider::Alibaba,
            action: "AssumeRole".to_string(),
            status: 200,
            detail: "the answer has no AccessKeyId or AccessKeySecret".to_string(),
        });
    }
    let mut credentials =
        AlibabaCredentials::new(sts.access_key_id.clone(), sts.access_key_secret.clone());
    if !sts.security_token.is_empty() {
        credentials = credentials.with_security_token(sts.security_token.clone());
    }
    Ok((credentials, issued_ms, expires))
}

/// A [`CloudError::Credentials`].
pub fn credentials_error(reason: &'static str, detail: String) -> CloudError {
    CloudError::Credentials {
        provider: Provider::Alibaba,
        reason,
        detail,
    }
}

/// The reason a failed STS call (`action`) gives, by its error: what the
/// service's code says about the token or the role, or that the service was
/// out of reach.
pub fn refresh_reason(action: &str, error: &CloudError) -> &'static str {
    let code = error.code().unwrap_or_default();
    let oidc = action == "AssumeRoleWithOIDC";
    match error.category() {
        c if c.is_retryable() => reason::CREDENTIALS_SERVICE_UNAVAILABLE,
        ErrorCategory::Credentials => reason::CREDENTIALS_SERVICE_UNAVAILABLE,
        _ if oidc => match code {
            "AuthenticationFail.OIDCToken.AudienceNotMatch" => reason::OIDC_AUDIENCE_MISMATCH,
            "AuthenticationFail.OIDCToken.Expired" => reason::OIDC_TOKEN_EXPIRED,
            "AuthenticationFail.NoPermission" => reason::OIDC_SUBJECT_NOT_ALLOWED,
            _ => reason::OIDC_TOKEN_REJECTED,
        },
        _ => reason::ASSUME_ROLE_FAILED,
    }
}

/// A failed STS call as a credentials error: its reason and the service's
/// words (which never carry the token).
fn refresh_error(action: &str, error: &CloudError) -> CloudError {
    credentials_error(refresh_reason(action, error), error.stable_message())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(code: &str, status: u16, category: ErrorCategory) -> CloudError {
        CloudError::Service {
            provider: Provider::Alibaba,
            action: "AssumeRoleWithOIDC".into(),
            status,
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
            category,
        }
    }

    #[test]
    fn sts_errors_name_what_is_wrong() {
        use ErrorCategory::{Auth, Throttled, Unavailable, Validation};
        let oidc = "AssumeRoleWithOIDC";
        for (action, code, status, category, want) in [
            (
                oidc,
                "AuthenticationFail.OIDCToken.AudienceNotMatch",
                401,
                Auth,
                reason::OIDC_AUDIENCE_MISMATCH,
            ),
            (
                oidc,
                "AuthenticationFail.OIDCToken.Expired",
                401,
                Auth,
                reason::OIDC_TOKEN_EXPIRED,
            ),
            (
                oidc,
                "AuthenticationFail.NoPermission",
                401,
                Auth,
                reason::OIDC_SUBJECT_NOT_ALLOWED,
            ),
            (
                oidc,
                "AuthenticationFail.OIDCToken.InvalidSignature",
                401,
                Auth,
                reason::OIDC_TOKEN_REJECTED,
            ),
            (
                oidc,
                "InvalidParameter.RoleArn",
                400,
                Validation,
                reason::OIDC_TOKEN_REJECTED,
            ),
            (
                oidc,
                "Throttling.User",
                400,
                Throttled,
                reason::CREDENTIALS_SERVICE_UNAVAILABLE,
            ),
            (
                "AssumeRole",
                "NoPermission",
                403,
                Auth,
                reason::ASSUME_ROLE_FAILED,
            ),
            (
                "AssumeRole",
                "EntityNotExist.Role",
                404,
                ErrorCategory::NotFound,
                reason::ASSUME_ROLE_FAILED,
            ),
            (
                "AssumeRole",
                "ServiceUnavailable",
                503,
                Unavailable,
                reason::CREDENTIALS_SERVICE_UNAVAILABLE,
            ),
        ] {
            assert_eq!(
                refresh_reason(action, &service(code, status, category)),
                want,
                "{action} {code}"
            );
        }
        let transport = CloudError::Transport {
            provider: Provider::Alibaba,
            action: "AssumeRole".into(),
            detail: "connection failed".into(),
            category: ErrorCategory::Transport,
        };
        assert_eq!(
            refresh_reason("AssumeRole", &transport),
            reason::CREDENTIALS_SERVICE_UNAVAILABLE
        );
        for r in reason::ALL {
            assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
    }

    #[test]
    fn credentials_are_renewed_well_before_they_expire() {
        let hour = 3_600_000;
        // (issued, expires, now, jitter) → renew at
        for (issued, expires, now, jitter, want) in [
            // 15 % of an hour before the expiry, with no jitter...
            (0, hour, 0, 0.0, hour - 540_000),
            // ...25 % with the most.
            (0, hour, 0, 0.999_999_999, hour - 899_999),
            // Jitter outside [0, 1) is clamped.
            (0, hour, 0, 7.0, hour - 900_000),
            // Short credentials: at least a minute before.
            (0, 120_000, 0, 0.0, 60_000),
            // Handed out late (the metadata service renews its credentials
            // only in their last hour): not asked again within a minute...
            (0, 6 * hour, 5 * hour + 1_800_000, 0.0, 5 * hour + 1_860_000),
            (0, 6 * hour, 5 * hour, 0.0, 6 * hour - 3_240_000),
            // ...unless they expire sooner than that.
            (0, hour, hour - 30_000, 0.0, hour - 10_000),
        ] {
            assert_eq!(
                refresh_at(issued, expires, now, jitter),
                want,
                "{issued} {expires} {now} {jitter}"
            );
        }
    }

    #[test]
    fn times_are_read_in_the_services_formats() {
        assert_eq!(
            parse_http_date("Sun, 06 Dec 2026 08:05:23 GMT"),
            parse_expiration("2026-12-06T08:05:23Z")
        );
        assert!(parse_expiration("2026-12-06T08:05:23Z").is_some());
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(parse_expiration(""), None);
        let clock = ServerClock::default();
        let before = clock.now_ms();
        clock.observe(Some("Mon, 01 Jan 20xx"));
        assert!(
            (clock.now_ms() - before).abs() < 5_000,
            "garbage is ignored"
        );
        let ahead = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(2);
        clock.observe(Some(
            &ahead.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string(),
        ));
        let offset = clock.now_ms() - local_ms();
        assert!(
            (offset - 7_200_000).abs() < 2_000,
            "the server's clock is two hours ahead: {offset}"
        );
    }

    #[test]
    fn debug_output_hides_every_secret() {
        let sts = StsCredentials {
            access_key_id: "STS.id".into(),
            access_key_secret: "sts-secret".into(),
            security_token: "sts-token".into(),
            expiration: "2026-12-06T08:05:23Z".into(),
        };
        let (c, _, _) = sts_credentials(&sts, 0).unwrap();
        let text = format!("{c:?} {sts:?}");
        assert!(
            !text.contains("sts-secret") && !text.contains("sts-token"),
            "{text}"
        );
        let request = AssumeRoleWithOidc {
            oidc_token: "eyJ.oidc.token".into(),
            ..AssumeRoleWithOidc::default()
        };
        assert!(!format!("{request:?}").contains("oidc.token"));
    }

    #[tokio::test]
    async fn an_unreadable_token_file_is_named_without_its_content() {
        let dir = std::env::temp_dir().join(format!("natop-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = read_token(&dir.join("absent")).await.unwrap_err();
        assert!(
            matches!(&missing, CloudError::Credentials { reason, .. } if *reason == reason::OIDC_TOKEN_UNREADABLE)
        );
        let empty = dir.join("empty");
        std::fs::write(&empty, "  \n").unwrap();
        assert!(
            read_token(&empty)
                .await
                .unwrap_err()
                .to_string()
                .contains("is empty")
        );
        let good = dir.join("good");
        std::fs::write(&good, "eyJ.secret-token.x\n").unwrap();
        assert_eq!(
            read_token(&good).await.unwrap().expose_secret(),
            "eyJ.secret-token.x"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
