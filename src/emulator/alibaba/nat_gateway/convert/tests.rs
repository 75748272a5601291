use crate::emulator::alibaba::nat_gateway::testing::*;

#[test]
fn conversion_to_enhanced_reports_its_steps() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let never = code(b.call("GetNatGatewayConvertStatus", &[("NatGatewayId", &id)]));
    assert_eq!(never, (404, "InvalidConvertTask.NotFound".into()));

    b.call(
        "UpdateNatGatewayNatType",
        &[
            ("NatGatewayId", &id),
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_A),
        ],
    )
    .unwrap();
    let g = gateway(&mut b, &id);
    assert_eq!(
        (g["Status"].as_str(), g["NatType"].as_str()),
        (Some("Converting"), Some("Normal"))
    );
    assert!(g.get("NatGatewayPrivateInfo").is_none(), "not Enhanced yet");
    assert!(b.state.conversions.contains_key(&id));

    let steps = |b: &mut Bench| -> Vec<(String, String)> {
        let v = b
            .call("GetNatGatewayConvertStatus", &[("NatGatewayId", &id)])
            .unwrap();
        assert_eq!(v["DstNatType"], "Enhanced");
        assert_eq!(v["NatGatewayId"], id.as_str());
        v["ConvertSteps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["StepName"].as_str().unwrap().to_string(),
                    s["StepStatus"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let pair = |n: &str, s: &str| (n.to_string(), s.to_string());
    assert_eq!(steps(&mut b), vec![pair("init", "processing")]);
    b.advance(30); // 25 %: init (5) and check (10) done, configure running
    assert_eq!(
        steps(&mut b),
        vec![
            pair("init", "successful"),
            pair("check", "successful"),
            pair("configure", "processing")
        ]
    );
    b.advance(80); // 91.7 %: conf_delete running
    let now = steps(&mut b);
    assert_eq!(now.len(), 5);
    assert_eq!(now[4], pair("conf_delete", "processing"));
    assert_eq!(status(&mut b, &id), "Converting");
    b.advance(10);
    let done = steps(&mut b);
    assert_eq!(done.len(), 6);
    assert!(done.iter().all(|(_, s)| s == "successful"));
    assert_eq!(done[5].0, "end_success");

    let g = gateway(&mut b, &id);
    assert_eq!(
        (g["Status"].as_str(), g["NatType"].as_str()),
        (Some("Available"), Some("Enhanced"))
    );
    assert_eq!(g["NatGatewayPrivateInfo"]["VswitchId"], VSW_A);
    assert_eq!(g["NatGatewayPrivateInfo"]["IzNo"], "cn-hangzhou-a");

    let again = code(b.call(
        "UpdateNatGatewayNatType",
        &[
            ("NatGatewayId", &id),
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_A),
        ],
    ));
    assert_eq!(
        again,
        (400, "OperationFailed.NatTypeAlreadyEnhanced".into())
    );
    let back = code(b.call(
        "UpdateNatGatewayNatType",
        &[
            ("NatGatewayId", &id),
            ("NatType", "Normal"),
            ("VSwitchId", VSW_A),
        ],
    ));
    assert_eq!(back, (400, "OperationFailed.NatTypeNotEnhanced".into()));
}

#[test]
fn conversion_step_times_follow_the_shares() {
    use crate::emulator::state::Conversion;
    let c = Conversion {
        started_ms: 0,
        due_ms: 100_000,
        dst_nat_type: "Enhanced".into(),
    };
    let steps = super::convert_steps(&c, 200_000);
    let times: Vec<&str> = steps.iter().map(|s| s.step_start_time.as_str()).collect();
    assert_eq!(
        times,
        [
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:00:05Z",
            "1970-01-01T00:00:15Z",
            "1970-01-01T00:00:50Z",
            "1970-01-01T00:01:25Z",
            "1970-01-01T00:01:40Z",
        ]
    );
}

#[test]
fn conversion_checks_its_preconditions() {
    let mut b = Bench::new();
    let id = available(&mut b, &[]);
    let update = |b: &mut Bench, params: &[(&str, &str)]| {
        let mut p = vec![("NatGatewayId", id.as_str()), ("NatType", "Enhanced")];
        p.extend_from_slice(params);
        code(b.call("UpdateNatGatewayNatType", &p))
    };
    let missing_vsw = code(b.call(
        "UpdateNatGatewayNatType",
        &[("NatGatewayId", &id), ("NatType", "Enhanced")],
    ));
    assert_eq!(missing_vsw, (400, "MissingVSwitchId".into()));
    assert_eq!(
        update(&mut b, &[("VSwitchId", "vsw-nope")]),
        (400, "OperationFailed.VswitchNotExist".into())
    );
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_OTHER_VPC)]),
        (400, "OperationFailed.VSwitchNotBelongToVpc".into())
    );
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A), ("DryRun", "true")]),
        (400, "DryRunOperation".into())
    );
    assert_eq!(
        status(&mut b, &id),
        "Available",
        "a dry run changes nothing"
    );
    let unknown = code(b.call(
        "UpdateNatGatewayNatType",
        &[
            ("NatGatewayId", "ngw-x"),
            ("NatType", "Enhanced"),
            ("VSwitchId", VSW_A),
        ],
    ));
    assert_eq!(unknown, (400, "NATGW_NOT_EXIST".into()));

    let ip = bind_eip(&mut b, &id, EIP1, "Associating");
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A)]),
        (400, "OperationFailed.EipInMiddleStatus".into())
    );
    b.state.eips.get_mut(EIP1).unwrap().wire.status = "InUse".into();
    add_snat(&mut b, &id, &ip, "Pending");
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A)]),
        (400, "OperationFailed.SnatInMiddleStatus".into())
    );
    b.state.snat_entries.clear();
    add_dnat(&mut b, &id, &ip, "Deleting");
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A)]),
        (400, "OperationFailed.DnatInMiddleStatus".into())
    );
    b.state.forward_entries.clear();
    add_package(&mut b, &id, "bwp-1", "118.1.1.1");
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A)]),
        (400, "OperationFailed.NatGwBindWithBandwidthPackage".into())
    );
    b.state.bandwidth_packages.clear();

    b.fixture.alibaba.regions[0].zones = vec!["cn-hangzhou-c".to_string()];
    assert_eq!(
        update(&mut b, &[("VSwitchId", VSW_A)]),
        (400, "OperationFailed.EnhancedInventoryNotEnough".into())
    );
    // An empty VSwitchId lets the service pick a vSwitch in a supported zone.
    b.call(
        "UpdateNatGatewayNatType",
        &[
            ("NatGatewayId", &id),
            ("NatType", "Enhanced"),
            ("VSwitchId", ""),
        ],
    )
    .unwrap();
    let info = b.state.nat_gateways[&id]
        .wire
        .nat_gateway_private_info
        .clone()
        .unwrap();
    assert_eq!(info.iz_no, "cn-hangzhou-c");
    let busy = update(&mut b, &[("VSwitchId", VSW_A)]);
    assert_eq!(
        busy,
        (400, "IncorrectStatus.NatGateway".into()),
        "while Converting"
    );

    b.fixture.alibaba.regions[0].zones.clear();
    let unsupported = update(&mut b, &[("VSwitchId", VSW_A)]);
    assert_eq!(unsupported, (400, "OperationUnsupported.NatConvert".into()));
}

#[test]
fn convert_status_of_an_unknown_gateway() {
    let mut b = Bench::new();
    let got = code(b.call("GetNatGatewayConvertStatus", &[("NatGatewayId", "ngw-x")]));
    assert_eq!(got, (404, "InvalidNatGatewayId.NotFound".into()));
    let got = code(b.call("GetNatGatewayConvertStatus", &[]));
    assert_eq!(got, (400, "MissingNatGatewayId".into()));
}
