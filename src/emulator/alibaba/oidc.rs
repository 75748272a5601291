//! OIDC token checks of AssumeRoleWithOIDC: the JWT is verified for real with
//! the provider's key set (RS256, key by `kid`), then its issuer, audience
//! and expiry (on the emulator's clock), then the role's trust in its subject.
//! Every refusal is HTTP 401 with the real service's code; no message ever
//! carries the token.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde::Deserialize;

use super::ram::wildcard;
use crate::emulator::ApiError;
use crate::emulator::fixture::{OidcProvider, OidcTrust};

/// Why a token (or its holder) is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Empty, not a JWT, or missing claims.
    Invalid,
    /// Not signed by a key of the provider (or not RS256).
    InvalidSignature,
    /// `iss` is not the provider's issuer URL.
    IssuerNotMatch,
    /// No `aud` is both a client id of the provider and trusted by the role.
    AudienceNotMatch,
    /// `exp` has passed.
    Expired,
    /// The provider is not registered.
    NoProvider,
    /// The role does not trust this provider or subject.
    NotTrusted,
}

impl Refusal {
    /// The service's answer.
    pub fn error(self) -> ApiError {
        let (code, message) = match self {
            Refusal::Invalid => (
                "AuthenticationFail.OIDCToken.Invalid",
                "The OIDC token is not a valid JsonWebToken.",
            ),
            Refusal::InvalidSignature => (
                "AuthenticationFail.OIDCToken.InvalidSignature",
                "The signature of the OIDC token is invalid.",
            ),
            Refusal::IssuerNotMatch => (
                "AuthenticationFail.OIDCToken.IssuerNotMatch",
                "The issuer of the OIDC token does not match the OIDC provider.",
            ),
            Refusal::AudienceNotMatch => (
                "AuthenticationFail.OIDCToken.AudienceNotMatch",
                "Invalid audience.",
            ),
            Refusal::Expired => (
                "AuthenticationFail.OIDCToken.Expired",
                "This JsonWebToken is expired.",
            ),
            Refusal::NoProvider => (
                "AuthenticationFail.NoPermission",
                "No such OIDC Provider registered.",
            ),
            Refusal::NotTrusted => ("AuthenticationFail.NoPermission", "There is no permission"),
        };
        ApiError::new(401, code, message)
    }
}

/// The claims read from an accepted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `iss`.
    pub issuer: String,
    /// `sub`.
    pub subject: String,
    /// `aud`, as a list.
    pub audiences: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_s: i64,
    /// `iat`, Unix seconds (0 when absent).
    pub issued_s: i64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Raw {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: i64,
}

/// Verify `token` against `provider` at virtual time `now_s`; `trusted` are
/// the audiences the role's trust accepts (none: any client id).
pub fn verify(
    token: &str,
    provider: &OidcProvider,
    trusted: &[String],
    now_s: i64,
) -> Result<Claims, Refusal> {
    if token.is_empty() {
        return Err(Refusal::Invalid);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Invalid)?;
    if header.alg != Algorithm::RS256 {
        return Err(Refusal::InvalidSignature);
    }
    let keys = provider.key_set().map_err(|_| Refusal::InvalidSignature)?;
    let jwk = header
        .kid
        .as_deref()
        .and_then(|kid| keys.find(kid))
        .ok_or(Refusal::InvalidSignature)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|_| Refusal::InvalidSignature)?;
    let mut validation = Validation::new(Algorithm::RS256);
    // Expiry is judged on the emulator's clock below; audience by the
    // provider and the role.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let raw = jsonwebtoken::decode::<Raw>(token, &key, &validation)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature
            | ErrorKind::InvalidAlgorithm
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidRsaKey(_) => Refusal::InvalidSignature,
            _ => Refusal::Invalid,
        })?
        .claims;
    if raw.iss != provider.issuer_url {
        return Err(Refusal::IssuerNotMatch);
    }
    let audiences = match raw.aud {
        Audience::One(one) => vec![one],
        Audience::Many(many) => many,
    };
    let accepted = audiences
        .iter()
        .any(|a| provider.client_ids.contains(a) && (trusted.is_empty() || trusted.contains(a)));
    if !accepted {
        return Err(Refusal::AudienceNotMatch);
    }
    if now_s >= raw.exp {
        return Err(Refusal::Expired);
    }
    Ok(Claims {
        issuer: raw.iss,
        subject: raw.sub,
        audiences,
        expires_s: raw.exp,
        issued_s: raw.iat,
    })
}

