//! Types every managed kind shares: the provider reference, the references to
//! NatGateway and BandwidthPackage objects, the deletion and management
//! policies, and the status conditions.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::validation::OBJECT_NAME_PATTERN;

/// The API group of every natop kind.
pub const GROUP: &str = "natop.dev";
/// The finalizer natop puts on every managed object.
pub const FINALIZER: &str = "natop.dev/cleanup";
/// Annotation naming an existing cloud resource to adopt instead of creating one.
pub const EXTERNAL_ID_ANNOTATION: &str = "natop.dev/external-id";
/// Annotation that stops every cloud call for an object while it is `"true"`
/// (deletion too: the finalizer stays until it is removed or `"false"`).
pub const PAUSED_ANNOTATION: &str = "natop.dev/paused";
/// Annotation overriding the drift-check interval of one object (e.g. `30m`, `90s`).
pub const DRIFT_INTERVAL_ANNOTATION: &str = "natop.dev/drift-interval";
/// The field manager natop writes status with.
pub const FIELD_MANAGER: &str = "natop";

/// The condition types natop sets (kstatus conventions).
pub mod condition {
    /// The cloud resource exists and matches the spec.
    pub const READY: &str = "Ready";
    /// natop is working towards the spec (creating, waiting, retrying).
    pub const RECONCILING: &str = "Reconciling";
    /// natop cannot make progress until the object or what it references changes.
    pub const STALLED: &str = "Stalled";
    /// Observed only (`managementPolicy: Observe`): whether the cloud resource
    /// differs from the spec. Never an error: the object stays Ready.
    pub const DRIFTED: &str = "Drifted";
}

/// A create natop sends, recorded in the status before it goes out and cleared once
/// the new entry's id is in `status.id`. After a crash or a lost answer natop replays
/// exactly this create (the same ClientToken and parameters) to learn which entry it
/// made, even when the spec has changed since, so an entry is never left behind or
/// made twice. Written by natop only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingCreate<T> {
    /// The entry as natop asked the cloud to create it.
    pub entry: T,
    /// The id of the entry this create replaces (one that vanished from the cloud).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// A reference to a cluster-scoped ProviderConfig.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfigReference {
    /// Name of the ProviderConfig holding the cloud, region, endpoint and credentials.
    #[serde(default = "default_provider_config")]
    pub name: String,
}

impl Default for ProviderConfigReference {
    fn default() -> Self {
        ProviderConfigReference {
            name: default_provider_config(),
        }
    }
}

fn default_provider_config() -> String {
    "default".to_string()
}

/// A NatGateway object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NatGatewayReference {
    /// Name of the NatGateway object (same namespace). natop waits until it is Ready
    /// and uses the gateway it manages.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = OBJECT_NAME_PATTERN)
    )]
    pub name: String,
}

/// A BandwidthPackage object in the same namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthPackageReference {
    /// Name of the BandwidthPackage object (same namespace); it must be an Alibaba one.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = OBJECT_NAME_PATTERN)
    )]
    pub name: String,
}

/// What happens in the cloud when the object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Delete the cloud resource, wait until it is gone, then release the object.
    #[default]
    Delete,
    /// Leave the cloud resource as it is and release the object.
    Orphan,
}

/// Whether natop may change the cloud resource.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ManagementPolicy {
    /// Create, update and delete the cloud resource to match the spec.
    #[default]
    Manage,
    /// Only read the cloud resource and report it in status; never write.
    Observe,
}

/// CEL rule (on a managed kind's spec): the ProviderConfig cannot change once
/// set. The resource lives in the account the first one reached; another
/// ProviderConfig would look for it elsewhere and make a second one there.
pub const PROVIDER_CONFIG_IMMUTABLE: &str = "!has(oldSelf.providerConfigRef) || (has(self.providerConfigRef) && self.providerConfigRef.name == oldSelf.providerConfigRef.name)";
/// Message of [`PROVIDER_CONFIG_IMMUTABLE`].
pub const PROVIDER_CONFIG_IMMUTABLE_MESSAGE: &str = "providerConfigRef is immutable: the cloud resource stays in the account it was made in; create a new object to use another ProviderConfig";
/// CEL rule (on a managed kind's spec): the region cannot change once set.
pub const REGION_IMMUTABLE: &str =
    "!has(oldSelf.region) || (has(self.region) && self.region == oldSelf.region)";
/// Message of [`REGION_IMMUTABLE`].
pub const REGION_IMMUTABLE_MESSAGE: &str = "region is immutable once set: the cloud resource stays in the region it was made in; create a new object for another region";

/// Where a cloud resource lives: the ProviderConfig, region and account natop
/// made (or adopted) it in. Recorded before natop creates anything, and never
/// changed afterwards: natop refuses to act elsewhere (`LocationChanged`), and
/// deletion goes to this place whatever the spec or the ProviderConfig say now.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudLocation {
    /// The ProviderConfig whose credentials reach the resource.
    pub provider_config: String,
    /// The region of the resource.
    pub region: String,
    /// The account the credentials resolved to (Alibaba `AccountId`, UCloud `UserId`).
    pub account_id: String,
}

impl std::fmt::Display for CloudLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "account {} in region {} (ProviderConfig {})",
            self.account_id, self.region, self.provider_config
        )
    }
}

/// The status fields every managed kind has.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStatus {
    /// The cloud resource's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Ready, Reconciling and Stalled, following the kstatus conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
