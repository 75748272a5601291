//! TagResources and UnTagResources, for NAT gateways (the only resource type
//! natop tags; others are refused as the service refuses an unknown type).

use crate::cloud::alibaba::actions::nat_gateway::ResourceTag;
use crate::cloud::alibaba::actions::tag::{
    NAT_GATEWAY, TagResources, TagResourcesResponse, UnTagResources, UnTagResourcesResponse,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::{Ctx, missing};

use super::{gateway_not_found, tags_of};

/// The most tags a resource carries.
const MAX_TAGS: usize = 20;

fn check_type(resource_type: &str) -> Result<(), ApiError> {
    if resource_type.is_empty() {
        return Err(missing("ResourceType"));
    }
    if !resource_type.eq_ignore_ascii_case(NAT_GATEWAY) {
        return Err(ApiError::new(
            400,
            "InvalidResourceType.NotSupported",
            "The specified ResourceType is not supported.",
        ));
    }
    Ok(())
}

fn check_ids(ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Err(missing("ResourceId"));
    }
    if ids.len() > 50 {
        return Err(ApiError::new(
            400,
            "InvalidParameter.ResourceId",
            "At most 50 ResourceId are allowed.",
        ));
    }
    Ok(())
}

pub(super) fn tag_resources(
    ctx: &mut Ctx<'_>,
    req: TagResources,
) -> Result<TagResourcesResponse, ApiError> {
    check_type(&req.resource_type)?;
    check_ids(&req.resource_id)?;
    if req.tags.is_empty() {
        return Err(missing("Tag"));
    }
    let tags = tags_of(&req.tags)?;
    // All or nothing: every gateway must exist and keep at most 20 tags.
    for id in &req.resource_id {
        let gateway = ctx
            .state
            .nat_gateways
            .get(id)
            .ok_or_else(gateway_not_found)?;
        let mut keys: Vec<&str> = gateway
            .wire
            .tags
            .iter()
            .map(|t| t.tag_key.as_str())
            .collect();
        keys.extend(tags.iter().map(|t| t.tag_key.as_str()));
        keys.sort_unstable();
        keys.dedup();
        if keys.len() > MAX_TAGS {
            return Err(ApiError::new(
                400,
                "QuotaExceed.TagNum",
                "The number of tags on the resource exceeds the quota (20).",
            ));
        }
    }
    for id in &req.resource_id {
        if let Some(gateway) = ctx.state.nat_gateways.get_mut(id) {
            for tag in &tags {
                match gateway
                    .wire
                    .tags
                    .iter_mut()
                    .find(|t| t.tag_key == tag.tag_key)
                {
                    Some(have) => have.tag_value.clone_from(&tag.tag_value),
                    None => gateway.wire.tags.push(ResourceTag {
                        tag_key: tag.tag_key.clone(),
                        tag_value: tag.tag_value.clone(),
                    }),
                }
            }
        }
    }
    Ok(TagResourcesResponse::default())
}

pub(super) fn untag_resources(
    ctx: &mut Ctx<'_>,
    req: UnTagResources,
) -> Result<UnTagResourcesResponse, ApiError> {
    check_type(&req.resource_type)?;
    check_ids(&req.resource_id)?;
    let all = req.all == Some(true);
    if req.tag_key.is_empty() && !all {
        return Err(missing("TagKey"));
    }
    for id in &req.resource_id {
        if !ctx.state.nat_gateways.contains_key(id) {
            return Err(gateway_not_found());
        }
    }
    for id in &req.resource_id {
        if let Some(gateway) = ctx.state.nat_gateways.get_mut(id) {
            gateway
                .wire
                .tags
                .retain(|t| !all && !req.tag_key.contains(&t.tag_key));
        }
    }
    Ok(UnTagResourcesResponse::default())
}
