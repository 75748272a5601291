use crate::emulator::alibaba::entries::testing::*;

// -- SNAT ---------------------------------------------------------------

#[test]
fn snat_create_by_vswitch_and_by_cidr() {
    let mut b = bench();
    let p = with(
        snat(IP1, "SourceVSwitchId", VSW11),
        &[("SnatEntryName", "egress-1"), ("EipAffinity", "1")],
    );
    let v = b.call("CreateSnatEntry", &p).unwrap();
    let id = v["SnatEntryId"].as_str().unwrap().to_string();
    assert!(id.starts_with("snat-") && id.len() == 27, "{id}");
    let e = snat_entry(&mut b, &id);
    assert_eq!(e["Status"], "Pending");
    assert_eq!(e["SourceVSwitchId"], VSW11);
    assert_eq!(e["SourceCIDR"], "172.16.1.0/24");
    assert_eq!(e["SnatIp"], IP1);
    assert_eq!(e["SnatEntryName"], "egress-1");
    assert_eq!(e["EipAffinity"], 1);
    assert_eq!(e["NatGatewayId"], "ngw-natop1");
    assert_eq!(e["SnatTableId"], STB);
    b.advance(3);
    assert_eq!(snat_entry(&mut b, &id)["Status"], "Available");
    assert_eq!(b.state.ip_usage("ngw-natop1", IP1), "UsedBySnatTable");
    // A CIDR entry, with an IP pool (spaces tolerated, stored without).
    let pool = format!("{IP2}, {IP3}");
    let id = snat_ok(&mut b, &snat(&pool, "SourceCIDR", "172.16.2.8/29"));
    let e = snat_entry(&mut b, &id);
    assert_eq!(e["SnatIp"], format!("{IP2},{IP3}"));
    assert_eq!(
        (e["SourceCIDR"].as_str(), e["SourceVSwitchId"].as_str()),
        (Some("172.16.2.8/29"), Some(""))
    );
    assert_eq!(e["EipAffinity"], 0);
}

#[test]
fn snat_parameter_rules() {
    let mut b = bench();
    let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateSnatEntry", p));
    let invalid = (400, "INVALID_PARAMETER".to_string());
    assert_eq!(
        create(&mut b, &[("SnatTableId", STB), ("SnatIp", IP1)]),
        invalid
    );
    let both = with(
        snat(IP1, "SourceVSwitchId", VSW11),
        &[("SourceCIDR", "172.16.1.0/24")],
    );
    assert_eq!(create(&mut b, &both), invalid);
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceCIDR", "172.16.1.1/24")),
        invalid
    );
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceCIDR", "172.16.1.0/33")),
        invalid
    );
    assert_eq!(
        create(
            &mut b,
            &snat(&format!("{IP1},{IP1}"), "SourceCIDR", "172.16.1.0/24")
        ),
        invalid
    );
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceCIDR", "192.168.1.0/24")),
        (400, "NOT_ALLOW_USE_SOURCECIDR".into())
    );
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceCIDR", "172.0.0.0/8")),
        (400, "NOT_ALLOW_USE_SOURCECIDR".into())
    );
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceVSwitchId", "vsw-nope")),
        (404, "InvalidVSwitchId.NotFound".into())
    );
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceVSwitchId", VSW21)),
        (400, "OperationFailed.VswitchNotBelongToVpc".into())
    );
    assert_eq!(
        create(&mut b, &snat("47.97.1", "SourceVSwitchId", VSW11)),
        (400, "InvalidSnatIp.Malformed".into())
    );
    assert_eq!(
        create(&mut b, &snat(&format!("{IP1},"), "SourceVSwitchId", VSW11)),
        (400, "InvalidSnatIp.Malformed".into())
    );
    assert_eq!(
        create(&mut b, &snat(UNBOUND, "SourceVSwitchId", VSW11)),
        (404, "InvalidSnatIp.NotFound".into())
    );
    assert_eq!(
        create(
            &mut b,
            &snat(&format!("{IP1},{UNBOUND}"), "SourceVSwitchId", VSW11)
        ),
        (404, "InvalidSnatIp.NotFound".into())
    );
    let many: Vec<String> = (0..65)
        .map(|i| format!("47.1.{}.{}", i / 250, i % 250 + 1))
        .collect();
    assert_eq!(
        create(&mut b, &snat(&many.join(","), "SourceVSwitchId", VSW11)),
        (400, "SNAT_IP_POOL_COUNT_TOO_MANY".into())
    );
    let bad_affinity = with(snat(IP1, "SourceVSwitchId", VSW11), &[("EipAffinity", "2")]);
    assert_eq!(
        create(&mut b, &bad_affinity),
        (400, "InvalidParameter".into())
    );
    let bad_name = with(
        snat(IP1, "SourceVSwitchId", VSW11),
        &[("SnatEntryName", "x")],
    );
    assert_eq!(
        create(&mut b, &bad_name),
        (400, "InvalidParameter.Name.Malformed".into())
    );
    assert_eq!(
        create(&mut b, &[("SnatTableId", STB), ("SnatIp", "")]),
        (400, "MissingSnatIp".into())
    );
    let mut unknown = snat(IP1, "SourceVSwitchId", VSW11);
    unknown[0] = ("SnatTableId", "stb-nope");
    assert_eq!(
        create(&mut b, &unknown),
        (404, "InvalidSnatTableId.NotFound".into())
    );
    b.state
        .nat_gateways
        .get_mut("ngw-natop1")
        .unwrap()
        .wire
        .status = "Creating".into();
    assert_eq!(
        create(&mut b, &snat(IP1, "SourceVSwitchId", VSW11)),
        (400, "IncorrectStatus.NatGateway".into())
    );
    assert!(b.state.snat_entries.is_empty());
}

