//! SNAT table actions: create, modify, describe and delete SNAT entries.

use serde::{Deserialize, Serialize};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

// ---------------------------------------------------------------------------
// CreateSnatEntry
// ---------------------------------------------------------------------------

/// CreateSnatEntry: adds an SNAT entry to an SNAT table (asynchronous: the entry
/// is `Pending`, then `Available`). Instances of a vSwitch or CIDR block then
/// reach the Internet through `SnatIp`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSnatEntry {
    /// Region of the gateway.
    pub region_id: String,
    /// Public IP(s), comma-separated for an SNAT IP pool (all in one shared
    /// bandwidth package); each must be bound to the gateway.
    pub snat_ip: String,
    /// SNAT table (`stb-…`).
    pub snat_table_id: String,
    /// vSwitch whose instances use the entry; exclusive with `SourceCIDR`.
    #[serde(
        rename = "SourceVSwitchId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_vswitch_id: Option<String>,
    /// Source CIDR block (a vSwitch block or an instance `/32`); exclusive with
    /// `SourceVSwitchId`.
    #[serde(
        rename = "SourceCIDR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_cidr: Option<String>,
    /// Name: 2–128 characters, starts with a letter or Chinese character, not `http(s)://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_entry_name: Option<String>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// EIP affinity: `1` keeps a client on the same EIP of the pool, `0` (default) does not.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub eip_affinity: Option<u8>,
}

impl Action for CreateSnatEntry {
    const NAME: &'static str = "CreateSnatEntry";
    type Response = CreateSnatEntryResponse;
}

/// Response of [`CreateSnatEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateSnatEntryResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the new SNAT entry (`snat-…`).
    #[serde(default)]
    pub snat_entry_id: String,
}

// ---------------------------------------------------------------------------
// ModifySnatEntry
// ---------------------------------------------------------------------------

/// ModifySnatEntry: changes the public IPs, name or EIP affinity of an SNAT
/// entry (asynchronous: `Pending`, then `Available`; refused while any entry of
/// the table is `Pending`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifySnatEntry {
    /// Region of the gateway.
    pub region_id: String,
    /// SNAT entry to modify (`snat-…`).
    pub snat_entry_id: String,
    /// SNAT table of the entry (`stb-…`).
    pub snat_table_id: String,
    /// New public IP(s), comma-separated (all in one shared bandwidth package).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_ip: Option<String>,
    /// New name (2–128 characters, starts with a letter or Chinese character).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_entry_name: Option<String>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// EIP affinity: `1` on, `0` off.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub eip_affinity: Option<u8>,
}

impl Action for ModifySnatEntry {
    const NAME: &'static str = "ModifySnatEntry";
    type Response = ModifySnatEntryResponse;
}

/// Response of [`ModifySnatEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifySnatEntryResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

// ---------------------------------------------------------------------------
// DescribeSnatTableEntries
// ---------------------------------------------------------------------------

/// DescribeSnatTableEntries: lists the SNAT entries of an SNAT table, one page at
/// a time, optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSnatTableEntries {
    /// Region of the gateway.
    pub region_id: String,
    /// SNAT table to list (`stb-…`); may be left empty when `NatGatewayId` is given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub snat_table_id: String,
    /// Only this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_entry_id: Option<String>,
    /// Only entries for this vSwitch.
    #[serde(
        rename = "SourceVSwitchId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_vswitch_id: Option<String>,
    /// Only entries for this source CIDR block.
    #[serde(
        rename = "SourceCIDR",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub source_cidr: Option<String>,
    /// Only entries using this public IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_ip: Option<String>,
    /// Only entries with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_entry_name: Option<String>,
    /// Page to return (1-based, default 1).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_number: Option<u32>,
    /// Page size (default 10, at most 50).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_size: Option<u32>,
    /// Only entries of this gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
}

impl Action for DescribeSnatTableEntries {
    const NAME: &'static str = "DescribeSnatTableEntries";
    type Response = DescribeSnatTableEntriesResponse;
}

impl Paginated for DescribeSnatTableEntries {
    type Item = SnatTableEntry;

    fn set_page(&mut self, number: u32, size: u32) {
        self.page_number = Some(number);
        self.page_size = Some(size);
    }

    fn page(response: &DescribeSnatTableEntriesResponse) -> Page {
        Page::from_parts(
            response.total_count,
            response.page_number,
            response.page_size,
        )
    }

    fn items(response: DescribeSnatTableEntriesResponse) -> Vec<SnatTableEntry> {
        response.snat_table_entries
    }

    fn item_id(item: &SnatTableEntry) -> Option<&str> {
        Some(&item.snat_entry_id)
    }
}

/// Response of [`DescribeSnatTableEntries`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeSnatTableEntriesResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Number of entries across all pages.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub total_count: Option<u32>,
    /// Page returned.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_number: Option<u32>,
    /// Page size applied.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub page_size: Option<u32>,
    /// The entries (`SnatTableEntries.SnatTableEntry[]`).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub snat_table_entries: Vec<SnatTableEntry>,
}

