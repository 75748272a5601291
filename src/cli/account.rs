//! The cloud account the terminal commands read: credentials from a
//! ProviderConfig in the cluster (and its Secret), or from flags and the
//! environment. The client is the operator's own: paginated reads that
//! re-read a listing that shifted, the account's rate limit, retries with
//! backoff. Nothing here prints a secret.

use std::path::PathBuf;

use clap::Args;
use kube::Api;
use tokio_util::sync::CancellationToken;

use crate::api::provider_config::{CloudProvider, ProviderConfig};
use crate::cloud::ClientConfig;
use crate::cloud::alibaba::{AlibabaClient, AlibabaCredentials};
use crate::controller::providers::{CloudClient, Providers};
use crate::metrics::CloudMetrics;

/// Environment variable of the access key id (as the official SDKs and CLI read it).
pub const ACCESS_KEY_ID_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Environment variable of the access key secret; never a flag, so that it
/// stays out of shell histories and process lists.
pub const ACCESS_KEY_SECRET_ENV: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// Environment variable of an STS security token, with temporary keys.
pub const SECURITY_TOKEN_ENV: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// Where the cloud credentials come from.
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// Read this ProviderConfig (and its Secret) from the cluster and use its
    /// credentials, endpoint and region.
    #[arg(long, conflicts_with_all = ["access_key_id", "endpoint"])]
    pub provider_config: Option<String>,
    /// The region (default: the ProviderConfig's).
    #[arg(long)]
    pub region: Option<String>,
    /// The API endpoint, when not the cloud's public one for the region (a
    /// VPC endpoint, a proxy, an emulator).
    #[arg(long, env = "NATOP_ENDPOINT")]
    pub endpoint: Option<String>,
    /// The access key id (its secret comes only from
    /// $ALIBABA_CLOUD_ACCESS_KEY_SECRET; $ALIBABA_CLOUD_SECURITY_TOKEN with
    /// temporary keys).
    #[arg(long, env = ACCESS_KEY_ID_ENV)]
    pub access_key_id: Option<String>,
    /// The kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
}

impl AccountArgs {
    /// Whether keys are given by flags or the environment (rather than by a
    /// ProviderConfig).
    pub fn has_keys(&self) -> bool {
        self.provider_config.is_none() && self.access_key_id.is_some()
    }
}

/// An Alibaba client for one account and region.
#[derive(Debug, Clone)]
pub struct Account {
    /// The client.
    pub client: AlibabaClient,
    /// The region it reads.
    pub region: String,
    /// The ProviderConfig's own region, when the credentials came from one.
    pub provider_config_region: Option<String>,
}

/// A client built from the keys in flags and the environment.
pub fn from_keys(args: &AccountArgs) -> Result<Account, String> {
    let Some(id) = args.access_key_id.clone().filter(|v| !v.is_empty()) else {
        return Err(format!(
            "no credentials: name a ProviderConfig (--provider-config) or give an access key \
             (--access-key-id or ${ACCESS_KEY_ID_ENV}, and ${ACCESS_KEY_SECRET_ENV})"
        ));
    };
    let secret = std::env::var(ACCESS_KEY_SECRET_ENV)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            format!("${ACCESS_KEY_SECRET_ENV} is not set: the access key's secret is read only from there")
        })?;
    let Some(region) = args.region.clone().filter(|r| !r.is_empty()) else {
        return Err("--region is needed with an access key".to_string());
    };
    let mut credentials = AlibabaCredentials::new(id, secret);
    if let Some(token) = std::env::var(SECURITY_TOKEN_ENV)
        .ok()
        .filter(|v| !v.is_empty())
    {
        credentials = credentials.with_security_token(token);
    }
    let config = ClientConfig {
        endpoint: args.endpoint.clone(),
        region: Some(region.clone()),
        ..ClientConfig::default()
    };
    let client = AlibabaClient::new(credentials, config)
        .map_err(|e| format!("cannot build the cloud client: {e}"))?;
    Ok(Account {
        client,
        region,
        provider_config_region: None,
    })
}

/// ProviderConfig `name` as the cluster holds it.
pub async fn provider_config(client: &kube::Client, name: &str) -> Result<ProviderConfig, String> {
    let api: Api<ProviderConfig> = Api::all(client.clone());
    api.get_opt(name)
        .await
        .map_err(|e| format!("cannot read ProviderConfig {name}: {e}"))?
        .ok_or_else(|| format!("ProviderConfig {name} does not exist in the cluster"))
}

/// A client built as the operator builds it from ProviderConfig `pc` (its
/// Secret read with the caller's own rights), for `region` or the
/// ProviderConfig's.
pub async fn from_provider_config(
    client: &kube::Client,
    pc: &ProviderConfig,
    region: Option<&str>,
) -> Result<Account, String> {
    use kube::ResourceExt;
    if pc.spec.provider != CloudProvider::Alibaba {
        return Err(format!(
            "ProviderConfig {} is a {:?} one: only Alibaba Cloud accounts are read",
            pc.name_any(),
            pc.spec.provider
        ));
    }
    let namespaces = pc
        .spec
        .credentials
        .secret_ref()
        .map(|r| vec![r.namespace.clone()])
        .unwrap_or_default();
    let providers = Providers::new(
        client.clone(),
        namespaces,
        std::sync::Arc::new(CloudMetrics::default()),
        CancellationToken::new(),
    );
    let resolved = providers
        .resolve_config(pc, region)
        .await
        .map_err(|e| format!("ProviderConfig {}: {e}", pc.name_any()))?;
    let CloudClient::Alibaba(alibaba) = resolved.cloud else {
        return Err(format!(
            "ProviderConfig {} is not an Alibaba one",
            pc.name_any()
        ));
    };
    Ok(Account {
        client: alibaba,
        region: resolved.region,
        provider_config_region: Some(pc.spec.region.clone()),
    })
}
