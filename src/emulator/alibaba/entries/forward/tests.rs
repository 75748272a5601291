use crate::emulator::alibaba::entries::testing::*;

// -- DNAT ---------------------------------------------------------------

#[test]
fn dnat_create_is_pending_then_available_and_described() {
    let mut b = bench();
    let p = with(
        dnat(IP1, "8080", "172.16.1.10", "80", "TCP"),
        &[("ForwardEntryName", "web-1"), ("ClientToken", "t1")],
    );
    let v = b.call("CreateForwardEntry", &p).unwrap();
    let id = v["ForwardEntryId"].as_str().unwrap().to_string();
    assert!(id.starts_with("fwd-") && id.len() == 26, "{id}");
    let e = forward_entry(&mut b, &id);
    assert_eq!(e["Status"], "Pending");
    assert_eq!(e["IpProtocol"], "tcp");
    assert_eq!(e["ExternalPort"], "8080");
    assert_eq!(e["InternalPort"], "80");
    assert_eq!(e["ExternalIp"], IP1);
    assert_eq!(e["InternalIp"], "172.16.1.10");
    assert_eq!(e["ForwardEntryName"], "web-1");
    assert_eq!(e["ForwardTableId"], FTB);
    assert_eq!(e["NatGatewayId"], "ngw-natop1");
    assert_eq!(
        b.state.forward_entries[&id].client_token.as_deref(),
        Some("t1")
    );
    b.advance(2);
    assert_eq!(forward_entry(&mut b, &id)["Status"], "Pending");
    b.advance(1);
    assert_eq!(forward_entry(&mut b, &id)["Status"], "Available");
    assert_eq!(b.state.ip_usage("ngw-natop1", IP1), "UsedByForwardTable");
}

#[test]
fn dnat_missing_and_empty_parameters() {
    let mut b = bench();
    let p = vec![("ForwardTableId", FTB), ("ExternalIp", IP1)];
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "MissingExternalPort".into())
    );
    let p = dnat(IP1, "80", "", "80", "TCP");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "MissingInternalIp".into())
    );
    let p = dnat(IP1, "80", "172.16.1.10", "80", " ");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "MissingIpProtocol".into())
    );
    let p = vec![("ForwardTableId", FTB)];
    assert_eq!(
        code(b.call("DeleteForwardEntry", &p)),
        (400, "MissingForwardEntryId".into())
    );
}

#[test]
fn dnat_formats() {
    let mut b = bench();
    let cases = [
        (
            dnat("47.97.1.300", "80", "172.16.1.10", "80", "TCP"),
            "InvalidExternalIp.Malformed",
        ),
        (
            dnat(IP1, "80", "172.16.1", "80", "TCP"),
            "InvalidInternalIp.Malformed",
        ),
        (
            dnat(IP1, "0", "172.16.1.10", "80", "TCP"),
            "InvalidExternalPort.Malformed",
        ),
        (
            dnat(IP1, "65536", "172.16.1.10", "80", "TCP"),
            "InvalidExternalPort.Malformed",
        ),
        (
            dnat(IP1, "20/10", "172.16.1.10", "80", "TCP"),
            "InvalidExternalPort.Malformed",
        ),
        (
            dnat(IP1, "80", "172.16.1.10", "x", "TCP"),
            "InvalidInternalPort.Malformed",
        ),
        (
            dnat(IP1, "80", "172.16.1.10", "80", "ICMP"),
            "InvalidProtocol.ValueNotSupported",
        ),
        // Any goes with Any ports only, and Any ports with Any only.
        (
            dnat(IP1, "80", "172.16.1.10", "80", "Any"),
            "InvalidExternalPort.Malformed",
        ),
        (
            dnat(IP1, "Any", "172.16.1.10", "80", "Any"),
            "InvalidInternalPort.Malformed",
        ),
        (
            dnat(IP1, "Any", "172.16.1.10", "Any", "TCP"),
            "InvalidExternalPort.Malformed",
        ),
        (
            dnat(IP1, "80", "172.16.1.10", "Any", "UDP"),
            "InvalidInternalPort.Malformed",
        ),
        // A range maps to a range of the same size.
        (
            dnat(IP1, "10/20", "172.16.1.10", "80/89", "TCP"),
            "InvalidInternalPort.Malformed",
        ),
        (
            dnat(IP1, "10/20", "172.16.1.10", "80", "TCP"),
            "InvalidInternalPort.Malformed",
        ),
    ];
    for (p, want) in cases {
        assert_eq!(
            code(b.call("CreateForwardEntry", &p)),
            (400, want.to_string()),
            "{p:?}"
        );
    }
    let p = with(
        dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
        &[("ForwardEntryName", "1bad")],
    );
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "InvalidParameter.Name.Malformed".into())
    );
    assert!(b.state.forward_entries.is_empty());
    // Case-insensitive protocol, a range of the same size, an IP mapping.
    let id = dnat_ok(&mut b, &dnat(IP1, "10/20", "172.16.1.10", "80/90", "udp"));
    let e = forward_entry(&mut b, &id);
    assert_eq!(
        (e["ExternalPort"].as_str(), e["InternalPort"].as_str()),
        (Some("10/20"), Some("80/90"))
    );
    assert_eq!(e["IpProtocol"], "udp");
    let id = dnat_ok(&mut b, &dnat(IP2, "any", "172.16.1.11", "ANY", "aNy"));
    let e = forward_entry(&mut b, &id);
    assert_eq!(
        (e["ExternalPort"].as_str(), e["IpProtocol"].as_str()),
        (Some("Any"), Some("any"))
    );
}

