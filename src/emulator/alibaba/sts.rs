//! The Security Token Service (Version 2015-04-01): `GetCallerIdentity`,
//! `AssumeRole` (signed with the caller's credentials) and
//! `AssumeRoleWithOIDC` (anonymous: the OIDC token is the proof), issuing
//! temporary credentials that the emulator then accepts with their
//! `SecurityToken` until they expire on its clock.
//!
//! Every access key of an emulated account belongs to the account's one RAM
//! user, `natop`, so keys rotated within an account answer the same identity.
//!
//! Refusals: a malformed `RoleArn` is 400 `InvalidParameter.RoleArn`, a bad
//! `RoleSessionName` 400 `InvalidParameter.RoleSessionName`, a session
//! `Policy` that fails the grammar 400 `InvalidParameter.PolicyGrammar`, an
//! unknown role 404 `EntityNotExist.Role`; a caller whose RAM policies do not
//! allow `sts:AssumeRole` on the role, whose account the role does not trust,
//! or who gives the wrong `ExternalId`, 403 `NoPermission` (the trust policy
//! condition `sts:ExternalId` fails like any other trust check); a
//! `DurationSeconds` outside 900 to the role's maximum, 400
//! `InvalidParameter.DurationSeconds`. OIDC refusals are in [`super::oidc`].

use std::collections::BTreeMap;

use serde_json::Value;
use sha1::{Digest, Sha1};

use super::oidc::{self, Refusal};
use super::principal::{Identity, Principal, StsSession, USER_NAME};
use super::ram::{Decision, PolicyDocument};
use super::{decode_error, unknown_action};
use crate::cloud::alibaba::Action;
use crate::cloud::alibaba::actions::sts::{
    AssumeRole, AssumeRoleResponse, AssumeRoleWithOidc, AssumedRoleUser, GetCallerIdentity,
    GetCallerIdentityResponse, OidcTokenInfo, StsCredentials,
};
use crate::cloud::wire::{self, Params};
use crate::emulator::ApiError;
use crate::emulator::clock::iso;
use crate::emulator::fixture::{AlibabaFixture, RamRole, arn_parts};

/// Issued credentials by access key id.
pub type Sessions = BTreeMap<String, StsSession>;

/// How long an expired session is still known (and answered
/// `InvalidSecurityToken.Expired`) before it is forgotten.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

/// What the STS actions read and change.
pub struct Sts<'a> {
    /// Roles, policies, OIDC providers, accounts.
    pub fixture: &'a AlibabaFixture,
    /// Issued credentials.
    pub sessions: &'a mut Sessions,
    /// Generator of keys and tokens.
    pub rng: &'a mut fastrand::Rng,
    /// Virtual now, Unix milliseconds.
    pub now_ms: i64,
}

