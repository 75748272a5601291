//! Security Token Service (product `Sts`, version 2015-04-01): which account
//! and principal an access key belongs to. Any valid key may call it; no RAM
//! permission is needed, so it identifies credentials before anything else.

use serde::{Deserialize, Serialize};

use crate::cloud::alibaba::{Action, Service};
use crate::cloud::wire;

/// GetCallerIdentity: the account, user and ARN of the calling credentials.
/// It takes no parameters (and no `RegionId`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetCallerIdentity {}

impl Action for GetCallerIdentity {
    const NAME: &'static str = "GetCallerIdentity";
    const SERVICE: Service = Service::Sts;
    type Response = GetCallerIdentityResponse;
}

/// Answer to [`GetCallerIdentity`]. Every field is a string on the wire; the
/// ids are read leniently in case a gateway sends them as numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetCallerIdentityResponse {
    /// Request id.
    #[serde(deserialize_with = "wire::text")]
    pub request_id: String,
    /// The account (main account UID) the credentials belong to: the same for
    /// every access key and RAM user of the account.
    #[serde(deserialize_with = "wire::text")]
    pub account_id: String,
    /// `acs:ram::<AccountId>:user/<name>` (or `…:assumed-role/…`, `…:root`).
    #[serde(deserialize_with = "wire::text")]
    pub arn: String,
    /// `Account`, `RAMUser` or `AssumedRoleUser`.
    #[serde(deserialize_with = "wire::text")]
    pub identity_type: String,
    /// The RAM user's id (for a main account key, the account id).
    #[serde(deserialize_with = "wire::text")]
    pub user_id: String,
    /// The principal: the user id, or `<RoleId>:<RoleSessionName>` for an
    /// assumed role.
    #[serde(deserialize_with = "wire::text")]
    pub principal_id: String,
}

/// AssumeRole: temporary credentials of a RAM role, asked for with the
/// caller's own (signed) credentials. The caller needs RAM permission
/// `sts:AssumeRole` on the role, and the role's trust policy must name the
/// caller's account.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRole {
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// Names the session in the assumed identity (2–64 of `[A-Za-z0-9.@_-]`).
    pub role_session_name: String,
    /// Seconds the credentials last: 900 to the role's maximum (3600 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "wire::opt_num")]
    pub duration_seconds: Option<u32>,
    /// The external id the role's trust policy may require (`sts:ExternalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// A policy narrowing the role's permissions for this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl std::fmt::Debug for AssumeRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRole")
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration_seconds", &self.duration_seconds)
            .finish_non_exhaustive()
    }
}

impl Action for AssumeRole {
    const NAME: &'static str = "AssumeRole";
    const SERVICE: Service = Service::Sts;
    type Response = AssumeRoleResponse;
}

/// AssumeRoleWithOIDC: temporary credentials of a RAM role for the holder of
/// an OIDC token (RRSA: a Kubernetes service account token). The call is not
/// signed: the token is the proof.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleWithOidc {
    /// `acs:ram::<account>:oidc-provider/<name>`.
    #[serde(rename = "OIDCProviderArn")]
    pub oidc_provider_arn: String,
    /// `acs:ram::<account>:role/<name>`.
    pub role_arn: String,
    /// The OIDC token (a JWT).
    #[serde(rename = "OIDCToken")]
    pub oidc_token: String,
    /// Names the session in the assumed identity.
    pub role_session_name: String,
    /// Seconds the credentials last: 900 to the role's maximum (3600 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(deserialize_with = "wire::opt_num")]
    pub duration_seconds: Option<u32>,
    /// A policy narrowing the role's permissions for this session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

impl std::fmt::Debug for AssumeRoleWithOidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumeRoleWithOidc")
            .field("oidc_provider_arn", &self.oidc_provider_arn)
            .field("role_arn", &self.role_arn)
            .field("role_session_name", &self.role_session_name)
            .field("duration_seconds", &self.duration_seconds)
            .finish_non_exhaustive()
    }
}

impl Action for AssumeRoleWithOidc {
    const NAME: &'static str = "AssumeRoleWithOIDC";
    const SERVICE: Service = Service::Sts;
    const SIGNED: bool = false;
    type Response = AssumeRoleResponse;
}