#[test]
fn snat_one_entry_per_source_and_no_overlap() {
    let mut b = bench();
    snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
    snat_ok(&mut b, &snat(IP1, "SourceCIDR", "172.16.2.0/25"));
    let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateSnatEntry", p));
    let dup = (400, "Forbidden.SourceVSwitchId.Duplicated".to_string());
    let conflict = (400, "OperationUnsupported.CidrConflict".to_string());
    assert_eq!(create(&mut b, &snat(IP2, "SourceVSwitchId", VSW11)), dup);
    assert_eq!(
        create(&mut b, &snat(IP2, "SourceCIDR", "172.16.1.0/24")),
        dup
    );
    assert_eq!(
        create(&mut b, &snat(IP2, "SourceCIDR", "172.16.2.0/25")),
        dup
    );
    assert_eq!(
        create(&mut b, &snat(IP2, "SourceCIDR", "172.16.1.5/32")),
        conflict
    );
    assert_eq!(
        create(&mut b, &snat(IP2, "SourceCIDR", "172.16.0.0/16")),
        conflict
    );
    // The vSwitch 172.16.2.0/24 overlaps the CIDR entry.
    assert_eq!(
        create(&mut b, &snat(IP2, "SourceVSwitchId", VSW12)),
        conflict
    );
    snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.16.2.128/25"));
    snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.16.3.7/32"));
    assert_eq!(snat_entries(&mut b, &[])["TotalCount"], 4);
}

#[test]
fn snat_quota_is_40_entries_per_table() {
    let mut b = bench();
    for i in 0..40u8 {
        let cidr = format!("172.16.100.{i}/32");
        snat_ok(&mut b, &snat(IP1, "SourceCIDR", &cidr));
    }
    let p = snat(IP1, "SourceCIDR", "172.16.101.0/32");
    assert_eq!(
        code(b.call("CreateSnatEntry", &p)),
        (400, "Forbidden.SnatEntryCountLimited".into())
    );
}

#[test]
fn snat_pending_entry_locks_every_write_on_the_table() {
    let mut b = bench();
    let first = snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
    b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW12))
        .unwrap();
    let busy = (400, "IncorretSnatEntryStatus".to_string());
    assert_eq!(
        code(b.call("CreateSnatEntry", &snat(IP1, "SourceCIDR", "172.16.3.0/24"))),
        busy
    );
    let modify = [
        ("SnatTableId", STB),
        ("SnatEntryId", first.as_str()),
        ("SnatIp", IP2),
    ];
    assert_eq!(code(b.call("ModifySnatEntry", &modify)), busy);
    let delete = [("SnatTableId", STB), ("SnatEntryId", first.as_str())];
    assert_eq!(code(b.call("DeleteSnatEntry", &delete)), busy);
    b.advance(3);
    b.call("ModifySnatEntry", &modify).unwrap();
    assert_eq!(code(b.call("DeleteSnatEntry", &delete)), busy);
    b.advance(3);
    b.call("DeleteSnatEntry", &delete).unwrap();
}