#[test]
fn dnat_table_gateway_and_ip_rules() {
    let mut b = bench();
    let mut p = dnat(IP1, "80", "172.16.1.10", "80", "TCP");
    p[0] = ("ForwardTableId", "ftb-nope");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (404, "InvalidForwardTableId.NotFound".into())
    );
    let p = dnat(IP1, "80", "192.168.1.10", "80", "TCP");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "Forbidden.DestinationIpOutOfVpcCIDR".into())
    );
    let p = dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (404, "InvalidExternalIp.NotFound".into())
    );
    // An EIP bound to another gateway is not an IP of this one.
    add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC2);
    bind(&mut b, UNBOUND, "ngw-natop2");
    let p = dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (404, "InvalidExternalIp.NotFound".into())
    );
    // The gateway must be Available.
    b.state
        .nat_gateways
        .get_mut("ngw-natop1")
        .unwrap()
        .wire
        .status = "Modifying".into();
    let p = dnat(IP1, "80", "172.16.1.10", "80", "TCP");
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "IncorrectStatus.NatGateway".into())
    );
    assert!(b.state.forward_entries.is_empty());
}

#[test]
fn dnat_dry_run_checks_without_creating() {
    let mut b = bench();
    let p = with(
        dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
        &[("DryRun", "true")],
    );
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "DryRunOperation".into())
    );
    assert!(b.state.forward_entries.is_empty());
    let p = with(
        dnat(UNBOUND, "80", "172.16.1.10", "80", "TCP"),
        &[("DryRun", "true")],
    );
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (404, "InvalidExternalIp.NotFound".into())
    );
}

