//! DNAT (forward table) actions: create, modify, describe and delete DNAT entries.
//!
//! Ports stay strings everywhere: besides `1`–`65535` the service accepts port
//! ranges (`"10/20"`) and `"Any"` (with `IpProtocol=Any`), and responses may
//! carry them as JSON numbers or strings.

use serde::{Deserialize, Serialize};

use crate::cloud::alibaba::{Action, Page, Paginated};
use crate::cloud::wire::{self, WrappedItem, wrapped};

// ---------------------------------------------------------------------------
// CreateForwardEntry
// ---------------------------------------------------------------------------

/// CreateForwardEntry: adds a DNAT entry to a DNAT table (asynchronous: the
/// entry is `Pending`, then `Available`). It forwards packets of `IpProtocol`
/// arriving at `ExternalIp:ExternalPort` to `InternalIp:InternalPort`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateForwardEntry {
    /// Public IP: an EIP bound to the gateway, or an IP of its NAT bandwidth package.
    pub external_ip: String,
    /// External port `1`–`65535`, a range `"10/20"`, or `Any` with `IpProtocol=Any`.
    pub external_port: String,
    /// DNAT table (`ftb-…`).
    pub forward_table_id: String,
    /// Private IP inside the VPC, used by an ECS instance without its own EIP.
    pub internal_ip: String,
    /// Internal port `1`–`65535`, a range of the same size, or `Any`.
    pub internal_port: String,
    /// Protocol: `TCP`, `UDP` or `Any`.
    pub ip_protocol: String,
    /// Region of the gateway.
    pub region_id: String,
    /// Name: 2–128 characters, starts with a letter or Chinese character, not `http(s)://`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_entry_name: Option<String>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    /// Allow ports above 1024 when the same public IP is also used by SNAT (default false).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub port_break: Option<bool>,
    /// Only check the request (answers `DryRunOperation` when it would succeed).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub dry_run: Option<bool>,
}

impl Action for CreateForwardEntry {
    const NAME: &'static str = "CreateForwardEntry";
    type Response = CreateForwardEntryResponse;
}

/// Response of [`CreateForwardEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateForwardEntryResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
    /// Id of the new DNAT entry (`fwd-…`).
    #[serde(default)]
    pub forward_entry_id: String,
}

// ---------------------------------------------------------------------------
// ModifyForwardEntry
// ---------------------------------------------------------------------------

/// ModifyForwardEntry: changes a DNAT entry (asynchronous: `Pending`, then
/// `Available`; refused while any entry of the table is `Pending`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyForwardEntry {
    /// DNAT entry to modify (`fwd-…`).
    pub forward_entry_id: String,
    /// DNAT table of the entry (`ftb-…`).
    pub forward_table_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// New public IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    /// New external port `1`–`65535` (or a range `"10/20"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_port: Option<String>,
    /// New private IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_ip: Option<String>,
    /// New internal port `1`–`65535` (or a range of the same size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<String>,
    /// New protocol: `TCP`, `UDP` or `Any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
    /// New name (2–128 characters, starts with a letter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_entry_name: Option<String>,
    /// Allow ports above 1024 when the same public IP is also used by SNAT.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_bool"
    )]
    pub port_break: Option<bool>,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for ModifyForwardEntry {
    const NAME: &'static str = "ModifyForwardEntry";
    type Response = ModifyForwardEntryResponse;
}

/// Response of [`ModifyForwardEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyForwardEntryResponse {
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

// ---------------------------------------------------------------------------
// DescribeForwardTableEntries
// ---------------------------------------------------------------------------

/// DescribeForwardTableEntries: lists the DNAT entries of a DNAT table, one page
/// at a time, optionally filtered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeForwardTableEntries {
    /// DNAT table to list (`ftb-…`); may be left empty when `NatGatewayId` is given.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub forward_table_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// Only this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_entry_id: Option<String>,
    /// Only entries with this public IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ip: Option<String>,
    /// Only entries with this external port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_port: Option<String>,
    /// Only entries with this private IP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_ip: Option<String>,
    /// Only entries with this internal port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_port: Option<String>,
    /// Only entries with this protocol: `TCP`, `UDP` or `Any`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
    /// Only entries with this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_entry_name: Option<String>,
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

