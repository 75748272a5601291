//! How natop recognises what it made: a ClientToken derived from the object's
//! UID and a digest of the create parameters, and an owner tag where the cloud
//! shows tags.

use serde::Serialize;
use sha1::{Digest, Sha1};

/// The tag key natop puts on resources it creates, where the cloud supports tags.
pub const OWNER_TAG: &str = "natop.dev/owner-uid";

/// A ClientToken for creating `params` on behalf of the object `uid`: the same
/// object and parameters always give the same token (so a retried or repeated
/// create returns the first resource), different parameters a different one.
/// At most 64 ASCII characters, as the API requires.
pub fn client_token<P: Serialize>(uid: &str, params: &P) -> String {
    let encoded = serde_json::to_vec(params).unwrap_or_default();
    let digest = hex(&Sha1::digest(&encoded))[..16].to_string();
    let uid: String = uid
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    format!("natop-{uid}-{digest}")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_stable_short_and_parameter_sensitive() {
        let uid = "0f6f3c2e-8a3b-4c1d-9e2f-123456789abc";
        let a = client_token(uid, &serde_json::json!({"VpcId": "vpc-1"}));
        assert_eq!(a, client_token(uid, &serde_json::json!({"VpcId": "vpc-1"})));
        assert_ne!(a, client_token(uid, &serde_json::json!({"VpcId": "vpc-2"})));
        assert_ne!(
            a,
            client_token("other", &serde_json::json!({"VpcId": "vpc-1"}))
        );
        assert!(a.len() <= 64 && a.is_ascii(), "{a}");
        assert!(a.starts_with("natop-0f6f3c2e8a3b4c1d9e2f123456789abc-"));
    }
}