impl Sts<'_> {
    /// Answer STS `action` for `principal` (`None`: an anonymous call, which
    /// only AssumeRoleWithOIDC may be).
    pub fn answer(
        &mut self,
        principal: Option<&Principal>,
        action: &str,
        params: &Params,
    ) -> Result<Value, ApiError> {
        let encoded = match (action, principal) {
            (GetCallerIdentity::NAME, Some(p)) => {
                let _: GetCallerIdentity = wire::unflatten(params).map_err(|e| decode_error(&e))?;
                serde_json::to_value(caller_identity(p))
            }
            (AssumeRole::NAME, Some(p)) => {
                let request = wire::unflatten(params).map_err(|e| decode_error(&e))?;
                serde_json::to_value(self.assume_role(p, request)?)
            }
            (AssumeRoleWithOidc::NAME, _) => {
                let request = wire::unflatten(params).map_err(|e| decode_error(&e))?;
                serde_json::to_value(self.assume_role_with_oidc(request)?)
            }
            _ => return Err(unknown_action(action)),
        };
        encoded
            .map_err(|e| ApiError::new(500, "InternalError", format!("encoding the answer: {e}")))
    }

    /// AssumeRole for `caller`.
    pub fn assume_role(
        &mut self,
        caller: &Principal,
        r: AssumeRole,
    ) -> Result<AssumeRoleResponse, ApiError> {
        check_role_arn(&r.role_arn)?;
        check_session_name(&r.role_session_name)?;
        let session_policy = session_policy(r.policy.as_deref())?;
        let role = self.role(&r.role_arn)?;
        let action = "sts:AssumeRole";
        match caller.decide(action, &role.role_arn) {
            Decision::Allow => {}
            decision => {
                return Err(no_permission().with_access_denied(caller.denied(
                    action,
                    &role.role_arn,
                    decision,
                )));
            }
        }
        check_trust(&role, &caller.account.account_id, r.external_id.as_deref())?;
        let duration = duration(r.duration_seconds, role.max_session_duration)?;
        let (credentials, user) = self.issue(&role, &r.role_session_name, duration, session_policy);
        Ok(AssumeRoleResponse {
            request_id: String::new(),
            credentials,
            assumed_role_user: user,
            oidc_token_info: None,
        })
    }

    /// AssumeRoleWithOIDC: no caller, the token decides.
    pub fn assume_role_with_oidc(
        &mut self,
        r: AssumeRoleWithOidc,
    ) -> Result<AssumeRoleResponse, ApiError> {
        check_role_arn(&r.role_arn)?;
        check_session_name(&r.role_session_name)?;
        let session_policy = session_policy(r.policy.as_deref())?;
        let provider = self
            .fixture
            .oidc_providers
            .iter()
            .find(|p| p.arn == r.oidc_provider_arn)
            .ok_or_else(|| Refusal::NoProvider.error())?;
        let role = self.role(&r.role_arn)?;
        let trust = role
            .trust
            .oidc
            .as_ref()
            .filter(|t| t.provider_arn == provider.arn);
        let trusted_audiences = trust.map_or(&[][..], |t| t.audiences.as_slice());
        let claims = oidc::verify(
            &r.oidc_token,
            provider,
            trusted_audiences,
            self.now_ms.div_euclid(1000),
        )
        .map_err(Refusal::error)?;
        if !oidc::trusts(trust, &provider.arn, &claims.subject) {
            return Err(Refusal::NotTrusted.error());
        }
        let duration = duration(r.duration_seconds, role.max_session_duration)?;
        let (credentials, user) = self.issue(&role, &r.role_session_name, duration, session_policy);
        Ok(AssumeRoleResponse {
            request_id: String::new(),
            credentials,
            assumed_role_user: user,
            oidc_token_info: Some(OidcTokenInfo {
                subject: claims.subject,
                issuer: claims.issuer,
                client_ids: claims.audiences.join(","),
                expiration_time: iso(claims.expires_s.saturating_mul(1000)),
                issuance_time: iso(claims.issued_s.saturating_mul(1000)),
            }),
        })
    }

    fn role(&self, arn: &str) -> Result<RamRole, ApiError> {
        self.fixture.role(arn).cloned().ok_or_else(|| {
            ApiError::new(
                404,
                "EntityNotExist.Role",
                format!("The role not exists: {arn}."),
            )
        })
    }

    /// New credentials of `role` for `duration_s` seconds, kept in the
    /// sessions; returns them and the identity they act as.
    pub fn issue(
        &mut self,
        role: &RamRole,
        session_name: &str,
        duration_s: u32,
        session_policy: Option<PolicyDocument>,
    ) -> (StsCredentials, AssumedRoleUser) {
        let now = self.now_ms;
        self.sessions
            .retain(|_, s| s.expires_ms.saturating_add(FORGET_AFTER_MS) > now);
        let access_key_id = format!("STS.{}", random_text(self.rng, ALNUM, 28));
        let session = StsSession {
            access_key_secret: random_text(self.rng, ALNUM, 44),
            security_token: format!("CAIS{}", random_text(self.rng, TOKEN_CHARS, 300)),
            expires_ms: now.saturating_add(i64::from(duration_s) * 1000),
            role_arn: role.role_arn.clone(),
            session_name: session_name.to_string(),
            session_policy,
        };
        let credentials = StsCredentials {
            access_key_id: access_key_id.clone(),
            access_key_secret: session.access_key_secret.clone(),
            security_token: session.security_token.clone(),
            expiration: iso(session.expires_ms),
        };
        self.sessions.insert(access_key_id, session);
        (credentials, assumed_role_user(role, session_name))
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const TOKEN_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_text(rng: &mut fastrand::Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect()
}

/// `acs:ram::<account>:assumed-role/<role>/<session>` and `<RoleId>:<session>`.
pub fn assumed_role_user(role: &RamRole, session_name: &str) -> AssumedRoleUser {
    AssumedRoleUser {
        arn: format!(
            "acs:ram::{}:assumed-role/{}/{session_name}",
            role.account_id(),
            role.name()
        ),
        assumed_role_id: format!("{}:{session_name}", role.role_id()),
    }
}

/// GetCallerIdentity of `principal`.
pub fn caller_identity(principal: &Principal) -> GetCallerIdentityResponse {
    let account_id = principal.account.account_id.clone();
    match &principal.identity {
        Identity::User => {
            let user_id = ram_user_id(&account_id);
            GetCallerIdentityResponse {
                request_id: String::new(),
                arn: format!("acs:ram::{account_id}:user/{USER_NAME}"),
                account_id,
                identity_type: "RAMUser".to_string(),
                user_id: user_id.clone(),
                principal_id: user_id,
            }
        }
        Identity::AssumedRole { role, session_name } => {
            let user = assumed_role_user(role, session_name);
            GetCallerIdentityResponse {
                request_id: String::new(),
                account_id,
                arn: user.arn,
                identity_type: "AssumedRoleUser".to_string(),
                user_id: String::new(),
                principal_id: user.assumed_role_id,
            }
        }
    }
}

/// An 18-digit RAM user id (the real ones look like `216959339000654321`),
/// stable for an account.
fn ram_user_id(account_id: &str) -> String {
    let digest = Sha1::digest(account_id.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (200_000_000_000_000_000 + u64::from_be_bytes(head) % 100_000_000_000_000_000).to_string()
}

fn no_permission() -> ApiError {
    ApiError::new(
        403,
        "NoPermission",
        "You are not authorized to do this action. You should be authorized by RAM.",
    )
}

/// `RoleArn` must be `acs:ram::<account>:role/<name>`.
pub fn check_role_arn(arn: &str) -> Result<(), ApiError> {
    match arn_parts(arn, "role") {
        Some(_) => Ok(()),
        None => Err(ApiError::new(
            400,
            "InvalidParameter.RoleArn",
            "The parameter RoleArn is wrongly formed.",
        )),
    }
}

/// `RoleSessionName`: 2 to 64 of `A-Z a-z 0-9 . @ _ -`.
pub fn check_session_name(name: &str) -> Result<(), ApiError> {
    let ok = (2..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".@_-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "InvalidParameter.RoleSessionName",
            "The parameter RoleSessionName is wrongly formed.",
        ))
    }
}

