//! The Alibaba RPC client: signs every attempt afresh, waits for a rate-limit
//! token, retries retryable failures with jittered backoff, and decodes typed
//! responses and errors.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::warn;
use url::Url;

use super::signer::{percent_encode, sign};
use super::{
    Action, DEFAULT_ENDPOINT, DEFAULT_STS_ENDPOINT, MAX_PAGE_SIZE, Paginated, Service, classify,
};
use crate::cloud::call::{
    Caller, ClientConfig, LISTING_ATTEMPTS, excerpt, page_problem, parse_endpoint,
};
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
    /// Where [`Service::Sts`] actions go; VPC actions go to the caller's endpoint.
    sts_endpoint: Url,
    credentials: Arc<AlibabaCredentials>,
}

impl std::fmt::Debug for AlibabaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaClient")
            .field("endpoint", &self.caller.endpoint.as_str())
            .field("sts_endpoint", &self.sts_endpoint.as_str())
            .field("access_key_id", &self.credentials.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AlibabaClient {
    /// Build a client. Fails when an endpoint is not an http(s) URL or the
    /// TLS stack cannot be initialised. STS actions go to `sts_endpoint`,
    /// else to `endpoint` when that is set, else to the public STS endpoint.
    pub fn new(credentials: AlibabaCredentials, config: ClientConfig) -> Result<Self, CloudError> {
        let sts_endpoint = parse_endpoint(
            config
                .sts_endpoint
                .as_deref()
                .or(config.endpoint.as_deref())
                .unwrap_or(DEFAULT_STS_ENDPOINT),
        )?;
        let caller = Caller::new(
            Provider::Alibaba,
            &credentials.access_key_id,
            DEFAULT_ENDPOINT,
            config,
        )?;
        Ok(AlibabaClient {
            caller,
            sts_endpoint,
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

    /// [`AlibabaClient::describe_all`], also saying how many calls (pages) it
    /// took. The service's pages are not atomic: when the pages of one read
    /// disagree (the total count changed between them, or an item came twice)
    /// the whole listing is read again, up to [`LISTING_ATTEMPTS`] times, and
    /// then the read fails (retryable) rather than be trusted.
    pub async fn describe_pages<P: Paginated>(
        &self,
        request: &P,
    ) -> Result<(Vec<P::Item>, u32), CloudError> {
        let mut calls = 0u32;
        let mut problem = String::new();
        for _ in 0..LISTING_ATTEMPTS {
            match self.read_pages(request, &mut calls).await? {
                Ok(all) => return Ok((all, calls)),
                Err(p) => {
                    warn!(action = P::NAME, problem = %p, "listing changed while read; reading it again");
                    problem = p;
                }
            }
        }
        Err(CloudError::Transport {
            provider: Provider::Alibaba,
            action: P::NAME.to_string(),
            detail: format!(
                "the listing changed while it was read page by page, {LISTING_ATTEMPTS} times ({problem})"
            ),
            category: ErrorCategory::Transport,
        })
    }

    /// One read of every page; `Ok(Err(problem))` when its pages disagree.
    async fn read_pages<P: Paginated>(
        &self,
        request: &P,
        calls: &mut u32,
    ) -> Result<Result<Vec<P::Item>, String>, CloudError> {
        let mut request = request.clone();
        let mut all = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut first_total = None;
        let mut number = 1u32;
        loop {
            request.set_page(number, MAX_PAGE_SIZE);
            let response = self.call(&request).await?;
            *calls += 1;
            let page = P::page(&response);
            let items = P::items(response);
            let got = items.len();
            let duplicate = items
                .iter()
                .filter_map(P::item_id)
                .find(|id| !seen.insert(id.to_string()))
                .map(str::to_string);
            let total_then = *first_total.get_or_insert(page.total_count);
            if let Some(problem) = page_problem(total_then, page.total_count, duplicate.as_deref())
            {
                return Ok(Err(problem));
            }
            all.extend(items);
            let total = usize::try_from(page.total_count).unwrap_or(usize::MAX);
            let size = if page.page_size > 0 {
                page.page_size
            } else {
                MAX_PAGE_SIZE
            };
            let short_page = got < usize::try_from(size).unwrap_or(usize::MAX);
            if got == 0 || (total > 0 && all.len() >= total) || (total == 0 && short_page) {
                return Ok(Ok(all));
            }
            number += 1;
        }
    }

    /// The endpoint `service`'s actions are sent to.
    pub fn endpoint_of(&self, service: Service) -> &str {
        match service {
            Service::Vpc => self.caller.endpoint.as_str(),
            Service::Sts => self.sts_endpoint.as_str(),
        }
    }

    /// The full signed query of one attempt (the request's parameters, the
    /// common ones with a fresh nonce and timestamp, and the signature), and
    /// the signature alone, to keep it out of error messages.
    fn signed_query(&self, action: &str, version: &str, params: &Params) -> (String, String) {
        let mut all = params.clone();
        let common = [
            ("Action", action.to_string()),
            ("Version", version.to_string()),
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
        all.insert("Signature".to_string(), signature.clone());
        let query = all
            .iter()
            .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        (query, signature)
    }

    async fn attempt<A: Action>(&self, params: &Params) -> Result<A::Response, CloudError> {
        let mut url = match A::SERVICE {
            Service::Vpc => self.caller.endpoint.clone(),
            Service::Sts => self.sts_endpoint.clone(),
        };
        let (query, signature) = self.signed_query(A::NAME, A::VERSION, params);
        url.set_query(Some(&query));
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
        let token = self
            .credentials
            .security_token
            .as_ref()
            .map(|t| t.expose_secret().to_string())
            .unwrap_or_default();
        let error = service_error(A::NAME, status, &body, &[&signature, &token]);
        if error.category() == ErrorCategory::Auth {
            warn!(action = A::NAME, error = %error, "cloud rejected the credentials");
        }
        Err(error)
    }
}

/// The error of a non-2xx answer. Without the service's `Code` the body came
/// from something else (a proxy, an ingress, a wrong path): only its status
/// is known, so it is classified by that alone and never as not-found.
/// `sensitive` values are kept out of the excerpt of such a body.
fn service_error(action: &str, status: u16, body: &str, sensitive: &[&str]) -> CloudError {
    let parsed = serde_json::from_str::<ErrorBody>(body).unwrap_or_default();
    let (code, message, category) = if parsed.code.is_empty() {
        (
            format!("HTTP{status}"),
            without_string_to_sign(&excerpt(body, sensitive)),
            ErrorCategory::from_bare_status(status),
        )
    } else {
        let category = classify(status, &parsed.code);
        (
            parsed.code,
            without_string_to_sign(&parsed.message),
            category,
        )
    };
    CloudError::Service {
        provider: Provider::Alibaba,
        action: action.to_string(),
        status,
        category,
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
        let e = service_error("DescribeNatGateways", 400, body, &[]);
        assert_eq!(e.code(), Some("Throttling.User"));
        assert!(e.is_retryable());
        assert!(e.to_string().contains("RequestId R1"));
        let e = service_error("DescribeNatGateways", 502, "<html>bad gateway</html>", &[]);
        assert_eq!(e.code(), Some("HTTP502"));
        assert!(e.is_retryable());
    }

    #[test]
    fn answers_without_a_code_are_classified_by_status_alone() {
        let nginx = "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>";
        let table = [
            (404, nginx, ErrorCategory::Endpoint),
            (403, "<html>Forbidden</html>", ErrorCategory::Endpoint),
            (
                407,
                "Proxy Authentication Required",
                ErrorCategory::Endpoint,
            ),
            (401, "", ErrorCategory::Endpoint),
            (400, r#"{"Message":"no code"}"#, ErrorCategory::Endpoint),
            (
                404,
                r#"{"RequestId":"R","Code":""}"#,
                ErrorCategory::Endpoint,
            ),
            (429, "Too Many Requests", ErrorCategory::Throttled),
            (503, "", ErrorCategory::Unavailable),
            (
                504,
                "<html>gateway time-out</html>",
                ErrorCategory::Unavailable,
            ),
        ];
        for (status, body, want) in table {
            let e = service_error("DeleteNatGateway", status, body, &[]);
            assert_eq!(e.category(), want, "{status} {body}");
            assert_eq!(e.code(), Some(format!("HTTP{status}").as_str()));
            assert!(!e.is_not_found(), "{status} {body}");
        }
        let e = service_error("DeleteNatGateway", 404, nginx, &[]);
        assert!(e.to_string().contains("404 Not Found"), "{e}");
        // The service's own not-found code still means gone.
        let coded = r#"{"RequestId":"R","Code":"InvalidNatGatewayId.NotFound","Message":"gone"}"#;
        assert!(service_error("DeleteNatGateway", 404, coded, &[]).is_not_found());
    }

    #[test]
    fn an_echoing_proxy_page_does_not_leak_the_token_or_signature() {
        let body = "<html>No upstream for /?SecurityToken=sts-secret-token&Signature=sig%2Bvalue%3D</html>";
        let e = service_error(
            "DescribeNatGateways",
            404,
            body,
            &["sig+value=", "sts-secret-token"],
        );
        let text = format!("{e} {e:?}");
        assert!(!text.contains("sts-secret-token"), "{text}");
        assert!(!text.contains("sig"), "{text}");
    }

    #[test]
    fn sts_actions_follow_the_sts_endpoint_rules() {
        let key = || AlibabaCredentials::new("id", "secret");
        let client = AlibabaClient::new(key(), ClientConfig::default()).unwrap();
        assert_eq!(
            client.endpoint_of(Service::Vpc),
            "https://vpc.aliyuncs.com/"
        );
        assert_eq!(
            client.endpoint_of(Service::Sts),
            "https://sts.aliyuncs.com/"
        );
        let emulator = ClientConfig {
            endpoint: Some("http://127.0.0.1:8787/".into()),
            ..ClientConfig::default()
        };
        let client = AlibabaClient::new(key(), emulator.clone()).unwrap();
        assert_eq!(client.endpoint_of(Service::Sts), "http://127.0.0.1:8787/");
        let split = ClientConfig {
            sts_endpoint: Some("https://sts-vpc.cn-hangzhou.aliyuncs.com".into()),
            ..emulator
        };
        let client = AlibabaClient::new(key(), split).unwrap();
        assert_eq!(client.endpoint_of(Service::Vpc), "http://127.0.0.1:8787/");
        assert_eq!(
            client.endpoint_of(Service::Sts),
            "https://sts-vpc.cn-hangzhou.aliyuncs.com/"
        );
        let bad = ClientConfig {
            sts_endpoint: Some("sts.aliyuncs.com".into()),
            ..ClientConfig::default()
        };
        assert!(matches!(
            AlibabaClient::new(key(), bad),
            Err(CloudError::InvalidRequest(_))
        ));
    }

    #[test]
    fn the_string_to_sign_never_reaches_an_error() {
        let body = r#"{"RequestId":"R","Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dsts-secret"}"#;
        let e = service_error("DescribeNatGateways", 400, body, &[]);
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
