//! The Alibaba RPC client: signs every attempt afresh, waits for a rate-limit
//! token, retries retryable failures with jittered backoff, and decodes typed
//! responses and errors.

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tracing::warn;
use url::Url;

use super::actions::sts::InstanceRoleCredentials;
use super::credentials::{
    CredentialProvider, CredentialSource, ServerClock, credentials_error, reason,
};
use super::endpoints;
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
    /// Read leniently: a detail of another shape must not hide the code.
    access_denied_detail: Option<serde_json::Value>,
}

/// What RAM says about a refused call (`Forbidden.RAM`, `NoPermission`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct AccessDeniedDetail {
    /// The permission the call needed, e.g. `vpc:CreateForwardEntry`.
    auth_action: String,
    /// `ImplicitDeny` (no policy allows it) or `ExplicitDeny`.
    no_permission_type: String,
}

/// A signed, retrying client for one Alibaba account.
#[derive(Clone)]
pub struct AlibabaClient {
    caller: Caller,
    /// Where [`Service::Sts`] actions go; VPC actions go to the caller's endpoint.
    sts_endpoint: Url,
    credentials: Arc<CredentialProvider>,
}

impl std::fmt::Debug for AlibabaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlibabaClient")
            .field("endpoint", &self.caller.endpoint.as_str())
            .field("sts_endpoint", &self.sts_endpoint.as_str())
            .field("credentials", &self.credentials.source().kind())
            .field("principal", &self.credentials.source().principal())
            .finish_non_exhaustive()
    }
}

impl AlibabaClient {
    /// Build a client signing with fixed credentials. Fails when an endpoint
    /// is not an http(s) URL or the TLS stack cannot be initialised. STS
    /// actions go to `sts_endpoint`, else to `endpoint` when that is set, else
    /// to the public STS endpoint.
    pub fn new(credentials: AlibabaCredentials, config: ClientConfig) -> Result<Self, CloudError> {
        AlibabaClient::with_source(
            CredentialSource::Static(Arc::new(credentials)),
            Arc::new(ServerClock::default()),
            config,
        )
    }

    /// Build a client whose credentials come from `source`, judging their
    /// expiry by `clock` (shared with the client of an `AssumeRole` base, so
    /// every answer of the service sets it).
    pub fn with_source(
        source: CredentialSource,
        clock: Arc<ServerClock>,
        config: ClientConfig,
    ) -> Result<Self, CloudError> {
        // With a region and no endpoint configured, the endpoints the
        // official SDK picks for that region.
        let (vpc_default, sts_default) = match config.region.as_deref() {
            Some(region) if !region.is_empty() => (
                endpoints::url(Service::Vpc, region),
                endpoints::url(Service::Sts, region),
            ),
            _ => (
                DEFAULT_ENDPOINT.to_string(),
                DEFAULT_STS_ENDPOINT.to_string(),
            ),
        };
        let sts_endpoint = parse_endpoint(
            config
                .sts_endpoint
                .as_deref()
                .or(config.endpoint.as_deref())
                .unwrap_or(&sts_default),
        )?;
        let caller = Caller::new(Provider::Alibaba, &source.principal(), &vpc_default, config)?;
        Ok(AlibabaClient {
            caller,
            sts_endpoint,
            credentials: Arc::new(CredentialProvider::new(source, clock)),
        })
    }

    /// The access key id this client signs with, for fixed credentials; the
    /// source's principal (a role ARN) for temporary ones.
    pub fn access_key_id(&self) -> String {
        match self.credentials.fixed() {
            Some(c) => c.access_key_id.clone(),
            None => self.credentials.source().principal(),
        }
    }

    /// Where the credentials come from.
    pub fn credential_source(&self) -> &CredentialSource {
        self.credentials.source()
    }

