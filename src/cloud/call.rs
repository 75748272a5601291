//! What both clouds' clients share: settings, the HTTP client, and the call
//! loop (rate-limit token, attempt, classify, back off, retry).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tracing::debug;
use url::Url;

use crate::cloud::rate_limit::BucketKey;
use crate::cloud::{CloudError, ErrorCategory, Provider, RateLimit, RateLimits, RetryPolicy};
use crate::metrics::{CallLabels, CloudMetrics, ProviderLabels};

/// Client settings shared by both clouds. `Default` gives the cloud's public
/// endpoint and safe time-outs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Service endpoint (e.g. an emulator or a VPC endpoint); `None` uses the
    /// cloud's public endpoint.
    pub endpoint: Option<String>,
    /// Alibaba STS endpoint (caller identity). `None` uses `endpoint` when that
    /// is set (the emulator serves every product on one address), else the
    /// public STS endpoint. UCloud ignores it.
    pub sts_endpoint: Option<String>,
    /// The region the client calls in, to pick the cloud's endpoint for it
    /// when none is configured (Alibaba: the official SDK's endpoint data;
    /// UCloud has one endpoint).
    pub region: Option<String>,
    /// PEM certificates trusted besides the public roots (a corporate
    /// proxy's or a private endpoint's CA).
    pub ca_bundle: Option<String>,
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt.
    pub request_timeout: Duration,
    /// Retry behaviour for retryable failures.
    pub retry: RetryPolicy,
    /// Token bucket size for this account, per region.
    pub rate_limit: RateLimit,
    /// Process-wide bucket registry, shared with other clients.
    pub rate_limits: Arc<RateLimits>,
    /// Where call counts and rate-limit waits are recorded.
    pub metrics: Arc<CloudMetrics>,
    /// Cancels waits, backoffs and calls in flight (shutdown).
    pub cancel: CancellationToken,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            endpoint: None,
            sts_endpoint: None,
            region: None,
            ca_bundle: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate_limit: RateLimit::default(),
            rate_limits: RateLimits::new(),
            metrics: Arc::new(CloudMetrics::default()),
            cancel: CancellationToken::new(),
        }
    }
}

/// The shared machinery of one client: HTTP, endpoint, settings and the account
/// whose rate-limit buckets it uses.
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) provider: Provider,
    pub(crate) http: reqwest::Client,
    pub(crate) endpoint: Url,
    pub(crate) config: Arc<ClientConfig>,
    account: String,
}