#[test]
fn dnat_tuples_are_unique_and_ranges_overlap() {
    let mut b = bench();
    dnat_ok(&mut b, &dnat(IP1, "8080", "172.16.1.10", "80", "TCP"));
    let external = |b: &mut Bench, p: Vec<(&str, &str)>| code(b.call("CreateForwardEntry", &p));
    let occupied = (400, "Forbidden.PortOccupied".to_string());
    let duplicated = (400, "OperationUnsupported.ForwardEntry".to_string());
    assert_eq!(
        external(&mut b, dnat(IP1, "8080", "172.16.1.11", "81", "tcp")),
        occupied
    );
    assert_eq!(
        external(
            &mut b,
            dnat(IP1, "8000/8100", "172.16.1.11", "9000/9100", "TCP")
        ),
        occupied
    );
    assert_eq!(
        external(&mut b, dnat(IP1, "Any", "172.16.1.11", "Any", "Any")),
        occupied
    );
    assert_eq!(
        external(&mut b, dnat(IP2, "9090", "172.16.1.10", "80", "TCP")),
        duplicated
    );
    assert_eq!(
        external(
            &mut b,
            dnat(IP2, "9000/9010", "172.16.1.10", "75/85", "TCP")
        ),
        duplicated
    );
    // Another protocol, port or IP is free.
    dnat_ok(&mut b, &dnat(IP1, "8080", "172.16.1.11", "81", "UDP"));
    dnat_ok(&mut b, &dnat(IP1, "8081", "172.16.1.10", "81", "TCP"));
    dnat_ok(&mut b, &dnat(IP2, "8080", "172.16.1.10", "80", "UDP"));
    // An IP mapping takes the whole address: nothing else may use it.
    dnat_ok(&mut b, &dnat(IP3, "Any", "172.16.1.20", "Any", "Any"));
    assert_eq!(
        external(&mut b, dnat(IP3, "22", "172.16.1.21", "22", "TCP")),
        occupied
    );
    assert_eq!(
        external(&mut b, dnat(IP2, "22", "172.16.1.20", "22", "UDP")),
        duplicated
    );
    assert_eq!(b.state.forward_entries.len(), 5);
}

#[test]
fn dnat_pending_entry_locks_every_write_on_the_table() {
    let mut b = bench();
    let first = dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
    let second = b
        .call(
            "CreateForwardEntry",
            &dnat(IP1, "81", "172.16.1.10", "81", "TCP"),
        )
        .unwrap()["ForwardEntryId"]
        .as_str()
        .unwrap()
        .to_string();
    let busy = (400, "IncorretForwardEntryStatus".to_string());
    let create = dnat(IP1, "82", "172.16.1.10", "82", "TCP");
    assert_eq!(code(b.call("CreateForwardEntry", &create)), busy);
    let modify = [
        ("ForwardTableId", FTB),
        ("ForwardEntryId", first.as_str()),
        ("ExternalPort", "90"),
    ];
    assert_eq!(code(b.call("ModifyForwardEntry", &modify)), busy);
    let delete = [("ForwardTableId", FTB), ("ForwardEntryId", first.as_str())];
    assert_eq!(code(b.call("DeleteForwardEntry", &delete)), busy);
    // Another gateway's table is not locked.
    add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
    bind(&mut b, UNBOUND, "ngw-natop2");
    let mut other = dnat(UNBOUND, "82", "172.16.1.10", "82", "TCP");
    other[0] = ("ForwardTableId", "ftb-natop2");
    b.call("CreateForwardEntry", &other).unwrap();
    b.advance(2);
    assert_eq!(code(b.call("CreateForwardEntry", &create)), busy);
    b.advance(1);
    assert_eq!(forward_entry(&mut b, &second)["Status"], "Available");
    b.call("CreateForwardEntry", &create).unwrap();
    b.advance(3);
    b.call("ModifyForwardEntry", &modify).unwrap();
    assert_eq!(forward_entry(&mut b, &first)["Status"], "Pending");
    assert_eq!(code(b.call("DeleteForwardEntry", &delete)), busy);
    b.advance(3);
    b.call("DeleteForwardEntry", &delete).unwrap();
}

#[test]
fn dnat_quota_is_100_entries_per_table() {
    let mut b = bench();
    for i in 0..100u16 {
        let ext = (1000 + i).to_string();
        let int = (2000 + i).to_string();
        dnat_ok(&mut b, &dnat(IP1, &ext, "172.16.1.10", &int, "TCP"));
    }
    let p = dnat(IP1, "5000", "172.16.1.10", "6000", "TCP");
    let e = b.call("CreateForwardEntry", &p).unwrap_err();
    assert_eq!((e.status, e.code.as_str()), (400, "QuotaExceeded"));
    assert_eq!(
        e.message,
        "Forward entry quota exceeded in this route table."
    );
    assert_eq!(forward_entries(&mut b, &[])["TotalCount"], 100);
    // A deleted entry frees its place once gone.
    let id = b.state.forward_entries.keys().next().unwrap().clone();
    b.call(
        "DeleteForwardEntry",
        &[("ForwardTableId", FTB), ("ForwardEntryId", id.as_str())],
    )
    .unwrap();
    assert_eq!(
        code(b.call("CreateForwardEntry", &p)),
        (400, "QuotaExceeded".into())
    );
    b.advance(10);
    b.call("CreateForwardEntry", &p).unwrap();
}

