//! Cloud clients per ProviderConfig: read the ProviderConfig and its Secret,
//! build an Alibaba or UCloud client, and reuse it until the ProviderConfig's
//! spec or the Secret changes.
//!
//! Secret values never leave this module except inside the credential types
//! (whose `Debug` redacts the signing keys); no error message, log line or
//! `Debug` output here formats Secret data.

//!
//! - [`credentials`]: the Secret's keys and the credentials read from them;
//! - [`error`]: why a ProviderConfig cannot be used, as bounded reasons;
//! - this module: the cache of clients and the checks of a ProviderConfig's
//!   status.

pub mod credentials;
pub mod error;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio_util::sync::CancellationToken;
use tracing::{debug, instrument};

pub use credentials::{
    ACCESS_KEY_ID, ACCESS_KEY_SECRET, PRIVATE_KEY, PUBLIC_KEY, SECURITY_TOKEN,
    secret_namespace_allowed,
};
pub use error::{ProviderError, reason};

use super::context::RrsaDefaults;
use crate::api::provider_config::{
    CloudProvider, ProviderConfig, ProviderConfigSpec, RrsaCredentials, SecretReference, Source,
    insecure_endpoint, namespace_allowed, namespace_selected,
};
use crate::api::{CloudLocation, condition};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::credentials::{DEFAULT_DURATION_SECONDS, DEFAULT_SESSION_NAME};
use crate::cloud::alibaba::{CredentialSource, ServerClock};
use crate::cloud::ucloud::UcloudClient;
use crate::cloud::{ClientConfig, CloudError, RateLimit, RateLimits};
use crate::metrics::CloudMetrics;
use credentials::{alibaba_credentials, ucloud_credentials};
use k8s_openapi::ByteString;
use std::collections::BTreeMap;

/// A cloud client of either kind.
#[derive(Clone, Debug)]
pub enum CloudClient {
    /// Alibaba Cloud VPC API.
    Alibaba(AlibabaClient),
    /// UCloud UNet API.
    UCloud(UcloudClient),
}

impl CloudClient {
    /// The Alibaba client, when this is one.
    pub fn alibaba(&self) -> Option<&AlibabaClient> {
        match self {
            CloudClient::Alibaba(c) => Some(c),
            CloudClient::UCloud(_) => None,
        }
    }

    /// The UCloud client, when this is one.
    pub fn ucloud(&self) -> Option<&UcloudClient> {
        match self {
            CloudClient::UCloud(c) => Some(c),
            CloudClient::Alibaba(_) => None,
        }
    }
}

/// The clients for one ProviderConfig and region.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// ProviderConfig name.
    pub name: String,
    /// Its cloud.
    pub provider: CloudProvider,
    /// The region calls go to: the object's override or the ProviderConfig's.
    pub region: String,
    /// The account the credentials belong to, as the ProviderConfig's last
    /// check found (empty from [`Providers::resolve_config`], which is that check).
    pub account_id: String,
    /// The `resourceVersion` of the Secret the client was built from.
    pub secret_version: String,
    /// The client.
    pub cloud: CloudClient,
}

impl Resolved {
    /// Where calls through this client act.
    pub fn location(&self) -> CloudLocation {
        CloudLocation {
            provider_config: self.name.clone(),
            region: self.region.clone(),
            account_id: self.account_id.clone(),
        }
    }
}

/// What a cached client was built from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    /// ProviderConfig name.
    name: String,
    /// The ProviderConfig's spec version: its `metadata.generation` (status
    /// writes do not change it), else its resourceVersion.
    spec_version: String,
    /// The Secret's resourceVersion.
    secret_version: String,
    /// Region.
    region: String,
}