/// An SNAT entry as `DescribeSnatTableEntries` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnatTableEntry {
    /// Entry id (`snat-…`).
    #[serde(default)]
    pub snat_entry_id: String,
    /// Entry name.
    #[serde(default)]
    pub snat_entry_name: String,
    /// Public IP(s), comma-separated.
    #[serde(default)]
    pub snat_ip: String,
    /// SNAT table of the entry (`stb-…`).
    #[serde(default)]
    pub snat_table_id: String,
    /// Source CIDR block.
    #[serde(rename = "SourceCIDR", default)]
    pub source_cidr: String,
    /// Source vSwitch.
    #[serde(rename = "SourceVSwitchId", default)]
    pub source_vswitch_id: String,
    /// State: `Pending` (being created or modified), `Available` or `Deleting`.
    #[serde(default)]
    pub status: String,
    /// EIP affinity, `0` or `1` (a string on the wire).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_num"
    )]
    pub eip_affinity: Option<u8>,
    /// Gateway of the entry.
    #[serde(default)]
    pub nat_gateway_id: String,
    /// Network interface of the entry (VPC NAT gateways).
    #[serde(default)]
    pub network_interface_id: String,
}

impl WrappedItem for SnatTableEntry {
    const KEY: &'static str = "SnatTableEntry";
}

// ---------------------------------------------------------------------------
// DeleteSnatEntry
// ---------------------------------------------------------------------------

/// DeleteSnatEntry: removes an SNAT entry (asynchronous: `Deleting`, then gone;
/// refused while any entry of the table is `Pending`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSnatEntry {
    /// Region of the gateway.
    pub region_id: String,
    /// SNAT entry to delete (`snat-…`).
    pub snat_entry_id: String,
    /// SNAT table of the entry (`stb-…`).
    pub snat_table_id: String,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for DeleteSnatEntry {
    const NAME: &'static str = "DeleteSnatEntry";
    type Response = DeleteSnatEntryResponse;
}

