//! Why a ProviderConfig cannot be used: [`ProviderError`], with bounded
//! condition reasons and messages that never carry Secret data.

use crate::api::provider_config::CloudProvider;

/// Condition reasons of the problems [`ProviderError`] names (all bounded, CamelCase).
pub mod reason {
    /// The ProviderConfig does not exist.
    pub const PROVIDER_CONFIG_NOT_FOUND: &str = "ProviderConfigNotFound";
    /// The ProviderConfig does not allow objects in the object's namespace.
    pub const PROVIDER_CONFIG_NOT_ALLOWED: &str = "ProviderConfigNotAllowed";
    /// The ProviderConfig reports a problem not listed here.
    pub const PROVIDER_CONFIG_NOT_READY: &str = "ProviderConfigNotReady";
    /// The Secret is in a namespace natop may not read.
    pub const SECRET_NOT_ALLOWED: &str = "SecretNotAllowed";
    /// The Secret does not exist.
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    /// A required key of the Secret is absent or empty.
    pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
    /// A key of the Secret is not UTF-8 text.
    pub const SECRET_KEY_INVALID: &str = "SecretKeyInvalid";
    /// The client cannot be built (the endpoint is not an http(s) URL).
    pub const INVALID_ENDPOINT: &str = "InvalidEndpoint";
    /// Reading from the Kubernetes API failed.
    pub const KUBERNETES_API_ERROR: &str = "KubernetesApiError";
    /// The cloud rejected the credentials (set by the ProviderConfig controller).
    pub const CREDENTIALS_REJECTED: &str = "CredentialsRejected";
    /// The cloud endpoint did not answer (set by the ProviderConfig controller).
    pub const ENDPOINT_UNREACHABLE: &str = "EndpointUnreachable";
    /// The credentials work (set by the ProviderConfig controller).
    pub const CREDENTIALS_VALID: &str = "CredentialsValid";
    /// The endpoint answers, but not as the cloud's API does: a wrong path, or
    /// a proxy answering in its place (set by the ProviderConfig controller).
    pub const ENDPOINT_ERROR: &str = "EndpointError";
    /// The cloud did not say which account the credentials belong to (set by
    /// the ProviderConfig controller).
    pub const ACCOUNT_UNKNOWN: &str = "AccountUnknown";
    /// The ProviderConfig or its Secret changed since natop last checked the
    /// credentials: objects wait for the check.
    pub const PROVIDER_CONFIG_NOT_CHECKED: &str = "ProviderConfigNotChecked";

    /// The credentials section names no usable source (an RRSA setting
    /// missing from natop's environment, no source at all).
    pub const CREDENTIALS_NOT_CONFIGURED: &str = "CredentialsNotConfigured";

    /// Every problem reason a ProviderConfig's status may carry that natop
    /// itself defines (cloud error codes aside).
    pub const KNOWN_PROBLEMS: &[&str] = &[
        SECRET_NOT_ALLOWED,
        SECRET_NOT_FOUND,
        SECRET_KEY_MISSING,
        SECRET_KEY_INVALID,
        INVALID_ENDPOINT,
        KUBERNETES_API_ERROR,
        CREDENTIALS_REJECTED,
        ENDPOINT_UNREACHABLE,
        ENDPOINT_ERROR,
        ACCOUNT_UNKNOWN,
        CREDENTIALS_NOT_CONFIGURED,
    ];
}

/// Why cloud clients for a ProviderConfig could not be had. Messages name the
/// ProviderConfig, the Secret and the key involved, never a Secret value.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The ProviderConfig does not exist.
    #[error(
        "ProviderConfig {name} does not exist; create it or name another one in providerConfigRef"
    )]
    ProviderConfigNotFound {
        /// ProviderConfig name.
        name: String,
    },
    /// The ProviderConfig's status reports a problem (Ready=False).
    #[error("ProviderConfig {name} is not ready: {reason}: {message}")]
    ProviderConfigNotReady {
        /// ProviderConfig name.
        name: String,
        /// The reason of its Ready condition (`CredentialsRejected`, a cloud code, ...).
        reason: String,
        /// The message of its Ready condition.
        message: String,
        /// Whether the ProviderConfig controller is retrying (Reconciling=True)
        /// rather than stalled.
        retryable: bool,
    },
    /// The ProviderConfig's spec or Secret changed since its last check, or it
    /// was never checked: natop uses it once the check says which account
    /// the credentials belong to.
    #[error(
        "ProviderConfig {name} has not been checked since it or its Secret changed; natop \
         uses it once it is Ready again"
    )]
    ProviderConfigNotChecked {
        /// ProviderConfig name.
        name: String,
    },
    /// The ProviderConfig's `spec.allowedNamespaces` does not list the
    /// object's namespace: natop makes no cloud call for the object.
    #[error(
        "ProviderConfig {name} does not allow objects in namespace {namespace} \
         (spec.allowedNamespaces: [{}]{}); natop makes no cloud call for this object: add the \
         namespace to spec.allowedNamespaces, or use a ProviderConfig meant for it",
        .allowed.join(", "),
        .selector.as_deref().map(|s| format!("; {s}")).unwrap_or_default()
    )]
    ProviderConfigNotAllowed {
        /// ProviderConfig name.
        name: String,
        /// The object's namespace.
        namespace: String,
        /// The namespaces the ProviderConfig allows.
        allowed: Vec<String>,
        /// What the ProviderConfig's namespace selector said, when it has
        /// one (it did not match, or the labels could not be read).
        selector: Option<String>,
    },
    /// The Secret is outside the namespaces natop may read Secrets in.
    #[error(
        "ProviderConfig {provider_config} names Secret {namespace}/{name}, but natop may read \
         Secrets only in namespaces [{}]; move the Secret or allow its namespace",
        .allowed.join(", ")
    )]
    SecretNotAllowed {
        /// ProviderConfig name.
        provider_config: String,
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The namespaces natop may read Secrets in.
        allowed: Vec<String>,
    },
    /// The Secret does not exist.
    #[error("Secret {namespace}/{name} named by ProviderConfig {provider_config} does not exist")]
    SecretNotFound {
        /// ProviderConfig name.
        provider_config: String,
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
    },
    /// A required key is absent or empty.
    #[error(
        "Secret {namespace}/{name} named by ProviderConfig {provider_config} has no key {key} \
         (or it is empty); {} credentials need {}",
        provider_name(*.provider),
        expected_keys(*.provider)
    )]
    SecretKeyMissing {
        /// ProviderConfig name.
        provider_config: String,
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The missing key.
        key: &'static str,
        /// The ProviderConfig's cloud.
        provider: CloudProvider,
    },
    /// A key's value is not UTF-8 text.
    #[error(
        "key {key} of Secret {namespace}/{name} named by ProviderConfig {provider_config} is not \
         UTF-8 text"
    )]
    SecretKeyInvalid {
        /// ProviderConfig name.
        provider_config: String,
        /// Secret namespace.
        namespace: String,
        /// Secret name.
        name: String,
        /// The key whose value is not text.
        key: &'static str,
    },
    /// The client cannot be built from the ProviderConfig (bad endpoint).
    #[error("ProviderConfig {name}: cannot build the cloud client: {detail}")]
    InvalidEndpoint {
        /// ProviderConfig name.
        name: String,
        /// What is wrong (from the client; never carries credentials).
        detail: String,
    },
    /// No usable credential source is configured.
    #[error("ProviderConfig {name}: {detail}")]
    CredentialsNotConfigured {
        /// ProviderConfig name.
        name: String,
        /// What is missing.
        detail: String,
    },
    /// A Kubernetes API call failed; retrying may help.
    #[error("cannot {action}: {detail}")]
    Kubernetes {
        /// What natop tried (`read ProviderConfig x`, `read Secret ns/y`).
        action: String,
        /// The API's answer, without any response body.
        detail: String,
    },
}

