//! Dereference: where an entry lives and how to reach it. The table comes
//! from the NatGateway object (once Ready) or the spec, the public IPs from a
//! referenced BandwidthPackage, the client from the ProviderConfig; a deleting
//! entry goes where its status recorded it.

use kube::ResourceExt;

use super::decide::describe_entry;
use super::tables::TableKey;
use super::{EntryKind, EntryStatus};
use crate::api::{BandwidthPackage, CloudLocation, NatGateway};
use crate::cloud::alibaba::AlibabaClient;
use crate::cloud::alibaba::actions::nat_gateway::DescribeNatGateways;
use crate::controller::Context;
use crate::controller::engine;
use crate::controller::engine::read_through;
use crate::controller::location;
use crate::controller::reconcile::ReconcileError;
use crate::controller::status::{Verdict, is_true};

/// Where the entry lives and how to reach it.
pub(super) struct Target<K: EntryKind> {
    pub(super) key: TableKey,
    pub(super) client: AlibabaClient,
    /// Where calls through `client` act.
    pub(super) location: CloudLocation,
    /// The gateway whose table `key` names, when known.
    pub(super) gateway_id: Option<String>,
    /// Whether that gateway is a NatGateway object's whose gateway carries
    /// this natop's owner id: an unclaimed entry in its table that matches
    /// the spec is this object's to adopt (a rebuilt cluster).
    pub(super) owned_table: bool,
    /// The desired entry; `Err` says why a reference cannot be used.
    pub(super) desired: Result<K::Desired, String>,
}

/// Why there is no target yet: wait (something referenced is not ready) or
/// stall (something referenced is wrong).
pub(super) enum NoTarget {
    Wait(Verdict),
    Stall(Verdict),
}

/// Resolve the table, the provider and the package IPs.
pub(super) async fn target<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    deleting: bool,
) -> Result<Result<Target<K>, NoTarget>, ReconcileError> {
    let namespace = entry.namespace().unwrap_or_default();
    let common = entry.common();
    let mut provider = common.provider.to_string();
    let mut region = common.region.map(String::from);
    let mut gateway_id = None;
    let mut owned_table = false;
    let table = match (common.gateway, common.table) {
        (_, Some(table)) => table.to_string(),
        (Some(name), None) => {
            // A cached gateway will do when it is Ready with its table (or,
            // while deleting, has recorded one); a gateway object that no
            // longer decodes cannot say where its tables are.
            let usable = |g: &NatGateway| {
                K::gateway_table(g).is_some()
                    && (deleting
                        || g.status
                            .as_ref()
                            .is_some_and(|s| is_true(&s.conditions, "Ready")))
            };
            let gateway = read_through(ctx, &namespace, name, usable).await?;
            let Some(gateway) = gateway else {
                return Ok(Err(NoTarget::Wait(Verdict::progressing(
                    "WaitingForGateway",
                    format!("NatGateway {name} does not exist (yet)"),
                ))));
            };
            // Where the gateway lives, as it recorded it; its spec until it has.
            match gateway.status.as_ref().and_then(|s| s.location.as_ref()) {
                Some(at) => {
                    provider.clone_from(&at.provider_config);
                    region = Some(at.region.clone());
                }
                None => {
                    provider.clone_from(&gateway.spec.provider_config_ref.name);
                    region.clone_from(&gateway.spec.region);
                }
            }
            gateway_id = gateway.status.as_ref().and_then(|s| s.id.clone());
            owned_table = gateway
                .status
                .as_ref()
                .and_then(|s| s.owner_id.as_deref())
                .is_some_and(|owner| owner == ctx.config.owner_id);
            let ready = gateway.status.as_ref().and_then(|s| {
                s.conditions
                    .iter()
                    .find(|c| c.type_ == "Ready")
                    .map(|c| (c.status == "True", c.message.clone()))
            });
            let table = K::gateway_table(&gateway);
            match (ready, table) {
                (Some((true, _)), Some(table)) => table,
                // While deleting, the recorded table is good enough.
                (_, Some(table)) if deleting => table,
                (ready, _) => {
                    let why = ready
                        .map(|(_, message)| message)
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "no status yet".into());
                    return Ok(Err(NoTarget::Wait(Verdict::progressing(
                        "WaitingForGateway",
                        format!("NatGateway {name} is not Ready: {why}"),
                    ))));
                }
            }
        }
        (None, None) => {
            return Ok(Err(NoTarget::Stall(Verdict::stalled(
                "InvalidSpec",
                "no gateway and no table",
            ))));
        }
    };
    let mut package_ips = Vec::new();
    if let Some(name) = common.package {
        let package = read_through(ctx, &namespace, name, |p: &BandwidthPackage| {
            p.status
                .as_ref()
                .is_some_and(|s| is_true(&s.conditions, "Ready"))
        })
        .await?;
        let ready = package.as_ref().and_then(|p| {
            p.status.as_ref().filter(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        });
        match ready {
            Some(status) => {
                package_ips = status
                    .public_ip_addresses
                    .iter()
                    .map(|ip| ip.ip.clone())
                    .collect();
            }
            None if !deleting => {
                let why = if package.is_some() {
                    "is not Ready"
                } else {
                    "does not exist (yet)"
                };
                return Ok(Err(NoTarget::Wait(Verdict::progressing(
                    "WaitingForBandwidthPackage",
                    format!("BandwidthPackage {name} {why}"),
                ))));
            }
            None => {}
        }
    }
    let desired = entry.desired(&package_ips);
    Ok(reach::<K>(
        ctx,
        &namespace,
        &provider,
        region.as_deref(),
        table,
        gateway_id,
    )
    .await?
    .map(|(key, client, location, gateway_id)| Target {
        key,
        client,
        location,
        gateway_id,
        owned_table,
        desired,
    }))
}

