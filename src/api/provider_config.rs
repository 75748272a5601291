//! ProviderConfig: which cloud, region and endpoint to call, and the Secret
//! holding the credentials. Cluster-scoped; managed kinds name one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// CEL: `endpoint` is https, or plain http to a loopback address, or allowed.
const PLAIN_HTTP_ENDPOINT: &str = r"!has(self.endpoint) || !self.endpoint.startsWith('http://') || self.endpoint.matches('^http://(localhost|127\\.[0-9]+\\.[0-9]+\\.[0-9]+|\\[::1\\])([:/].*)?$') || (has(self.allowInsecureEndpoint) && self.allowInsecureEndpoint)";
/// CEL: the same for `stsEndpoint`.
const PLAIN_HTTP_STS_ENDPOINT: &str = r"!has(self.stsEndpoint) || !self.stsEndpoint.startsWith('http://') || self.stsEndpoint.matches('^http://(localhost|127\\.[0-9]+\\.[0-9]+\\.[0-9]+|\\[::1\\])([:/].*)?$') || (has(self.allowInsecureEndpoint) && self.allowInsecureEndpoint)";
/// The message of both.
const PLAIN_HTTP_MESSAGE: &str = "a plain http:// endpoint that is not a loopback address sends signed calls (and STS tokens, in the query string) unencrypted: use https://, or set allowInsecureEndpoint: true";

/// Whether `url` is plain `http://` to a host that is not a loopback address:
/// what natop refuses unless `allowInsecureEndpoint` is set (the CEL rules
/// say the same to the API server; this holds for objects stored before).
pub fn insecure_endpoint(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

/// Whether objects in `namespace` may use the ProviderConfig of `spec` by
/// its list alone (`spec.allowedNamespaces`).
pub fn namespace_allowed(spec: &ProviderConfigSpec, namespace: &str) -> bool {
    spec.allowed_namespaces
        .iter()
        .any(|allowed| allowed == "*" || allowed == namespace)
}

/// Whether a namespace with `labels` matches `spec.allowedNamespaceSelector`:
/// `Ok(false)` without a selector; an error (which allows nothing) for a
/// selector that cannot be evaluated.
pub fn namespace_selected(
    spec: &ProviderConfigSpec,
    labels: &std::collections::BTreeMap<String, String>,
) -> Result<bool, String> {
    use kube::core::{Selector, SelectorExt};
    let Some(selector) = &spec.allowed_namespace_selector else {
        return Ok(false);
    };
    let selector = Selector::try_from(selector.clone())
        .map_err(|e| format!("spec.allowedNamespaceSelector cannot be evaluated: {e}"))?;
    Ok(selector.matches(labels))
}

/// The cloud a ProviderConfig talks to.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum CloudProvider {
    /// Alibaba Cloud VPC API (NAT gateways, entries, NAT bandwidth packages, IPv6 bandwidth).
    Alibaba,
    /// UCloud UNet API (temporary bandwidth packages for EIPs).
    UCloud,
}