#[test]
fn dnat_modify_revalidates_everything_but_itself() {
    let mut b = bench();
    let a = dnat_ok(
        &mut b,
        &with(
            dnat(IP1, "80", "172.16.1.10", "80", "TCP"),
            &[("ForwardEntryName", "a-entry")],
        ),
    );
    let other = dnat_ok(&mut b, &dnat(IP1, "81", "172.16.1.11", "81", "TCP"));
    let m = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("ForwardTableId", FTB.to_string()),
            ("ForwardEntryId", a.clone()),
        ];
        p.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        p
    };
    let call = |b: &mut Bench, p: Vec<(&str, String)>| {
        let p: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.call("ModifyForwardEntry", &p)
    };
    // Its own values are no conflict.
    call(&mut b, m(&[("ExternalPort", "80"), ("IpProtocol", "TCP")])).unwrap();
    b.advance(3);
    assert_eq!(
        code(call(&mut b, m(&[("ExternalPort", "81")]))),
        (400, "Forbidden.PortOccupied".into())
    );
    assert_eq!(
        code(call(
            &mut b,
            m(&[("InternalIp", "172.16.1.11"), ("InternalPort", "81")])
        )),
        (400, "OperationUnsupported.ForwardEntry".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("IpProtocol", "Any")]))),
        (400, "InvalidExternalPort.Malformed".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("ExternalPort", "10/20")]))),
        (400, "InvalidInternalPort.Malformed".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("ExternalIp", UNBOUND)]))),
        (404, "InvalidExternalIp.NotFound".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("InternalIp", "10.0.0.1")]))),
        (400, "Forbidden.DestinationIpOutOfVpcCIDR".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("IpProtocol", "GRE")]))),
        (400, "InvalidProtocol.ValueNotSupported".into())
    );
    assert_eq!(
        code(call(&mut b, m(&[("ForwardEntryName", "http://x")]))),
        (400, "InvalidParameter.Name.Malformed".into())
    );
    // Everything can change at once, including to an IP mapping.
    call(
        &mut b,
        m(&[
            ("ExternalIp", IP2),
            ("ExternalPort", "Any"),
            ("InternalPort", "Any"),
            ("IpProtocol", "Any"),
            ("InternalIp", "172.16.1.30"),
        ]),
    )
    .unwrap();
    let e = forward_entry(&mut b, &a);
    assert_eq!(e["Status"], "Pending");
    assert_eq!(
        (e["ExternalIp"].as_str(), e["IpProtocol"].as_str()),
        (Some(IP2), Some("any"))
    );
    assert_eq!(e["ForwardEntryName"], "a-entry");
    b.advance(3);
    call(&mut b, m(&[("ForwardEntryName", "renamed")])).unwrap();
    b.advance(3);
    assert_eq!(forward_entry(&mut b, &a)["ForwardEntryName"], "renamed");
    // Unknown entries, entries of another table and unknown tables.
    let p = [("ForwardTableId", FTB), ("ForwardEntryId", "fwd-nope")];
    assert_eq!(
        code(b.call("ModifyForwardEntry", &p)),
        (404, "InvalidForwardEntryId.NotFound".into())
    );
    add_gateway(&mut b, "ngw-natop2", "ftb-natop2", "stb-natop2", VPC1);
    let p = [
        ("ForwardTableId", "ftb-natop2"),
        ("ForwardEntryId", other.as_str()),
    ];
    assert_eq!(
        code(b.call("ModifyForwardEntry", &p)),
        (404, "InvalidForwardEntryId.NotFound".into())
    );
    let p = [
        ("ForwardTableId", "ftb-nope"),
        ("ForwardEntryId", other.as_str()),
    ];
    assert_eq!(
        code(b.call("ModifyForwardEntry", &p)),
        (404, "InvalidForwardTableId.NotFound".into())
    );
}

