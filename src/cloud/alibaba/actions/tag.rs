//! Tag actions of the VPC API: `TagResources` and `UnTagResources` add and
//! remove tags on resources of one type (natop tags NAT gateways,
//! `ResourceType=NATGATEWAY`).

use serde::{Deserialize, Serialize};

use super::nat_gateway::Tag;
use crate::cloud::alibaba::Action;
use crate::cloud::wire;

/// The `ResourceType` of a NAT gateway in the tag actions.
pub const NAT_GATEWAY: &str = "NATGATEWAY";

/// TagResources: adds tags to resources, replacing the value of a key they
/// already carry. A resource carries at most 20 tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResources {
    /// Region of the resources.
    pub region_id: String,
    /// Type of the resources, e.g. `NATGATEWAY`.
    pub resource_type: String,
    /// Resources to tag (`ResourceId.1` …, at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_id: Vec<String>,
    /// Tags to add (`Tag.N.Key` / `Tag.N.Value`, at most 20).
    #[serde(rename = "Tag", default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

impl Action for TagResources {
    const NAME: &'static str = "TagResources";
    type Response = TagResourcesResponse;
}

/// Response of [`TagResources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourcesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// UnTagResources: removes tags (by key, or all with `All`) from resources.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnTagResources {
    /// Region of the resources.
    pub region_id: String,
    /// Type of the resources, e.g. `NATGATEWAY`.
    pub resource_type: String,
    /// Resources to untag (`ResourceId.1` …, at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_id: Vec<String>,
    /// Keys to remove (`TagKey.1` …, at most 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_key: Vec<String>,
    /// Remove every tag (only when no `TagKey` is given).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub all: Option<bool>,
}

impl Action for UnTagResources {
    const NAME: &'static str = "UnTagResources";
    type Response = UnTagResourcesResponse;
}

/// Response of [`UnTagResources`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnTagResourcesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}
