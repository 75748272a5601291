//! ForwardEntry: DNAT entries, keyed by external IP, external port and protocol.

use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedReceiver;

use super::packed::Packed;
use super::tables::{ObjectName, Row, Tables};
use super::{Common, Difference, EntryKind};
use crate::api::NatGateway;
use crate::api::forward_entry::{ForwardEntry, ForwardEntryStatus, RequestedForwardEntry};
use crate::cloud::CloudError;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::forward_entry::{
    CreateForwardEntry, DeleteForwardEntry, DescribeForwardTableEntries, ForwardTableEntry,
    ModifyForwardEntry,
};
use crate::controller::Context;

/// A DNAT entry as a table's snapshot keeps it: the fields natop compares
/// ([`Packed`]; an absent port is empty).
#[derive(Clone, PartialEq, Eq)]
pub struct DnatRow(Packed<8>);

impl DnatRow {
    /// Entry id (`fwd-…`).
    pub fn id(&self) -> &str {
        self.0.get(0)
    }
    /// Public IP.
    pub fn external_ip(&self) -> &str {
        self.0.get(1)
    }
    /// External port, port range or `Any`.
    pub fn external_port(&self) -> &str {
        self.0.get(2)
    }
    /// Private IP.
    pub fn internal_ip(&self) -> &str {
        self.0.get(3)
    }
    /// Internal port, port range or `Any`.
    pub fn internal_port(&self) -> &str {
        self.0.get(4)
    }
    /// Protocol: `TCP`, `UDP` or `Any`.
    pub fn protocol(&self) -> &str {
        self.0.get(5)
    }
    /// Entry name.
    pub fn name(&self) -> &str {
        self.0.get(6)
    }
    /// Cloud status.
    pub fn status(&self) -> &str {
        self.0.get(7)
    }
}

impl From<&ForwardTableEntry> for DnatRow {
    fn from(entry: &ForwardTableEntry) -> DnatRow {
        DnatRow(Packed::new([
            &entry.forward_entry_id,
            &entry.external_ip,
            entry.external_port.as_deref().unwrap_or_default(),
            &entry.internal_ip,
            entry.internal_port.as_deref().unwrap_or_default(),
            &entry.ip_protocol,
            &entry.forward_entry_name,
            &entry.status,
        ]))
    }
}

impl std::fmt::Debug for DnatRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnatRow")
            .field("id", &self.id())
            .field("external_ip", &self.external_ip())
            .field("external_port", &self.external_port())
            .field("internal_ip", &self.internal_ip())
            .field("internal_port", &self.internal_port())
            .field("protocol", &self.protocol())
            .field("name", &self.name())
            .field("status", &self.status())
            .finish()
    }
}

impl Row for DnatRow {
    fn id(&self) -> &str {
        DnatRow::id(self)
    }
    fn status(&self) -> &str {
        DnatRow::status(self)
    }
}

