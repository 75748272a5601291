//! The Alibaba RPC client: signs every attempt afresh, waits for a rate-limit
//! token, retries retryable failures with jittered backoff, and decodes typed
//! responses and errors.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::warn;

use super::signer::{percent_encode, sign};
use super::{API_VERSION, Action, DEFAULT_ENDPOINT, MAX_PAGE_SIZE, Paginated, classify};
use crate::cloud::call::{Caller, ClientConfig, excerpt};
use crate::cloud::wire::{self, ListBase, Params};
use crate::cloud::{CloudError, ErrorCategory, Provider};

/// Access key credentials. `Debug` never shows the secret or the STS token.
#[derive(Debug, Clone)]
pub struct AlibabaCredentials {
    /// Access key id (not secret; it names the account in signatures and logs).
    pub access_key_id: String,
    /// Access key secret: the signing key.
    pub access_key_secret: SecretString,
    /// STS security token, for temporary credentials.
    pub security_token: Option<SecretString>,
}

impl AlibabaCredentials {
    /// Long-term access key credentials.
    pub fn new(access_key_id: impl Into<String>, access_key_secret: impl Into<String>) -> Self {
        AlibabaCredentials {
            access_key_id: access_key_id.into(),
            access_key_secret: SecretString::from(access_key_secret.into()),
            security_token: None,
        }
    }

    /// Add an STS security token.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(SecretString::from(token.into()));
        self
    }
}

/// The body of every Alibaba error answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorBody {
    request_id: String,
    code: String,
    message: String,
}

/// A signed, retrying client for one Alibaba account.
#[derive(Clone)]
pub struct AlibabaClient {
    caller: Caller,
    credentials: Arc<AlibabaCredentials>,
}

