//! SnatEntry: SNAT entries, keyed by their source (vSwitch or CIDR block).

use std::sync::Mutex;

use tokio::sync::mpsc::UnboundedReceiver;

use super::packed::Packed;
use super::tables::{ObjectName, Row, Tables};
use super::{Common, Difference, EntryKind};
use crate::api::NatGateway;
use crate::api::snat_entry::{RequestedSnatEntry, SnatEntry, SnatEntryStatus};
use crate::cloud::CloudError;
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::snat_entry::{
    CreateSnatEntry, DeleteSnatEntry, DescribeSnatTableEntries, ModifySnatEntry, SnatTableEntry,
};
use crate::controller::Context;

/// An SNAT entry as a table's snapshot keeps it: the fields natop compares
/// ([`Packed`]) and the EIP affinity.
#[derive(Clone, PartialEq, Eq)]
pub struct SnatRow {
    texts: Packed<6>,
    /// EIP affinity (`0` or `1`), when the cloud says.
    pub eip_affinity: Option<u8>,
}

impl SnatRow {
    /// Entry id (`snat-…`).
    pub fn id(&self) -> &str {
        self.texts.get(0)
    }
    /// The public IPs, comma-separated.
    pub fn snat_ip(&self) -> &str {
        self.texts.get(1)
    }
    /// Source vSwitch (empty for an entry by CIDR block).
    pub fn source_vswitch_id(&self) -> &str {
        self.texts.get(2)
    }
    /// Source CIDR block.
    pub fn source_cidr(&self) -> &str {
        self.texts.get(3)
    }
    /// Entry name.
    pub fn name(&self) -> &str {
        self.texts.get(4)
    }
    /// Cloud status.
    pub fn status(&self) -> &str {
        self.texts.get(5)
    }
}

impl From<&SnatTableEntry> for SnatRow {
    fn from(entry: &SnatTableEntry) -> SnatRow {
        SnatRow {
            texts: Packed::new([
                &entry.snat_entry_id,
                &entry.snat_ip,
                &entry.source_vswitch_id,
                &entry.source_cidr,
                &entry.snat_entry_name,
                &entry.status,
            ]),
            eip_affinity: entry.eip_affinity,
        }
    }
}

impl std::fmt::Debug for SnatRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnatRow")
            .field("id", &self.id())
            .field("snat_ip", &self.snat_ip())
            .field("source_vswitch_id", &self.source_vswitch_id())
            .field("source_cidr", &self.source_cidr())
            .field("name", &self.name())
            .field("status", &self.status())
            .field("eip_affinity", &self.eip_affinity)
            .finish()
    }
}

impl Row for SnatRow {
    fn id(&self) -> &str {
        SnatRow::id(self)
    }
    fn status(&self) -> &str {
        SnatRow::status(self)
    }
}

/// Where an SNAT entry's traffic comes from: its natural key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A vSwitch.
    VSwitch(&'a str),
    /// A CIDR block.
    Cidr(&'a str),
}

/// An SNAT entry as the cloud should hold it (and as `status.creating` records it).
pub type DesiredSnat = RequestedSnatEntry;

/// The source of `desired`: its vSwitch when it names one, else its CIDR block.
pub fn source(desired: &DesiredSnat) -> Source<'_> {
    match (&desired.source_vswitch_id, &desired.source_cidr) {
        (Some(vswitch), _) => Source::VSwitch(vswitch),
        (None, Some(cidr)) => Source::Cidr(cidr),
        (None, None) => Source::Cidr(""),
    }
}

