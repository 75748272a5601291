//! The table faults: `pageShift` and `listLagMs`.

use serde_json::Value;

use crate::emulator::alibaba::entries::testing::*;

// -- pageShift ----------------------------------------------------------

/// The ids on page `n` of 5 of the DNAT table.
fn page_ids(b: &mut Bench, n: &str) -> Vec<String> {
    forward_entries(b, &[("PageNumber", n), ("PageSize", "5")])["ForwardTableEntries"]
        ["ForwardTableEntry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ForwardEntryId"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_page_shift_completes_a_deletion_on_an_earlier_page_and_skips_an_entry() {
    let mut b = bench();
    let ids: Vec<String> = (0..8u16)
        .map(|i| {
            let port = (8000 + i).to_string();
            let internal = format!("172.16.1.{}", 10 + i);
            dnat_ok(&mut b, &dnat(IP1, &port, &internal, "80", "TCP"))
        })
        .collect();
    b.call(
        "DeleteForwardEntry",
        &[("ForwardTableId", FTB), ("ForwardEntryId", &ids[1])],
    )
    .unwrap();
    // Without the fault, the Deleting entry stays listed on page 1.
    let first = page_ids(&mut b, "1");
    assert_eq!(first, ids[..5]);
    assert_eq!(page_ids(&mut b, "2"), ids[5..]);
    // With it, the deletion completes before page 2 is cut: ids[5] moves
    // onto page 1, already read, and a reader of both pages misses it.
    b.page_shift = true;
    let second = page_ids(&mut b, "2");
    assert_eq!(second, ids[6..]);
    let seen: Vec<&String> = first.iter().chain(&second).collect();
    assert!(!seen.contains(&&ids[5]), "the shifted entry is skipped");
    let total = forward_entries(&mut b, &[])["TotalCount"].as_u64().unwrap();
    assert_eq!(
        total, 7,
        "the deleted entry is gone; the skipped one is not"
    );
    // On page 1 nothing earlier can shift it.
    b.page_shift = true;
    assert_eq!(page_ids(&mut b, "1").len(), 5);
}

// -- listLagMs -----------------------------------------------------------

#[test]
fn a_list_lag_hides_young_entries_from_listings_but_not_from_reads_by_id() {
    let mut b = bench();
    let old = dnat_ok(&mut b, &dnat(IP1, "8000", "172.16.1.10", "80", "TCP"));
    let old_snat = snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.20.0.0/24"));
    b.advance(10);
    b.list_lag_ms = 10_000;
    let young = dnat_ok(&mut b, &dnat(IP1, "8001", "172.16.1.11", "80", "TCP"));
    let young_snat = snat_ok(&mut b, &snat(IP2, "SourceCIDR", "172.20.1.0/24"));
    let listed = |v: &Value, list: &str, entry: &str, id: &str| -> Vec<String> {
        v[list][entry]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[id].as_str().unwrap().to_string())
            .collect()
    };
    let all = forward_entries(&mut b, &[]);
    let ids = listed(
        &all,
        "ForwardTableEntries",
        "ForwardTableEntry",
        "ForwardEntryId",
    );
    assert_eq!(ids, [old], "the young entry is not listed yet");
    assert_eq!(
        forward_entry(&mut b, &young)["ForwardEntryId"],
        young.as_str()
    );
    let all = snat_entries(&mut b, &[]);
    let ids = listed(&all, "SnatTableEntries", "SnatTableEntry", "SnatEntryId");
    assert_eq!(ids, [old_snat]);
    assert_eq!(
        snat_entry(&mut b, &young_snat)["SnatEntryId"],
        young_snat.as_str()
    );
    // Once the lag has passed, listings show them.
    b.advance(10);
    let all = forward_entries(&mut b, &[]);
    let ids = listed(
        &all,
        "ForwardTableEntries",
        "ForwardTableEntry",
        "ForwardEntryId",
    );
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&young));
    let all = snat_entries(&mut b, &[]);
    let ids = listed(&all, "SnatTableEntries", "SnatTableEntry", "SnatEntryId");
    assert_eq!(ids.len(), 2);
}
