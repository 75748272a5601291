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