/// What [`reach`] gives: the table's key, the client, where it acts, and
/// the gateway of the table.
pub(super) type Reached = (TableKey, AlibabaClient, CloudLocation, Option<String>);

/// The client for `table` through ProviderConfig `provider` in `region`.
pub(super) async fn reach<K: EntryKind>(
    ctx: &Context,
    namespace: &str,
    provider: &str,
    region: Option<&str>,
    table: String,
    gateway_id: Option<String>,
) -> Result<Result<Reached, NoTarget>, ReconcileError> {
    let (client, location) = match engine::alibaba(
        ctx,
        <K as EntryKind>::KIND,
        namespace,
        None,
        provider,
        region,
    )
    .await?
    {
        Ok(found) => found,
        Err(verdict) => return Ok(Err(NoTarget::Stall(verdict))),
    };
    let key = TableKey {
        provider: location.provider_config.clone(),
        region: location.region.clone(),
        table,
    };
    Ok(Ok((key, client, location, gateway_id)))
}

/// Whether gateway `id` is gone, by a read of that one gateway (never a list).
pub(super) async fn gateway_gone(
    client: &AlibabaClient,
    region: &str,
    id: &str,
) -> Result<bool, ReconcileError> {
    let found = client
        .call(&DescribeNatGateways {
            region_id: region.to_string(),
            nat_gateway_id: Some(id.to_string()),
            ..Default::default()
        })
        .await;
    match found {
        Ok(answer) => Ok(!answer.nat_gateways.iter().any(|g| g.nat_gateway_id == id)),
        Err(e) if e.is_not_found() => Ok(true),
        Err(e) => Err(e.into()),
    }
}

/// Where a deleting entry lives: the table and place it recorded, whatever
/// its gateway object (which may be gone, orphaned or observed) says now.
/// `Err` says why natop cannot reach it yet; the finalizer stays.
pub(super) async fn recorded_target<K: EntryKind>(
    entry: &K,
    ctx: &Context,
    status: &K::Status,
) -> Result<Result<Target<K>, Verdict>, ReconcileError> {
    let fields = status.fields();
    let (Some(at), Some(table)) = (fields.location, fields.table) else {
        // Recorded by a natop that did not record places: only the object's
        // references can say where the entry is.
        return Ok(match target(entry, ctx, true).await? {
            Ok(mut target) => {
                if let Some(table) = fields.table {
                    table.clone_into(&mut target.key.table);
                }
                Ok(target)
            }
            Err(NoTarget::Wait(verdict) | NoTarget::Stall(verdict)) => Err(Verdict::stalled(
                location::LOCATION_CHANGED,
                format!(
                    "not deleted: {} has no recorded place (it was made by an older natop) \
                     and its references cannot be followed now ({}): restore them, or check \
                     the cloud and set spec.deletionPolicy Orphan",
                    describe_entry(fields.id.as_deref()),
                    verdict.message()
                ),
            )),
        });
    };
    let reached = match reach::<K>(
        ctx,
        &entry.namespace().unwrap_or_default(),
        &at.provider_config,
        Some(&at.region),
        table.clone(),
        fields.gateway_id.clone(),
    )
    .await?
    {
        Ok(reached) => reached,
        Err(NoTarget::Wait(verdict) | NoTarget::Stall(verdict)) => {
            return Ok(Err(Verdict::progressing(
                verdict.reason(),
                format!("not deleted yet: {}", verdict.message()),
            )));
        }
    };
    let (key, client, here, gateway_id) = reached;
    if let Err(message) = location::check(Some(at), &here, &describe_entry(fields.id.as_deref())) {
        return Ok(Err(Verdict::stalled(
            location::LOCATION_CHANGED,
            format!("not deleted: {message}"),
        )));
    }
    // The natural key only matters when no id was recorded.
    let desired = if fields.id.is_none() {
        match target(entry, ctx, true).await? {
            Ok(target) => target.desired,
            Err(_) => Err("the references cannot be followed".to_string()),
        }
    } else {
        Err("not needed".to_string())
    };
    Ok(Ok(Target {
        key,
        client,
        location: here,
        gateway_id,
        // Deletion never adopts.
        owned_table: false,
        desired,
    }))
}

/// The desired entry, following the object's references now, if they can be.
pub(super) async fn followed_desired<K: EntryKind>(
    entry: &K,
    ctx: &Context,
) -> Result<Option<K::Desired>, ReconcileError> {
    Ok(match target(entry, ctx, true).await? {
        Ok(target) => target.desired.ok(),
        Err(_) => None,
    })
}
