use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn writes_are_refused_while_the_gateway_is_busy() {
    let mut b = Bench::new();
    let id = create(&mut b, &[]);
    let writes: &[(&str, &[(&str, &str)])] = &[
        ("ModifyNatGatewayAttribute", &[("Name", "renamed")]),
        ("ModifyNatGatewaySpec", &[("Spec", "Middle")]),
        (
            "UpdateNatGatewayNatType",
            &[("NatType", "Enhanced"), ("VSwitchId", VSW_A)],
        ),
        ("DeleteNatGateway", &[]),
        ("DeleteNatGateway", &[("Force", "true")]),
    ];
    for (action, params) in writes {
        let mut p = vec![("NatGatewayId", id.as_str())];
        p.extend_from_slice(params);
        assert_eq!(
            code(b.call(action, &p)),
            (400, "IncorrectStatus.NatGateway".into()),
            "{action} while Creating"
        );
    }
    assert_eq!(status(&mut b, &id), "Creating", "queries still work");
    b.advance(60);
    b.call(
        "ModifyNatGatewaySpec",
        &[("NatGatewayId", &id), ("Spec", "Middle")],
    )
    .unwrap();
    let got = code(b.call(
        "ModifyNatGatewayAttribute",
        &[("NatGatewayId", &id), ("Name", "ab")],
    ));
    assert_eq!(
        got,
        (400, "IncorrectStatus.NatGateway".into()),
        "while Modifying"
    );
}