impl Action for DescribeForwardTableEntries {
    const NAME: &'static str = "DescribeForwardTableEntries";
    type Response = DescribeForwardTableEntriesResponse;
}

impl Paginated for DescribeForwardTableEntries {
    type Item = ForwardTableEntry;

    fn set_page(&mut self, number: u32, size: u32) {
        self.page_number = Some(number);
        self.page_size = Some(size);
    }

    fn page(response: &DescribeForwardTableEntriesResponse) -> Page {
        Page::from_parts(
            response.total_count,
            response.page_number,
            response.page_size,
        )
    }

    fn items(response: DescribeForwardTableEntriesResponse) -> Vec<ForwardTableEntry> {
        response.forward_table_entries
    }

    fn item_id(item: &ForwardTableEntry) -> Option<&str> {
        Some(&item.forward_entry_id)
    }
}

/// Response of [`DescribeForwardTableEntries`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeForwardTableEntriesResponse {
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
    /// The entries (`ForwardTableEntries.ForwardTableEntry[]`).
    #[serde(default, deserialize_with = "wire::list", serialize_with = "wrapped")]
    pub forward_table_entries: Vec<ForwardTableEntry>,
}

/// A DNAT entry as `DescribeForwardTableEntries` reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ForwardTableEntry {
    /// Public IP.
    #[serde(default)]
    pub external_ip: String,
    /// External port, port range (`"10/20"`) or `Any`; a string or number on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_text"
    )]
    pub external_port: Option<String>,
    /// Entry id (`fwd-…`).
    #[serde(default)]
    pub forward_entry_id: String,
    /// Entry name.
    #[serde(default)]
    pub forward_entry_name: String,
    /// DNAT table of the entry (`ftb-…`).
    #[serde(default)]
    pub forward_table_id: String,
    /// Private IP.
    #[serde(default)]
    pub internal_ip: String,
    /// Internal port, port range or `Any`; a string or number on the wire.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "wire::opt_text"
    )]
    pub internal_port: Option<String>,
    /// Protocol: `TCP`, `UDP` or `Any` (may come in lower case).
    #[serde(default)]
    pub ip_protocol: String,
    /// State: `Pending` (being created or modified), `Available` or `Deleting`.
    #[serde(default)]
    pub status: String,
    /// Gateway of the entry.
    #[serde(default)]
    pub nat_gateway_id: String,
}

impl WrappedItem for ForwardTableEntry {
    const KEY: &'static str = "ForwardTableEntry";
}

// ---------------------------------------------------------------------------
// DeleteForwardEntry
// ---------------------------------------------------------------------------

/// DeleteForwardEntry: removes a DNAT entry (asynchronous: `Deleting`, then gone;
/// refused while any entry of the table is `Pending`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteForwardEntry {
    /// DNAT entry to delete (`fwd-…`).
    pub forward_entry_id: String,
    /// DNAT table of the entry (`ftb-…`).
    pub forward_table_id: String,
    /// Region of the gateway.
    pub region_id: String,
    /// Idempotency token (ASCII, at most 64 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

impl Action for DeleteForwardEntry {
    const NAME: &'static str = "DeleteForwardEntry";
    type Response = DeleteForwardEntryResponse;
}