impl Caller {
    pub(crate) fn new(
        provider: Provider,
        account: &str,
        default_endpoint: &str,
        config: ClientConfig,
    ) -> Result<Self, CloudError> {
        let endpoint = parse_endpoint(config.endpoint.as_deref().unwrap_or(default_endpoint))?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .user_agent(concat!("natop/", env!("CARGO_PKG_VERSION")));
        if let Some(bundle) = config.ca_bundle.as_deref().filter(|b| !b.trim().is_empty()) {
            for certificate in ca_certificates(bundle)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        let http = builder
            .build()
            .map_err(|e| CloudError::InvalidRequest(format!("HTTP client: {e}")))?;
        Ok(Caller {
            provider,
            http,
            endpoint,
            config: Arc::new(config),
            account: account.to_string(),
        })
    }

    /// Run `attempt` until it succeeds, fails for good, or the retry policy
    /// gives up. Each attempt first takes a rate-limit token for `region`.
    pub(crate) async fn run<T, F, Fut>(
        &self,
        action: &str,
        region: &str,
        mut attempt: F,
    ) -> Result<T, CloudError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, CloudError>>,
    {
        let provider = self.provider.as_str();
        let metrics = &self.config.metrics;
        let started = Instant::now();
        let mut attempts = 0u32;
        loop {
            self.wait_for_token(action, region).await?;
            attempts += 1;
            let result = tokio::select! {
                () = self.config.cancel.cancelled() => Err(self.cancelled(action)),
                r = attempt() => r,
            };
            let error = match result {
                Ok(value) => {
                    metrics.record_call(provider, action, "success");
                    return Ok(value);
                }
                Err(error) => error,
            };
            let category = error.category();
            metrics.record_call(provider, action, category.as_str());
            // A credentials failure is not retried call by call: the
            // refresh behind it already retried, and it waits for a fix.
            let delay = if error.is_retryable() && category != ErrorCategory::Credentials {
                self.config.retry.next_delay(attempts, started.elapsed())
            } else {
                None
            };
            let Some(delay) = delay else {
                return Err(error);
            };
            debug!(provider, action, attempts, ?delay, %error, "retrying cloud call");
            metrics
                .retries
                .get_or_create(&CallLabels {
                    provider,
                    action: action.to_string(),
                    outcome: category.as_str(),
                })
                .inc();
            tokio::select! {
                () = self.config.cancel.cancelled() => return Err(self.cancelled(action)),
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn wait_for_token(&self, action: &str, region: &str) -> Result<(), CloudError> {
        let bucket = self.config.rate_limits.bucket(
            &BucketKey {
                provider: self.provider.as_str(),
                account: self.account.clone(),
                region: region.to_string(),
            },
            self.config.rate_limit,
        );
        if bucket.check().is_ok() {
            return Ok(());
        }
        let waited = Instant::now();
        tokio::select! {
            () = self.config.cancel.cancelled() => return Err(self.cancelled(action)),
            () = bucket.until_ready() => {}
        }
        self.config
            .metrics
            .rate_limit_wait
            .get_or_create(&ProviderLabels {
                provider: self.provider.as_str(),
            })
            .observe(waited.elapsed().as_secs_f64());
        Ok(())
    }

    pub(crate) fn cancelled(&self, action: &str) -> CloudError {
        CloudError::Cancelled {
            provider: self.provider,
            action: action.to_string(),
        }
    }

    /// A transport failure, described without the URL (which carries the signature).
    pub(crate) fn transport_error(&self, action: &str, error: &reqwest::Error) -> CloudError {
        let category = if error.is_timeout() {
            ErrorCategory::Timeout
        } else {
            ErrorCategory::Transport
        };
        CloudError::Transport {
            provider: self.provider,
            action: action.to_string(),
            detail: describe_reqwest_error(error),
            category,
        }
    }
}

/// The certificates of a PEM bundle: at least one, every block a
/// certificate that parses as a trust anchor.
pub(crate) fn ca_certificates(bundle: &str) -> Result<Vec<reqwest::Certificate>, CloudError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let invalid = |what: String| CloudError::InvalidRequest(format!("caBundle: {what}"));
    let blocks = bundle.matches("-----BEGIN CERTIFICATE-----").count();
    if blocks == 0 {
        return Err(invalid(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_string(),
        ));
    }
    let ders = CertificateDer::pem_slice_iter(bundle.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("not PEM: {e}")))?;
    if ders.len() != blocks {
        return Err(invalid(format!(
            "{} of its {blocks} certificates could be read",
            ders.len()
        )));
    }
    let mut certificates = Vec::with_capacity(ders.len());
    for (n, der) in ders.into_iter().enumerate() {
        rustls::RootCertStore::empty()
            .add(der.clone())
            .map_err(|e| {
                invalid(format!(
                    "certificate {} is not a CA certificate: {e}",
                    n + 1
                ))
            })?;
        certificates.push(
            reqwest::Certificate::from_der(&der)
                .map_err(|e| invalid(format!("certificate {}: {e}", n + 1)))?,
        );
    }
    Ok(certificates)
}

/// Parse a configured endpoint.
pub(crate) fn parse_endpoint(endpoint: &str) -> Result<Url, CloudError> {
    match Url::parse(endpoint) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        Ok(_) => Err(CloudError::InvalidRequest(format!(
            "endpoint {endpoint:?} is not an http or https URL"
        ))),
        Err(e) => Err(CloudError::InvalidRequest(format!(
            "endpoint {endpoint:?} is not a URL: {e}"
        ))),
    }
}

/// The error and its causes, without the request URL.
fn describe_reqwest_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "answer interrupted"
    } else {
        "request failed"
    };
    let mut detail = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    detail
}