/// Whether a role's OIDC trust (`None`: the role trusts no provider) accepts
/// `subject` of a token of `provider_arn`.
pub fn trusts(trust: Option<&OidcTrust>, provider_arn: &str, subject: &str) -> bool {
    trust.is_some_and(|t| {
        t.provider_arn == provider_arn
            && (t.subjects.is_empty() || t.subjects.iter().any(|p| wildcard(p, subject)))
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    /// The test provider's private key (PKCS#1 DER) and its key set.
    const KEY_DER: &[u8] = include_bytes!("../../../tests/fixtures/oidc/test-key.der");
    const JWKS: &str = include_str!("../../../tests/fixtures/oidc/jwks.json");
    pub(crate) const ISSUER: &str = "https://oidc.example.test/cluster";
    pub(crate) const PROVIDER_ARN: &str = "acs:ram::1380000000000001:oidc-provider/test";

    pub(crate) fn provider() -> OidcProvider {
        OidcProvider {
            arn: PROVIDER_ARN.to_string(),
            issuer_url: ISSUER.to_string(),
            client_ids: vec!["sts.aliyuncs.com".into(), "other".into()],
            jwks: serde_json::from_str(JWKS).unwrap(),
        }
    }

    /// A token signed with the test key (`kid` natop-test-1) carrying `claims`.
    pub(crate) fn sign(claims: &serde_json::Value, kid: &str) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(KEY_DER)).unwrap()
    }

    pub(crate) fn claims(aud: serde_json::Value, sub: &str, exp: i64) -> serde_json::Value {
        json!({"iss": ISSUER, "sub": sub, "aud": aud, "exp": exp, "iat": exp - 3600})
    }

    #[test]
    fn token_outcomes() {
        let now = 1_000_000;
        let good = claims(
            json!("sts.aliyuncs.com"),
            "system:serviceaccount:ns:sa",
            now + 60,
        );
        let good_token = sign(&good, "natop-test-1");
        let mut tampered = good_token.clone();
        tampered.replace_range(tampered.len() - 6.., "AAAAAA");
        let mut forged_payload: Vec<&str> = good_token.split('.').collect();
        let other = base64_url(
            &json!({"iss": ISSUER, "sub": "root", "aud": "sts.aliyuncs.com", "exp": now + 60}),
        );
        forged_payload[1] = &other;
        let forged = forged_payload.join(".");
        let hs256 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &good,
            &EncodingKey::from_secret(b"k"),
        )
        .unwrap();
        let mut wrong_iss = good.clone();
        wrong_iss["iss"] = json!("https://evil.test");
        let no_exp = json!({"iss": ISSUER, "sub": "s", "aud": "sts.aliyuncs.com"});
        let trusted_only_other = vec!["other".to_string()];
        type Row<'a> = (&'a str, String, &'a [String], Result<(), Refusal>);
        let table: Vec<Row<'_>> = vec![
            ("accepted", good_token.clone(), &[], Ok(())),
            ("empty", String::new(), &[], Err(Refusal::Invalid)),
            ("garbage", "not.a.jwt".into(), &[], Err(Refusal::Invalid)),
            (
                "tampered signature",
                tampered,
                &[],
                Err(Refusal::InvalidSignature),
            ),
            (
                "forged payload",
                forged,
                &[],
                Err(Refusal::InvalidSignature),
            ),
            (
                "unknown kid",
                sign(&good, "other-kid"),
                &[],
                Err(Refusal::InvalidSignature),
            ),
            ("hs256", hs256, &[], Err(Refusal::InvalidSignature)),
            (
                "issuer",
                sign(&wrong_iss, "natop-test-1"),
                &[],
                Err(Refusal::IssuerNotMatch),
            ),
            (
                "aud not a client id",
                sign(&claims(json!("nobody"), "s", now + 60), "natop-test-1"),
                &[],
                Err(Refusal::AudienceNotMatch),
            ),
            (
                "aud list with one client id",
                sign(
                    &claims(json!(["x", "other"]), "s", now + 60),
                    "natop-test-1",
                ),
                &[],
                Ok(()),
            ),
            (
                "aud not trusted by the role",
                good_token.clone(),
                &trusted_only_other,
                Err(Refusal::AudienceNotMatch),
            ),
            (
                "expired",
                sign(&claims(json!("sts.aliyuncs.com"), "s", now), "natop-test-1"),
                &[],
                Err(Refusal::Expired),
            ),
            (
                "no exp",
                sign(&no_exp, "natop-test-1"),
                &[],
                Err(Refusal::Invalid),
            ),
        ];
        for (name, token, trusted, want) in table {
            let got = verify(&token, &provider(), trusted, now).map(|_| ());
            assert_eq!(got, want, "{name}");
        }
        let accepted = verify(&good_token, &provider(), &[], now).unwrap();
        assert_eq!(accepted.subject, "system:serviceaccount:ns:sa");
        assert_eq!(accepted.audiences, ["sts.aliyuncs.com"]);
        assert_eq!(accepted.issued_s, now + 60 - 3600);
    }

    fn base64_url(value: &serde_json::Value) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
    }

    #[test]
    fn refusals_are_401_with_the_services_codes() {
        let table = [
            (Refusal::Invalid, "AuthenticationFail.OIDCToken.Invalid"),
            (
                Refusal::InvalidSignature,
                "AuthenticationFail.OIDCToken.InvalidSignature",
            ),
            (
                Refusal::IssuerNotMatch,
                "AuthenticationFail.OIDCToken.IssuerNotMatch",
            ),
            (
                Refusal::AudienceNotMatch,
                "AuthenticationFail.OIDCToken.AudienceNotMatch",
            ),
            (Refusal::Expired, "AuthenticationFail.OIDCToken.Expired"),
            (Refusal::NoProvider, "AuthenticationFail.NoPermission"),
            (Refusal::NotTrusted, "AuthenticationFail.NoPermission"),
        ];
        for (refusal, code) in table {
            let e = refusal.error();
            assert_eq!((e.status, e.code.as_str()), (401, code));
        }
        assert_eq!(
            Refusal::Expired.error().message,
            "This JsonWebToken is expired."
        );
        assert_eq!(
            Refusal::NoProvider.error().message,
            "No such OIDC Provider registered."
        );
    }

    #[test]
    fn subject_trust() {
        let trust = OidcTrust {
            provider_arn: PROVIDER_ARN.into(),
            audiences: vec![],
            subjects: vec!["system:serviceaccount:natop:*".into()],
        };
        let any = OidcTrust {
            subjects: vec![],
            ..trust.clone()
        };
        let table = [
            (
                Some(&trust),
                PROVIDER_ARN,
                "system:serviceaccount:natop:natop",
                true,
            ),
            (
                Some(&trust),
                PROVIDER_ARN,
                "system:serviceaccount:other:natop",
                false,
            ),
            (
                Some(&trust),
                "acs:ram::1:oidc-provider/other",
                "system:serviceaccount:natop:natop",
                false,
            ),
            (Some(&any), PROVIDER_ARN, "anyone", true),
            (None, PROVIDER_ARN, "anyone", false),
        ];
        for (t, arn, sub, want) in table {
            assert_eq!(trusts(t, arn, sub), want, "{arn} {sub}");
        }
    }
}
