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

#[test]
fn tags_are_added_replaced_removed_and_filtered_on() {
    let mut b = Bench::new();
    let id = available(&mut b, &[("Tag.1.Key", "team"), ("Tag.1.Value", "a")]);
    let other = available(&mut b, &[]);
    let tags = |b: &mut Bench, id: &str| -> Vec<(String, String)> {
        gateway(b, id)["Tags"]["Tag"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|t| {
                (
                    t["TagKey"].as_str().unwrap_or_default().to_string(),
                    t["TagValue"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };
    let tag = |b: &mut Bench, params: &[(&str, &str)]| {
        let mut p = vec![("ResourceType", "NATGATEWAY")];
        p.extend_from_slice(params);
        b.call("TagResources", &p)
    };
    // A value replaced, a key added, on two gateways at once.
    tag(
        &mut b,
        &[
            ("ResourceId.1", id.as_str()),
            ("ResourceId.2", other.as_str()),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "b"),
            ("Tag.2.Key", "cost"),
            ("Tag.2.Value", "42"),
        ],
    )
    .unwrap();
    assert_eq!(
        tags(&mut b, &id),
        vec![("team".into(), "b".into()), ("cost".into(), "42".into())]
    );
    assert_eq!(tags(&mut b, &other).len(), 2);
    // The describe filter ANDs its tags.
    let found = b
        .call(
            "DescribeNatGateways",
            &[
                ("Tag.1.Key", "team"),
                ("Tag.1.Value", "b"),
                ("Tag.2.Key", "cost"),
            ],
        )
        .unwrap();
    assert_eq!(found["TotalCount"], 2);
    // Removed by key; the others stay.
    b.call(
        "UnTagResources",
        &[
            ("ResourceType", "NATGATEWAY"),
            ("ResourceId.1", id.as_str()),
            ("TagKey.1", "team"),
        ],
    )
    .unwrap();
    assert_eq!(tags(&mut b, &id), vec![("cost".into(), "42".into())]);
    // Refusals: reserved keys, an unknown gateway, another resource type,
    // more than 20 tags.
    let refused = code(tag(
        &mut b,
        &[
            ("ResourceId.1", &id),
            ("Tag.1.Key", "acs:x"),
            ("Tag.1.Value", "v"),
        ],
    ));
    assert_eq!(refused, (400, "InvalidTagKey.Malformed".into()));
    let refused = code(tag(
        &mut b,
        &[("ResourceId.1", "ngw-nothere"), ("Tag.1.Key", "k")],
    ));
    assert_eq!(refused.1, "InvalidNatGatewayId.NotFound");
    let refused = code(b.call(
        "TagResources",
        &[
            ("ResourceType", "VPC"),
            ("ResourceId.1", &id),
            ("Tag.1.Key", "k"),
        ],
    ));
    assert_eq!(refused.1, "InvalidResourceType.NotSupported");
    let keys: Vec<(String, String)> = (1..=20)
        .map(|n| (format!("Tag.{n}.Key"), format!("k{n}")))
        .collect();
    let mut p: Vec<(&str, &str)> = vec![("ResourceId.1", &id)];
    p.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(
        code(tag(&mut b, &p)).1,
        "QuotaExceed.TagNum",
        "21 with cost"
    );
}
