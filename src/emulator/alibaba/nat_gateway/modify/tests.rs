use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn modify_attribute_changes_name_description_and_flags() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    b.call(
        "ModifyNatGatewayAttribute",
        &[
            ("NatGatewayId", &id),
            ("Name", "网关-1"),
            ("Description", "a new description"),
            ("IcmpReplyEnabled", "false"),
        ],
    )
    .unwrap();
    let g = gateway(&mut b, &id);
    assert_eq!(g["Name"], "网关-1");
    assert_eq!(g["Description"], "a new description");
    assert_eq!(g["IcmpReplyEnabled"], false);
    assert_eq!(g["Status"], "Available", "synchronous");

    b.call(
        "ModifyNatGatewayAttribute",
        &[("NatGatewayId", &id), ("EipBindMode", "NAT")],
    )
    .unwrap();
    assert_eq!(gateway(&mut b, &id)["EipBindMode"], "NAT");
    let cases: &[Case] = &[
        (
            &[("EipBindMode", "MULTI_BINDED")],
            400,
            "OperationUnsupported.EipBindMode",
        ),
        (
            &[("EipBindMode", "X")],
            400,
            "InvalidParameter.EipBindMode.ValueNotSupported",
        ),
        (&[("Name", "_x")], 400, "InvalidParameter.Name.Malformed"),
        (
            &[("Description", "https://x")],
            400,
            "InvalidParameter.Description.Malformed",
        ),
        (
            &[("Description", "1st gateway")],
            400,
            "InvalidParameter.Description.Malformed",
        ),
        (&[], 400, "MissingParameter"),
    ];
    for (params, http, expected) in cases {
        let mut p = vec![("NatGatewayId", id.as_str())];
        p.extend_from_slice(params);
        let got = code(b.call("ModifyNatGatewayAttribute", &p));
        assert_eq!(got, (*http, expected.to_string()), "{params:?}");
    }
    let got = code(b.call(
        "ModifyNatGatewayAttribute",
        &[("NatGatewayId", "ngw-x"), ("Name", "ab")],
    ));
    assert_eq!(got, (404, "InvalidNatGatewayId.NotFound".into()));
    let got = code(b.call("ModifyNatGatewayAttribute", &[("Name", "ab")]));
    assert_eq!(got, (400, "MissingNatGatewayId".into()));
}

#[test]
fn modified_descriptions_start_with_a_letter_created_ones_need_not() {
    let mut b = Bench::new();
    let id = available(&mut b, &[("Description", "1st gateway")]);
    assert_eq!(gateway(&mut b, &id)["Description"], "1st gateway");
    for bad in ["1st gateway", "_underscored", " spaced"] {
        let got = code(b.call(
            "ModifyNatGatewayAttribute",
            &[("NatGatewayId", &id), ("Description", bad)],
        ));
        assert_eq!(
            got,
            (400, "InvalidParameter.Description.Malformed".into()),
            "{bad}"
        );
    }
    assert_eq!(gateway(&mut b, &id)["Description"], "1st gateway");
    for good in ["第一 gateway", "Second gateway"] {
        b.call(
            "ModifyNatGatewayAttribute",
            &[("NatGatewayId", &id), ("Description", good)],
        )
        .unwrap();
        assert_eq!(gateway(&mut b, &id)["Description"], good);
    }
}

#[test]
fn modify_spec_goes_through_modifying() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let same = code(b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", &id), ("Spec", "Small")],
    ));
    assert_eq!(same, (400, "NATGW_MODIFY_SPEC_SAME".into()));
    let bad = code(b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", &id), ("Spec", "Tiny")],
    ));
    assert_eq!(bad, (400, "InvalidParameter.Spec.ValueNotSupported".into()));
    let empty = code(b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", &id), ("Spec", "")],
    ));
    assert_eq!(empty, (400, "MissingSpec".into()));
    let unknown = code(b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", "ngw-x"), ("Spec", "Large")],
    ));
    assert_eq!(unknown, (404, "InvalidNatGatewayId.NotFound".into()));

    b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", &id), ("Spec", "XLarge.1")],
    )
    .unwrap();
    let g = gateway(&mut b, &id);
    assert_eq!(
        (g["Status"].as_str(), g["Spec"].as_str()),
        (Some("Modifying"), Some("Small"))
    );
    b.advance(29);
    assert_eq!(status(&mut b, &id), "Modifying");
    b.advance(1);
    let g = gateway(&mut b, &id);
    assert_eq!(
        (g["Status"].as_str(), g["Spec"].as_str()),
        (Some("Available"), Some("XLarge.1"))
    );
}
