//! The Secret a ProviderConfig names: its keys, which namespaces it may be
//! read from, and the credentials read from it. Secret values leave this
//! module only inside the credential types, whose `Debug` redacts them.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;

use super::error::ProviderError;
use crate::api::provider_config::CloudProvider;
use crate::cloud::alibaba::AlibabaCredentials;
use crate::cloud::ucloud::UcloudCredentials;

/// Secret key holding the Alibaba access key id.
pub const ACCESS_KEY_ID: &str = "accessKeyId";
/// Secret key holding the Alibaba access key secret.
pub const ACCESS_KEY_SECRET: &str = "accessKeySecret";
/// Optional Secret key holding an Alibaba STS security token.
pub const SECURITY_TOKEN: &str = "securityToken";
/// Secret key holding the UCloud public key.
pub const PUBLIC_KEY: &str = "publicKey";
/// Secret key holding the UCloud private key.
pub const PRIVATE_KEY: &str = "privateKey";

/// Whether a Secret in `namespace` may be read. An empty list allows none.
pub fn secret_namespace_allowed(allowed: &[String], namespace: &str) -> bool {
    allowed.iter().any(|a| a == namespace)
}

/// What is wrong with a Secret's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyProblem {
    /// Absent, empty or only white space.
    Missing(&'static str),
    /// Not UTF-8.
    NotText(&'static str),
}

impl KeyProblem {
    /// [`KeyProblem::into_error`] for the Secret `secret_ref` names.
    pub(super) fn of_secret(
        self,
        provider_config: &str,
        secret_ref: &crate::api::provider_config::SecretReference,
        provider: CloudProvider,
    ) -> ProviderError {
        self.into_error(
            provider_config,
            &secret_ref.namespace,
            &secret_ref.name,
            provider,
        )
    }

    pub(super) fn into_error(
        self,
        provider_config: &str,
        namespace: &str,
        name: &str,
        provider: CloudProvider,
    ) -> ProviderError {
        match self {
            KeyProblem::Missing(key) => ProviderError::SecretKeyMissing {
                provider_config: provider_config.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                key,
                provider,
            },
            KeyProblem::NotText(key) => ProviderError::SecretKeyInvalid {
                provider_config: provider_config.to_string(),
                namespace: namespace.to_string(),
                name: name.to_string(),
                key,
            },
        }
    }
}

/// The value of `key`, trimmed of surrounding white space (a trailing newline
/// from `kubectl create secret --from-file` is common); `None` when absent or empty.
pub(super) fn text(
    data: Option<&BTreeMap<String, ByteString>>,
    key: &'static str,
) -> Result<Option<String>, KeyProblem> {
    let Some(value) = data.and_then(|d| d.get(key)) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(&value.0).map_err(|_| KeyProblem::NotText(key))?;
    let text = text.trim();
    Ok((!text.is_empty()).then(|| text.to_string()))
}

pub(super) fn required(
    data: Option<&BTreeMap<String, ByteString>>,
    key: &'static str,
) -> Result<String, KeyProblem> {
    text(data, key)?.ok_or(KeyProblem::Missing(key))
}

/// Alibaba credentials from a Secret's `data`.
pub(super) fn alibaba_credentials(
    data: Option<&BTreeMap<String, ByteString>>,
) -> Result<AlibabaCredentials, KeyProblem> {
    let id = required(data, ACCESS_KEY_ID)?;
    let secret = required(data, ACCESS_KEY_SECRET)?;
    let token = text(data, SECURITY_TOKEN)?;
    let mut credentials = AlibabaCredentials::new(id, secret);
    if let Some(token) = token {
        credentials = credentials.with_security_token(token);
    }
    Ok(credentials)
}

/// UCloud credentials from a Secret's `data`.
pub(super) fn ucloud_credentials(
    data: Option<&BTreeMap<String, ByteString>>,
) -> Result<UcloudCredentials, KeyProblem> {
    let public = required(data, PUBLIC_KEY)?;
    let private = required(data, PRIVATE_KEY)?;
    Ok(UcloudCredentials::new(public, private))
}
