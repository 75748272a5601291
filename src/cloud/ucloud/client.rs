//! The UCloud client: signs every attempt, waits for a rate-limit token,
//! retries what is safe to retry, and never blindly repeats a purchase whose
//! outcome it does not know.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::signer::sign;
use super::{Action, DEFAULT_ENDPOINT, PAGE_LIMIT, Paginated, codes};
use crate::cloud::call::{Caller, ClientConfig, LISTING_ATTEMPTS, excerpt, page_problem};
use crate::cloud::wire::{self, ListBase, Params};
use crate::cloud::{CloudError, ErrorCategory, Provider};

/// API key pair. `Debug` never shows the private key.
#[derive(Debug, Clone)]
pub struct UcloudCredentials {
    /// Public key: names the account.
    pub public_key: String,
    /// Private key: the signing key.
    pub private_key: SecretString,
}

impl UcloudCredentials {
    /// A key pair.
    pub fn new(public_key: impl Into<String>, private_key: impl Into<String>) -> Self {
        UcloudCredentials {
            public_key: public_key.into(),
            private_key: SecretString::from(private_key.into()),
        }
    }
}

/// Classify a non-zero `RetCode`.
pub fn classify(ret_code: i64) -> ErrorCategory {
    match ret_code {
        codes::SERVICE_UNAVAILABLE => ErrorCategory::Unavailable,
        codes::THROTTLED => ErrorCategory::Throttled,
        codes::MISSING_ACTION | codes::UNKNOWN_ACTION => ErrorCategory::Validation,
        codes::MISSING_SIGNATURE..=codes::USER_NOT_EXIST => ErrorCategory::Auth,
        codes::EIP_NOT_FOUND | codes::PACKAGE_NOT_FOUND => ErrorCategory::NotFound,
        codes::EIP_PAY_MODE => ErrorCategory::Dependency,
        230..=299 => ErrorCategory::Validation,
        c if c >= 2000 => ErrorCategory::Unavailable,
        _ => ErrorCategory::Other,
    }
}

/// The envelope of every answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Envelope {
    #[serde(deserialize_with = "wire::opt_num")]
    ret_code: Option<i64>,
    #[serde(deserialize_with = "wire::opt_text")]
    message: Option<String>,
}

/// A signed, retrying client for one UCloud account.
#[derive(Clone)]
pub struct UcloudClient {
    caller: Caller,
    credentials: Arc<UcloudCredentials>,
    /// The service's clock minus ours, in milliseconds, from the `Date` of
    /// the last answer (0 until one came).
    skew_ms: Arc<AtomicI64>,
}

impl std::fmt::Debug for UcloudClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UcloudClient")
            .field("endpoint", &self.caller.endpoint.as_str())
            .field("public_key", &self.credentials.public_key)
            .finish_non_exhaustive()
    }
}

impl UcloudClient {
    /// Build a client. Fails when the endpoint is not an http(s) URL.
    pub fn new(credentials: UcloudCredentials, config: ClientConfig) -> Result<Self, CloudError> {
        let caller = Caller::new(
            Provider::UCloud,
            &credentials.public_key,
            DEFAULT_ENDPOINT,
            config,
        )?;
        Ok(UcloudClient {
            caller,
            credentials: Arc::new(credentials),
            skew_ms: Arc::new(AtomicI64::new(0)),
        })
    }

    /// The endpoint calls go to.
    pub fn endpoint(&self) -> &str {
        self.caller.endpoint.as_str()
    }

    /// Now by the service's clock: ours corrected by the `Date` of the last
    /// answer. Package windows start and end by that clock, so a package is
    /// never called expired because this machine's clock runs ahead.
    pub fn server_now(&self) -> jiff::Timestamp {
        let now = jiff::Timestamp::now();
        let skew = jiff::SignedDuration::from_millis(self.skew_ms.load(Ordering::Relaxed));
        now.checked_add(skew).unwrap_or(now)
    }

    /// Learn the service's clock from an answer's `Date` header. The header
    /// has whole seconds, so half a second is added to centre the estimate.
    fn note_date(&self, headers: &reqwest::header::HeaderMap) {
        let Some(date) = headers
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
        else {
            return;
        };
        if let Ok(server) = jiff::fmt::rfc2822::DateTimeParser::new().parse_timestamp(date) {
            let skew = server.as_millisecond() + 500 - jiff::Timestamp::now().as_millisecond();
            self.skew_ms.store(skew, Ordering::Relaxed);
        }
    }

    /// Call `action`. Idempotent actions are retried on retryable failures; a
    /// non-idempotent one is retried only when the service certainly did not
    /// act (connection refused, throttled), and otherwise fails with
    /// [`CloudError::UnknownOutcome`].
    pub async fn call<A: Action>(&self, action: &A) -> Result<A::Response, CloudError> {
        let params = wire::flatten(action, ListBase::Zero)
            .map_err(|e| CloudError::InvalidRequest(format!("{}: {e}", A::NAME)))?;
        let region = params.get("Region").cloned().unwrap_or_default();
        self.caller
            .run(A::NAME, &region, || self.attempt::<A>(&params))
            .await
    }