/// A DNAT entry as the cloud should hold it (and as `status.creating` records it).
pub type DesiredForward = RequestedForwardEntry;

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl EntryKind for ForwardEntry {
    const KIND: &'static str = "ForwardEntry";
    const TABLE: &'static str = "forward table";
    const KEY_TAKEN: &'static [&'static str] = &[
        "Forbidden.PortOccupied",
        "OperationUnsupported.ForwardEntry",
    ];
    const ID_PREFIXES: &'static [&'static str] = &["fwd-"];
    const CREATE: &'static str = <CreateForwardEntry as crate::cloud::alibaba::Action>::NAME;
    const MODIFY: &'static str = <ModifyForwardEntry as crate::cloud::alibaba::Action>::NAME;
    type Row = DnatRow;
    type Desired = DesiredForward;
    type Status = ForwardEntryStatus;

    fn common(&self) -> Common<'_> {
        let spec = &self.spec;
        Common {
            provider: &spec.provider_config_ref.name,
            region: spec.region.as_deref(),
            deletion: spec.deletion_policy,
            management: spec.management_policy,
            gateway: spec.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
            table: spec.forward_table_id.as_deref(),
            package: spec
                .external_ip_from
                .as_ref()
                .map(|s| s.bandwidth_package_ref.name.as_str()),
        }
    }

    fn cloud_gateway_table(
        gateway: &crate::cloud::alibaba::actions::nat_gateway::NatGateway,
    ) -> Option<String> {
        gateway.forward_table_ids.first().cloned()
    }

    fn gateway_table(gateway: &NatGateway) -> Option<String> {
        gateway.status.as_ref()?.forward_table_id.clone()
    }

    fn desired(&self, package_ips: &[String]) -> Result<DesiredForward, String> {
        let spec = &self.spec;
        let external_ip = match (&spec.external_ip, &spec.external_ip_from) {
            (Some(ip), _) => ip.clone(),
            (None, Some(from)) => {
                let index = usize::try_from(from.index).unwrap_or(usize::MAX);
                package_ips.get(index).cloned().ok_or_else(|| {
                    format!(
                        "BandwidthPackage {} has {} public IPs; spec.externalIpFrom.index {} is out of range",
                        from.bandwidth_package_ref.name,
                        package_ips.len(),
                        from.index
                    )
                })?
            }
            (None, None) => return Err("spec.externalIp is missing".into()),
        };
        Ok(DesiredForward {
            external_ip,
            // The cloud's text, whichever form the spec used: `80` and `"80"`
            // are the same entry, key and request.
            external_port: spec.external_port.canonical(),
            internal_ip: spec.internal_ip.clone(),
            internal_port: spec.internal_port.canonical(),
            protocol: spec.ip_protocol,
            name: spec.name.clone(),
            port_break: spec.port_break,
        })
    }

    fn natural_key(desired: &DesiredForward) -> String {
        format!(
            "{}:{}/{}",
            desired.external_ip,
            desired.external_port,
            desired.protocol.as_str()
        )
    }

    fn has_key(desired: &DesiredForward, row: &DnatRow) -> bool {
        row.external_ip() == desired.external_ip
            && same(row.external_port(), &desired.external_port)
            && same(row.protocol(), desired.protocol.as_str())
    }

    fn differences(desired: &DesiredForward, row: &DnatRow) -> Vec<Difference> {
        let mut drift = Vec::new();
        let mut check = |field: &'static str, want: &str, have: &str| {
            if !same(want, have) {
                drift.push(Difference::new(field, have, want));
            }
        };
        check("externalIp", &desired.external_ip, row.external_ip());
        check("externalPort", &desired.external_port, row.external_port());
        check("internalIp", &desired.internal_ip, row.internal_ip());
        check("internalPort", &desired.internal_port, row.internal_port());
        check("ipProtocol", desired.protocol.as_str(), row.protocol());
        if let Some(name) = &desired.name
            && name != row.name()
        {
            drift.push(Difference::new("name", row.name(), name));
        }
        drift
    }

    fn ips(row: &DnatRow) -> String {
        row.external_ip().to_string()
    }

    fn desired_ips(desired: &DesiredForward) -> String {
        desired.external_ip.clone()
    }

    async fn describe(
        client: &AlibabaClient,
        region: &str,
        table: &str,
    ) -> Result<(Vec<DnatRow>, u32), CloudError> {
        let (entries, pages) = client
            .describe_pages(&DescribeForwardTableEntries {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                ..Default::default()
            })
            .await?;
        Ok((entries.iter().map(DnatRow::from).collect(), pages))
    }

    async fn describe_one(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> Result<Option<DnatRow>, CloudError> {
        // Only the entry asked for: an answer naming another is no answer.
        // A table that is not found is an error here, not "no entry": the
        // caller's next table read decides what that means.
        let rows = client
            .describe_all(&DescribeForwardTableEntries {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                forward_entry_id: Some(id.to_string()),
                ..Default::default()
            })
            .await?;
        Ok(rows
            .iter()
            .find(|r| r.forward_entry_id == id)
            .map(DnatRow::from))
    }

    async fn create(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        desired: &DesiredForward,
        token: String,
    ) -> Result<String, CloudError> {
        let created = client
            .call(&CreateForwardEntry {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                external_ip: desired.external_ip.clone(),
                external_port: desired.external_port.clone(),
                internal_ip: desired.internal_ip.clone(),
                internal_port: desired.internal_port.clone(),
                ip_protocol: desired.protocol.as_str().to_string(),
                forward_entry_name: desired.name.clone(),
                port_break: desired.port_break.then_some(true),
                client_token: Some(token),
                ..Default::default()
            })
            .await?;
        Ok(created.forward_entry_id)
    }

    async fn modify(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
        desired: &DesiredForward,
    ) -> Result<(), CloudError> {
        client
            .call(&ModifyForwardEntry {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                forward_entry_id: id.to_string(),
                external_ip: Some(desired.external_ip.clone()),
                external_port: Some(desired.external_port.clone()),
                internal_ip: Some(desired.internal_ip.clone()),
                internal_port: Some(desired.internal_port.clone()),
                ip_protocol: Some(desired.protocol.as_str().to_string()),
                forward_entry_name: desired.name.clone(),
                port_break: desired.port_break.then_some(true),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    async fn delete(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> Result<(), CloudError> {
        client
            .call(&DeleteForwardEntry {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                forward_entry_id: id.to_string(),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    fn tables(ctx: &Context) -> &Tables<DnatRow> {
        &ctx.dnat
    }

    fn wakes(ctx: &Context) -> &Mutex<Option<UnboundedReceiver<ObjectName>>> {
        &ctx.dnat_wakes
    }

    fn status(&self) -> Option<&ForwardEntryStatus> {
        self.status.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(extra: serde_json::Value) -> ForwardEntry {
        let mut spec = json!({
            "natGatewayRef": {"name": "gw"},
            "externalIp": "47.1.2.3",
            "externalPort": "80",
            "internalIp": "192.168.0.10",
            "internalPort": "8080",
            "ipProtocol": "TCP",
        });
        if let (Some(base), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                if v.is_null() {
                    base.remove(k);
                } else {
                    base.insert(k.clone(), v.clone());
                }
            }
        }
        ForwardEntry::new("web", serde_json::from_value(spec).unwrap())
    }

    fn row(port: &str, protocol: &str) -> ForwardTableEntry {
        ForwardTableEntry {
            forward_entry_id: "fwd-1".into(),
            forward_entry_name: String::new(),
            external_ip: "47.1.2.3".into(),
            external_port: Some(port.into()),
            internal_ip: "192.168.0.10".into(),
            internal_port: Some("8080".into()),
            ip_protocol: protocol.into(),
            status: "Available".into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_snapshot_keeps_each_field_natop_compares() {
        let cloud = ForwardTableEntry {
            forward_entry_id: "fwd-9".into(),
            forward_entry_name: "web".into(),
            forward_table_id: "ftb-1".into(),
            external_ip: "47.1.2.9".into(),
            external_port: Some("8000/8010".into()),
            internal_ip: "192.168.0.9".into(),
            internal_port: Some("9000/9010".into()),
            ip_protocol: "UDP".into(),
            status: "Pending".into(),
            ..Default::default()
        };
        let kept = DnatRow::from(&cloud);
        assert_eq!(
            [
                kept.id(),
                kept.external_ip(),
                kept.external_port(),
                kept.internal_ip(),
                kept.internal_port(),
                kept.protocol(),
                kept.name(),
                kept.status(),
                Row::id(&kept),
                Row::status(&kept),
            ],
            [
                "fwd-9",
                "47.1.2.9",
                "8000/8010",
                "192.168.0.9",
                "9000/9010",
                "UDP",
                "web",
                "Pending",
                "fwd-9",
                "Pending",
            ]
        );
        // A port the cloud leaves out is empty, as it was compared before.
        let unported = DnatRow::from(&ForwardTableEntry {
            external_port: None,
            internal_port: None,
            ..cloud
        });
        assert_eq!(
            (unported.external_port(), unported.internal_port()),
            ("", "")
        );
        assert_eq!(unported.protocol(), "UDP");
    }

    #[test]
    fn the_natural_key_ignores_case_and_the_internal_side() {
        let desired = entry(json!({})).desired(&[]).unwrap();
        assert_eq!(ForwardEntry::natural_key(&desired), "47.1.2.3:80/TCP");
        assert!(ForwardEntry::has_key(
            &desired,
            &DnatRow::from(&row("80", "tcp"))
        ));
        let mut other_inside = row("80", "TCP");
        other_inside.internal_ip = "192.168.0.99".into();
        assert!(ForwardEntry::has_key(
            &desired,
            &DnatRow::from(&other_inside)
        ));
        assert!(!ForwardEntry::has_key(
            &desired,
            &DnatRow::from(&row("81", "tcp"))
        ));
        assert!(!ForwardEntry::has_key(
            &desired,
            &DnatRow::from(&row("80", "udp"))
        ));
    }

    #[test]
    fn integer_and_string_ports_are_one_entry_in_the_clouds_text() {
        // (spec ports, the external and internal port natop asks the cloud for)
        for (ports, external, internal) in [
            (
                json!({"externalPort": 80, "internalPort": 8080}),
                "80",
                "8080",
            ),
            (
                json!({"externalPort": "80", "internalPort": "8080"}),
                "80",
                "8080",
            ),
            (
                json!({"externalPort": 80, "internalPort": "8080"}),
                "80",
                "8080",
            ),
            (
                json!({"externalPort": "8000/8010", "internalPort": "9000/9010"}),
                "8000/8010",
                "9000/9010",
            ),
            (
                json!({"externalPort": "Any", "internalPort": "Any", "ipProtocol": "Any"}),
                "Any",
                "Any",
            ),
        ] {
            let desired = entry(ports.clone()).desired(&[]).unwrap();
            assert_eq!(
                (
                    desired.external_port.as_str(),
                    desired.internal_port.as_str()
                ),
                (external, internal),
                "{ports}"
            );
            let protocol = desired.protocol.as_str();
            assert_eq!(
                ForwardEntry::natural_key(&desired),
                format!("47.1.2.3:{external}/{protocol}"),
                "{ports}"
            );
            // The cloud's row for it is the entry, in sync: no drift loop.
            let mut cloud = row(external, protocol);
            cloud.internal_port = Some(internal.into());
            assert!(
                ForwardEntry::has_key(&desired, &DnatRow::from(&cloud)),
                "{ports}"
            );
            assert!(
                ForwardEntry::drift(&desired, &DnatRow::from(&cloud)).is_empty(),
                "{ports}: {:?}",
                ForwardEntry::drift(&desired, &DnatRow::from(&cloud))
            );
        }
        // `80` and `"80"` ask for the very same entry.
        let int = entry(json!({"externalPort": 80, "internalPort": 8080}));
        assert_eq!(int.desired(&[]), entry(json!({})).desired(&[]));
        // A port the cloud lower-cases is still the spec's `Any`.
        let any = entry(json!({"externalPort": "Any", "internalPort": "Any", "ipProtocol": "Any"}))
            .desired(&[])
            .unwrap();
        let mut cloud = row("any", "any");
        cloud.internal_port = Some("any".into());
        assert!(ForwardEntry::has_key(&any, &DnatRow::from(&cloud)));
        assert!(ForwardEntry::drift(&any, &DnatRow::from(&cloud)).is_empty());
        // An integer port edited to another is drift, named in the cloud's text.
        let moved = entry(json!({"externalPort": 80, "internalPort": 9090}))
            .desired(&[])
            .unwrap();
        let drift = ForwardEntry::drift(&moved, &DnatRow::from(&row("80", "tcp")));
        assert_eq!(
            drift,
            vec!["internalPort is \"8080\", the spec says \"9090\"".to_string()]
        );
    }

    #[test]
    fn an_entry_being_deleted_that_holds_the_key_is_waited_for() {
        let desired = entry(json!({})).desired(&[]).unwrap();
        let mut leaving = row("80", "tcp");
        leaving.status = "Deleting".into();
        let mut other = row("81", "tcp");
        other.status = "Deleting".into();
        for (rows, expected) in [
            (vec![], None),
            (vec![row("80", "tcp")], None),
            (vec![other.clone()], None),
            (vec![other, leaving.clone()], Some("fwd-1")),
        ] {
            let rows: Vec<DnatRow> = rows.iter().map(DnatRow::from).collect();
            assert_eq!(
                super::super::decide::deleting_holder::<ForwardEntry>(&desired, &rows)
                    .map(DnatRow::id),
                expected,
                "{rows:?}"
            );
        }
    }

    #[test]
    fn drift_names_each_differing_field() {
        let desired = entry(json!({"name": "web-80"})).desired(&[]).unwrap();
        let mut cloud = row("80", "tcp");
        cloud.forward_entry_name = "web-80".into();
        assert!(ForwardEntry::drift(&desired, &DnatRow::from(&cloud)).is_empty());
        cloud.internal_port = Some("9090".into());
        cloud.forward_entry_name = "old".into();
        let drift = ForwardEntry::drift(&desired, &DnatRow::from(&cloud));
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert!(drift[0].contains("internalPort") && drift[1].contains("name"));
        // No name in the spec: the cloud's name is left alone.
        let unnamed = entry(json!({})).desired(&[]).unwrap();
        cloud.internal_port = Some("8080".into());
        assert!(ForwardEntry::drift(&unnamed, &DnatRow::from(&cloud)).is_empty());
    }

    #[test]
    fn a_package_ip_is_taken_by_index() {
        let from = json!({"externalIp": null, "externalIpFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 1}});
        let ips = vec!["47.0.0.1".to_string(), "47.0.0.2".to_string()];
        assert_eq!(
            entry(from.clone()).desired(&ips).unwrap().external_ip,
            "47.0.0.2"
        );
        let error = entry(from).desired(&ips[..1]).unwrap_err();
        assert!(error.contains("index 1 is out of range"), "{error}");
    }
}
