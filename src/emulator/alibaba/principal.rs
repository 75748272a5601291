//! Who an authenticated Alibaba call comes from: the RAM user of a fixture
//! access key, or a session of an assumed role (STS credentials), with the
//! policies that decide what it may do.

use base64::Engine;

use super::ram::{self, Decision, PolicyDocument};
use crate::cloud::wire::Params;
use crate::emulator::fixture::{AlibabaAccount, RamRole};
use crate::emulator::{AccessDeniedDetail, ApiError};

/// The RAM user every key of an emulated account belongs to.
pub const USER_NAME: &str = "natop";

/// Temporary credentials the emulator issued (AssumeRole, AssumeRoleWithOIDC,
/// the instance role), by access key id in the emulator's state. No `Debug`:
/// it holds secrets.
#[derive(Clone)]
pub struct StsSession {
    /// The signing secret.
    pub access_key_secret: String,
    /// What calls must send as `SecurityToken`.
    pub security_token: String,
    /// When the credentials stop working, virtual Unix milliseconds.
    pub expires_ms: i64,
    /// The assumed role.
    pub role_arn: String,
    /// `RoleSessionName`.
    pub session_name: String,
    /// The session policy given to AssumeRole, if any.
    pub session_policy: Option<PolicyDocument>,
}

/// What the principal is.
#[derive(Debug, Clone, PartialEq)]
pub enum Identity {
    /// The account's RAM user (a fixture access key).
    User,
    /// A session of an assumed role.
    AssumedRole {
        /// The role.
        role: RamRole,
        /// `RoleSessionName`.
        session_name: String,
    },
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The account whose resources it acts on (for an assumed role: the
    /// role's account, with that account's properties); `access_key_id` is
    /// the key the call was signed with.
    pub account: AlibabaAccount,
    /// User or assumed role.
    pub identity: Identity,
    /// The user's or role's policies; none: full access.
    pub policies: Vec<PolicyDocument>,
    /// The session policy of an assumed role, if one was given.
    pub session_policy: Option<PolicyDocument>,
}

impl Principal {
    /// `SubUser` or `AssumedRoleUser`, as `AccessDeniedDetail` names them.
    fn type_name(&self) -> &'static str {
        match self.identity {
            Identity::User => "SubUser",
            Identity::AssumedRole { .. } => "AssumedRoleUser",
        }
    }

    /// The user's name, or `<role>:<session>`.
    fn display_name(&self) -> String {
        match &self.identity {
            Identity::User => USER_NAME.to_string(),
            Identity::AssumedRole { role, session_name } => {
                format!("{}:{session_name}", role.name())
            }
        }
    }

    /// RAM's decision on `action` over `resource`.
    pub fn decide(&self, action: &str, resource: &str) -> Decision {
        ram::decide(
            &self.policies,
            self.session_policy.as_ref(),
            action,
            resource,
        )
    }

    /// `AccessDeniedDetail` for a refused `action` on `resource`.
    pub fn denied(&self, action: &str, resource: &str, decision: Decision) -> AccessDeniedDetail {
        let diagnostic = serde_json::json!({
            "AuthAction": action,
            "AuthResource": resource,
            "AuthPrincipal": self.display_name(),
            "NoPermissionType": decision.no_permission_type(),
        });
        AccessDeniedDetail {
            auth_action: action.to_string(),
            auth_principal_type: self.type_name().to_string(),
            auth_principal_owner_id: self.account.account_id.clone(),
            auth_principal_display_name: self.display_name(),
            policy_type: "AccountLevelIdentityBasedPolicy".to_string(),
            no_permission_type: decision.no_permission_type().to_string(),
            encoded_diagnostic_message: base64::engine::general_purpose::STANDARD
                .encode(diagnostic.to_string()),
        }
    }

    /// Whether RAM lets the principal make VPC call `action` with `params`:
    /// `Forbidden.RAM` (403) with `AccessDeniedDetail` when not.
    pub fn authorize_vpc(&self, action: &str, params: &Params) -> Result<(), ApiError> {
        let ram_action = ram::vpc_action(action);
        let region = params.get("RegionId").map_or("", String::as_str);
        let resource = ram::vpc_resource(region, &self.account.account_id, |name| {
            params.get(name).cloned()
        });
        match self.decide(&ram_action, &resource) {
            Decision::Allow => Ok(()),
            decision => Err(ApiError::new(
                403,
                "Forbidden.RAM",
                "User not authorized to operate on the specified resource, or this API doesn't support RAM.",
            )
            .with_access_denied(self.denied(&ram_action, &resource, decision))),
        }
    }
}

