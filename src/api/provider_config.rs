//! ProviderConfig: which cloud, region and endpoint to call, and the Secret
//! holding the credentials. Cluster-scoped; managed kinds name one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
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

/// Whether objects in `namespace` may use the ProviderConfig of `spec`.
pub fn namespace_allowed(spec: &ProviderConfigSpec, namespace: &str) -> bool {
    spec.allowed_namespaces
        .iter()
        .any(|allowed| allowed == "*" || allowed == namespace)
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
    validation = Rule::new(PLAIN_HTTP_STS_ENDPOINT).message(PLAIN_HTTP_MESSAGE)
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
    /// Where the credentials are.
    pub credentials: Credentials,
    /// Client-side rate limit of calls to this account and region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<RateLimitSpec>,
}

/// Where the credentials are.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// A Secret with the keys `accessKeyId`, `accessKeySecret` and optionally
    /// `securityToken` (Alibaba), or `publicKey` and `privateKey` (UCloud). natop
    /// reads Secrets only in the namespaces it is allowed (its own by default).
    pub secret_ref: SecretReference,
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
    /// The `resourceVersion` of the Secret whose credentials the last check
    /// used. Objects do not use the ProviderConfig while the Secret is newer
    /// (or the spec is newer than `observedGeneration`): it is checked first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_secret_version: Option<String>,
}

#[cfg(test)]
mod endpoint_tests {
    use super::{ProviderConfigSpec, insecure_endpoint, namespace_allowed};

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
