//! ProviderConfig: which cloud, region and endpoint to call, and the Secret
//! holding the credentials. Cluster-scoped; managed kinds name one.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

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
pub struct ProviderConfigSpec {
    /// The cloud: `Alibaba` or `UCloud`.
    pub provider: CloudProvider,
    /// Default region of the objects using this ProviderConfig (e.g. `cn-hangzhou`,
    /// `cn-bj2`); an object may override it with `spec.region`.
    #[schemars(length(min = 1, max = 64), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// API endpoint, when not the cloud's public one: a VPC endpoint, or the natop
    /// emulator (e.g. `http://127.0.0.1:8787/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub endpoint: Option<String>,
    /// Alibaba STS endpoint (natop asks it which account the credentials belong
    /// to), when neither `endpoint` nor the public `https://sts.aliyuncs.com` is
    /// right: set it when `endpoint` is a VPC-only private endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^https?://[^\s]+$"))]
    pub sts_endpoint: Option<String>,
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
