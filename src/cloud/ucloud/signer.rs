//! UCloud request signature: parameters sorted by name, `name` + `value`
//! concatenated without separators or escaping, the private key appended, and
//! the lower-case hex SHA-1 of the whole.

use sha1::{Digest, Sha1};

use crate::cloud::wire::Params;

/// The string that is hashed (it ends with the private key: never log it).
pub fn string_to_hash(params: &Params, private_key: &str) -> String {
    let mut text: String = params
        .iter()
        .filter(|(name, _)| name.as_str() != "Signature")
        .map(|(name, value)| format!("{name}{value}"))
        .collect();
    text.push_str(private_key);
    text
}

/// The lower-case hex SHA-1 signature of `params`.
pub fn sign(params: &Params, private_key: &str) -> String {
    let digest = Sha1::digest(string_to_hash(params, private_key).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_vector() {
        let params: Params = [
            ("Action", "DescribeUHostInstance"),
            ("Region", "cn-bj2"),
            ("Limit", "10"),
            ("PublicKey", "ucloudsomeone@example.com1296235120854146120"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let key = "46f09bb9fab4f12dfc160dae12273d5332b5debe";
        assert_eq!(
            string_to_hash(&params, key),
            "ActionDescribeUHostInstanceLimit10PublicKeyucloudsomeone@example.com1296235120854146120Regioncn-bj246f09bb9fab4f12dfc160dae12273d5332b5debe"
        );
        assert_eq!(
            sign(&params, key),
            "cba5cf5ec4d4233d206b1b54951e3787350a642f"
        );
    }

    #[test]
    fn signature_is_excluded_and_order_is_bytewise() {
        let params: Params = [
            ("b", "2"),
            ("B", "1"),
            ("Signature", "x"),
            ("a.10", "y"),
            ("a.2", "z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(string_to_hash(&params, "K"), "B1a.10ya.2zb2K");
    }
}