#[test]
fn dnat_delete_goes_through_deleting() {
    let mut b = bench();
    let id = dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
    let p = [("ForwardTableId", FTB), ("ForwardEntryId", id.as_str())];
    b.call("DeleteForwardEntry", &p).unwrap();
    assert_eq!(forward_entry(&mut b, &id)["Status"], "Deleting");
    // A Deleting entry takes no other write, but does not lock the table.
    let e = b.call("DeleteForwardEntry", &p).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (400, "IncorretForwardEntryStatus")
    );
    assert!(e.message.contains("not stable"), "{}", e.message);
    let m = [
        ("ForwardTableId", FTB),
        ("ForwardEntryId", id.as_str()),
        ("ExternalPort", "81"),
    ];
    assert_eq!(
        code(b.call("ModifyForwardEntry", &m)),
        (400, "IncorretForwardEntryStatus".into())
    );
    dnat_ok(&mut b, &dnat(IP1, "81", "172.16.1.11", "81", "TCP"));
    b.advance(7);
    assert_eq!(
        forward_entries(&mut b, &[("ForwardEntryId", &id)])["TotalCount"],
        0
    );
    assert!(!b.state.forward_entries.contains_key(&id));
    assert_eq!(
        code(b.call("DeleteForwardEntry", &p)),
        (404, "InvalidForwardEntryId.NotFound".into())
    );
    b.state
        .nat_gateways
        .get_mut("ngw-natop1")
        .unwrap()
        .wire
        .status = "Deleting".into();
    let left = b.state.forward_entries.keys().next().unwrap().clone();
    let p = [("ForwardTableId", FTB), ("ForwardEntryId", left.as_str())];
    assert_eq!(
        code(b.call("DeleteForwardEntry", &p)),
        (400, "IncorrectStatus.NatGateway".into())
    );
}

#[test]
fn dnat_entries_go_with_their_gateway() {
    let mut b = bench();
    dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
    snat_ok(&mut b, &snat(IP2, "SourceVSwitchId", VSW11));
    b.state.nat_gateways.clear();
    b.advance(1);
    assert!(b.state.forward_entries.is_empty() && b.state.snat_entries.is_empty());
}