/// The first 200 characters of a body that is not the documented error shape,
/// whitespace runs collapsed (HTML pages span many lines), and every value of
/// `sensitive` replaced by `[redacted]`, as sent or percent-encoded: a proxy
/// or portal page may echo the request, signature and STS token included.
pub(crate) fn excerpt(body: &str, sensitive: &[&str]) -> String {
    let mut text = body.split_whitespace().collect::<Vec<_>>().join(" ");
    for value in sensitive.iter().filter(|v| !v.is_empty()) {
        let forms = [
            (*value).to_string(),
            crate::cloud::alibaba::signer::percent_encode(value),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ];
        for form in forms {
            text = text.replace(&form, "[redacted]");
        }
    }
    let mut short: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        short.push('…');
    }
    short
}

/// How many times a listing whose pages disagree is read again.
pub const LISTING_ATTEMPTS: u32 = 3;

/// Why the pages of one listing disagree, if they do: the total count the
/// first page gave differs from this page's, or an item came twice.
pub fn page_problem(first_total: u32, total: u32, duplicate: Option<&str>) -> Option<String> {
    if first_total != total {
        return Some(format!(
            "TotalCount was {first_total} on the first page and {total} on a later one"
        ));
    }
    duplicate.map(|id| format!("{id} was listed twice"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_is_pem_certificates() {
        let ca = include_str!("../../tests/fixtures/tls/ca.pem");
        assert_eq!(ca_certificates(ca).unwrap().len(), 1);
        let two = format!(
            "{ca}\n{}",
            include_str!("../../tests/fixtures/tls/server.pem")
        );
        assert_eq!(ca_certificates(&two).unwrap().len(), 2);
        for (bundle, complaint) in [
            ("", "no PEM certificate"),
            ("not a certificate", "no PEM certificate"),
            (
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "caBundle",
            ),
        ] {
            let e = ca_certificates(bundle).unwrap_err().to_string();
            assert!(e.contains(complaint), "{bundle:?}: {e}");
        }
        let config = ClientConfig {
            ca_bundle: Some("garbage".into()),
            ..ClientConfig::default()
        };
        assert!(Caller::new(Provider::Alibaba, "k", "https://vpc.aliyuncs.com", config).is_err());
    }

    #[test]
    fn pages_disagree_when_the_total_moves_or_an_item_comes_twice() {
        for (first, total, duplicate, expected) in [
            (120, 120, None, None),
            (0, 0, None, None),
            (
                120,
                119,
                None,
                Some("TotalCount was 120 on the first page and 119 on a later one"),
            ),
            (120, 121, Some("fwd-1"), Some("TotalCount was 120")),
            (120, 120, Some("fwd-1"), Some("fwd-1 was listed twice")),
        ] {
            let problem = page_problem(first, total, duplicate);
            match expected {
                None => assert_eq!(problem, None),
                Some(text) => assert!(
                    problem.as_deref().is_some_and(|p| p.starts_with(text)),
                    "{problem:?}"
                ),
            }
        }
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        let ok = Caller::new(
            Provider::Alibaba,
            "a",
            "https://vpc.aliyuncs.com",
            ClientConfig::default(),
        );
        assert!(ok.is_ok());
        for bad in ["not a url", "ftp://x", "unix:/tmp/x"] {
            let config = ClientConfig {
                endpoint: Some(bad.to_string()),
                ..ClientConfig::default()
            };
            let err = Caller::new(Provider::Alibaba, "a", "https://x", config).err();
            assert!(matches!(err, Some(CloudError::InvalidRequest(_))), "{bad}");
        }
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short", &[]), "short");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long, &[]).chars().count(), 201);
        assert_eq!(
            excerpt("<html>\n  <h1>404 Not Found</h1>\n</html>", &[]),
            "<html> <h1>404 Not Found</h1> </html>"
        );
    }

    #[test]
    fn excerpts_never_echo_sensitive_values() {
        let token = "sts/token+with=odd chars";
        let body = format!(
            "<p>No route for /?SecurityToken={}&Signature=abc%2Bdef%3D and {token} and {}</p>",
            crate::cloud::alibaba::signer::percent_encode(token),
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>(),
        );
        let text = excerpt(&body, &[token, "abc+def=", ""]);
        assert!(!text.contains("token"), "{text}");
        assert!(!text.contains("abc"), "{text}");
        assert_eq!(text.matches("[redacted]").count(), 4, "{text}");
    }
}