    /// Walk every page of a `Describe*` action. The service's pages are not
    /// atomic: when the pages of one read disagree (the total count changed
    /// between them, or an item came twice) the whole listing is read again,
    /// up to [`LISTING_ATTEMPTS`] times, and then the read fails (retryable)
    /// rather than be trusted.
    pub async fn describe_all<P: Paginated>(
        &self,
        request: &P,
    ) -> Result<Vec<P::Item>, CloudError> {
        let mut problem = String::new();
        for _ in 0..LISTING_ATTEMPTS {
            match self.read_pages(request).await? {
                Ok(all) => return Ok(all),
                Err(p) => {
                    tracing::warn!(action = P::NAME, problem = %p, "listing changed while read; reading it again");
                    problem = p;
                }
            }
        }
        Err(CloudError::Transport {
            provider: Provider::UCloud,
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
    ) -> Result<Result<Vec<P::Item>, String>, CloudError> {
        let mut request = request.clone();
        let mut all = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut first_total = None;
        loop {
            let offset = u32::try_from(all.len()).unwrap_or(u32::MAX);
            request.set_window(offset, PAGE_LIMIT);
            let response = self.call(&request).await?;
            let total_now = P::total_count(&response);
            let items = P::items(response);
            let got = items.len();
            let duplicate = items
                .iter()
                .filter_map(P::item_id)
                .find(|id| !seen.insert(id.to_string()))
                .map(str::to_string);
            let total_then = *first_total.get_or_insert(total_now);
            if let Some(problem) = page_problem(total_then, total_now, duplicate.as_deref()) {
                return Ok(Err(problem));
            }
            all.extend(items);
            let total = usize::try_from(total_now).unwrap_or(usize::MAX);
            if got == 0 || all.len() >= total {
                return Ok(Ok(all));
            }
        }
    }

    fn signed_params(&self, action: &str, params: &Params) -> Params {
        let mut all = params.clone();
        all.insert("Action".to_string(), action.to_string());
        all.insert("PublicKey".to_string(), self.credentials.public_key.clone());
        let signature = sign(&all, self.credentials.private_key.expose_secret());
        all.insert("Signature".to_string(), signature);
        all
    }

    async fn attempt<A: Action>(&self, params: &Params) -> Result<A::Response, CloudError> {
        let signed = self.signed_params(A::NAME, params);
        let signature = signed.get("Signature").cloned().unwrap_or_default();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&signed)
            .finish();
        let sent = self
            .caller
            .http
            .post(self.caller.endpoint.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            // Nothing reached the service when the connection failed.
            Err(e) if e.is_connect() => return Err(self.caller.transport_error(A::NAME, &e)),
            Err(e) => return Err(self.unknown_or(A::IDEMPOTENT, A::NAME, &e)),
        };
        self.note_date(response.headers());
        let status = response.status().as_u16();
        let text = match response.text().await {
            Ok(t) => t,
            Err(e) => return Err(self.unknown_or(A::IDEMPOTENT, A::NAME, &e)),
        };
        if status != 200 {
            return Err(http_error(
                A::IDEMPOTENT,
                A::NAME,
                status,
                &text,
                &signature,
            ));
        }
        let envelope: Envelope = match serde_json::from_str(&text) {
            Ok(e) => e,
            Err(e) => return Err(self.decode_error(A::IDEMPOTENT, A::NAME, status, &e)),
        };
        match envelope.ret_code {
            Some(0) => serde_json::from_str::<A::Response>(&text)
                .map_err(|e| self.decode_error(A::IDEMPOTENT, A::NAME, status, &e)),
            Some(code) => {
                let error = CloudError::Service {
                    provider: Provider::UCloud,
                    action: A::NAME.to_string(),
                    status,
                    code: code.to_string(),
                    message: envelope.message.unwrap_or_default(),
                    request_id: String::new(),
                    category: classify(code),
                };
                // A service-side failure of a purchase may have happened after
                // the purchase; a throttled or invalid call certainly did nothing.
                if !A::IDEMPOTENT && error.category() == ErrorCategory::Unavailable {
                    Err(unknown_outcome(A::NAME, &error))
                } else {
                    Err(error)
                }
            }
            None => Err(http_error(
                A::IDEMPOTENT,
                A::NAME,
                status,
                &text,
                &signature,
            )),
        }
    }

    fn unknown_or(&self, idempotent: bool, action: &str, error: &reqwest::Error) -> CloudError {
        let transport = self.caller.transport_error(action, error);
        if idempotent {
            transport
        } else {
            unknown_outcome(action, &transport)
        }
    }

    fn decode_error(
        &self,
        idempotent: bool,
        action: &str,
        status: u16,
        error: &serde_json::Error,
    ) -> CloudError {
        let decode = CloudError::Decode {
            provider: Provider::UCloud,
            action: action.to_string(),
            status,
            detail: error.to_string(),
        };
        if idempotent {
            decode
        } else {
            unknown_outcome(action, &decode)
        }
    }
}

/// An answer that is not the API's: an HTTP error status, or a body without
/// `RetCode`. It came from a gateway, a proxy or a wrong path, so only its
/// status is known (a 404 says nothing about the package). The signature is
/// kept out of the excerpt, in case the page echoes the request.
fn http_error(
    idempotent: bool,
    action: &str,
    status: u16,
    body: &str,
    signature: &str,
) -> CloudError {
    let error = CloudError::Service {
        provider: Provider::UCloud,
        action: action.to_string(),
        status,
        code: format!("HTTP{status}"),
        message: excerpt(body, &[signature]),
        request_id: String::new(),
        category: ErrorCategory::from_bare_status(status),
    };
    // A 429 means the gateway refused the call; any other status may have
    // come after the purchase went through.
    if idempotent || status == 429 {
        error
    } else {
        unknown_outcome(action, &error)
    }
}

fn unknown_outcome(action: &str, cause: &CloudError) -> CloudError {
    CloudError::UnknownOutcome {
        provider: Provider::UCloud,
        action: action.to_string(),
        detail: cause.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ret_codes_are_classified() {
        assert_eq!(classify(150), ErrorCategory::Unavailable);
        assert_eq!(classify(153), ErrorCategory::Throttled);
        assert_eq!(classify(160), ErrorCategory::Validation);
        assert_eq!(classify(171), ErrorCategory::Auth);
        assert_eq!(classify(172), ErrorCategory::Auth);
        assert_eq!(classify(2000), ErrorCategory::Unavailable);
        assert_eq!(classify(5000), ErrorCategory::Unavailable);
        assert_eq!(classify(230), ErrorCategory::Validation);
        assert_eq!(classify(1), ErrorCategory::Other);
        assert!(classify(153).is_retryable() && classify(2001).is_retryable());
        assert!(!classify(171).is_retryable());
    }

    #[test]
    fn answers_without_a_ret_code_are_classified_by_status_alone() {
        let nginx = "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>";
        let table = [
            (404, nginx, ErrorCategory::Endpoint),
            (403, "Forbidden", ErrorCategory::Endpoint),
            (
                407,
                "Proxy Authentication Required",
                ErrorCategory::Endpoint,
            ),
            (200, r#"{"Message":"portal"}"#, ErrorCategory::Endpoint),
            (429, "", ErrorCategory::Throttled),
            (502, "bad gateway", ErrorCategory::Unavailable),
            (503, "", ErrorCategory::Unavailable),
            (501, "", ErrorCategory::Endpoint),
        ];
        for (status, body, want) in table {
            let e = http_error(true, "DeleteBandwidthPackage", status, body, "sig");
            assert_eq!(e.category(), want, "{status} {body}");
            assert!(!e.is_not_found());
        }
        let e = http_error(
            true,
            "DescribeBandwidthPackage",
            404,
            "echo /?Signature=abc123",
            "abc123",
        );
        assert!(!e.to_string().contains("abc123"), "{e}");
        // A purchase answered by a proxy may still have gone through.
        let e = http_error(false, "CreateBandwidthPackage", 404, nginx, "sig");
        assert_eq!(e.category(), ErrorCategory::UnknownOutcome);
    }

    #[test]
    fn the_service_clock_follows_the_date_header() {
        let client = UcloudClient::new(
            UcloudCredentials::new("pub", "priv"),
            ClientConfig::default(),
        )
        .unwrap();
        let before = client.server_now();
        assert!((before - jiff::Timestamp::now()).get_seconds().abs() <= 1);
        let ahead = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(5);
        let mut headers = reqwest::header::HeaderMap::new();
        let date = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&ahead)
            .unwrap();
        headers.insert(reqwest::header::DATE, date.parse().unwrap());
        client.note_date(&headers);
        let skew = (client.server_now() - jiff::Timestamp::now()).get_seconds();
        assert!((4 * 3600 + 3599..=5 * 3600 + 1).contains(&skew), "{skew}");
        // A header that is not a date changes nothing.
        headers.insert(reqwest::header::DATE, "soon".parse().unwrap());
        client.note_date(&headers);
        let again = (client.server_now() - jiff::Timestamp::now()).get_seconds();
        assert!((skew - again).abs() <= 1);
    }

    #[test]
    fn credentials_debug_is_redacted() {
        let creds = UcloudCredentials::new("pub", "priv-secret-value");
        assert!(!format!("{creds:?}").contains("priv-secret-value"));
        let client = UcloudClient::new(creds, ClientConfig::default()).unwrap();
        assert!(!format!("{client:?}").contains("priv-secret-value"));
    }
}
