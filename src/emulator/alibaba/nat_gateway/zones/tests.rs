use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn zones_are_the_region_fixture_zones() {
    let mut b = Bench::new();
    let v = b
        .call("ListEnhanhcedNatGatewayAvailableZones", &[])
        .unwrap();
    assert_eq!(
        v["Zones"],
        serde_json::json!([
            {"ZoneId": "cn-hangzhou-a", "LocalName": "华东 1 可用区 A"},
            {"ZoneId": "cn-hangzhou-b", "LocalName": "华东 1 可用区 B"},
            {"ZoneId": "cn-hangzhou-c", "LocalName": "华东 1 可用区 C"},
        ])
    );
    let v = b
        .call(
            "ListEnhanhcedNatGatewayAvailableZones",
            &[("AcceptLanguage", "en-US")],
        )
        .unwrap();
    assert_eq!(v["Zones"][1]["LocalName"], "China (Hangzhou) Zone B");
    assert_eq!(
        super::zone_local_name("xx-east-1", "xx-east-1a", true),
        "xx-east-1 Zone XX-EAST-1A"
    );
    assert!(
        b.call("ListEnhancedNatGatewayAvailableZones", &[]).is_err(),
        "the seed spelling is unknown"
    );
}