pub(super) fn provider_name(provider: CloudProvider) -> &'static str {
    match provider {
        CloudProvider::Alibaba => "Alibaba",
        CloudProvider::UCloud => "UCloud",
    }
}

pub(super) fn expected_keys(provider: CloudProvider) -> &'static str {
    match provider {
        CloudProvider::Alibaba => "accessKeyId, accessKeySecret and optionally securityToken",
        CloudProvider::UCloud => "publicKey and privateKey",
    }
}

impl ProviderError {
    /// A bounded CamelCase reason, usable as a condition or event reason and a
    /// metric label. For [`ProviderError::ProviderConfigNotReady`] it is the
    /// ProviderConfig's own reason when natop defines it, so that objects report
    /// the same problem, and `ProviderConfigNotReady` otherwise (cloud codes).
    pub fn reason(&self) -> &'static str {
        match self {
            ProviderError::ProviderConfigNotFound { .. } => reason::PROVIDER_CONFIG_NOT_FOUND,
            ProviderError::ProviderConfigNotAllowed { .. } => reason::PROVIDER_CONFIG_NOT_ALLOWED,
            ProviderError::ProviderConfigNotReady { reason: r, .. } => reason::KNOWN_PROBLEMS
                .iter()
                .chain(crate::cloud::alibaba::credentials::reason::ALL)
                .find(|known| **known == r.as_str())
                .copied()
                .unwrap_or(reason::PROVIDER_CONFIG_NOT_READY),
            ProviderError::ProviderConfigNotChecked { .. } => reason::PROVIDER_CONFIG_NOT_CHECKED,
            ProviderError::SecretNotAllowed { .. } => reason::SECRET_NOT_ALLOWED,
            ProviderError::SecretNotFound { .. } => reason::SECRET_NOT_FOUND,
            ProviderError::SecretKeyMissing { .. } => reason::SECRET_KEY_MISSING,
            ProviderError::SecretKeyInvalid { .. } => reason::SECRET_KEY_INVALID,
            ProviderError::InvalidEndpoint { .. } => reason::INVALID_ENDPOINT,
            ProviderError::CredentialsNotConfigured { .. } => reason::CREDENTIALS_NOT_CONFIGURED,
            ProviderError::Kubernetes { .. } => reason::KUBERNETES_API_ERROR,
        }
    }

    /// Whether trying again later, with nothing changed, can succeed. The
    /// others need a change of the ProviderConfig or its Secret.
    pub fn is_retryable(&self) -> bool {
        match self {
            ProviderError::Kubernetes { .. } | ProviderError::ProviderConfigNotChecked { .. } => {
                true
            }
            ProviderError::ProviderConfigNotReady { retryable, .. } => *retryable,
            _ => false,
        }
    }

    pub(super) fn kubernetes(action: String, error: &kube::Error) -> ProviderError {
        ProviderError::Kubernetes {
            action,
            detail: describe_kube_error(error),
        }
    }
}

/// A Kubernetes client error, without anything a response body could carry
/// (a Secret that fails to decode must not end up in a message).
pub(super) fn describe_kube_error(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => {
            let mut text = format!("HTTP {}", status.code);
            if !status.reason.is_empty() {
                text.push(' ');
                text.push_str(&status.reason);
            }
            if !status.message.is_empty() {
                text.push_str(": ");
                text.push_str(&status.message);
            }
            text
        }
        kube::Error::SerdeError(_) => "the answer could not be decoded".to_string(),
        other => other.to_string(),
    }
}