#[test]
fn snat_modify_changes_ips_and_name_only() {
    let mut b = bench();
    let id = snat_ok(
        &mut b,
        &with(
            snat(IP1, "SourceVSwitchId", VSW11),
            &[("SnatEntryName", "egress")],
        ),
    );
    let modify = |b: &mut Bench, extra: &[(&str, &str)]| {
        let p = with(
            vec![("SnatTableId", STB), ("SnatEntryId", id.as_str())],
            extra,
        );
        b.call("ModifySnatEntry", &p)
    };
    let pool = format!("{IP1},{IP2}");
    modify(
        &mut b,
        &[("SnatIp", &pool), ("SourceCIDR", "172.16.9.0/24")],
    )
    .unwrap();
    let e = snat_entry(&mut b, &id);
    assert_eq!(
        (e["Status"].as_str(), e["SnatIp"].as_str()),
        (Some("Pending"), Some(pool.as_str()))
    );
    assert_eq!(
        (e["SourceCIDR"].as_str(), e["SnatEntryName"].as_str()),
        (Some("172.16.1.0/24"), Some("egress"))
    );
    b.advance(3);
    modify(
        &mut b,
        &[("SnatEntryName", "renamed"), ("EipAffinity", "1")],
    )
    .unwrap();
    b.advance(3);
    let e = snat_entry(&mut b, &id);
    assert_eq!(
        (e["SnatEntryName"].as_str(), e["SnatIp"].as_str()),
        (Some("renamed"), Some(pool.as_str()))
    );
    assert_eq!(e["EipAffinity"], 1);
    assert_eq!(
        code(modify(&mut b, &[("SnatIp", "1.2.3")])),
        (400, "InvalidSnatIp.Malformed".into())
    );
    assert_eq!(
        code(modify(&mut b, &[("SnatIp", UNBOUND)])),
        (404, "InvalidSnatIp.NotFound".into())
    );
    assert_eq!(
        code(modify(&mut b, &[("SnatEntryName", "-x")])),
        (400, "InvalidParameter.Name.Malformed".into())
    );
    let p = [("SnatTableId", STB), ("SnatEntryId", "snat-nope")];
    assert_eq!(
        code(b.call("ModifySnatEntry", &p)),
        (404, "InvalidSnatEntryId.NotFound".into())
    );
    let p = [("SnatTableId", "stb-nope"), ("SnatEntryId", id.as_str())];
    assert_eq!(
        code(b.call("ModifySnatEntry", &p)),
        (404, "InvalidSnatTableId.NotFound".into())
    );
}

#[test]
fn snat_delete_goes_through_deleting() {
    let mut b = bench();
    let id = snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
    let p = [("SnatTableId", STB), ("SnatEntryId", id.as_str())];
    b.call("DeleteSnatEntry", &p).unwrap();
    assert_eq!(snat_entry(&mut b, &id)["Status"], "Deleting");
    assert_eq!(
        code(b.call("DeleteSnatEntry", &p)),
        (400, "IncorretSnatEntryStatus".into())
    );
    let m = [
        ("SnatTableId", STB),
        ("SnatEntryId", id.as_str()),
        ("SnatIp", IP2),
    ];
    assert_eq!(
        code(b.call("ModifySnatEntry", &m)),
        (400, "IncorretSnatEntryStatus".into())
    );
    // The source stays taken until the entry is gone.
    assert_eq!(
        code(b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW11))),
        (400, "Forbidden.SourceVSwitchId.Duplicated".into())
    );
    b.advance(10);
    assert_eq!(snat_entries(&mut b, &[])["TotalCount"], 0);
    assert_eq!(
        code(b.call("DeleteSnatEntry", &p)),
        (404, "InvalidSnatEntryId.NotFound".into())
    );
    snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11));
}