/// Response of [`DeleteForwardEntry`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteForwardEntryResponse {
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
    fn create_forward_entry_fixture() {
        let r: CreateForwardEntryResponse = fixture("CreateForwardEntry");
        assert_eq!(r.forward_entry_id, "fwd-119smw5tkasdf****");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
    }

    #[test]
    fn request_id_only_fixtures() {
        let r: ModifyForwardEntryResponse = fixture("ModifyForwardEntry");
        assert_eq!(r.request_id, "2315DEB7-5E92-423A-91F7-4C1EC9AD97C3");
        let r: DeleteForwardEntryResponse = fixture("DeleteForwardEntry");
        assert_eq!(r.request_id, "0ED8D006-F706-4D23-88ED-E11ED28DCAC0");
    }

    #[test]
    fn describe_forward_table_entries_fixture() {
        let r: DescribeForwardTableEntriesResponse = fixture("DescribeForwardTableEntries");
        assert_eq!(r.request_id, "D15864E1-6068-4CF9-AC3D-653D2143E269");
        assert_eq!(
            DescribeForwardTableEntries::page(&r),
            Page {
                total_count: 1,
                page_number: 1,
                page_size: 10
            }
        );
        let entries = DescribeForwardTableEntries::items(r);
        assert_eq!(entries.len(), 1);
        let e = &entries[0];
        assert_eq!(e.forward_entry_id, "fwd-bp1yjpsk36ojv9rrz****");
        assert_eq!(e.forward_table_id, "ftb-bp1pnianh59fsh09b****");
        assert_eq!(e.forward_entry_name, "vmeixme");
        assert_eq!(e.external_ip, "47.96.xx.184");
        assert_eq!(e.external_port.as_deref(), Some("80"));
        assert_eq!(e.internal_ip, "192.168.xx.39");
        assert_eq!(e.internal_port.as_deref(), Some("25"));
        assert_eq!(e.ip_protocol, "TCP");
        assert_eq!(e.status, "Available");
    }

    #[test]
    fn ports_parse_as_strings_or_numbers() {
        for body in [
            r#"{"ForwardTableEntries":{"ForwardTableEntry":[{"ExternalPort":"8080","InternalPort":"80"}]}}"#,
            r#"{"ForwardTableEntries":{"ForwardTableEntry":[{"ExternalPort":8080,"InternalPort":80}]}}"#,
        ] {
            let r: DescribeForwardTableEntriesResponse = serde_json::from_str(body).unwrap();
            let e = &r.forward_table_entries[0];
            assert_eq!(e.external_port.as_deref(), Some("8080"), "{body}");
            assert_eq!(e.internal_port.as_deref(), Some("80"), "{body}");
        }
        let r: DescribeForwardTableEntriesResponse = serde_json::from_str(
            r#"{"ForwardTableEntries":[{"ExternalPort":"10/20","InternalPort":"80/90","IpProtocol":"tcp"},
                                       {"ExternalPort":"Any","InternalPort":"Any","IpProtocol":"any"}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.forward_table_entries[0].external_port.as_deref(),
            Some("10/20")
        );
        assert_eq!(
            r.forward_table_entries[1].internal_port.as_deref(),
            Some("Any")
        );
        assert_eq!(r.forward_table_entries[1].ip_protocol, "any");
    }

    #[test]
    fn lists_wrapped_bare_missing_and_empty() {
        for body in [
            r#"{"RequestId":"r"}"#,
            r#"{"RequestId":"r","ForwardTableEntries":[]}"#,
            r#"{"RequestId":"r","ForwardTableEntries":{"ForwardTableEntry":[]}}"#,
            r#"{"RequestId":"r","ForwardTableEntries":{}}"#,
        ] {
            let r: DescribeForwardTableEntriesResponse = serde_json::from_str(body).unwrap();
            assert!(r.forward_table_entries.is_empty(), "{body}");
            assert_eq!(DescribeForwardTableEntries::page(&r), Page::default());
        }
        let r: DescribeForwardTableEntriesResponse = serde_json::from_str(
            r#"{"TotalCount":"2","PageNumber":"1","PageSize":"50",
                "ForwardTableEntries":[{"ForwardEntryId":"fwd-1"},{"ForwardEntryId":"fwd-2"}]}"#,
        )
        .unwrap();
        assert_eq!(r.forward_table_entries[1].forward_entry_id, "fwd-2");
        assert_eq!(DescribeForwardTableEntries::page(&r).total_count, 2);
    }

    #[test]
    fn response_serializes_wrapped() {
        let r = DescribeForwardTableEntriesResponse {
            request_id: "r".into(),
            total_count: Some(1),
            page_number: Some(1),
            page_size: Some(50),
            forward_table_entries: vec![ForwardTableEntry {
                forward_entry_id: "fwd-1".into(),
                external_port: Some("8080".into()),
                status: "Pending".into(),
                ..Default::default()
            }],
        };
        let v = serde_json::to_value(&r).unwrap();
        let e = &v["ForwardTableEntries"]["ForwardTableEntry"][0];
        assert_eq!(e["ForwardEntryId"], "fwd-1");
        assert_eq!(e["ExternalPort"], "8080");
        assert!(e.get("InternalPort").is_none());
        let back: DescribeForwardTableEntriesResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn requests_wire_names_round_trip() {
        let p = assert_round_trip(
            &CreateForwardEntry {
                external_ip: "116.1.1.28".into(),
                external_port: "8080".into(),
                forward_table_id: "ftb-1".into(),
                internal_ip: "192.168.1.2".into(),
                internal_port: "80".into(),
                ip_protocol: "TCP".into(),
                region_id: "cn-hangzhou".into(),
                forward_entry_name: Some("web".into()),
                client_token: Some("tok".into()),
                port_break: Some(false),
                dry_run: None,
            },
            ListBase::One,
        );
        assert_eq!(p["ExternalIp"], "116.1.1.28");
        assert_eq!(p["ExternalPort"], "8080");
        assert_eq!(p["ForwardTableId"], "ftb-1");
        assert_eq!(p["InternalIp"], "192.168.1.2");
        assert_eq!(p["InternalPort"], "80");
        assert_eq!(p["IpProtocol"], "TCP");
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert_eq!(p["ForwardEntryName"], "web");
        assert_eq!(p["ClientToken"], "tok");
        assert_eq!(p["PortBreak"], "false");
        assert!(!p.contains_key("DryRun"));
        assert_eq!(CreateForwardEntry::NAME, "CreateForwardEntry");

        let p = assert_round_trip(
            &ModifyForwardEntry {
                forward_entry_id: "fwd-1".into(),
                forward_table_id: "ftb-1".into(),
                region_id: "cn-hangzhou".into(),
                external_port: Some("10/20".into()),
                internal_port: Some("80/90".into()),
                port_break: Some(true),
                ..Default::default()
            },
            ListBase::One,
        );
        assert_eq!(p["ForwardEntryId"], "fwd-1");
        assert_eq!(p["ExternalPort"], "10/20");
        assert_eq!(p["InternalPort"], "80/90");
        assert_eq!(p["PortBreak"], "true");
        assert!(!p.contains_key("ExternalIp"));

        let mut req = DescribeForwardTableEntries {
            forward_table_id: "ftb-1".into(),
            region_id: "cn-hangzhou".into(),
            ip_protocol: Some("UDP".into()),
            ..Default::default()
        };
        req.set_page(3, crate::cloud::alibaba::MAX_PAGE_SIZE);
        let p = assert_round_trip(&req, ListBase::One);
        assert_eq!(p["ForwardTableId"], "ftb-1");
        assert_eq!(p["IpProtocol"], "UDP");
        assert_eq!(p["PageNumber"], "3");
        assert_eq!(p["PageSize"], "50");

        let p = assert_round_trip(
            &DeleteForwardEntry {
                forward_entry_id: "fwd-1".into(),
                forward_table_id: "ftb-1".into(),
                region_id: "cn-hangzhou".into(),
                client_token: None,
            },
            ListBase::One,
        );
        assert_eq!(p.len(), 3);
        assert_eq!(p["ForwardEntryId"], "fwd-1");
    }
}