/// Access to one cloud account in one region.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    doc = "Access to one cloud account in one region: the credentials Secret natop signs calls with, checked and reported in its status.",
    group = "natop.dev",
    version = "v1alpha1",
    kind = "ProviderConfig",
    status = "ProviderConfigStatus",
    shortname = "natoppc",
    category = "natop",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Reason","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].reason"}"#,
    printcolumn = r#"{"name":"Provider","type":"string","jsonPath":".spec.provider"}"#,
    printcolumn = r#"{"name":"Region","type":"string","jsonPath":".spec.region"}"#,
    printcolumn = r#"{"name":"Account","type":"string","jsonPath":".status.accountId"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new(PLAIN_HTTP_ENDPOINT).message(PLAIN_HTTP_MESSAGE),
    validation = Rule::new(PLAIN_HTTP_STS_ENDPOINT).message(PLAIN_HTTP_MESSAGE),
    validation = Rule::new(UCLOUD_SECRET_ONLY).message("UCloud credentials come only from a Secret (credentials.secretRef)")
)]
pub struct ProviderConfigSpec {
    /// The cloud: `Alibaba` or `UCloud`.
    pub provider: CloudProvider,
    /// Default region of the objects using this ProviderConfig (e.g. `cn-hangzhou`,
    /// `cn-bj2`); an object may override it with `spec.region`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// API endpoint, when not the cloud's public one: a VPC endpoint, or the natop
    /// emulator (e.g. `http://127.0.0.1:8787/`). Plain `http://` only to a loopback
    /// address unless `allowInsecureEndpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub endpoint: Option<String>,
    /// Alibaba STS endpoint (natop asks it which account the credentials belong
    /// to), when neither `endpoint` nor the public `https://sts.aliyuncs.com` is
    /// right: set it when `endpoint` is a VPC-only private endpoint.
    /// Plain `http://` only to a loopback address unless `allowInsecureEndpoint`
    /// is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub sts_endpoint: Option<String>,
    /// PEM certificates natop trusts besides the public roots when it calls
    /// the cloud (and STS, and the metadata service): the CA of a corporate
    /// egress proxy that inspects TLS, or of a private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 65536),
        regex(pattern = r"^\s*-----BEGIN CERTIFICATE-----[\s\S]*-----END CERTIFICATE-----\s*$")
    )]
    pub ca_bundle: Option<String>,
    /// Allow a plain `http://` endpoint that is not a loopback address. Off by
    /// default: signed calls (and an STS token, which travels in the query
    /// string) would cross the network unencrypted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_insecure_endpoint: bool,
    /// The namespaces whose objects may use this ProviderConfig (its account):
    /// names, or `*` for every namespace. None by default: an object in a
    /// namespace not listed is Stalled (`ProviderConfigNotAllowed`) and natop
    /// makes no cloud call for it, so a team cannot reach another team's
    /// account, gateways or tables through it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(
        length(max = 256),
        inner(regex(pattern = r"^(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$")),
        extend("x-kubernetes-list-type" = "set")
    )]
    pub allowed_namespaces: Vec<String>,
    /// Namespaces whose labels match this selector may use this ProviderConfig
    /// too (besides `allowedNamespaces`), e.g. `{matchLabels: {team: payments}}`.
    /// An empty selector (`{}`) matches every namespace. natop reads the
    /// namespace's labels when an object there is not listed, which needs
    /// `get` on namespaces (chart: `namespaceSelectors: true`); whoever may
    /// label a namespace then decides, so use labels only cluster admins set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_namespace_selector: Option<LabelSelector>,
    /// Where the credentials are.
    pub credentials: Credentials,
    /// Client-side rate limit of calls to this account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

/// CEL: exactly one credential source.
const ONE_SOURCE: &str = "[has(self.secretRef), has(self.rrsa), has(self.assumeRole), has(self.ecsRamRole)].filter(x, x).size() == 1";
/// CEL: exactly one base source of `assumeRole`.
const ONE_BASE_SOURCE: &str =
    "[has(self.secretRef), has(self.rrsa), has(self.ecsRamRole)].filter(x, x).size() == 1";
/// CEL: UCloud takes only a Secret.
const UCLOUD_SECRET_ONLY: &str = "self.provider != 'UCloud' || has(self.credentials.secretRef)";

/// Where the credentials come from: exactly one of `secretRef`, `rrsa`,
/// `assumeRole` and `ecsRamRole` (UCloud: `secretRef` only). Temporary
/// credentials (all but `secretRef`) are cached per ProviderConfig and
/// renewed before they expire on the cloud's clock; when renewing fails the
/// ProviderConfig says why (`OidcTokenRejected`, `AssumeRoleFailed`, ...)
/// and the objects using it wait.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_SOURCE).message("set exactly one of secretRef, rrsa, assumeRole, ecsRamRole"))]
pub struct Credentials {
    /// A Secret with the keys `accessKeyId`, `accessKeySecret` and optionally
    /// `securityToken` (Alibaba), or `publicKey` and `privateKey` (UCloud). natop
    /// reads Secrets only in the namespaces it is allowed (its own by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// RRSA (RAM Roles for Service Accounts, Alibaba Cloud Container Service):
    /// natop's projected service account token is exchanged for a role's
    /// temporary credentials (STS `AssumeRoleWithOIDC`). The token file is
    /// always the one the RRSA webhook mounts into natop's pod
    /// (`ALIBABA_CLOUD_OIDC_TOKEN_FILE`), never a path from this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrsa: Option<RrsaCredentials>,
    /// Assume a RAM role (possibly in another account, STS `AssumeRole`)
    /// with the credentials of another source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assume_role: Option<AssumeRoleCredentials>,
    /// The RAM role attached to the ECS instance natop runs on, from the
    /// instance metadata service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_ram_role: Option<EcsRamRoleCredentials>,
}

