//! Alibaba Cloud RPC signature version 1.0 (HMAC-SHA1).
//!
//! StringToSign = METHOD `&` `%2F` `&` percentEncode(canonical query), where the
//! canonical query is every parameter but `Signature` (empty values included),
//! percent-encoded and sorted by encoded name in byte order.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;

use crate::cloud::wire::Params;

/// Everything but `A-Z a-z 0-9 - _ . ~` is escaped (RFC 3986 unreserved set), with
/// upper-case hex: space is `%20`, `*` is `%2A`, `~` stays.
const RPC_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode a name or value the way the RPC signature requires.
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, RPC_ENCODE).to_string()
}

/// The canonical query: encoded `name=value` pairs sorted by encoded name, joined by `&`.
pub fn canonical_query(params: &Params) -> String {
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name.as_str() != "Signature")
        .map(|(name, value)| (percent_encode(name), percent_encode(value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The string the signature is computed over.
pub fn string_to_sign(method: &str, params: &Params) -> String {
    format!(
        "{method}&{}&{}",
        percent_encode("/"),
        percent_encode(&canonical_query(params))
    )
}

/// base64(HMAC-SHA1(key, data)).
pub fn hmac_sha1_base64(key: &[u8], data: &[u8]) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Sign `params` for `method` with `secret`: returns (StringToSign, Signature).
pub fn sign(method: &str, params: &Params, secret: &str) -> (String, String) {
    let sts = string_to_sign(method, params);
    let key = format!("{secret}&");
    let signature = hmac_sha1_base64(key.as_bytes(), sts.as_bytes());
    (sts, signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_params(timestamp_name: &str) -> Params {
        [
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            (timestamp_name, "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn public_vector_with_old_timestamp_spelling() {
        let (sts, sig) = sign("GET", &vector_params("TimeStamp"), "testsecret");
        assert!(sts.starts_with("GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions"));
        assert!(sts.contains("TimeStamp%3D2016-02-23T12%253A46%253A24Z"));
        assert_eq!(sig, "CT9X0VtwR86fNWSnsc6v8YGOjuE=");
    }

    #[test]
    fn public_vector_with_current_timestamp_spelling() {
        let (_, sig) = sign("GET", &vector_params("Timestamp"), "testsecret");
        assert_eq!(sig, "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
    }

    #[test]
    fn raw_hmac_vector() {
        assert_eq!(
            hmac_sha1_base64(b"secret", b"source"),
            "Jv4yi8SobFhg5t1C7nWLbhBSFZQ="
        );
    }

    #[test]
    fn encoding_edge_cases() {
        assert_eq!(percent_encode("a b"), "a%20b");
        assert_eq!(percent_encode("*"), "%2A");
        assert_eq!(percent_encode("~"), "~");
        assert_eq!(percent_encode("/"), "%2F");
        assert_eq!(percent_encode("+"), "%2B");
        assert_eq!(percent_encode("="), "%3D");
        assert_eq!(percent_encode("&"), "%26");
        assert_eq!(percent_encode("-_.AZaz09"), "-_.AZaz09");
        assert_eq!(percent_encode("网关"), "%E7%BD%91%E5%85%B3");
        assert_eq!(percent_encode(""), "");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_name_and_keeps_empty_values() {
        let params: Params = [
            ("X.2", "b"),
            ("X.10", "a"),
            ("Name", ""),
            ("Signature", "ignored"),
            ("Desc", "a b*c~"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            canonical_query(&params),
            "Desc=a%20b%2Ac~&Name=&X.10=a&X.2=b"
        );
        let sts = string_to_sign("POST", &params);
        assert_eq!(
            sts,
            "POST&%2F&Desc%3Da%2520b%252Ac~%26Name%3D%26X.10%3Da%26X.2%3Db"
        );
    }
}