/// Check the `SecurityToken` sent with the STS key of `session` at virtual
/// time `now_ms`.
pub fn check_security_token(
    session: &StsSession,
    token: Option<&str>,
    now_ms: i64,
) -> Result<(), ApiError> {
    match token.filter(|t| !t.is_empty()) {
        None => Err(ApiError::new(
            400,
            "MissingSecurityToken",
            "SecurityToken is mandatory for this action.",
        )),
        Some(t) if t != session.security_token => Err(ApiError::new(
            400,
            "InvalidSecurityToken.MismatchWithAccessKey",
            "Specified SecurityToken mismatch with the AccessKey.",
        )),
        Some(_) if now_ms >= session.expires_ms => Err(ApiError::new(
            400,
            "InvalidSecurityToken.Expired",
            "Specified SecurityToken is expired.",
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> StsSession {
        StsSession {
            access_key_secret: "s".into(),
            security_token: "CAIStoken".into(),
            expires_ms: 10_000,
            role_arn: "acs:ram::1:role/r".into(),
            session_name: "x".into(),
            session_policy: None,
        }
    }

    #[test]
    fn security_tokens() {
        let table = [
            (None, 0, Some("MissingSecurityToken")),
            (Some(""), 0, Some("MissingSecurityToken")),
            (
                Some("CAISother"),
                0,
                Some("InvalidSecurityToken.MismatchWithAccessKey"),
            ),
            (Some("CAIStoken"), 9_999, None),
            (
                Some("CAIStoken"),
                10_000,
                Some("InvalidSecurityToken.Expired"),
            ),
            (
                Some("CAISother"),
                20_000,
                Some("InvalidSecurityToken.MismatchWithAccessKey"),
            ),
        ];
        for (token, now, want) in table {
            let got = check_security_token(&session(), token, now).err();
            assert_eq!(
                got.as_ref().map(|e| e.code.as_str()),
                want,
                "{token:?} at {now}"
            );
            if let Some(e) = got {
                assert_eq!(e.status, 400);
                assert!(!e.message.contains("CAIS"), "no token in messages");
            }
        }
    }

    #[test]
    fn vpc_calls_are_authorized_by_policy() {
        let allow_describe = PolicyDocument::parse(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"vpc:Describe*","Resource":"*"}]}"#,
        )
        .unwrap();
        let user = Principal {
            account: AlibabaAccount {
                account_id: "9".into(),
                ..AlibabaAccount::default()
            },
            identity: Identity::User,
            policies: vec![allow_describe],
            session_policy: None,
        };
        let params: Params = [("RegionId", "cn-hangzhou"), ("ForwardTableId", "ftb-1")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert!(
            user.authorize_vpc("DescribeForwardTableEntries", &params)
                .is_ok()
        );
        let e = user
            .authorize_vpc("CreateForwardEntry", &params)
            .unwrap_err();
        assert_eq!((e.status, e.code.as_str()), (403, "Forbidden.RAM"));
        let detail = e.access_denied.unwrap();
        assert_eq!(detail.auth_action, "vpc:CreateForwardEntry");
        assert_eq!(detail.auth_principal_type, "SubUser");
        assert_eq!(detail.auth_principal_display_name, "natop");
        assert_eq!(detail.no_permission_type, "ImplicitDeny");
        let role = RamRole {
            role_arn: "acs:ram::9:role/natop-role".into(),
            max_session_duration: 3600,
            policies: vec![],
            trust: Default::default(),
        };
        let assumed = Principal {
            identity: Identity::AssumedRole {
                role,
                session_name: "s1".into(),
            },
            policies: vec![],
            ..user
        };
        assert!(assumed.authorize_vpc("CreateForwardEntry", &params).is_ok());
        let denied = assumed.denied("vpc:X", "r", Decision::ExplicitDeny);
        assert_eq!(denied.auth_principal_type, "AssumedRoleUser");
        assert_eq!(denied.auth_principal_display_name, "natop-role:s1");
        assert_eq!(denied.no_permission_type, "ExplicitDeny");
    }
}