/// Answer to [`AssumeRole`] and [`AssumeRoleWithOidc`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssumeRoleResponse {
    /// Request id.
    #[serde(deserialize_with = "wire::text")]
    pub request_id: String,
    /// The temporary credentials.
    pub credentials: StsCredentials,
    /// Who they act as.
    pub assumed_role_user: AssumedRoleUser,
    /// What the service read from the OIDC token ([`AssumeRoleWithOidc`] only).
    #[serde(rename = "OIDCTokenInfo", skip_serializing_if = "Option::is_none")]
    pub oidc_token_info: Option<OidcTokenInfo>,
}

/// Temporary credentials. `Debug` shows the key id and expiry only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StsCredentials {
    /// `STS.…`.
    #[serde(deserialize_with = "wire::text")]
    pub access_key_id: String,
    /// The signing key.
    #[serde(deserialize_with = "wire::text")]
    pub access_key_secret: String,
    /// Sent as `SecurityToken` with every call.
    #[serde(deserialize_with = "wire::text")]
    pub security_token: String,
    /// When they stop working, UTC (`2026-12-06T09:00:00Z`), on the service's clock.
    #[serde(deserialize_with = "wire::text")]
    pub expiration: String,
}

impl std::fmt::Debug for StsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// The identity temporary credentials act as.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct AssumedRoleUser {
    /// `acs:ram::<account>:assumed-role/<role>/<session>`.
    #[serde(deserialize_with = "wire::text")]
    pub arn: String,
    /// `<RoleId>:<RoleSessionName>`.
    #[serde(deserialize_with = "wire::text")]
    pub assumed_role_id: String,
}

/// The claims of an accepted OIDC token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct OidcTokenInfo {
    /// `sub`.
    #[serde(deserialize_with = "wire::text")]
    pub subject: String,
    /// `iss`.
    #[serde(deserialize_with = "wire::text")]
    pub issuer: String,
    /// `aud`, comma-separated.
    #[serde(deserialize_with = "wire::text")]
    pub client_ids: String,
    /// `exp`, UTC.
    #[serde(deserialize_with = "wire::text")]
    pub expiration_time: String,
    /// `iat`, UTC.
    #[serde(deserialize_with = "wire::text")]
    pub issuance_time: String,
}

/// The JSON the ECS instance metadata service answers at
/// `/latest/meta-data/ram/security-credentials/<role>`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceRoleCredentials {
    /// `Success` when the credentials are valid.
    pub code: String,
    /// `STS.…`.
    pub access_key_id: String,
    /// The signing key.
    pub access_key_secret: String,
    /// Sent as `SecurityToken`.
    pub security_token: String,
    /// When they stop working, UTC.
    pub expiration: String,
    /// When the service last renewed them, UTC.
    pub last_updated: String,
}

impl std::fmt::Debug for InstanceRoleCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceRoleCredentials")
            .field("code", &self.code)
            .field("access_key_id", &self.access_key_id)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::{STS_API_VERSION, fixture};
    use crate::cloud::wire::{ListBase, flatten, unflatten};

    #[test]
    fn the_recorded_answer_parses() {
        let r: GetCallerIdentityResponse = fixture("GetCallerIdentity");
        assert_eq!(r.request_id, "A7E8A7B4-33A3-5C39-8B5E-1E1A4A3D2C10");
        assert_eq!(r.account_id, "1380000000000001");
        assert_eq!(r.identity_type, "RAMUser");
        assert_eq!(r.arn, "acs:ram::1380000000000001:user/natop");
        assert_eq!(r.user_id, "216959339000654321");
        assert_eq!(r.principal_id, r.user_id);
    }

    #[test]
    fn numbers_and_missing_fields_are_accepted() {
        let r: GetCallerIdentityResponse =
            serde_json::from_str(r#"{"AccountId":1380000000000001,"UserId":null}"#).unwrap();
        assert_eq!(r.account_id, "1380000000000001");
        assert_eq!(r.user_id, "");
        assert_eq!(r.arn, "");
    }

    #[test]
    fn the_request_is_empty_and_goes_to_sts() {
        let request = GetCallerIdentity::default();
        assert!(flatten(&request, ListBase::One).unwrap().is_empty());
        let back: GetCallerIdentity = unflatten(
            &[("RegionId".to_string(), "cn-hangzhou".to_string())]
                .into_iter()
                .collect(),
        )
        .unwrap();
        assert_eq!(back, request);
        assert_eq!(GetCallerIdentity::SERVICE, Service::Sts);
        assert_eq!(GetCallerIdentity::VERSION, STS_API_VERSION);
    }
}