impl Credentials {
    /// Credentials from the Secret `namespace/name`.
    pub fn secret(namespace: &str, name: &str) -> Credentials {
        Credentials {
            secret_ref: Some(SecretReference {
                namespace: namespace.to_string(),
                name: name.to_string(),
            }),
            rrsa: None,
            assume_role: None,
            ecs_ram_role: None,
        }
    }

    /// The Secret the credentials (or the base credentials of `assumeRole`)
    /// are read from, if any.
    pub fn secret_ref(&self) -> Option<&SecretReference> {
        self.secret_ref.as_ref().or_else(|| {
            self.assume_role
                .as_ref()
                .and_then(|a| a.source.secret_ref.as_ref())
        })
    }

    /// The credentials in words, for messages: `Secret ns/name`, `RRSA role
    /// <arn>`, ...
    pub fn describe(&self) -> String {
        if let Some(s) = &self.secret_ref {
            return format!("Secret {}/{}", s.namespace, s.name);
        }
        if let Some(r) = &self.rrsa {
            return match &r.role_arn {
                Some(arn) => format!("RRSA role {arn}"),
                None => "RRSA (role from natop's environment)".to_string(),
            };
        }
        if let Some(a) = &self.assume_role {
            let base = if let Some(s) = &a.source.secret_ref {
                format!("Secret {}/{}", s.namespace, s.name)
            } else if a.source.rrsa.is_some() {
                "RRSA".to_string()
            } else {
                "the ECS instance's RAM role".to_string()
            };
            return format!("role {} assumed with {base}", a.role_arn);
        }
        if let Some(e) = &self.ecs_ram_role {
            return match &e.role_name {
                Some(name) => format!("ECS instance RAM role {name}"),
                None => "the ECS instance's RAM role".to_string(),
            };
        }
        "no credentials".to_string()
    }
}

/// One credential source of [`Credentials`] or [`BaseCredentials`].
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// `secretRef`.
    Secret(&'a SecretReference),
    /// `rrsa`.
    Rrsa(&'a RrsaCredentials),
    /// `assumeRole`.
    AssumeRole(&'a AssumeRoleCredentials),
    /// `ecsRamRole`.
    EcsRamRole(&'a EcsRamRoleCredentials),
    /// None set (the API server's rule refuses that; an object stored before it may).
    None,
}

impl Credentials {
    /// The one source set (the first, should several be).
    pub fn as_source(&self) -> Source<'_> {
        if let Some(s) = &self.secret_ref {
            Source::Secret(s)
        } else if let Some(r) = &self.rrsa {
            Source::Rrsa(r)
        } else if let Some(a) = &self.assume_role {
            Source::AssumeRole(a)
        } else if let Some(e) = &self.ecs_ram_role {
            Source::EcsRamRole(e)
        } else {
            Source::None
        }
    }
}

impl BaseCredentials {
    /// The one source set (the first, should several be).
    pub fn as_source(&self) -> Source<'_> {
        if let Some(s) = &self.secret_ref {
            Source::Secret(s)
        } else if let Some(r) = &self.rrsa {
            Source::Rrsa(r)
        } else if let Some(e) = &self.ecs_ram_role {
            Source::EcsRamRole(e)
        } else {
            Source::None
        }
    }
}

/// RRSA: which role to assume with natop's service account token. Each
/// field defaults to what the RRSA webhook puts in natop's environment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RrsaCredentials {
    /// The RAM role (`acs:ram::<account>:role/<name>`); default
    /// `ALIBABA_CLOUD_ROLE_ARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^acs:ram::[0-9]+:role/[A-Za-z0-9.@_-]{1,64}$"))]
    pub role_arn: Option<String>,
    /// The cluster's OIDC provider (`acs:ram::<account>:oidc-provider/<name>`);
    /// default `ALIBABA_CLOUD_OIDC_PROVIDER_ARN`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^acs:ram::[0-9]+:oidc-provider/[A-Za-z0-9._-]{1,128}$"))]
    pub oidc_provider_arn: Option<String>,
    /// Session name (shown in the cloud's audit log); default `natop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9.@_-]{2,64}$"))]
    pub session_name: Option<String>,
    /// Seconds the temporary credentials last (900 to the role's maximum);
    /// default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 900, max = 43200))]
    pub duration_seconds: Option<u32>,
}