/// Cloud clients per ProviderConfig, built on demand and reused while the
/// ProviderConfig's spec and its Secret stay the same.
pub struct Providers {
    client: Client,
    secret_namespaces: Vec<String>,
    metrics: Arc<CloudMetrics>,
    cancel: CancellationToken,
    rate_limits: Arc<RateLimits>,
    rrsa: RrsaDefaults,
    cache: Mutex<HashMap<CacheKey, CloudClient>>,
    configs: std::sync::OnceLock<Store<ProviderConfig>>,
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("secret_namespaces", &self.secret_namespaces)
            .field("cached_clients", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Providers {
    /// A registry reading ProviderConfigs and Secrets with `client`, allowed to
    /// read Secrets only in `secret_namespaces`. Every client it builds shares
    /// one rate-limit registry, `metrics` and `cancel`.
    pub fn new(
        client: Client,
        secret_namespaces: Vec<String>,
        metrics: Arc<CloudMetrics>,
        cancel: CancellationToken,
    ) -> Providers {
        Providers {
            client,
            secret_namespaces,
            metrics,
            cancel,
            rate_limits: RateLimits::new(),
            rrsa: RrsaDefaults::default(),
            cache: Mutex::new(HashMap::new()),
            configs: std::sync::OnceLock::new(),
        }
    }

    /// Read ProviderConfigs from `store` (the ProviderConfig controller's
    /// cache) from now on; the first store given stays.
    pub fn use_store(&self, store: Store<ProviderConfig>) {
        let _ = self.configs.set(store);
    }

    /// ProviderConfig `name`: the cached copy when it is usable as it is
    /// (checked, Ready, and listing `namespace`); otherwise, and before the
    /// cache has listed them, read from the API server, since a cache may
    /// lag behind the change that started this reconcile and a refusal must
    /// not come from a stale copy.
    async fn provider_config(
        &self,
        name: &str,
        namespace: &str,
    ) -> Result<ProviderConfig, ProviderError> {
        let cached = self
            .configs
            .get()
            .and_then(|store| store.get(&ObjectRef::new(name)))
            .filter(|pc| not_ready(pc).is_none() && namespace_allowed(&pc.spec, namespace));
        if let Some(pc) = cached {
            return Ok(ProviderConfig::clone(&pc));
        }
        let api: Api<ProviderConfig> = Api::all(self.client.clone());
        api.get_opt(name)
            .await
            .map_err(|e| ProviderError::kubernetes(format!("read ProviderConfig {name}"), &e))?
            .ok_or_else(|| ProviderError::ProviderConfigNotFound {
                name: name.to_string(),
            })
    }

    /// The same, with what RRSA ProviderConfigs default to.
    pub fn with_rrsa(mut self, rrsa: RrsaDefaults) -> Providers {
        self.rrsa = rrsa;
        self
    }

    /// The namespaces Secrets may be read from.
    pub fn secret_namespaces(&self) -> &[String] {
        &self.secret_namespaces
    }

    /// The cloud clients for ProviderConfig `name`, for `region` (the object's
    /// override) or the ProviderConfig's region. Refuses with
    /// [`ProviderError::ProviderConfigNotReady`] when the ProviderConfig's
    /// current status reports a problem.
    #[instrument(level = "debug", skip(self))]
    pub async fn resolve(
        &self,
        name: &str,
        region: Option<&str>,
        namespace: &str,
    ) -> Result<Resolved, ProviderError> {
        let pc = self.provider_config(name, namespace).await?;
        if !namespace_allowed(&pc.spec, namespace) {
            let selector = match &pc.spec.allowed_namespace_selector {
                None => None,
                Some(_) => match self.namespace_labels(namespace).await {
                    Ok(labels) => match namespace_selected(&pc.spec, &labels) {
                        Ok(true) => None,
                        Ok(false) => Some(
                            "its labels do not match spec.allowedNamespaceSelector".to_string(),
                        ),
                        Err(problem) => Some(problem),
                    },
                    Err(problem) => Some(problem),
                },
            };
            // Listed nowhere, or not selected.
            if pc.spec.allowed_namespace_selector.is_none() || selector.is_some() {
                return Err(ProviderError::ProviderConfigNotAllowed {
                    name: name.to_string(),
                    namespace: namespace.to_string(),
                    allowed: pc.spec.allowed_namespaces.clone(),
                    selector,
                });
            }
        }
        if let Some(problem) = not_ready(&pc) {
            return Err(problem);
        }
        if let Some(resolved) = self.checked_client(&pc, region) {
            return Ok(resolved);
        }
        let mut resolved = self.resolve_config(&pc, region).await?;
        resolved.account_id = checked_account(&pc, &resolved.secret_version)
            .ok_or_else(|| ProviderError::ProviderConfigNotChecked {
                name: name.to_string(),
            })?
            .to_string();
        Ok(resolved)
    }

    /// The client built from what the ProviderConfig's current status says
    /// was checked (its spec and the Secret's resourceVersion), if one is
    /// cached: no read of the Secret. A Secret changed since is re-checked by
    /// the ProviderConfig controller (it watches the Secrets' metadata), and
    /// until then objects keep the credentials that were checked.
    fn checked_client(&self, pc: &ProviderConfig, region: Option<&str>) -> Option<Resolved> {
        let secret_version = pc.status.as_ref()?.checked_secret_version.clone()?;
        let account_id = checked_account(pc, &secret_version)?.to_string();
        let region = region
            .filter(|r| !r.is_empty())
            .unwrap_or(&pc.spec.region)
            .to_string();
        let key = CacheKey {
            name: pc.name_any(),
            spec_version: spec_version(pc),
            secret_version: secret_version.clone(),
            region: region.clone(),
        };
        let cloud = self.lock().get(&key).cloned()?;
        Some(Resolved {
            name: key.name,
            provider: pc.spec.provider,
            region,
            account_id,
            secret_version,
            cloud,
        })
    }

    /// The cloud clients for the place `recorded` names when the object
    /// recorded one (deletion goes where the resource was made), else for
    /// ProviderConfig `name` and `region` as the spec says.
    pub async fn resolve_at(
        &self,
        recorded: Option<&CloudLocation>,
        name: &str,
        region: Option<&str>,
        namespace: &str,
    ) -> Result<Resolved, ProviderError> {
        match recorded {
            Some(at) => {
                self.resolve(&at.provider_config, Some(&at.region), namespace)
                    .await
            }
            None => self.resolve(name, region, namespace).await,
        }
    }

    /// The cloud clients for `pc` as given (no read of the ProviderConfig and
    /// no look at its status): what the ProviderConfig controller checks.
    #[instrument(level = "debug", skip_all, fields(provider_config = %pc.name_any(), region))]
    pub async fn resolve_config(
        &self,
        pc: &ProviderConfig,
        region: Option<&str>,
    ) -> Result<Resolved, ProviderError> {
        let name = pc.name_any();
        let spec = &pc.spec;
        let region = region
            .filter(|r| !r.is_empty())
            .unwrap_or(&spec.region)
            .to_string();
        for url in [&spec.endpoint, &spec.sts_endpoint].into_iter().flatten() {
            if !spec.allow_insecure_endpoint && insecure_endpoint(url) {
                return Err(ProviderError::InvalidEndpoint {
                    name: name.clone(),
                    detail: format!(
                        "{url} is plain http:// to a host that is not a loopback address: signed \
                         calls (and STS tokens, in the query string) would cross the network \
                         unencrypted; use https://, or set spec.allowInsecureEndpoint"
                    ),
                });
            }
        }
        let secret = match spec.credentials.secret_ref() {
            Some(secret_ref) => Some(self.read_secret(&name, secret_ref).await?),
            None => None,
        };
        let secret_version = secret
            .as_ref()
            .and_then(|s| s.metadata.resource_version.clone())
            .unwrap_or_default();
        let key = CacheKey {
            name: name.clone(),
            spec_version: spec_version(pc),
            secret_version: secret_version.clone(),
            region: region.clone(),
        };
        if let Some(cloud) = self.lock().get(&key).cloned() {
            return Ok(Resolved {
                name,
                provider: spec.provider,
                region,
                account_id: String::new(),
                secret_version,
                cloud,
            });
        }
        let data = secret.and_then(|s| s.data);
        let config = self.client_config(spec, &region);
        let cloud = match spec.provider {
            CloudProvider::Alibaba => {
                let clock = Arc::new(ServerClock::default());
                let source = self.source(
                    pc,
                    &spec.credentials.as_source(),
                    data.as_ref(),
                    &clock,
                    &config,
                )?;
                AlibabaClient::with_source(source, clock, config)
                    .map(CloudClient::Alibaba)
                    .map_err(|e| build_error(&name, &e))?
            }
            CloudProvider::UCloud => {
                let Some(secret_ref) = &spec.credentials.secret_ref else {
                    return Err(ProviderError::CredentialsNotConfigured {
                        name,
                        detail:
                            "UCloud credentials come only from a Secret (credentials.secretRef)"
                                .to_string(),
                    });
                };
                let credentials = ucloud_credentials(data.as_ref())
                    .map_err(|problem| problem.of_secret(&name, secret_ref, spec.provider))?;
                UcloudClient::new(credentials, config)
                    .map(CloudClient::UCloud)
                    .map_err(|e| build_error(&name, &e))?
            }
        };
        debug!(provider_config = %name, region = %region, "built cloud client");
        {
            let mut cache = self.lock();
            // Clients of older versions of this ProviderConfig or Secret are
            // never asked for again.
            cache.retain(|k, _| {
                k.name != key.name
                    || (k.spec_version == key.spec_version
                        && k.secret_version == key.secret_version)
            });
            cache.insert(key, cloud.clone());
        }
        Ok(Resolved {
            name,
            provider: spec.provider,
            region,
            account_id: String::new(),
            secret_version,
            cloud,
        })
    }

    /// The labels of `namespace`, to match a ProviderConfig's namespace
    /// selector; why they cannot be had otherwise.
    async fn namespace_labels(&self, namespace: &str) -> Result<BTreeMap<String, String>, String> {
        let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        match api.get_metadata_opt(namespace).await {
            Ok(Some(meta)) => Ok(meta.metadata.labels.unwrap_or_default()),
            Ok(None) => Err(format!("namespace {namespace} does not exist")),
            Err(kube::Error::Api(status)) if status.code == 403 => Err(format!(
                "natop may not read namespace {namespace} to match \
                 spec.allowedNamespaceSelector: grant it get on namespaces (chart: \
                 namespaceSelectors: true)"
            )),
            Err(e) => Err(format!(
                "cannot read namespace {namespace} to match spec.allowedNamespaceSelector: {}",
                error::describe_kube_error(&e)
            )),
        }
    }

    /// Read the Secret `secret_ref` names, if natop may.
    /// The resourceVersion of `pc`'s Secret, read as metadata only (the
    /// data never crosses): whether the Secret changed since a check.
    /// `None` when the ProviderConfig names no Secret.
    pub async fn secret_version(
        &self,
        pc: &ProviderConfig,
    ) -> Result<Option<String>, ProviderError> {
        let Some(secret_ref) = pc.spec.credentials.secret_ref() else {
            return Ok(None);
        };
        let name = pc.name_any();
        let read = self
            .secrets_of(&name, secret_ref)?
            .get_metadata_opt(&secret_ref.name)
            .await;
        let meta = Self::found(&name, secret_ref, read)?;
        Ok(Some(meta.metadata.resource_version.unwrap_or_default()))
    }

    async fn read_secret(
        &self,
        provider_config: &str,
        secret_ref: &SecretReference,
    ) -> Result<Secret, ProviderError> {
        let read = self
            .secrets_of(provider_config, secret_ref)?
            .get_opt(&secret_ref.name)
            .await;
        Self::found(provider_config, secret_ref, read)
    }

    /// The Secrets of `secret_ref`'s namespace, when natop may read there.
    fn secrets_of(
        &self,
        provider_config: &str,
        secret_ref: &SecretReference,
    ) -> Result<Api<Secret>, ProviderError> {
        if !secret_namespace_allowed(&self.secret_namespaces, &secret_ref.namespace) {
            return Err(ProviderError::SecretNotAllowed {
                provider_config: provider_config.to_string(),
                namespace: secret_ref.namespace.clone(),
                name: secret_ref.name.clone(),
                allowed: self.secret_namespaces.clone(),
            });
        }
        Ok(Api::namespaced(self.client.clone(), &secret_ref.namespace))
    }

    /// What a read of the Secret `secret_ref` (for `provider_config`)
    /// found, or why it found nothing.
    fn found<T>(
        provider_config: &str,
        secret_ref: &SecretReference,
        read: Result<Option<T>, kube::Error>,
    ) -> Result<T, ProviderError> {
        read.map_err(|e| {
            ProviderError::kubernetes(
                format!("read Secret {}/{}", secret_ref.namespace, secret_ref.name),
                &e,
            )
        })?
        .ok_or_else(|| ProviderError::SecretNotFound {
            provider_config: provider_config.to_string(),
            namespace: secret_ref.namespace.clone(),
            name: secret_ref.name.clone(),
        })
    }

    /// Where the Alibaba credentials of `pc` come from: `source` (the
    /// ProviderConfig's credentials, or the base of its `assumeRole`), with
    /// the Secret's `data` when one was read.
    fn source(
        &self,
        pc: &ProviderConfig,
        source: &Source<'_>,
        data: Option<&BTreeMap<String, ByteString>>,
        clock: &Arc<ServerClock>,
        config: &ClientConfig,
    ) -> Result<CredentialSource, ProviderError> {
        let name = pc.name_any();
        let spec = &pc.spec;
        let not_configured = |detail: String| ProviderError::CredentialsNotConfigured {
            name: name.clone(),
            detail,
        };
        match source {
            Source::Secret(secret_ref) => {
                let credentials = alibaba_credentials(data)
                    .map_err(|problem| problem.of_secret(&name, secret_ref, spec.provider))?;
                Ok(CredentialSource::Static(Arc::new(credentials)))
            }
            Source::Rrsa(rrsa) => {
                let (role_arn, oidc_provider_arn, token_file) =
                    rrsa_settings(rrsa, &self.rrsa).map_err(not_configured)?;
                let regional = crate::cloud::alibaba::endpoints::url(
                    crate::cloud::alibaba::Service::Sts,
                    config.region.as_deref().unwrap_or_default(),
                );
                let sts = config
                    .sts_endpoint
                    .as_deref()
                    .or(config.endpoint.as_deref())
                    .unwrap_or(&regional);
                if !oidc_token_may_go_to(sts) {
                    return Err(ProviderError::InvalidEndpoint {
                        name,
                        detail: format!(
                            "natop sends its service account token only to Alibaba Cloud STS \
                             (https://sts*.aliyuncs.com) or a loopback address, not to {sts}: \
                             set spec.stsEndpoint to an STS endpoint"
                        ),
                    });
                }
                Ok(CredentialSource::Oidc {
                    role_arn,
                    oidc_provider_arn,
                    token_file,
                    session_name: rrsa
                        .session_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                    duration_seconds: rrsa.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS),
                })
            }
            Source::EcsRamRole(ecs) => {
                let endpoint = ecs
                    .metadata_endpoint
                    .as_deref()
                    .unwrap_or(DEFAULT_METADATA_ENDPOINT);
                if !spec.allow_insecure_endpoint && !metadata_endpoint_allowed(endpoint) {
                    return Err(ProviderError::InvalidEndpoint {
                        name,
                        detail: format!(
                            "the instance metadata service is {DEFAULT_METADATA_ENDPOINT} (or a \
                             loopback address); {endpoint} would carry credentials unencrypted \
                             elsewhere: set spec.allowInsecureEndpoint to allow it"
                        ),
                    });
                }
                let endpoint =
                    url::Url::parse(endpoint).map_err(|e| ProviderError::InvalidEndpoint {
                        name: name.clone(),
                        detail: format!("metadataEndpoint {endpoint:?} is not a URL: {e}"),
                    })?;
                Ok(CredentialSource::EcsRamRole {
                    role_name: ecs.role_name.clone(),
                    endpoint,
                })
            }
            Source::AssumeRole(assume) => {
                let base_source = assume.source.as_source();
                if matches!(base_source, Source::AssumeRole(_) | Source::None) {
                    return Err(not_configured(
                        "assumeRole.source must set exactly one of secretRef, rrsa, ecsRamRole"
                            .to_string(),
                    ));
                }
                let base = self.source(pc, &base_source, data, clock, config)?;
                let base = AlibabaClient::with_source(base, clock.clone(), config.clone())
                    .map_err(|e| build_error(&name, &e))?;
                Ok(CredentialSource::AssumeRole {
                    base: Box::new(base),
                    role_arn: assume.role_arn.clone(),
                    session_name: assume
                        .session_name
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SESSION_NAME.to_string()),
                    external_id: assume.external_id.clone(),
                    duration_seconds: assume.duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS),
                })
            }
            Source::None => Err(not_configured(
                "spec.credentials must set exactly one of secretRef, rrsa, assumeRole, ecsRamRole"
                    .to_string(),
            )),
        }
    }

    /// Forget cached clients of ProviderConfig `name` (its spec or Secret changed).
    pub fn invalidate(&self, name: &str) {
        self.lock().retain(|k, _| k.name != name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<CacheKey, CloudClient>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn client_config(&self, spec: &ProviderConfigSpec, region: &str) -> ClientConfig {
        ClientConfig {
            endpoint: spec.endpoint.clone(),
            sts_endpoint: spec.sts_endpoint.clone(),
            region: Some(region.to_string()),
            ca_bundle: spec.ca_bundle.clone(),
            rate_limit: spec
                .rate_limit
                .map(|r| RateLimit::new(r.qps, r.burst))
                .unwrap_or_default(),
            rate_limits: self.rate_limits.clone(),
            metrics: self.metrics.clone(),
            cancel: self.cancel.clone(),
            ..ClientConfig::default()
        }
    }
}

fn spec_version(pc: &ProviderConfig) -> String {
    match pc.metadata.generation {
        Some(g) => format!("g{g}"),
        None => format!(
            "rv{}",
            pc.metadata.resource_version.as_deref().unwrap_or("")
        ),
    }
}

fn build_error(name: &str, error: &CloudError) -> ProviderError {
    ProviderError::InvalidEndpoint {
        name: name.to_string(),
        detail: match error {
            CloudError::InvalidRequest(detail) => detail.clone(),
            other => other.to_string(),
        },
    }
}

/// The role, OIDC provider and token file of an RRSA source: the
/// ProviderConfig's, else natop's environment's (the token file only ever
/// from the environment); what is missing otherwise.
pub fn rrsa_settings(
    rrsa: &RrsaCredentials,
    defaults: &RrsaDefaults,
) -> Result<(String, String, std::path::PathBuf), String> {
    let role_arn = rrsa
        .role_arn
        .clone()
        .or_else(|| defaults.role_arn.clone())
        .ok_or_else(|| {
            "rrsa.roleArn is not set and natop's environment has no ALIBABA_CLOUD_ROLE_ARN: \
             set it, or enable RRSA for natop's service account"
                .to_string()
        })?;
    let oidc_provider_arn = rrsa
        .oidc_provider_arn
        .clone()
        .or_else(|| defaults.oidc_provider_arn.clone())
        .ok_or_else(|| {
            "rrsa.oidcProviderArn is not set and natop's environment has no \
             ALIBABA_CLOUD_OIDC_PROVIDER_ARN: set it, or enable RRSA for natop's service account"
                .to_string()
        })?;
    let token_file = defaults.token_file.clone().ok_or_else(|| {
        "natop's environment has no ALIBABA_CLOUD_OIDC_TOKEN_FILE (the service account token \
         RRSA mounts): enable RRSA for natop's service account, or start natop with \
         --oidc-token-file"
            .to_string()
    })?;
    Ok((role_arn, oidc_provider_arn, token_file))
}

/// The instance metadata service of ECS.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://100.100.100.200";

/// Whether natop may send its OIDC (service account) token to `url`: only
/// Alibaba Cloud STS over https, or a loopback address (the emulator). A
/// ProviderConfig pointing `stsEndpoint` elsewhere would hand the token,
/// which assumes natop's role, to whoever runs that host.
pub fn oidc_token_may_go_to(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let sts = parsed.scheme() == "https"
        && host.starts_with("sts")
        && host.ends_with(".aliyuncs.com")
        && host[..host.len() - ".aliyuncs.com".len()]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    loopback || sts
}

/// Whether the metadata endpoint `url` is ECS's own or a loopback address.
pub fn metadata_endpoint_allowed(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    let host = parsed.host_str().unwrap_or_default();
    host == "100.100.100.200" || !insecure_endpoint(url)
}

/// The problem the ProviderConfig's status reports, if its Ready condition is
/// False with a reason and describes the current generation. No status yet, or
/// a status of an older generation, is no reason to refuse.
pub fn not_ready(pc: &ProviderConfig) -> Option<ProviderError> {
    let conditions = &pc.status.as_ref()?.conditions;
    let ready = conditions.iter().find(|c| c.type_ == condition::READY)?;
    if ready.status != "False" || ready.reason.is_empty() {
        return None;
    }
    if let (Some(observed), Some(current)) = (ready.observed_generation, pc.metadata.generation)
        && observed != current
    {
        return None;
    }
    let reconciling = conditions
        .iter()
        .any(|c| c.type_ == condition::RECONCILING && c.status == "True");
    Some(ProviderError::ProviderConfigNotReady {
        name: pc.name_any(),
        reason: ready.reason.clone(),
        message: ready.message.clone(),
        retryable: reconciling,
    })
}

/// The account the ProviderConfig's last check found, when that check was of
/// its current spec (`observedGeneration`) and of the Secret at
/// `secret_version`: a ProviderConfig pointed at other credentials (or another
/// endpoint) is not used until it is checked again, so that no object acts in
/// an account it does not know.
pub fn checked_account<'a>(pc: &'a ProviderConfig, secret_version: &str) -> Option<&'a str> {
    let status = pc.status.as_ref()?;
    let current = status.observed_generation == pc.metadata.generation
        && status.checked_secret_version.as_deref() == Some(secret_version);
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == condition::READY && c.status == "True");
    status
        .account_id
        .as_deref()
        .filter(|id| current && ready && !id.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;

    use super::credentials::KeyProblem;
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use secrecy::ExposeSecret;

    use crate::api::provider_config::{Credentials as CredentialsSpec, ProviderConfigStatus};

    const ID: &str = "LTAI-visible-id";
    const SECRET: &str = "super-secret-access-key-value";
    const TOKEN: &str = "sts-token-secret-value";
    const PUBLIC: &str = "ucloud-public-key-value";
    const PRIVATE: &str = "ucloud-private-key-value";
    const SECRET_VALUES: &[&str] = &[SECRET, TOKEN, PRIVATE];

    fn data(pairs: &[(&str, &[u8])]) -> BTreeMap<String, ByteString> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), ByteString(v.to_vec())))
            .collect()
    }

    fn assert_no_secret(text: &str) {
        for value in SECRET_VALUES {
            assert!(!text.contains(value), "{text:?} shows a secret value");
        }
    }

    #[test]
    fn alibaba_keys_are_read_and_trimmed() {
        let d = data(&[
            (ACCESS_KEY_ID, format!("{ID}\n").as_bytes()),
            (ACCESS_KEY_SECRET, format!(" {SECRET}\r\n").as_bytes()),
        ]);
        let Ok(c) = alibaba_credentials(Some(&d)) else {
            panic!("expected Alibaba credentials");
        };
        assert_eq!(c.access_key_id, ID);
        assert_eq!(c.access_key_secret.expose_secret(), SECRET);
        assert!(c.security_token.is_none());

        let d = data(&[
            (ACCESS_KEY_ID, ID.as_bytes()),
            (ACCESS_KEY_SECRET, SECRET.as_bytes()),
            (SECURITY_TOKEN, TOKEN.as_bytes()),
        ]);
        let Ok(c) = alibaba_credentials(Some(&d)) else {
            panic!("expected Alibaba credentials");
        };
        assert_eq!(
            c.security_token.as_ref().map(|t| t.expose_secret()),
            Some(TOKEN)
        );
        assert_no_secret(&format!("{c:?}"));

        // An empty optional token is no token.
        let d = data(&[
            (ACCESS_KEY_ID, ID.as_bytes()),
            (ACCESS_KEY_SECRET, SECRET.as_bytes()),
            (SECURITY_TOKEN, b"  "),
        ]);
        let Ok(c) = alibaba_credentials(Some(&d)) else {
            panic!("expected Alibaba credentials");
        };
        assert!(c.security_token.is_none());
    }

    #[test]
    fn every_missing_alibaba_key_is_named() {
        let id = (ACCESS_KEY_ID, ID.as_bytes());
        let secret = (ACCESS_KEY_SECRET, SECRET.as_bytes());
        let token = (SECURITY_TOKEN, TOKEN.as_bytes());
        let cases: Vec<(Option<BTreeMap<String, ByteString>>, KeyProblem)> = vec![
            (None, KeyProblem::Missing(ACCESS_KEY_ID)),
            (Some(data(&[])), KeyProblem::Missing(ACCESS_KEY_ID)),
            (
                Some(data(&[secret, token])),
                KeyProblem::Missing(ACCESS_KEY_ID),
            ),
            (
                Some(data(&[id, token])),
                KeyProblem::Missing(ACCESS_KEY_SECRET),
            ),
            (Some(data(&[id])), KeyProblem::Missing(ACCESS_KEY_SECRET)),
            (
                Some(data(&[(ACCESS_KEY_ID, b""), secret])),
                KeyProblem::Missing(ACCESS_KEY_ID),
            ),
            (
                Some(data(&[id, (ACCESS_KEY_SECRET, b" \n")])),
                KeyProblem::Missing(ACCESS_KEY_SECRET),
            ),
            (
                Some(data(&[id, (ACCESS_KEY_SECRET, &[0xff, 0xfe, 0x41])])),
                KeyProblem::NotText(ACCESS_KEY_SECRET),
            ),
            (
                Some(data(&[id, secret, (SECURITY_TOKEN, &[0xc3, 0x28])])),
                KeyProblem::NotText(SECURITY_TOKEN),
            ),
            // Keys are case-sensitive.
            (
                Some(data(&[
                    (ACCESS_KEY_ID, ID.as_bytes()),
                    ("AccessKeySecret", SECRET.as_bytes()),
                ])),
                KeyProblem::Missing(ACCESS_KEY_SECRET),
            ),
            // UCloud keys do not make Alibaba credentials.
            (
                Some(data(&[
                    (PUBLIC_KEY, PUBLIC.as_bytes()),
                    (PRIVATE_KEY, PRIVATE.as_bytes()),
                ])),
                KeyProblem::Missing(ACCESS_KEY_ID),
            ),
        ];
        for (d, expected) in cases {
            let got = alibaba_credentials(d.as_ref()).err();
            assert_eq!(got, Some(expected));
        }
    }

    #[test]
    fn ucloud_keys_and_every_missing_one() {
        let d = data(&[
            (PUBLIC_KEY, PUBLIC.as_bytes()),
            (PRIVATE_KEY, format!("{PRIVATE}\n").as_bytes()),
        ]);
        let Ok(c) = ucloud_credentials(Some(&d)) else {
            panic!("expected UCloud credentials");
        };
        assert_eq!(c.public_key, PUBLIC);
        assert_eq!(c.private_key.expose_secret(), PRIVATE);
        assert_no_secret(&format!("{c:?}"));

        let public = (PUBLIC_KEY, PUBLIC.as_bytes());
        let private = (PRIVATE_KEY, PRIVATE.as_bytes());
        let cases: Vec<(Option<BTreeMap<String, ByteString>>, KeyProblem)> = vec![
            (None, KeyProblem::Missing(PUBLIC_KEY)),
            (Some(data(&[])), KeyProblem::Missing(PUBLIC_KEY)),
            (Some(data(&[private])), KeyProblem::Missing(PUBLIC_KEY)),
            (Some(data(&[public])), KeyProblem::Missing(PRIVATE_KEY)),
            (
                Some(data(&[public, (PRIVATE_KEY, b"")])),
                KeyProblem::Missing(PRIVATE_KEY),
            ),
            (
                Some(data(&[(PUBLIC_KEY, b"\t"), private])),
                KeyProblem::Missing(PUBLIC_KEY),
            ),
            (
                Some(data(&[public, (PRIVATE_KEY, &[0x80])])),
                KeyProblem::NotText(PRIVATE_KEY),
            ),
            (
                Some(data(&[
                    (ACCESS_KEY_ID, ID.as_bytes()),
                    (ACCESS_KEY_SECRET, SECRET.as_bytes()),
                ])),
                KeyProblem::Missing(PUBLIC_KEY),
            ),
        ];
        for (d, expected) in cases {
            let got = ucloud_credentials(d.as_ref()).err();
            assert_eq!(got, Some(expected));
        }
    }

    #[test]
    fn missing_key_errors_name_the_key_secret_and_expected_keys() {
        let e = KeyProblem::Missing(ACCESS_KEY_SECRET).into_error(
            "default",
            "natop-system",
            "alibaba",
            CloudProvider::Alibaba,
        );
        let text = e.to_string();
        assert_eq!(e.reason(), "SecretKeyMissing");
        assert!(!e.is_retryable());
        assert!(text.contains("natop-system/alibaba"), "{text}");
        assert!(text.contains("has no key accessKeySecret"), "{text}");
        assert!(
            text.contains("accessKeyId, accessKeySecret and optionally securityToken"),
            "{text}"
        );
        let e = KeyProblem::Missing(PRIVATE_KEY).into_error("u", "ns", "s", CloudProvider::UCloud);
        assert!(e.to_string().contains("has no key privateKey"), "{e}");
        assert!(e.to_string().contains("publicKey and privateKey"), "{e}");
        let e =
            KeyProblem::NotText(SECURITY_TOKEN).into_error("u", "ns", "s", CloudProvider::Alibaba);
        assert_eq!(e.reason(), "SecretKeyInvalid");
        assert!(e.to_string().contains("securityToken"), "{e}");
    }

    #[test]
    fn the_oidc_token_goes_only_to_alibaba_sts_or_loopback() {
        for (url, allowed) in [
            ("https://sts.aliyuncs.com", true),
            ("https://sts.cn-hangzhou.aliyuncs.com/", true),
            ("https://sts-vpc.cn-hangzhou.aliyuncs.com", true),
            ("HTTPS://STS.ALIYUNCS.COM", true),
            ("http://127.0.0.1:8787/", true),
            ("http://[::1]:8787/", true),
            ("http://localhost:8787/", true),
            ("http://sts.aliyuncs.com", false),
            ("https://vpc.aliyuncs.com", false),
            ("https://sts.aliyuncs.com.evil.example", false),
            ("https://evil.example/sts.aliyuncs.com", false),
            ("https://stsaliyuncs.com", false),
            ("https://sts.evil.example", false),
            ("https://10.0.0.5/", false),
            ("not a url", false),
        ] {
            assert_eq!(oidc_token_may_go_to(url), allowed, "{url}");
        }
    }

    #[test]
    fn the_metadata_service_is_ecs_own_or_loopback() {
        for (url, allowed) in [
            ("http://100.100.100.200", true),
            ("http://100.100.100.200/", true),
            ("http://127.0.0.1:8787", true),
            ("https://metadata.example", true),
            ("http://169.254.169.254", false),
            ("http://100.100.100.201", false),
            ("http://metadata.example", false),
        ] {
            assert_eq!(metadata_endpoint_allowed(url), allowed, "{url}");
        }
    }

    #[test]
    fn rrsa_settings_come_from_the_spec_or_the_environment_but_the_file_only_from_there() {
        let env = RrsaDefaults {
            role_arn: Some("acs:ram::1:role/env".into()),
            oidc_provider_arn: Some("acs:ram::1:oidc-provider/env".into()),
            token_file: Some("/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token".into()),
        };
        let spec = RrsaCredentials {
            role_arn: Some("acs:ram::1:role/spec".into()),
            ..RrsaCredentials::default()
        };
        let (role, provider, file) = rrsa_settings(&spec, &env).unwrap();
        assert_eq!(role, "acs:ram::1:role/spec");
        assert_eq!(provider, "acs:ram::1:oidc-provider/env");
        assert_eq!(
            file.to_str(),
            Some("/var/run/secrets/ack.alibabacloud.com/rrsa-tokens/token")
        );
        let (role, _, _) = rrsa_settings(&RrsaCredentials::default(), &env).unwrap();
        assert_eq!(role, "acs:ram::1:role/env");
        for (defaults, missing) in [
            (
                RrsaDefaults {
                    role_arn: None,
                    ..env.clone()
                },
                "ALIBABA_CLOUD_ROLE_ARN",
            ),
            (
                RrsaDefaults {
                    oidc_provider_arn: None,
                    ..env.clone()
                },
                "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            ),
            (
                RrsaDefaults {
                    token_file: None,
                    ..env.clone()
                },
                "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
            ),
        ] {
            let e = rrsa_settings(&RrsaCredentials::default(), &defaults).unwrap_err();
            assert!(e.contains(missing), "{e}");
        }
    }

    #[test]
    fn secret_namespaces_are_an_allow_list() {
        let allowed = vec!["natop-system".to_string(), "cloud-creds".to_string()];
        assert!(secret_namespace_allowed(&allowed, "natop-system"));
        assert!(secret_namespace_allowed(&allowed, "cloud-creds"));
        assert!(!secret_namespace_allowed(&allowed, "default"));
        assert!(!secret_namespace_allowed(&allowed, "natop-system-2"));
        assert!(!secret_namespace_allowed(&allowed, "NATOP-SYSTEM"));
        assert!(!secret_namespace_allowed(&allowed, ""));
        assert!(
            !secret_namespace_allowed(&[], "natop-system"),
            "an empty list allows none"
        );

        let e = ProviderError::SecretNotAllowed {
            provider_config: "default".into(),
            namespace: "kube-system".into(),
            name: "creds".into(),
            allowed,
        };
        assert_eq!(e.reason(), "SecretNotAllowed");
        assert!(!e.is_retryable());
        assert!(
            e.to_string()
                .contains("natop may read Secrets only in namespaces [natop-system, cloud-creds]; move the Secret or allow its namespace"),
            "{e}"
        );
    }

    fn every_error() -> Vec<ProviderError> {
        vec![
            ProviderError::ProviderConfigNotFound {
                name: "default".into(),
            },
            ProviderError::ProviderConfigNotReady {
                name: "default".into(),
                reason: "CredentialsRejected".into(),
                message: "rejected".into(),
                retryable: false,
            },
            ProviderError::ProviderConfigNotReady {
                name: "default".into(),
                reason: "Throttling.User".into(),
                message: "busy".into(),
                retryable: true,
            },
            ProviderError::SecretNotAllowed {
                provider_config: "default".into(),
                namespace: "default".into(),
                name: "creds".into(),
                allowed: vec!["natop-system".into()],
            },
            ProviderError::SecretNotFound {
                provider_config: "default".into(),
                namespace: "natop-system".into(),
                name: "creds".into(),
            },
            KeyProblem::Missing(ACCESS_KEY_ID).into_error(
                "default",
                "ns",
                "creds",
                CloudProvider::Alibaba,
            ),
            KeyProblem::NotText(PRIVATE_KEY).into_error(
                "default",
                "ns",
                "creds",
                CloudProvider::UCloud,
            ),
            ProviderError::InvalidEndpoint {
                name: "default".into(),
                detail: "endpoint \"ftp://x\" is not an http or https URL".into(),
            },
            ProviderError::kubernetes(
                "read Secret ns/creds".into(),
                &kube::Error::Api(Box::new(
                    kube::core::Status::failure("secrets \"creds\" is forbidden", "Forbidden")
                        .with_code(403),
                )),
            ),
        ]
    }

    #[test]
    fn reasons_are_bounded_camel_case_and_retry_only_what_can_heal() {
        let expected = [
            ("ProviderConfigNotFound", false),
            ("CredentialsRejected", false),
            ("ProviderConfigNotReady", true),
            ("SecretNotAllowed", false),
            ("SecretNotFound", false),
            ("SecretKeyMissing", false),
            ("SecretKeyInvalid", false),
            ("InvalidEndpoint", false),
            ("KubernetesApiError", true),
        ];
        let errors = every_error();
        assert_eq!(errors.len(), expected.len());
        for (e, (reason, retryable)) in errors.iter().zip(expected) {
            assert_eq!(e.reason(), reason, "{e}");
            assert_eq!(e.is_retryable(), retryable, "{e}");
            let r = e.reason();
            assert!(
                r.chars().next().is_some_and(|c| c.is_ascii_uppercase()),
                "{r}"
            );
            assert!(r.chars().all(|c| c.is_ascii_alphanumeric()), "{r}");
        }
    }

    #[test]
    fn no_error_shows_a_secret_value() {
        for e in every_error() {
            assert_no_secret(&e.to_string());
            assert_no_secret(&format!("{e:?}"));
        }
        // Errors built from a real Secret's data, whichever key is wrong.
        let full = [
            (ACCESS_KEY_ID, ID.as_bytes()),
            (ACCESS_KEY_SECRET, SECRET.as_bytes()),
            (SECURITY_TOKEN, TOKEN.as_bytes()),
            (PUBLIC_KEY, PUBLIC.as_bytes()),
            (PRIVATE_KEY, PRIVATE.as_bytes()),
        ];
        for drop_index in 0..full.len() {
            let pairs: Vec<(&str, &[u8])> = full
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != drop_index)
                .map(|(_, p)| *p)
                .collect();
            for provider in [CloudProvider::Alibaba, CloudProvider::UCloud] {
                let d = data(&pairs);
                let built = match provider {
                    CloudProvider::Alibaba => {
                        alibaba_credentials(Some(&d)).map(|c| format!("{c:?}"))
                    }
                    CloudProvider::UCloud => ucloud_credentials(Some(&d)).map(|c| format!("{c:?}")),
                };
                match built {
                    Ok(text) => assert_no_secret(&text),
                    Err(p) => {
                        let e = p.into_error("default", "ns", "creds", provider);
                        assert_no_secret(&e.to_string());
                        assert_no_secret(&format!("{e:?}"));
                    }
                }
            }
        }
        // A Secret that fails to decode reports no detail of the answer.
        let decode = serde_json::from_str::<u32>(&format!("\"{SECRET}\"")).unwrap_err();
        let e = ProviderError::kubernetes(
            "read Secret ns/creds".into(),
            &kube::Error::SerdeError(decode),
        );
        assert_no_secret(&e.to_string());
        assert!(e.is_retryable());
    }

    fn provider_config(generation: i64, conditions: Vec<Condition>) -> ProviderConfig {
        let mut pc = ProviderConfig::new(
            "default",
            ProviderConfigSpec {
                provider: CloudProvider::Alibaba,
                region: "cn-hangzhou".into(),
                endpoint: None,
                sts_endpoint: None,
                allow_insecure_endpoint: false,
                ca_bundle: None,
                allowed_namespaces: Vec::new(),
                allowed_namespace_selector: None,
                credentials: CredentialsSpec::secret("natop-system", "creds"),
                rate_limit: None,
            },
        );
        pc.metadata.generation = Some(generation);
        if !conditions.is_empty() {
            pc.status = Some(ProviderConfigStatus {
                observed_generation: Some(generation),
                conditions,
                ..ProviderConfigStatus::default()
            });
        }
        pc
    }

    fn cond(type_: &str, status: &str, reason: &str, generation: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: format!("{reason} message"),
            observed_generation: Some(generation),
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }
    }

    #[test]
    fn not_ready_follows_the_current_ready_condition() {
        assert!(
            not_ready(&provider_config(1, vec![])).is_none(),
            "no status yet"
        );
        let ready = provider_config(1, vec![cond("Ready", "True", "CredentialsValid", 1)]);
        assert!(not_ready(&ready).is_none());

        let stalled = provider_config(
            2,
            vec![
                cond("Ready", "False", "CredentialsRejected", 2),
                cond("Reconciling", "False", "CredentialsRejected", 2),
                cond("Stalled", "True", "CredentialsRejected", 2),
            ],
        );
        let e = not_ready(&stalled).expect("not ready");
        assert_eq!(e.reason(), "CredentialsRejected");
        assert!(!e.is_retryable());
        assert!(
            e.to_string()
                .contains("ProviderConfig default is not ready: CredentialsRejected"),
            "{e}"
        );

        let retrying = provider_config(
            2,
            vec![
                cond("Ready", "False", "EndpointUnreachable", 2),
                cond("Reconciling", "True", "EndpointUnreachable", 2),
            ],
        );
        let e = not_ready(&retrying).expect("not ready");
        assert_eq!(e.reason(), "EndpointUnreachable");
        assert!(e.is_retryable());

        // A status about an older generation is stale: the spec changed since.
        let mut stale = stalled.clone();
        stale.metadata.generation = Some(3);
        assert!(not_ready(&stale).is_none());
    }

    #[test]
    fn only_a_check_of_the_current_spec_and_secret_names_the_account() {
        let mut pc = provider_config(2, vec![cond("Ready", "True", "CredentialsValid", 2)]);
        if let Some(status) = pc.status.as_mut() {
            status.account_id = Some("1380000000000001".into());
            status.checked_secret_version = Some("41".into());
        }
        assert_eq!(checked_account(&pc, "41"), Some("1380000000000001"));
        // The Secret changed since the check (new keys, maybe another account).
        assert_eq!(checked_account(&pc, "42"), None);
        // The spec changed since (another endpoint or region).
        let mut edited = pc.clone();
        edited.metadata.generation = Some(3);
        assert_eq!(checked_account(&edited, "41"), None);
        // Not Ready, no account, or never checked.
        let mut failing = pc.clone();
        if let Some(status) = failing.status.as_mut() {
            status.conditions = vec![cond("Ready", "False", "EndpointError", 2)];
        }
        assert_eq!(checked_account(&failing, "41"), None);
        let mut anonymous = pc.clone();
        if let Some(status) = anonymous.status.as_mut() {
            status.account_id = None;
        }
        assert_eq!(checked_account(&anonymous, "41"), None);
        assert_eq!(checked_account(&provider_config(1, vec![]), ""), None);
        let e = ProviderError::ProviderConfigNotChecked {
            name: "default".into(),
        };
        assert!(e.is_retryable());
        assert_eq!(e.reason(), "ProviderConfigNotChecked");
    }

    #[tokio::test]
    async fn a_checked_provider_config_is_used_without_reading_its_secret_again() {
        use http::{Request, Response};
        use kube::client::Body;
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let server = tokio::spawn(async move {
            let mut paths = Vec::new();
            while let Some((request, respond)) = handle.next_request().await {
                paths.push(request.uri().path().to_string());
                let secret = serde_json::json!({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": "creds", "namespace": "natop-system",
                        "resourceVersion": "41"},
                    "data": {"accessKeyId": "QUtJRA==", "accessKeySecret": "U0VDUkVU"},
                });
                respond.send_response(
                    Response::builder()
                        .body(Body::from(serde_json::to_vec(&secret).unwrap()))
                        .unwrap(),
                );
            }
            paths
        });
        let providers = Providers::new(
            Client::new(service, "default"),
            vec!["natop-system".into()],
            Arc::new(CloudMetrics::default()),
            CancellationToken::new(),
        );
        let mut pc = provider_config(2, vec![cond("Ready", "True", "CredentialsValid", 2)]);
        pc.spec.allowed_namespaces = vec!["team".into()];
        pc.spec.endpoint = Some("http://127.0.0.1:1".into());
        // The ProviderConfig controller's check: reads the Secret, caches the client.
        providers.resolve_config(&pc, None).await.expect("checked");
        if let Some(status) = pc.status.as_mut() {
            status.account_id = Some("1380000000000001".into());
            status.checked_secret_version = Some("41".into());
        }
        let (reader, mut writer) = kube::runtime::reflector::store::<ProviderConfig>();
        writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(pc.clone()));
        providers.use_store(reader);
        // Reconciles: the cached ProviderConfig and the client its check built.
        for _ in 0..3 {
            let resolved = providers
                .resolve("default", None, "team")
                .await
                .expect("resolved");
            assert_eq!(resolved.account_id, "1380000000000001");
            assert_eq!(resolved.secret_version, "41");
        }
        // Another region has no client yet: one read of the Secret builds it.
        for _ in 0..2 {
            let other = providers
                .resolve("default", Some("cn-shanghai"), "team")
                .await
                .expect("resolved");
            assert_eq!(other.region, "cn-shanghai");
        }
        drop(providers);
        let paths = server.await.unwrap();
        assert_eq!(
            paths,
            vec![
                "/api/v1/namespaces/natop-system/secrets/creds".to_string(),
                "/api/v1/namespaces/natop-system/secrets/creds".to_string(),
            ]
        );
    }
}