/// The session policy, when given, parsed.
pub fn session_policy(text: Option<&str>) -> Result<Option<PolicyDocument>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            PolicyDocument::parse(t).map_err(|_| {
                ApiError::new(
                    400,
                    "InvalidParameter.PolicyGrammar",
                    "The parameter Policy has not passed grammar check.",
                )
            })
        })
        .transpose()
}

/// The session length: `requested` (default 3600, or the role's maximum if
/// lower), 900 to `max` seconds.
pub fn duration(requested: Option<u32>, max: u32) -> Result<u32, ApiError> {
    let seconds = requested.unwrap_or(3600.min(max));
    if (900..=max).contains(&seconds) {
        Ok(seconds)
    } else {
        let max_text = if max.is_multiple_of(3600) {
            format!("{}hr", max / 3600)
        } else {
            format!("{max}s")
        };
        Err(ApiError::new(
            400,
            "InvalidParameter.DurationSeconds",
            format!("The Min/Max value of DurationSeconds is 15min/{max_text}."),
        ))
    }
}

/// The role's trust policy for an AssumeRole by `account_id` with
/// `external_id`: the account must be trusted and, when the trust sets an
/// external id, the same one given.
pub fn check_trust(
    role: &RamRole,
    account_id: &str,
    external_id: Option<&str>,
) -> Result<(), ApiError> {
    if !role.trust.accounts.iter().any(|a| a == account_id) {
        return Err(no_permission());
    }
    match &role.trust.external_id {
        Some(want) if external_id != Some(want.as_str()) => Err(no_permission()),
        _ => Ok(()),
    }
}

#[cfg(test)]
pub(crate) mod tests;
