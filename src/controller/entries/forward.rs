//! ForwardEntry: DNAT entries, keyed by external IP, external port and protocol.

use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedReceiver;

use super::tables::{ObjectName, Row, Tables};
use super::{Common, EntryKind};
use crate::api::NatGateway;
use crate::api::forward_entry::{ForwardEntry, ForwardEntryStatus, RequestedForwardEntry};
use crate::cloud::CloudError;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::forward_entry::{
    CreateForwardEntry, DeleteForwardEntry, DescribeForwardTableEntries, ForwardTableEntry,
    ModifyForwardEntry,
};
use crate::controller::Context;

impl Row for ForwardTableEntry {
    fn id(&self) -> &str {
        &self.forward_entry_id
    }
    fn status(&self) -> &str {
        &self.status
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
    type Row = ForwardTableEntry;
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

    fn has_key(desired: &DesiredForward, row: &ForwardTableEntry) -> bool {
        row.external_ip == desired.external_ip
            && same(
                row.external_port.as_deref().unwrap_or_default(),
                &desired.external_port,
            )
            && same(&row.ip_protocol, desired.protocol.as_str())
    }

    fn drift(desired: &DesiredForward, row: &ForwardTableEntry) -> Vec<String> {
        let mut drift = Vec::new();
        let mut check = |field: &str, want: &str, have: &str| {
            if !same(want, have) {
                drift.push(format!("{field} is {have:?}, the spec says {want:?}"));
            }
        };
        check("externalIp", &desired.external_ip, &row.external_ip);
        check(
            "externalPort",
            &desired.external_port,
            row.external_port.as_deref().unwrap_or_default(),
        );
        check("internalIp", &desired.internal_ip, &row.internal_ip);
        check(
            "internalPort",
            &desired.internal_port,
            row.internal_port.as_deref().unwrap_or_default(),
        );
        check("ipProtocol", desired.protocol.as_str(), &row.ip_protocol);
        if let Some(name) = &desired.name
            && name != &row.forward_entry_name
        {
            drift.push(format!(
                "name is {:?}, the spec says {name:?}",
                row.forward_entry_name
            ));
        }
        drift
    }

    fn ips(row: &ForwardTableEntry) -> String {
        row.external_ip.clone()
    }

    fn desired_ips(desired: &DesiredForward) -> String {
        desired.external_ip.clone()
    }

    async fn describe(
        client: &AlibabaClient,
        region: &str,
        table: &str,
    ) -> Result<(Vec<ForwardTableEntry>, u32), CloudError> {
        client
            .describe_pages(&DescribeForwardTableEntries {
                region_id: region.to_string(),
                forward_table_id: table.to_string(),
                ..Default::default()
            })
            .await
    }

    async fn describe_one(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> Result<Option<ForwardTableEntry>, CloudError> {
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
        Ok(rows.into_iter().find(|r| r.forward_entry_id == id))
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

    fn tables(ctx: &Context) -> &Tables<ForwardTableEntry> {
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
    fn the_natural_key_ignores_case_and_the_internal_side() {
        let desired = entry(json!({})).desired(&[]).unwrap();
        assert_eq!(ForwardEntry::natural_key(&desired), "47.1.2.3:80/TCP");
        assert!(ForwardEntry::has_key(&desired, &row("80", "tcp")));
        let mut other_inside = row("80", "TCP");
        other_inside.internal_ip = "192.168.0.99".into();
        assert!(ForwardEntry::has_key(&desired, &other_inside));
        assert!(!ForwardEntry::has_key(&desired, &row("81", "tcp")));
        assert!(!ForwardEntry::has_key(&desired, &row("80", "udp")));
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
            assert!(ForwardEntry::has_key(&desired, &cloud), "{ports}");
            assert!(
                ForwardEntry::drift(&desired, &cloud).is_empty(),
                "{ports}: {:?}",
                ForwardEntry::drift(&desired, &cloud)
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
        assert!(ForwardEntry::has_key(&any, &cloud));
        assert!(ForwardEntry::drift(&any, &cloud).is_empty());
        // An integer port edited to another is drift, named in the cloud's text.
        let moved = entry(json!({"externalPort": 80, "internalPort": 9090}))
            .desired(&[])
            .unwrap();
        let drift = ForwardEntry::drift(&moved, &row("80", "tcp"));
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
            assert_eq!(
                super::super::decide::deleting_holder::<ForwardEntry>(&desired, &rows)
                    .map(|r| r.forward_entry_id.as_str()),
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
        assert!(ForwardEntry::drift(&desired, &cloud).is_empty());
        cloud.internal_port = Some("9090".into());
        cloud.forward_entry_name = "old".into();
        let drift = ForwardEntry::drift(&desired, &cloud);
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert!(drift[0].contains("internalPort") && drift[1].contains("name"));
        // No name in the spec: the cloud's name is left alone.
        let unnamed = entry(json!({})).desired(&[]).unwrap();
        cloud.internal_port = Some("8080".into());
        assert!(ForwardEntry::drift(&unnamed, &cloud).is_empty());
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