/// `AssumeRole`: the role, and the source of the credentials that assume it.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AssumeRoleCredentials {
    /// The RAM role to assume (`acs:ram::<account>:role/<name>`), in this or
    /// another account; its trust policy must admit the base credentials.
    #[schemars(regex(pattern = r"^acs:ram::[0-9]+:role/[A-Za-z0-9.@_-]{1,64}$"))]
    pub role_arn: String,
    /// Session name (shown in the cloud's audit log); default `natop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9.@_-]{2,64}$"))]
    pub session_name: Option<String>,
    /// The external id the role's trust policy requires, if it does
    /// (`sts:ExternalId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2, max = 1224))]
    pub external_id: Option<String>,
    /// Seconds the temporary credentials last (900 to the role's maximum);
    /// default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 900, max = 43200))]
    pub duration_seconds: Option<u32>,
    /// The credentials that call `AssumeRole`.
    pub source: BaseCredentials,
}

/// The credentials that assume a role: exactly one of `secretRef`, `rrsa`
/// and `ecsRamRole`.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(ONE_BASE_SOURCE).message("set exactly one of secretRef, rrsa, ecsRamRole"))]
pub struct BaseCredentials {
    /// A Secret with `accessKeyId` and `accessKeySecret` (and optionally
    /// `securityToken`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,
    /// RRSA, as `credentials.rrsa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rrsa: Option<RrsaCredentials>,
    /// The ECS instance's RAM role, as `credentials.ecsRamRole`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs_ram_role: Option<EcsRamRoleCredentials>,
}

/// The ECS instance's RAM role.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EcsRamRoleCredentials {
    /// The role attached to the instance; default: whichever the metadata
    /// service names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9.@_-]{1,64}$"))]
    pub role_name: Option<String>,
    /// The instance metadata service; default `http://100.100.100.200`.
    /// Plain `http://` only to that address or a loopback one unless
    /// `allowInsecureEndpoint` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2048), regex(pattern = r"^https?://[^\s]+$"))]
    pub metadata_endpoint: Option<String>,
}

/// A Secret by namespace and name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    /// Namespace of the Secret.
    #[schemars(length(min = 1, max = 63))]
    pub namespace: String,
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Requests per second and burst.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSpec {
    /// Sustained calls per second.
    #[schemars(range(min = 1, max = 1000))]
    pub qps: u32,
    /// Calls allowed at once after a quiet period.
    #[schemars(range(min = 1, max = 1000))]
    pub burst: u32,
}

/// What natop found out about the ProviderConfig.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` once the credentials load and a cheap read call succeeds; its reason
    /// names the problem otherwise (`SecretNotFound`, `SecretKeyMissing`,
    /// `SecretNotAllowed`, `CredentialsRejected`, `EndpointUnreachable`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The account the credentials belong to (Alibaba `AccountId`, UCloud
    /// `UserId`), as the cloud said at the last check. Objects record it with
    /// what they create and refuse to act once it changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The API endpoint natop calls in the ProviderConfig's region:
    /// `spec.endpoint`, else the one Alibaba Cloud's official SDK picks for
    /// the region (UCloud has one endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The STS endpoint natop calls (Alibaba): `spec.stsEndpoint`, else
    /// `spec.endpoint`, else the region's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts_endpoint: Option<String>,
    /// The `resourceVersion` of the Secret whose credentials the last check
    /// used. Objects do not use the ProviderConfig while the Secret is newer
    /// (or the spec is newer than `observedGeneration`): it is checked first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_secret_version: Option<String>,
}