fn ip_set(text: &str) -> Vec<String> {
    let mut ips: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

impl EntryKind for SnatEntry {
    const KIND: &'static str = "SnatEntry";
    const TABLE: &'static str = "SNAT table";
    const KEY_TAKEN: &'static [&'static str] = &["Forbidden.SourceVSwitchId.Duplicated"];
    const ID_PREFIXES: &'static [&'static str] = &["snat-"];
    const CREATE: &'static str = <CreateSnatEntry as crate::cloud::alibaba::Action>::NAME;
    const MODIFY: &'static str = <ModifySnatEntry as crate::cloud::alibaba::Action>::NAME;
    type Row = SnatRow;
    type Desired = DesiredSnat;
    type Status = SnatEntryStatus;

    fn common(&self) -> Common<'_> {
        let spec = &self.spec;
        Common {
            provider: &spec.provider_config_ref.name,
            region: spec.region.as_deref(),
            deletion: spec.deletion_policy,
            management: spec.management_policy,
            gateway: spec.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
            table: spec.snat_table_id.as_deref(),
            package: spec
                .snat_ips_from
                .as_ref()
                .map(|s| s.bandwidth_package_ref.name.as_str()),
        }
    }

    fn validate(&self) -> Result<(), String> {
        crate::api::snat_entry::validate(&self.spec)
    }

    fn cloud_gateway_table(
        gateway: &crate::cloud::alibaba::actions::nat_gateway::NatGateway,
    ) -> Option<String> {
        gateway.snat_table_ids.first().cloned()
    }

    fn gateway_table(gateway: &NatGateway) -> Option<String> {
        gateway.status.as_ref()?.snat_table_id.clone()
    }

    fn desired(&self, package_ips: &[String]) -> Result<DesiredSnat, String> {
        let spec = &self.spec;
        let mut ips = match &spec.snat_ips_from {
            None => spec.snat_ips.clone(),
            Some(from) if from.all => {
                if package_ips.is_empty() {
                    return Err(format!(
                        "BandwidthPackage {} has no public IPs",
                        from.bandwidth_package_ref.name
                    ));
                }
                package_ips.to_vec()
            }
            Some(from) => {
                let index = from.index.unwrap_or_default();
                let ip = usize::try_from(index)
                    .ok()
                    .and_then(|i| package_ips.get(i))
                    .ok_or_else(|| {
                        format!(
                            "BandwidthPackage {} has {} public IPs; spec.snatIpsFrom.index {index} is out of range",
                            from.bandwidth_package_ref.name,
                            package_ips.len()
                        )
                    })?;
                vec![ip.clone()]
            }
        };
        ips.sort();
        ips.dedup();
        let (source_vswitch_id, source_cidr) = match (&spec.source_vswitch_id, &spec.source_cidr) {
            (Some(vswitch), _) => (Some(vswitch.clone()), None),
            (None, Some(cidr)) => (None, Some(cidr.clone())),
            (None, None) => return Err("the entry has no source".into()),
        };
        Ok(DesiredSnat {
            ips,
            source_vswitch_id,
            source_cidr,
            name: spec.name.clone(),
            eip_affinity: spec.eip_affinity,
        })
    }

    fn natural_key(desired: &DesiredSnat) -> String {
        match source(desired) {
            Source::VSwitch(v) | Source::Cidr(v) => v.to_string(),
        }
    }

    fn has_key(desired: &DesiredSnat, row: &SnatRow) -> bool {
        match source(desired) {
            Source::VSwitch(v) => row.source_vswitch_id() == v,
            Source::Cidr(c) => row.source_vswitch_id().is_empty() && row.source_cidr() == c,
        }
    }

    fn differences(desired: &DesiredSnat, row: &SnatRow) -> Vec<Difference> {
        let mut drift = Vec::new();
        let have = ip_set(row.snat_ip());
        if have != desired.ips {
            let (cloud, spec) = (have.join(","), desired.ips.join(","));
            drift.push(Difference {
                field: "snatIps",
                message: format!("snatIps are {cloud:?}, the spec says {spec:?}"),
                cloud,
                spec,
            });
        }
        if let Some(name) = &desired.name
            && name != row.name()
        {
            drift.push(Difference::new("name", row.name(), name));
        }
        if let Some(affinity) = row.eip_affinity
            && (affinity == 1) != desired.eip_affinity
        {
            let (cloud, spec) = (
                (affinity == 1).to_string(),
                desired.eip_affinity.to_string(),
            );
            drift.push(Difference {
                field: "eipAffinity",
                message: format!("eipAffinity is {cloud}, the spec says {spec}"),
                cloud,
                spec,
            });
        }
        drift
    }

    fn ips(row: &SnatRow) -> String {
        row.snat_ip().to_string()
    }

    fn desired_ips(desired: &DesiredSnat) -> String {
        desired.ips.join(",")
    }

    async fn describe(
        client: &AlibabaClient,
        region: &str,
        table: &str,
    ) -> Result<(Vec<SnatRow>, u32), CloudError> {
        let (entries, pages) = client
            .describe_pages(&DescribeSnatTableEntries {
                region_id: region.to_string(),
                snat_table_id: table.to_string(),
                ..Default::default()
            })
            .await?;
        Ok((entries.iter().map(SnatRow::from).collect(), pages))
    }

    async fn describe_one(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
    ) -> Result<Option<SnatRow>, CloudError> {
        // Only the entry asked for: an answer naming another is no answer.
        // A table that is not found is an error here, not "no entry": the
        // caller's next table read decides what that means.
        let rows = client
            .describe_all(&DescribeSnatTableEntries {
                region_id: region.to_string(),
                snat_table_id: table.to_string(),
                snat_entry_id: Some(id.to_string()),
                ..Default::default()
            })
            .await?;
        Ok(rows
            .iter()
            .find(|r| r.snat_entry_id == id)
            .map(SnatRow::from))
    }

    async fn create(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        desired: &DesiredSnat,
        token: String,
    ) -> Result<String, CloudError> {
        let (vswitch, cidr) = match source(desired) {
            Source::VSwitch(v) => (Some(v.to_string()), None),
            Source::Cidr(c) => (None, Some(c.to_string())),
        };
        let created = client
            .call(&CreateSnatEntry {
                region_id: region.to_string(),
                snat_table_id: table.to_string(),
                snat_ip: desired.ips.join(","),
                source_vswitch_id: vswitch,
                source_cidr: cidr,
                snat_entry_name: desired.name.clone(),
                eip_affinity: Some(u8::from(desired.eip_affinity)),
                client_token: Some(token),
            })
            .await?;
        Ok(created.snat_entry_id)
    }

    async fn modify(
        client: &AlibabaClient,
        region: &str,
        table: &str,
        id: &str,
        desired: &DesiredSnat,
    ) -> Result<(), CloudError> {
        client
            .call(&ModifySnatEntry {
                region_id: region.to_string(),
                snat_table_id: table.to_string(),
                snat_entry_id: id.to_string(),
                snat_ip: Some(desired.ips.join(",")),
                snat_entry_name: desired.name.clone(),
                eip_affinity: Some(u8::from(desired.eip_affinity)),
                client_token: None,
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
            .call(&DeleteSnatEntry {
                region_id: region.to_string(),
                snat_table_id: table.to_string(),
                snat_entry_id: id.to_string(),
                ..Default::default()
            })
            .await?;
        Ok(())
    }

    fn tables(ctx: &Context) -> &Tables<SnatRow> {
        &ctx.snat
    }

    fn wakes(ctx: &Context) -> &Mutex<Option<UnboundedReceiver<ObjectName>>> {
        &ctx.snat_wakes
    }

    fn status(&self) -> Option<&SnatEntryStatus> {
        self.status.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(extra: serde_json::Value) -> SnatEntry {
        let mut spec = json!({
            "natGatewayRef": {"name": "gw"},
            "snatIps": ["47.1.2.4", "47.1.2.3"],
            "sourceVSwitchId": "vsw-1",
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
        SnatEntry::new("egress", serde_json::from_value(spec).unwrap())
    }

    fn row() -> SnatTableEntry {
        SnatTableEntry {
            snat_entry_id: "snat-1".into(),
            snat_ip: "47.1.2.3,47.1.2.4".into(),
            source_vswitch_id: "vsw-1".into(),
            source_cidr: "192.168.1.0/24".into(),
            status: "Available".into(),
            eip_affinity: Some(0),
            ..Default::default()
        }
    }

    #[test]
    fn the_snapshot_keeps_each_field_natop_compares() {
        let cloud = SnatTableEntry {
            snat_entry_name: "egress".into(),
            status: "Pending".into(),
            eip_affinity: Some(1),
            ..row()
        };
        let kept = SnatRow::from(&cloud);
        assert_eq!(
            [
                kept.id(),
                kept.snat_ip(),
                kept.source_vswitch_id(),
                kept.source_cidr(),
                kept.name(),
                kept.status(),
                Row::id(&kept),
                Row::status(&kept),
            ],
            [
                "snat-1",
                "47.1.2.3,47.1.2.4",
                "vsw-1",
                "192.168.1.0/24",
                "egress",
                "Pending",
                "snat-1",
                "Pending",
            ]
        );
        assert_eq!(kept.eip_affinity, Some(1));
    }

    #[test]
    fn the_natural_key_is_the_source() {
        let by_vswitch = entry(json!({})).desired(&[]).unwrap();
        assert_eq!(SnatEntry::natural_key(&by_vswitch), "vsw-1");
        assert!(SnatEntry::has_key(&by_vswitch, &SnatRow::from(&row())));
        let by_cidr = entry(json!({"sourceVSwitchId": null, "sourceCIDR": "192.168.1.0/24"}))
            .desired(&[])
            .unwrap();
        // A vSwitch entry is not the CIDR entry, even with the same block.
        assert!(!SnatEntry::has_key(&by_cidr, &SnatRow::from(&row())));
        let mut cidr_row = row();
        cidr_row.source_vswitch_id.clear();
        assert!(SnatEntry::has_key(&by_cidr, &SnatRow::from(&cidr_row)));
    }

    #[test]
    fn snat_ips_compare_as_a_set() {
        let desired = entry(json!({})).desired(&[]).unwrap();
        assert!(SnatEntry::drift(&desired, &SnatRow::from(&row())).is_empty());
        let mut changed = row();
        changed.snat_ip = "47.1.2.3".into();
        changed.eip_affinity = Some(1);
        let drift = SnatEntry::drift(&desired, &SnatRow::from(&changed));
        assert_eq!(drift.len(), 2, "{drift:?}");
        assert_eq!(SnatEntry::desired_ips(&desired), "47.1.2.3,47.1.2.4");
    }

    #[test]
    fn package_ips_are_taken_by_index_or_all() {
        let ips = vec!["47.0.0.2".to_string(), "47.0.0.1".to_string()];
        let all = entry(
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "all": true}}),
        );
        assert_eq!(all.desired(&ips).unwrap().ips, vec!["47.0.0.1", "47.0.0.2"]);
        assert!(all.desired(&[]).is_err());
        let one = entry(
            json!({"snatIps": null, "snatIpsFrom": {"bandwidthPackageRef": {"name": "bwp"}, "index": 0}}),
        );
        assert_eq!(one.desired(&ips).unwrap().ips, vec!["47.0.0.2"]);
        assert!(one.desired(&[]).unwrap_err().contains("out of range"));
    }
}