#[test]
fn snat_describe_filters_and_pages() {
    let mut b = bench();
    let mut ids = Vec::new();
    for i in 0..7u8 {
        let cidr = format!("172.16.5{i}.0/24");
        let ip = if i % 2 == 0 {
            IP1.to_string()
        } else {
            format!("{IP2},{IP3}")
        };
        let name = format!("snat-{i}");
        ids.push(snat_ok(
            &mut b,
            &with(snat(&ip, "SourceCIDR", &cidr), &[("SnatEntryName", &name)]),
        ));
    }
    ids.push(snat_ok(&mut b, &snat(IP1, "SourceVSwitchId", VSW11)));
    let v = snat_entries(&mut b, &[("PageNumber", "2"), ("PageSize", "3")]);
    assert_eq!(
        (
            v["TotalCount"].as_u64(),
            v["PageNumber"].as_u64(),
            v["PageSize"].as_u64()
        ),
        (Some(8), Some(2), Some(3))
    );
    let got: Vec<&str> = v["SnatTableEntries"]["SnatTableEntry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["SnatEntryId"].as_str().unwrap())
        .collect();
    assert_eq!(
        got,
        ids[3..6].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let count =
        |b: &mut Bench, f: &[(&str, &str)]| snat_entries(b, f)["TotalCount"].as_u64().unwrap();
    assert_eq!(count(&mut b, &[("SnatIp", IP1)]), 5);
    assert_eq!(count(&mut b, &[("SnatIp", IP3)]), 3);
    assert_eq!(count(&mut b, &[("SnatIp", &format!("{IP3},{IP2}"))]), 3);
    assert_eq!(count(&mut b, &[("SourceCIDR", "172.16.52.0/24")]), 1);
    assert_eq!(count(&mut b, &[("SourceCIDR", "172.16.1.0/24")]), 1);
    assert_eq!(count(&mut b, &[("SourceVSwitchId", VSW11)]), 1);
    assert_eq!(count(&mut b, &[("SnatEntryName", "snat-4")]), 1);
    assert_eq!(count(&mut b, &[("SnatEntryId", ids[7].as_str())]), 1);
    assert_eq!(count(&mut b, &[("NatGatewayId", "ngw-other")]), 0);
    let v = b
        .call(
            "DescribeSnatTableEntries",
            &[("SnatTableId", ""), ("NatGatewayId", "ngw-natop1")],
        )
        .unwrap();
    assert_eq!(v["TotalCount"], 8);
    let p = [("SnatTableId", ""), ("NatGatewayId", "ngw-nope")];
    assert_eq!(
        code(b.call("DescribeSnatTableEntries", &p)),
        (404, "InvalidNatGatewayId.NotFound".into())
    );
    assert_eq!(
        code(b.call("DescribeSnatTableEntries", &[("SnatTableId", "stb-nope")])),
        (404, "InvalidSnatTableId.NotFound".into())
    );
    assert_eq!(
        code(b.call("DescribeSnatTableEntries", &[])),
        (400, "MissingSnatTableId".into())
    );
}

#[test]
fn snat_refuses_an_ip_mapped_by_dnat_but_shares_port_mappings() {
    let mut b = bench();
    dnat_ok(&mut b, &dnat(IP1, "Any", "172.16.1.10", "Any", "Any"));
    dnat_ok(&mut b, &dnat(IP2, "22", "172.16.1.11", "22", "TCP"));
    let used = (400, "Forbidden.IpUsedInForwardTable".to_string());
    assert_eq!(
        code(b.call("CreateSnatEntry", &snat(IP1, "SourceVSwitchId", VSW11))),
        used
    );
    assert_eq!(
        code(b.call(
            "CreateSnatEntry",
            &snat(&format!("{IP2},{IP1}"), "SourceVSwitchId", VSW11)
        )),
        used
    );
    let id = snat_ok(&mut b, &snat(IP2, "SourceVSwitchId", VSW11));
    let p = [
        ("SnatTableId", STB),
        ("SnatEntryId", id.as_str()),
        ("SnatIp", IP1),
    ];
    assert_eq!(code(b.call("ModifySnatEntry", &p)), used);
    // An IP mapping is per gateway: another gateway's DNAT does not matter.
    add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
    bind(&mut b, UNBOUND, "ngw-natop2");
    let mut other = snat(UNBOUND, "SourceVSwitchId", VSW11);
    other[0] = ("SnatTableId", "stb-natop2");
    b.call("CreateSnatEntry", &other).unwrap();
}