/// Response of [`DeleteSnatEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteSnatEntryResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::alibaba::fixture;
    use crate::cloud::wire::{ListBase, assert_round_trip};

    #[test]
    fn create_snat_entry_fixture() {
        let r: CreateSnatEntryResponse = fixture("CreateSnatEntry");
        assert_eq!(r.snat_entry_id, "snat-kmd6nv8fy****");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
    }

    #[test]
    fn request_id_only_fixtures() {
        let r: ModifySnatEntryResponse = fixture("ModifySnatEntry");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
        let r: DeleteSnatEntryResponse = fixture("DeleteSnatEntry");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
    }

    #[test]
    fn describe_snat_table_entries_fixture() {
        let r: DescribeSnatTableEntriesResponse = fixture("DescribeSnatTableEntries");
        assert_eq!(r.request_id, "6D7E89B1-1C5B-412B-8585-4908E222EED5");
        // The seed's example has no TotalCount: it reads as 0.
        assert_eq!(
            DescribeSnatTableEntries::page(&r),
            Page {
                total_count: 0,
                page_number: 1,
                page_size: 10
            }
        );
        let entries = DescribeSnatTableEntries::items(r);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].snat_entry_id, "snat-kmd6nv8fy****");
        assert_eq!(entries[0].snat_ip, "139.xx.xx.40");
        assert_eq!(entries[0].snat_table_id, "stb-gz3r3odaw****");
        assert_eq!(entries[0].source_cidr, "192.168.1.0/24");
        assert_eq!(entries[0].source_vswitch_id, "vsw-yrv0hffhghd****");
        assert_eq!(entries[0].status, "Available");
        assert_eq!(entries[1].snat_entry_id, "snat-bs5bezbme****");
        assert_eq!(entries[1].source_cidr, "192.168.3.0/24");
        assert_eq!(entries[1].eip_affinity, None);
    }

    #[test]
    fn eip_affinity_as_string_or_number() {
        for (body, want) in [
            (
                r#"{"SnatTableEntries":{"SnatTableEntry":[{"EipAffinity":"1"}]}}"#,
                Some(1),
            ),
            (
                r#"{"SnatTableEntries":{"SnatTableEntry":[{"EipAffinity":0}]}}"#,
                Some(0),
            ),
            (
                r#"{"SnatTableEntries":{"SnatTableEntry":[{"EipAffinity":""}]}}"#,
                None,
            ),
        ] {
            let r: DescribeSnatTableEntriesResponse = serde_json::from_str(body).unwrap();
            assert_eq!(r.snat_table_entries[0].eip_affinity, want, "{body}");
        }
        let r: DescribeSnatTableEntriesResponse =
            serde_json::from_str(r#"{"TotalCount":"7","PageNumber":"2","PageSize":"5"}"#).unwrap();
        assert_eq!(
            DescribeSnatTableEntries::page(&r),
            Page {
                total_count: 7,
                page_number: 2,
                page_size: 5
            }
        );
    }

    #[test]
    fn lists_wrapped_bare_missing_and_empty() {
        for body in [
            r#"{"RequestId":"r"}"#,
            r#"{"RequestId":"r","SnatTableEntries":[]}"#,
            r#"{"RequestId":"r","SnatTableEntries":{"SnatTableEntry":[]}}"#,
            r#"{"RequestId":"r","SnatTableEntries":{}}"#,
        ] {
            let r: DescribeSnatTableEntriesResponse = serde_json::from_str(body).unwrap();
            assert!(r.snat_table_entries.is_empty(), "{body}");
        }
        let r: DescribeSnatTableEntriesResponse = serde_json::from_str(
            r#"{"SnatTableEntries":[{"SnatEntryId":"snat-1","NatGatewayId":"ngw-1"}]}"#,
        )
        .unwrap();
        assert_eq!(r.snat_table_entries[0].snat_entry_id, "snat-1");
        assert_eq!(r.snat_table_entries[0].nat_gateway_id, "ngw-1");
    }

    #[test]
    fn response_serializes_wrapped() {
        let r = DescribeSnatTableEntriesResponse {
            request_id: "r".into(),
            total_count: Some(1),
            page_number: Some(1),
            page_size: Some(50),
            snat_table_entries: vec![SnatTableEntry {
                snat_entry_id: "snat-1".into(),
                source_cidr: "10.0.0.0/24".into(),
                source_vswitch_id: "vsw-1".into(),
                eip_affinity: Some(1),
                status: "Pending".into(),
                ..Default::default()
            }],
        };
        let v = serde_json::to_value(&r).unwrap();
        let e = &v["SnatTableEntries"]["SnatTableEntry"][0];
        assert_eq!(e["SnatEntryId"], "snat-1");
        assert_eq!(e["SourceCIDR"], "10.0.0.0/24");
        assert_eq!(e["SourceVSwitchId"], "vsw-1");
        assert_eq!(e["EipAffinity"], 1);
        let back: DescribeSnatTableEntriesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn requests_wire_names_round_trip() {
        let p = assert_round_trip(
            &CreateSnatEntry {
                region_id: "cn-hangzhou".into(),
                snat_ip: "47.1.1.98,47.1.1.99".into(),
                snat_table_id: "stb-1".into(),
                source_vswitch_id: None,
                source_cidr: Some("10.1.1.0/24".into()),
                snat_entry_name: Some("egress".into()),
                client_token: Some("tok".into()),
                eip_affinity: Some(1),
            },
            ListBase::One,
        );
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert_eq!(p["SnatIp"], "47.1.1.98,47.1.1.99");
        assert_eq!(p["SnatTableId"], "stb-1");
        assert_eq!(p["SourceCIDR"], "10.1.1.0/24");
        assert_eq!(p["SnatEntryName"], "egress");
        assert_eq!(p["ClientToken"], "tok");
        assert_eq!(p["EipAffinity"], "1");
        assert!(!p.contains_key("SourceVSwitchId"));
        assert_eq!(CreateSnatEntry::NAME, "CreateSnatEntry");

        let p = assert_round_trip(
            &CreateSnatEntry {
                region_id: "cn-hangzhou".into(),
                snat_ip: "47.1.1.98".into(),
                snat_table_id: "stb-1".into(),
                source_vswitch_id: Some("vsw-1".into()),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["SourceVSwitchId"], "vsw-1");
        assert!(!p.contains_key("SourceCIDR"));

        let p = assert_round_trip(
            &ModifySnatEntry {
                region_id: "cn-hangzhou".into(),
                snat_entry_id: "snat-1".into(),
                snat_table_id: "stb-1".into(),
                snat_ip: Some("47.1.1.98".into()),
                eip_affinity: Some(0),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["SnatEntryId"], "snat-1");
        assert_eq!(p["SnatIp"], "47.1.1.98");
        assert_eq!(p["EipAffinity"], "0");

        let mut req = DescribeSnatTableEntries {
            region_id: "cn-hangzhou".into(),
            snat_table_id: "stb-1".into(),
            source_cidr: Some("10.1.1.0/24".into()),
            source_vswitch_id: Some("vsw-1".into()),
            ..Default::default()
        };
        req.set_page(1, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["SourceCIDR"], "10.1.1.0/24");
        assert_eq!(p["SourceVSwitchId"], "vsw-1");
        assert_eq!(p["PageNumber"], "1");
        assert_eq!(p["PageSize"], "50");

        let p = assert_round_trip(
            &DeleteSnatEntry {
                region_id: "cn-hangzhou".into(),
                snat_entry_id: "snat-1".into(),
                snat_table_id: "stb-1".into(),
                client_token: Some("t".into()),
            },
            ListBase::One,
        );
        assert_eq!(p["SnatEntryId"], "snat-1");
        assert_eq!(p["SnatTableId"], "stb-1");
        assert_eq!(p["ClientToken"], "t");
    }
}