#[cfg(test)]
mod endpoint_tests {
    use super::{ProviderConfigSpec, insecure_endpoint, namespace_allowed, namespace_selected};

    #[test]
    fn only_the_namespaces_listed_may_use_a_provider_config() {
        let spec = |allowed: &[&str]| -> ProviderConfigSpec {
            serde_json::from_value(serde_json::json!({
                "provider": "Alibaba", "region": "cn-hangzhou",
                "credentials": {"secretRef": {"namespace": "natop-system", "name": "c"}},
                "allowedNamespaces": allowed,
            }))
            .unwrap()
        };
        for (allowed, namespace, want) in [
            (&[][..], "team-a", false),
            (&["team-a"][..], "team-a", true),
            (&["team-a"][..], "team-b", false),
            (&["team-b", "team-a"][..], "team-a", true),
            (&["*"][..], "anything", true),
        ] {
            assert_eq!(
                namespace_allowed(&spec(allowed), namespace),
                want,
                "{allowed:?} {namespace}"
            );
        }
    }

    #[test]
    fn a_label_selector_allows_the_namespaces_it_matches() {
        let spec = |selector: serde_json::Value| -> ProviderConfigSpec {
            serde_json::from_value(serde_json::json!({
                "provider": "Alibaba", "region": "cn-hangzhou",
                "credentials": {"secretRef": {"namespace": "natop-system", "name": "c"}},
                "allowedNamespaceSelector": selector,
            }))
            .unwrap()
        };
        let labels = |pairs: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let payments = serde_json::json!({"matchLabels": {"team": "payments"}});
        let tiers = serde_json::json!({"matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["prod", "staging"]},
            {"key": "frozen", "operator": "DoesNotExist"},
        ]});
        for (selector, namespace, want) in [
            (payments.clone(), labels(&[("team", "payments")]), Ok(true)),
            (payments.clone(), labels(&[("team", "search")]), Ok(false)),
            (payments.clone(), labels(&[]), Ok(false)),
            (tiers.clone(), labels(&[("tier", "prod")]), Ok(true)),
            (
                tiers.clone(),
                labels(&[("tier", "prod"), ("frozen", "y")]),
                Ok(false),
            ),
            (tiers.clone(), labels(&[("tier", "dev")]), Ok(false)),
            (serde_json::json!({}), labels(&[]), Ok(true)),
        ] {
            assert_eq!(
                namespace_selected(&spec(selector.clone()), &namespace),
                want,
                "{selector} {namespace:?}"
            );
        }
        let none: ProviderConfigSpec = serde_json::from_value(serde_json::json!({
            "provider": "Alibaba", "region": "cn-hangzhou",
            "credentials": {"secretRef": {"namespace": "natop-system", "name": "c"}},
        }))
        .unwrap();
        assert_eq!(
            namespace_selected(&none, &labels(&[("team", "payments")])),
            Ok(false)
        );
        let bad = spec(serde_json::json!({"matchExpressions": [
            {"key": "tier", "operator": "Sometimes", "values": ["x"]},
        ]}));
        assert!(namespace_selected(&bad, &labels(&[("tier", "x")])).is_err());
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback() {
        for (url, refused) in [
            ("https://vpc.aliyuncs.com", false),
            ("http://127.0.0.1:8787/", false),
            ("http://127.9.9.9", false),
            ("http://localhost:8080/x", false),
            ("http://[::1]:8080/", false),
            ("http://vpc.aliyuncs.com", true),
            ("http://10.0.0.5:8080/", true),
            ("http://127.0.0.1.evil.example/", true),
            ("http://localhost.evil.example/", true),
            ("http://[2001:db8::1]/", true),
        ] {
            assert_eq!(insecure_endpoint(url), refused, "{url}");
        }
    }
}
