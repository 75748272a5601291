//! ListEnhanhcedNatGatewayAvailableZones (the service's spelling): the zones
//! where Enhanced gateways can be created, with their display names.

use super::given;
use crate::cloud::alibaba::actions::nat_gateway::{
    ListEnhanhcedNatGatewayAvailableZones, ListEnhanhcedNatGatewayAvailableZonesResponse, Zone,
};
use crate::emulator::ApiError;
use crate::emulator::alibaba::Ctx;

pub(super) fn list_zones(
    ctx: &mut Ctx<'_>,
    req: ListEnhanhcedNatGatewayAvailableZones,
) -> Result<ListEnhanhcedNatGatewayAvailableZonesResponse, ApiError> {
    let english = given(&req.accept_language) == Some("en-US");
    let zones = ctx
        .region
        .zones
        .iter()
        .map(|zone_id| Zone {
            zone_id: zone_id.clone(),
            local_name: zone_local_name(&ctx.region.region_id, zone_id, english),
        })
        .collect();
    Ok(ListEnhanhcedNatGatewayAvailableZonesResponse {
        zones,
        ..ListEnhanhcedNatGatewayAvailableZonesResponse::default()
    })
}

/// A zone's display name, e.g. `华东 1 可用区 A` / `China (Hangzhou) Zone A`.
fn zone_local_name(region_id: &str, zone_id: &str, english: bool) -> String {
    const NAMES: &[(&str, &str, &str)] = &[
        ("cn-qingdao", "华北 1", "China (Qingdao)"),
        ("cn-beijing", "华北 2", "China (Beijing)"),
        ("cn-zhangjiakou", "华北 3", "China (Zhangjiakou)"),
        ("cn-hangzhou", "华东 1", "China (Hangzhou)"),
        ("cn-shanghai", "华东 2", "China (Shanghai)"),
        ("cn-shenzhen", "华南 1", "China (Shenzhen)"),
        ("cn-chengdu", "西南 1", "China (Chengdu)"),
    ];
    let letter = zone_id
        .strip_prefix(region_id)
        .and_then(|rest| rest.strip_prefix('-'))
        .unwrap_or(zone_id)
        .to_uppercase();
    let region = NAMES.iter().find(|(id, _, _)| *id == region_id);
    match (region, english) {
        (Some((_, _, en)), true) => format!("{en} Zone {letter}"),
        (Some((_, zh, _)), false) => format!("{zh} 可用区 {letter}"),
        (None, true) => format!("{region_id} Zone {letter}"),
        (None, false) => format!("{region_id} 可用区 {letter}"),
    }
}

#[cfg(test)]
mod tests;