impl std::fmt::Debug for AlibabaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaClient")
            .field("endpoint", &self.caller.endpoint.as_str())
            .field("access_key_id", &self.credentials.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AlibabaClient {
    /// Build a client. Fails when the endpoint is not an http(s) URL or the
    /// TLS stack cannot be initialised.
    pub fn new(credentials: AlibabaCredentials, config: ClientConfig) -> Result<Self, CloudError> {
        let caller = Caller::new(
            Provider::Alibaba,
            &credentials.access_key_id,
            DEFAULT_ENDPOINT,
            config,
        )?;
        Ok(AlibabaClient {
            caller,
            credentials: Arc::new(credentials),
        })
    }

    /// The access key id this client signs with.
    pub fn access_key_id(&self) -> &str {
        &self.credentials.access_key_id
    }

    /// Call `action`, retrying retryable failures. A request carrying a
    /// `ClientToken` keeps it across attempts; nonce, timestamp and signature
    /// are new for each attempt.
    pub async fn call<A: Action>(&self, action: &A) -> Result<A::Response, CloudError> {
        let params = wire::flatten(action, ListBase::One)
            .map_err(|e| CloudError::InvalidRequest(format!("{}: {e}", A::NAME)))?;
        let region = params.get("RegionId").cloned().unwrap_or_default();
        self.caller
            .run(A::NAME, &region, || self.attempt::<A>(&params))
            .await
    }

    /// Walk every page of a `Describe*` action at the largest page size.
    pub async fn describe_all<P: Paginated>(
        &self,
        request: &P,
    ) -> Result<Vec<P::Item>, CloudError> {
        self.describe_pages(request).await.map(|(all, _)| all)
    }

    /// [`AlibabaClient::describe_all`], also saying how many calls (pages) it took.
    pub async fn describe_pages<P: Paginated>(
        &self,
        request: &P,
    ) -> Result<(Vec<P::Item>, u32), CloudError> {
        let mut request = request.clone();
        let mut all = Vec::new();
        let mut number = 1u32;
        loop {
            request.set_page(number, MAX_PAGE_SIZE);
            let response = self.call(&request).await?;
            let page = P::page(&response);
            let items = P::items(response);
            let got = items.len();
            all.extend(items);
            let total = usize::try_from(page.total_count).unwrap_or(usize::MAX);
            let size = if page.page_size > 0 {
                page.page_size
            } else {
                MAX_PAGE_SIZE
            };
            let short_page = got < usize::try_from(size).unwrap_or(usize::MAX);
            if got == 0 || (total > 0 && all.len() >= total) || (total == 0 && short_page) {
                return Ok((all, number));
            }
            number += 1;
        }
    }

    /// The full signed query of one attempt: the request's parameters, the
    /// common ones with a fresh nonce and timestamp, and the signature.
    fn signed_query(&self, action: &str, params: &Params) -> String {
        let mut all = params.clone();
        let common = [
            ("Action", action.to_string()),
            ("Version", API_VERSION.to_string()),
            ("Format", "JSON".to_string()),
            ("AccessKeyId", self.credentials.access_key_id.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureVersion", "1.0".to_string()),
            ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
            ("Timestamp", timestamp_now()),
        ];
        for (name, value) in common {
            all.insert(name.to_string(), value);
        }
        if let Some(token) = &self.credentials.security_token {
            all.insert(
                "SecurityToken".to_string(),
                token.expose_secret().to_string(),
            );
        }
        let (_, signature) = sign(
            "POST",
            &all,
            self.credentials.access_key_secret.expose_secret(),
        );
        all.insert("Signature".to_string(), signature);
        all.iter()
            .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    async fn attempt<A: Action>(&self, params: &Params) -> Result<A::Response, CloudError> {
        let mut url = self.caller.endpoint.clone();
        url.set_query(Some(&self.signed_query(A::NAME, params)));
        let response = self
            .caller
            .http
            .post(url)
            .send()
            .await
            .map_err(|e| self.caller.transport_error(A::NAME, &e))?;
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .map_err(|e| self.caller.transport_error(A::NAME, &e))?;
        if (200..300).contains(&status) {
            return serde_json::from_str::<A::Response>(&body).map_err(|e| CloudError::Decode {
                provider: Provider::Alibaba,
                action: A::NAME.to_string(),
                status,
                detail: e.to_string(),
            });
        }
        let error = service_error(A::NAME, status, &body);
        if error.category() == ErrorCategory::Auth {
            warn!(action = A::NAME, error = %error, "cloud rejected the credentials");
        }
        Err(error)
    }
}

fn service_error(action: &str, status: u16, body: &str) -> CloudError {
    let parsed = serde_json::from_str::<ErrorBody>(body).unwrap_or_default();
    let (code, message) = if parsed.code.is_empty() {
        (
            format!("HTTP{status}"),
            without_string_to_sign(&excerpt(body)),
        )
    } else {
        (parsed.code, without_string_to_sign(&parsed.message))
    };
    CloudError::Service {
        provider: Provider::Alibaba,
        action: action.to_string(),
        status,
        category: classify(status, &code),
        code,
        message,
        request_id: parsed.request_id,
    }
}

/// `SignatureDoesNotMatch` messages end with the server's string to sign, which
/// carries every parameter, an STS SecurityToken included: keep it out of
/// errors, conditions and logs (`natop sign` recomputes it locally).
fn without_string_to_sign(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    let cut = ["server string to sign", "string to sign", "stringtosign"]
        .iter()
        .filter_map(|marker| lower.find(marker))
        .min();
    match cut {
        Some(at) => format!(
            "{}(the server's string to sign is withheld because it carries credentials; \
             compare with `natop sign`)",
            &message[..at]
        ),
        None => message.to_string(),
    }
}

/// Current UTC time in the RPC `Timestamp` format.
fn timestamp_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = AlibabaCredentials::new("LTAIid", "very-secret-key")
            .with_security_token("sts-token-text");
        let text = format!("{creds:?}");
        assert!(text.contains("LTAIid"));
        assert!(!text.contains("very-secret-key"));
        assert!(!text.contains("sts-token-text"));
        let client = AlibabaClient::new(creds, ClientConfig::default()).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("very-secret-key"));
    }

    #[test]
    fn error_bodies_are_typed_and_classified() {
        let body = r#"{"RequestId":"R1","HostId":"vpc.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control.","Recommend":"https://x"}"#;
        let e = service_error("DescribeNatGateways", 400, body);
        assert_eq!(e.code(), Some("Throttling.User"));
        assert!(e.is_retryable());
        assert!(e.to_string().contains("RequestId R1"));
        let e = service_error("DescribeNatGateways", 502, "<html>bad gateway</html>");
        assert_eq!(e.code(), Some("HTTP502"));
        assert!(e.is_retryable());
    }

    #[test]
    fn the_string_to_sign_never_reaches_an_error() {
        let body = r#"{"RequestId":"R","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dsts-secret"}"#;
        let e = service_error("DescribeNatGateways", 400, body);
        let text = format!("{e} {e:?}");
        assert!(!text.contains("sts-secret"), "{text}");
        assert!(text.contains("Specified signature is not matched"));
    }

    #[test]
    fn timestamp_has_the_rpc_shape() {
        let t = timestamp_now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T');
    }
}