    /// The service's clock as its answers tell it.
    pub fn server_clock(&self) -> &Arc<ServerClock> {
        self.credentials.clock()
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
    fn signed_query(
        credentials: &AlibabaCredentials,
        action: &str,
        version: &str,
        params: &Params,
    ) -> (String, String) {
        let mut all = params.clone();
        let common = [
            ("Action", action.to_string()),
            ("Version", version.to_string()),
            ("Format", "JSON".to_string()),
            ("AccessKeyId", credentials.access_key_id.clone()),
            ("SignatureMethod", "HMAC-SHA1".to_string()),
            ("SignatureVersion", "1.0".to_string()),
            ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
            ("Timestamp", timestamp_now()),
        ];
        for (name, value) in common {
            all.insert(name.to_string(), value);
        }
        if let Some(token) = &credentials.security_token {
            all.insert(
                "SecurityToken".to_string(),
                token.expose_secret().to_string(),
            );
        }
        let (_, signature) = sign("POST", &all, credentials.access_key_secret.expose_secret());
        all.insert("Signature".to_string(), signature.clone());
        (encode(&all), signature)
    }

    async fn attempt<A: Action>(&self, params: &Params) -> Result<A::Response, CloudError> {
        let mut url = match A::SERVICE {
            Service::Vpc => self.caller.endpoint.clone(),
            Service::Sts => self.sts_endpoint.clone(),
        };
        let (request, signature, credentials) = if A::SIGNED {
            let credentials = self.credentials.current(self).await?;
            let (query, signature) = Self::signed_query(&credentials, A::NAME, A::VERSION, params);
            url.set_query(Some(&query));
            (self.caller.http.post(url), signature, Some(credentials))
        } else {
            // Unsigned (AssumeRoleWithOIDC): the protocol parameters in the
            // query, the action's (the OIDC token) in a form body, out of
            // every URL that a proxy or gateway may log.
            let common: Params = [
                ("Action", A::NAME.to_string()),
                ("Version", A::VERSION.to_string()),
                ("Format", "JSON".to_string()),
                ("Timestamp", timestamp_now()),
                ("SignatureNonce", uuid::Uuid::new_v4().to_string()),
            ]
            .into_iter()
            .map(|(n, v)| (n.to_string(), v))
            .collect();
            url.set_query(Some(&encode(&common)));
            let request = self
                .caller
                .http
                .post(url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(encode(params));
            (request, String::new(), None)
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.caller.transport_error(A::NAME, &e))?;
        self.observe_date(&response);
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
        let token = credentials
            .as_ref()
            .and_then(|c| c.security_token.as_ref())
            .map(|t| t.expose_secret().to_string())
            .unwrap_or_default();
        let mut error = service_error(A::NAME, status, &body, &[&signature, &token]);
        if error.code() == Some("InvalidSecurityToken.Expired") && self.credentials.refreshes() {
            // Expired on the service's clock before natop renewed them (the
            // clock jumped): renew, and the next attempt signs with the new.
            self.credentials.invalidate().await;
            if let CloudError::Service { category, .. } = &mut error {
                *category = ErrorCategory::Unavailable;
            }
        } else if error.category() == ErrorCategory::Auth {
            warn!(action = A::NAME, error = %error, "cloud rejected the credentials");
        }
        Err(error)
    }

    /// Learn the service's clock from an answer's `Date`.
    fn observe_date(&self, response: &reqwest::Response) {
        self.credentials.clock().observe(
            response
                .headers()
                .get(reqwest::header::DATE)
                .and_then(|v| v.to_str().ok()),
        );
    }

    /// The credentials of the instance's RAM role from the ECS metadata
    /// service at `endpoint` (hardened mode: a session token first, then the
    /// role's credentials); `role_name` `None` asks which role is attached.
    pub(crate) async fn instance_role_credentials(
        &self,
        endpoint: &Url,
        role_name: Option<&str>,
    ) -> Result<InstanceRoleCredentials, CloudError> {
        let failed = |what: String| credentials_error(reason::ECS_RAM_ROLE_FAILED, what);
        let unreachable = |e: reqwest::Error| {
            credentials_error(
                reason::CREDENTIALS_SERVICE_UNAVAILABLE,
                format!(
                    "the instance metadata service at {} did not answer: {}",
                    endpoint.as_str(),
                    self.caller.transport_error("metadata", &e)
                ),
            )
        };
        let url = |path: &str| endpoint.join(path).map_err(|e| failed(e.to_string()));
        let session = self
            .caller
            .http
            .put(url("latest/api/token")?)
            .header("X-aliyun-ecs-metadata-token-ttl-seconds", "300")
            .send()
            .await
            .map_err(unreachable)?;
        if !session.status().is_success() {
            return Err(failed(format!(
                "the instance metadata service refused a session token (HTTP {})",
                session.status().as_u16()
            )));
        }
        let token = session.text().await.map_err(unreachable)?;
        let get = |path: String| {
            let token = token.clone();
            async move {
                let response = self
                    .caller
                    .http
                    .get(url(&path)?)
                    .header("X-aliyun-ecs-metadata-token", token.trim())
                    .send()
                    .await
                    .map_err(unreachable)?;
                self.observe_date(&response);
                let status = response.status().as_u16();
                let body = response.text().await.map_err(unreachable)?;
                if (200..300).contains(&status) {
                    Ok(body)
                } else {
                    Err(failed(format!(
                        "the instance metadata service answered HTTP {status} for {path}"
                    )))
                }
            }
        };
        let prefix = "latest/meta-data/ram/security-credentials/";
        let role = match role_name {
            Some(role) => role.to_string(),
            None => get(prefix.to_string())
                .await?
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
                .ok_or_else(|| failed("no RAM role is attached to the instance".to_string()))?,
        };
        let body = get(format!("{prefix}{role}")).await?;
        serde_json::from_str(&body).map_err(|e| {
            failed(format!(
                "the instance metadata service's answer for role {role} is not credentials: {}",
                e.classify_name()
            ))
        })
    }
}

/// A query or form body of `params`, percent-encoded as the RPC protocol does.
fn encode(params: &Params) -> String {
    params
        .iter()
        .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A short name of a JSON decoding problem, without the text it quotes.
trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "JSON of another shape",
            serde_json::error::Category::Eof => "cut short",
        }
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
        let mut message = without_string_to_sign(&parsed.message);
        let detail = parsed
            .access_denied_detail
            .and_then(|v| serde_json::from_value::<AccessDeniedDetail>(v).ok());
        if let Some(missing) = detail.as_ref().and_then(missing_permission) {
            message.push_str(&missing);
        }
        (parsed.code, message, category)
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

/// The permission a refused call lacked, for the error's message: ` (RAM
/// permission vpc:X is missing: ImplicitDeny)`. Only names that look like
/// RAM actions are repeated.
fn missing_permission(detail: &AccessDeniedDetail) -> Option<String> {
    let action = detail.auth_action.trim();
    let looks_right = action.split_once(':').is_some_and(|(product, name)| {
        !product.is_empty()
            && !name.is_empty()
            && action
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ':' || c == '*')
    });
    if !looks_right || action.len() > 128 {
        return None;
    }
    let how = match detail.no_permission_type.as_str() {
        "ExplicitDeny" => "denied by a policy",
        _ => "not granted",
    };
    Some(format!(" (RAM permission {action} is {how})"))
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
        let regional = ClientConfig {
            region: Some("eu-central-1".into()),
            ..ClientConfig::default()
        };
        let client = AlibabaClient::new(key(), regional.clone()).unwrap();
        assert_eq!(
            client.endpoint_of(Service::Vpc),
            "https://vpc.eu-central-1.aliyuncs.com/"
        );
        assert_eq!(
            client.endpoint_of(Service::Sts),
            "https://sts.eu-central-1.aliyuncs.com/"
        );
        let overridden = ClientConfig {
            endpoint: Some("https://vpc-vpc.eu-central-1.aliyuncs.com".into()),
            sts_endpoint: Some("https://sts-vpc.eu-central-1.aliyuncs.com".into()),
            ..regional
        };
        let client = AlibabaClient::new(key(), overridden).unwrap();
        assert_eq!(
            client.endpoint_of(Service::Vpc),
            "https://vpc-vpc.eu-central-1.aliyuncs.com/"
        );
        assert_eq!(
            client.endpoint_of(Service::Sts),
            "https://sts-vpc.eu-central-1.aliyuncs.com/"
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
    fn a_refusal_by_ram_names_the_missing_permission() {
        let body = |detail: &str| {
            format!(
                r#"{{"RequestId":"R","Code":"Forbidden.RAM","Message":"User not authorized to operate on the specified resource, or this API doesn't support RAM.","AccessDeniedDetail":{detail}}}"#
            )
        };
        for (detail, named) in [
            (
                r#"{"AuthAction":"vpc:CreateForwardEntry","NoPermissionType":"ImplicitDeny"}"#,
                Some("RAM permission vpc:CreateForwardEntry is not granted"),
            ),
            (
                r#"{"AuthAction":"vpc:DeleteNatGateway","NoPermissionType":"ExplicitDeny","PolicyType":"AccountLevelIdentityBasedPolicy"}"#,
                Some("RAM permission vpc:DeleteNatGateway is denied by a policy"),
            ),
            (
                r#"{"AuthAction":"","NoPermissionType":"ImplicitDeny"}"#,
                None,
            ),
            (r#"{"AuthAction":"<script>alert(1)</script>"}"#, None),
            ("\"odd\"", None),
        ] {
            let e = service_error("CreateForwardEntry", 403, &body(detail), &[]);
            assert_eq!(e.code(), Some("Forbidden.RAM"), "{detail}");
            assert_eq!(e.category(), ErrorCategory::Auth);
            let text = e.to_string();
            match named {
                Some(n) => assert!(text.contains(n), "{text}"),
                None => assert!(!text.contains("RAM permission"), "{text}"),
            }
        }
        let plain = r#"{"RequestId":"R","Code":"Forbidden.RAM","Message":"no"}"#;
        assert!(
            !service_error("X", 403, plain, &[])
                .to_string()
                .contains("RAM permission")
        );
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