#[test]
fn dnat_describe_filters_sorts_and_pages() {
    let mut b = bench();
    let mut ids = Vec::new();
    for i in 0..12u16 {
        let ext = (100 + i).to_string();
        let int = (200 + i).to_string();
        let proto = if i % 3 == 0 { "UDP" } else { "TCP" };
        let name = format!("entry-{i}");
        let p = with(
            dnat(IP1, &ext, "172.16.1.10", &int, proto),
            &[("ForwardEntryName", &name)],
        );
        ids.push(dnat_ok(&mut b, &p));
    }
    let page = |b: &mut Bench, n: &str| {
        let v = forward_entries(b, &[("PageNumber", n), ("PageSize", "5")]);
        assert_eq!(
            (v["TotalCount"].as_u64(), v["PageSize"].as_u64()),
            (Some(12), Some(5))
        );
        v["ForwardTableEntries"]["ForwardTableEntry"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["ForwardEntryId"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all: Vec<String> = ["1", "2", "3"]
        .iter()
        .flat_map(|n| page(&mut b, n))
        .collect();
    assert_eq!(all, ids, "creation order across pages");
    assert!(page(&mut b, "4").is_empty());
    let v = forward_entries(&mut b, &[]);
    assert_eq!(
        (v["PageNumber"].as_u64(), v["PageSize"].as_u64()),
        (Some(1), Some(10))
    );
    assert_eq!(
        v["ForwardTableEntries"]["ForwardTableEntry"]
            .as_array()
            .unwrap()
            .len(),
        10
    );
    let count =
        |b: &mut Bench, f: &[(&str, &str)]| forward_entries(b, f)["TotalCount"].as_u64().unwrap();
    assert_eq!(count(&mut b, &[("IpProtocol", "udp")]), 4);
    assert_eq!(count(&mut b, &[("IpProtocol", "TCP")]), 8);
    assert_eq!(count(&mut b, &[("ExternalPort", "105")]), 1);
    assert_eq!(
        count(&mut b, &[("InternalPort", "205"), ("ExternalPort", "105")]),
        1
    );
    assert_eq!(
        count(&mut b, &[("InternalPort", "205"), ("ExternalPort", "106")]),
        0
    );
    assert_eq!(count(&mut b, &[("ForwardEntryName", "entry-7")]), 1);
    assert_eq!(
        count(
            &mut b,
            &[("ExternalIp", IP1), ("InternalIp", "172.16.1.10")]
        ),
        12
    );
    assert_eq!(count(&mut b, &[("ExternalIp", IP2)]), 0);
    assert_eq!(count(&mut b, &[("ForwardEntryId", ids[3].as_str())]), 1);
    assert_eq!(count(&mut b, &[("NatGatewayId", "ngw-natop1")]), 12);
    // By gateway alone, without a table.
    let v = b
        .call(
            "DescribeForwardTableEntries",
            &[("ForwardTableId", ""), ("NatGatewayId", "ngw-natop1")],
        )
        .unwrap();
    assert_eq!(v["TotalCount"], 12);
    let p = [("ForwardTableId", "ftb-nope")];
    let e = b.call("DescribeForwardTableEntries", &p).unwrap_err();
    assert_eq!(
        (e.status, e.code.as_str()),
        (404, "InvalidForwardTableId.NotFound")
    );
    assert_eq!(
        code(b.call("DescribeForwardTableEntries", &[])),
        (400, "MissingForwardTableId".into())
    );
    let p = [("ForwardTableId", FTB), ("PageSize", "51")];
    assert_eq!(
        code(b.call("DescribeForwardTableEntries", &p)),
        (400, "InvalidParameter.PageSize".into())
    );
}

// -- DNAT and SNAT sharing one public IP ----------------------------------

#[test]
fn dnat_on_an_snat_ip_needs_port_break_above_1024_and_never_maps_the_ip() {
    let mut b = bench();
    snat_ok(
        &mut b,
        &snat(&format!("{IP1},{IP2}"), "SourceVSwitchId", VSW11),
    );
    let used = (400, "Forbidden.ExternalIp.UsedInSnatTable".to_string());
    let create = |b: &mut Bench, p: &[(&str, &str)]| code(b.call("CreateForwardEntry", p));
    assert_eq!(
        create(&mut b, &dnat(IP1, "8080", "172.16.1.10", "80", "TCP")),
        used
    );
    assert_eq!(
        create(
            &mut b,
            &dnat(IP2, "1000/1100", "172.16.1.10", "1000/1100", "TCP")
        ),
        used
    );
    assert_eq!(
        create(&mut b, &dnat(IP1, "Any", "172.16.1.10", "Any", "Any")),
        used
    );
    let any_break = with(
        dnat(IP1, "Any", "172.16.1.10", "Any", "Any"),
        &[("PortBreak", "true")],
    );
    assert_eq!(create(&mut b, &any_break), used);
    // Low ports share freely; high ports with PortBreak.
    dnat_ok(&mut b, &dnat(IP1, "80", "172.16.1.10", "80", "TCP"));
    let id = dnat_ok(
        &mut b,
        &with(
            dnat(IP1, "8080", "172.16.1.10", "8080", "TCP"),
            &[("PortBreak", "true")],
        ),
    );
    // Renaming keeps the public side: no PortBreak needed again.
    let p = [
        ("ForwardTableId", FTB),
        ("ForwardEntryId", id.as_str()),
        ("ForwardEntryName", "renamed"),
    ];
    b.call("ModifyForwardEntry", &p).unwrap();
    b.advance(3);
    // Moving the public side re-checks it.
    let p = [
        ("ForwardTableId", FTB),
        ("ForwardEntryId", id.as_str()),
        ("ExternalPort", "8081"),
        ("InternalPort", "8081"),
    ];
    assert_eq!(code(b.call("ModifyForwardEntry", &p)), used);
    let p = with(p.to_vec(), &[("PortBreak", "true")]);
    b.call("ModifyForwardEntry", &p).unwrap();
    // An IP free of SNAT takes anything.
    b.advance(3);
    dnat_ok(&mut b, &dnat(IP3, "Any", "172.16.1.11", "Any", "Any"));
}
