//! STS `GetCallerIdentity`: the calling key's account. Every access key of an
//! emulated account belongs to the account's one RAM user, `natop`, so keys
//! rotated within an account answer the same identity.

use serde_json::Value;
use sha1::{Digest, Sha1};

use crate::cloud::alibaba::actions::sts::{GetCallerIdentity, GetCallerIdentityResponse};
use crate::cloud::wire::{self, Params};
use crate::emulator::ApiError;
use crate::emulator::fixture::AlibabaAccount;

/// The RAM user every key of an emulated account belongs to.
const USER_NAME: &str = "natop";

/// Answer `GetCallerIdentity` for `account`.
pub fn answer(account: &AlibabaAccount, params: &Params) -> Result<Value, ApiError> {
    let _: GetCallerIdentity = wire::unflatten(params).map_err(|e| {
        ApiError::new(
            400,
            "InvalidParameter",
            format!("The specified parameter is not valid: {e}"),
        )
    })?;
    let user_id = ram_user_id(&account.account_id);
    let identity = GetCallerIdentityResponse {
        request_id: String::new(),
        account_id: account.account_id.clone(),
        arn: format!("acs:ram::{}:user/{USER_NAME}", account.account_id),
        identity_type: "RAMUser".to_string(),
        user_id: user_id.clone(),
        principal_id: user_id,
    };
    serde_json::to_value(identity)
        .map_err(|e| ApiError::new(500, "InternalError", format!("encoding the answer: {e}")))
}

/// An 18-digit RAM user id (the real ones look like `216959339000654321`),
/// stable for an account.
fn ram_user_id(account_id: &str) -> String {
    let digest = Sha1::digest(account_id.as_bytes());
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    (200_000_000_000_000_000 + u64::from_be_bytes(head) % 100_000_000_000_000_000).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> AlibabaAccount {
        AlibabaAccount {
            account_id: id.to_string(),
            access_key_id: format!("key-of-{id}"),
            ..AlibabaAccount::default()
        }
    }

    #[test]
    fn the_identity_is_the_accounts_and_stable() {
        let v = answer(&account("1380000000000001"), &Params::new()).unwrap();
        assert_eq!(v["AccountId"], "1380000000000001");
        assert_eq!(v["Arn"], "acs:ram::1380000000000001:user/natop");
        assert_eq!(v["IdentityType"], "RAMUser");
        let user = v["UserId"].as_str().unwrap();
        assert_eq!(user.len(), 18);
        assert!(user.starts_with('2'));
        assert_eq!(v["PrincipalId"], v["UserId"]);
        let again = answer(&account("1380000000000001"), &Params::new()).unwrap();
        assert_eq!(again, v);
        let other = answer(&account("1380000000000002"), &Params::new()).unwrap();
        assert_ne!(other["UserId"], v["UserId"]);
    }
}
