//! `natop status`: the NAT gateways natop manages, with their DNAT and SNAT
//! tables, entries and bandwidth packages, then the IPv6 bandwidths, then the
//! objects whose gateway object is missing, each with its cloud id and Ready
//! condition; as a tree or as JSON, once or until everything is Ready.
//!
//! Three layers: [`fetch`] lists the objects, [`build`] turns them into a
//! [`Status`] (pure), [`render`] turns that into text (pure).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::{Api, Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{
    BandwidthPackage, ForwardEntry, Ipv6InternetBandwidth, NatGateway, SnatEntry, condition,
};
use crate::controller::engine::{CommonStatus as _, ManagedKind};

/// Arguments of `natop status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Show only this NatGateway: its tables, entries and packages.
    #[arg(value_name = "GATEWAY")]
    pub gateway: Option<String>,

    /// The namespace; default: the kubeconfig context's, else `default`.
    #[arg(
        short = 'n',
        long,
        value_name = "NS",
        conflicts_with = "all_namespaces"
    )]
    pub namespace: Option<String>,

    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Tree)]
    pub output: Output,

    /// Redraw every --interval until every object shown is Ready (exit 0)
    /// or --timeout passes (exit 1).
    #[arg(long)]
    pub watch: bool,

    /// How long --watch waits for everything to be Ready (e.g. 10m, 90s).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub timeout: Duration,

    /// How often --watch reads the objects again (e.g. 2s, 500ms).
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub interval: Duration,

    /// Colour the Ready column: `auto` when stdout is a terminal and
    /// NO_COLOR is not set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Kubeconfig file; without it, $KUBECONFIG, ~/.kube/config or the
    /// in-cluster configuration.
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
}

/// `-o`: what `natop status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// A tree, one line per object.
    Tree,
    /// One JSON document: `allReady`, `gateways`, `ipv6Bandwidths`, ...
    Json,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When stdout is a terminal and NO_COLOR is unset or empty.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// A duration such as `10m`, `2s`, `500ms` or `1h30m` (jiff's friendly
/// format; ISO 8601 `PT10M` too), positive.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration: use e.g. 500ms, 2s, 10m or 1h30m");
    let signed: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
    match Duration::try_from(signed) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(bad()),
    }
}

// --- Model ------------------------------------------------------------------

/// Which namespaces are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One namespace.
    Namespace(String),
    /// Every namespace (`-A`).
    All,
}

/// The listed objects, the input of [`build`].
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// NatGateways.
    pub gateways: Vec<NatGateway>,
    /// ForwardEntries (DNAT).
    pub forward_entries: Vec<ForwardEntry>,
    /// SnatEntries.
    pub snat_entries: Vec<SnatEntry>,
    /// BandwidthPackages (Alibaba and UCloud).
    pub packages: Vec<BandwidthPackage>,
    /// Ipv6InternetBandwidths.
    pub ipv6_bandwidths: Vec<Ipv6InternetBandwidth>,
    /// Objects the cluster holds that do not decode as their kind (an
    /// object stored before its CRD's schema refused it): not Ready, with
    /// what is wrong.
    pub unreadable: Vec<ObjectStatus>,
}

/// One object as `natop status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStatus {
    /// The kind, e.g. `ForwardEntry`.
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// The cloud resource's id (`status.id`).
    pub id: Option<String>,
    /// The Ready condition's status: `True`, `False` or `Unknown` (also when
    /// there is no Ready condition yet).
    pub ready: String,
    /// The Ready condition's reason.
    pub reason: Option<String>,
    /// The Ready condition's message.
    pub message: Option<String>,
    /// The status describes an older generation than the object's: natop has
    /// not reconciled the latest spec yet.
    pub stale: bool,
}

impl ObjectStatus {
    /// Ready=True for the object's current generation.
    pub fn is_ready(&self) -> bool {
        self.ready == "True" && !self.stale
    }

    fn label(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// A NatGateway with what belongs to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    /// The gateway object itself.
    #[serde(flatten)]
    pub object: ObjectStatus,
    /// Its DNAT table (`status.forwardTableId`).
    pub forward_table_id: Option<String>,
    /// Its SNAT table (`status.snatTableId`).
    pub snat_table_id: Option<String>,
    /// ForwardEntries naming it or its DNAT table.
    pub forward_entries: Vec<ObjectStatus>,
    /// SnatEntries naming it or its SNAT table.
    pub snat_entries: Vec<ObjectStatus>,
    /// Alibaba BandwidthPackages naming it or its cloud id.
    pub bandwidth_packages: Vec<ObjectStatus>,
}

/// What objects of a [`MissingGroup`] point at, and nothing listed has.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Missing {
    /// `spec.natGatewayRef`: a NatGateway object (`namespace/name`) that is not there.
    NatGatewayRef,
    /// `spec.forwardTableId` that no listed NatGateway has.
    ForwardTableId,
    /// `spec.snatTableId` that no listed NatGateway has.
    SnatTableId,
    /// `spec.alibaba.natGatewayId` that no listed NatGateway has.
    NatGatewayId,
    /// No gateway reference at all.
    None,
}

/// Objects pointing at the same missing gateway or table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MissingGroup {
    /// What they point at.
    pub missing: Missing,
    /// The gateway object (`namespace/name`), table id or gateway id.
    pub key: String,
    /// The objects, ForwardEntries, then SnatEntries, then BandwidthPackages.
    pub objects: Vec<ObjectStatus>,
}

/// Everything `natop status` shows (`-o json` prints it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Every object shown is Ready for its current generation, and the
    /// GATEWAY asked for is there.
    pub all_ready: bool,
    /// The namespace read; `null`: every namespace.
    pub namespace: Option<String>,
    /// The NatGateway asked for (GATEWAY), if any.
    pub gateway: Option<String>,
    /// The GATEWAY asked for when no NatGateway of that name is there.
    pub not_found: Option<String>,
    /// The gateways and what belongs to them.
    pub gateways: Vec<GatewayStatus>,
    /// Ipv6InternetBandwidths (not shown with GATEWAY).
    pub ipv6_bandwidths: Vec<ObjectStatus>,
    /// UCloud BandwidthPackages, which belong to no NAT gateway (not shown
    /// with GATEWAY).
    pub ucloud_bandwidth_packages: Vec<ObjectStatus>,
    /// Objects whose gateway (or table) no listed NatGateway is.
    pub without_gateway: Vec<MissingGroup>,
    /// Objects that do not decode as their kind, with what is wrong.
    pub unreadable: Vec<ObjectStatus>,
}

impl Status {
    /// Every object shown, gateways first.
    pub fn objects(&self) -> impl Iterator<Item = &ObjectStatus> {
        self.gateways
            .iter()
            .flat_map(|g| {
                std::iter::once(&g.object)
                    .chain(&g.forward_entries)
                    .chain(&g.snat_entries)
                    .chain(&g.bandwidth_packages)
            })
            .chain(&self.ipv6_bandwidths)
            .chain(&self.ucloud_bandwidth_packages)
            .chain(self.without_gateway.iter().flat_map(|g| &g.objects))
            .chain(&self.unreadable)
    }

    /// The objects that are not Ready, `Kind ns/name (Ready=…: reason)`.
    pub fn not_ready(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .objects()
            .filter(|o| !o.is_ready())
            .map(|o| {
                let mut text = format!("{} (Ready={}", o.label(), o.ready);
                if let Some(reason) = &o.reason {
                    text.push_str(": ");
                    text.push_str(reason);
                }
                if o.stale {
                    text.push_str(", latest generation not reconciled yet");
                }
                text.push(')');
                text
            })
            .collect();
        if let Some(gateway) = &self.not_found {
            out.insert(0, format!("NatGateway {gateway} (not found)"));
        }
        out
    }
}

/// The Ready condition and generations of `object`, as [`ObjectStatus`].
fn object_status<K: ManagedKind>(object: &K) -> ObjectStatus {
    let meta = object.meta();
    let status = object.status();
    let conditions = status.map(|s| s.conditions()).unwrap_or_default();
    let ready = conditions.iter().find(|c| c.type_ == condition::READY);
    let observed = ready
        .and_then(|c| c.observed_generation)
        .or_else(|| status.and_then(|s| s.observed_generation()));
    let stale = matches!((observed, meta.generation), (Some(o), Some(g)) if o < g);
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ObjectStatus {
        kind: K::KIND.to_string(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        name: meta.name.clone().unwrap_or_default(),
        id: status
            .and_then(|s| s.id())
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        ready: match ready.map(|c| c.status.as_str()) {
            Some(s @ ("True" | "False")) => s.to_string(),
            _ => "Unknown".to_string(),
        },
        reason: ready.and_then(|c| text(&c.reason)),
        message: ready.and_then(|c| text(&c.message)),
        stale,
    }
}

fn namespace_of(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

fn name_of(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Where an entry or package goes: a gateway (index) or a missing group.
enum Place {
    Gateway(usize),
    Missing(Missing, String),
}

/// The gateway a reference or table id leads to. `by_ref`: the name in
/// `spec.natGatewayRef` (same namespace); else `by_id` finds a gateway whose
/// id (table or gateway, `id_of`) matches, preferring one in `namespace`.
fn place(
    gateways: &[NatGateway],
    namespace: &str,
    by_ref: Option<&str>,
    by_id: Option<(&str, Missing)>,
    id_of: impl Fn(&NatGateway) -> Option<&str>,
) -> Place {
    if let Some(name) = by_ref {
        return match gateways
            .iter()
            .position(|g| namespace_of(&g.metadata) == namespace && name_of(&g.metadata) == name)
        {
            Some(i) => Place::Gateway(i),
            None => Place::Missing(Missing::NatGatewayRef, format!("{namespace}/{name}")),
        };
    }
    let Some((id, missing)) = by_id.filter(|(id, _)| !id.is_empty()) else {
        return Place::Missing(Missing::None, String::new());
    };
    let matches = |g: &&NatGateway| id_of(g) == Some(id);
    let same_namespace = gateways
        .iter()
        .position(|g| namespace_of(&g.metadata) == namespace && matches(&g));
    match same_namespace.or_else(|| gateways.iter().position(|g| matches(&g))) {
        Some(i) => Place::Gateway(i),
        None => Place::Missing(missing, id.to_string()),
    }
}

/// The status tree of `objects`. `gateway`: only that NatGateway (and the
/// objects naming it). Pure.
pub fn build(objects: &Objects, scope: &Scope, gateway: Option<&str>) -> Status {
    let mut gateways: Vec<&NatGateway> = objects
        .gateways
        .iter()
        .filter(|g| gateway.is_none_or(|name| name_of(&g.metadata) == name))
        .collect();
    gateways.sort_by_key(|g| (namespace_of(&g.metadata), name_of(&g.metadata)));
    let listed: Vec<NatGateway> = gateways.into_iter().cloned().collect();
    let mut nodes: Vec<GatewayStatus> = listed
        .iter()
        .map(|g| GatewayStatus {
            object: object_status(g),
            forward_table_id: g.status.as_ref().and_then(|s| s.forward_table_id.clone()),
            snat_table_id: g.status.as_ref().and_then(|s| s.snat_table_id.clone()),
            forward_entries: Vec::new(),
            snat_entries: Vec::new(),
            bandwidth_packages: Vec::new(),
        })
        .collect();
    let mut missing: BTreeMap<(Missing, String), Vec<ObjectStatus>> = BTreeMap::new();
    // With GATEWAY, only the objects that name it by name join a missing group.
    let keep_missing = |what: &Missing, key: &str| match gateway {
        None => true,
        Some(name) => *what == Missing::NatGatewayRef && key.rsplit('/').next() == Some(name),
    };
    let mut put = |place: Place,
                   object: ObjectStatus,
                   pick: fn(&mut GatewayStatus) -> &mut Vec<ObjectStatus>| {
        match place {
            Place::Gateway(i) => {
                if let Some(node) = nodes.get_mut(i) {
                    pick(node).push(object);
                }
            }
            Place::Missing(what, key) => {
                if keep_missing(&what, &key) {
                    missing.entry((what, key)).or_default().push(object);
                }
            }
        }
    };

    let mut forward: Vec<&ForwardEntry> = objects.forward_entries.iter().collect();
    forward.sort_by_key(|e| (namespace_of(&e.metadata), name_of(&e.metadata)));
    for e in forward {
        let where_ = place(
            &listed,
            namespace_of(&e.metadata),
            e.spec.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
            e.spec
                .forward_table_id
                .as_deref()
                .map(|t| (t, Missing::ForwardTableId)),
            |g| {
                g.status
                    .as_ref()
                    .and_then(|s| s.forward_table_id.as_deref())
            },
        );
        put(where_, object_status(e), |g| &mut g.forward_entries);
    }

    let mut snat: Vec<&SnatEntry> = objects.snat_entries.iter().collect();
    snat.sort_by_key(|e| (namespace_of(&e.metadata), name_of(&e.metadata)));
    for e in snat {
        let where_ = place(
            &listed,
            namespace_of(&e.metadata),
            e.spec.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
            e.spec
                .snat_table_id
                .as_deref()
                .map(|t| (t, Missing::SnatTableId)),
            |g| g.status.as_ref().and_then(|s| s.snat_table_id.as_deref()),
        );
        put(where_, object_status(e), |g| &mut g.snat_entries);
    }

    let mut packages: Vec<&BandwidthPackage> = objects.packages.iter().collect();
    packages.sort_by_key(|p| (namespace_of(&p.metadata), name_of(&p.metadata)));
    let mut ucloud = Vec::new();
    for p in packages {
        let Some(alibaba) = &p.spec.alibaba else {
            if gateway.is_none() {
                ucloud.push(object_status(p));
            }
            continue;
        };
        let where_ = place(
            &listed,
            namespace_of(&p.metadata),
            alibaba.nat_gateway_ref.as_ref().map(|r| r.name.as_str()),
            alibaba
                .nat_gateway_id
                .as_deref()
                .map(|id| (id, Missing::NatGatewayId)),
            |g| g.status.as_ref().and_then(|s| s.id.as_deref()),
        );
        put(where_, object_status(p), |g| &mut g.bandwidth_packages);
    }

    let mut ipv6_bandwidths: Vec<ObjectStatus> = if gateway.is_none() {
        objects.ipv6_bandwidths.iter().map(object_status).collect()
    } else {
        Vec::new()
    };
    ipv6_bandwidths.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));

    let not_found = gateway
        .filter(|_| nodes.is_empty())
        .map(|name| match scope {
            Scope::Namespace(ns) => format!("{ns}/{name}"),
            Scope::All => name.to_string(),
        });
    let mut status = Status {
        all_ready: false,
        namespace: match scope {
            Scope::Namespace(ns) => Some(ns.clone()),
            Scope::All => None,
        },
        gateway: gateway.map(String::from),
        not_found,
        gateways: nodes,
        ipv6_bandwidths,
        ucloud_bandwidth_packages: ucloud,
        without_gateway: missing
            .into_iter()
            .map(|((missing, key), objects)| MissingGroup {
                missing,
                key,
                objects,
            })
            .collect(),
        unreadable: objects.unreadable.clone(),
    };
    status.all_ready = status.not_found.is_none() && status.objects().all(ObjectStatus::is_ready);
    status
}

// --- Text -------------------------------------------------------------------

/// A node of the text tree: a label line (an object's columns when `object`
/// is set) and its children.
struct Tree<'a> {
    label: String,
    object: Option<&'a ObjectStatus>,
    children: Vec<Tree<'a>>,
}

impl<'a> Tree<'a> {
    fn object(object: &'a ObjectStatus) -> Self {
        Tree {
            label: object.label(),
            object: Some(object),
            children: Vec::new(),
        }
    }

    fn group(label: String, children: Vec<Tree<'a>>) -> Self {
        Tree {
            label,
            object: None,
            children,
        }
    }
}

/// One line: the tree prefix and label, and the object whose columns follow.
struct Line<'a> {
    head: String,
    object: Option<&'a ObjectStatus>,
}

fn flatten<'a>(tree: Tree<'a>, own: &str, below: &str, out: &mut Vec<Line<'a>>) {
    out.push(Line {
        head: format!("{own}{}", tree.label),
        object: tree.object,
    });
    let count = tree.children.len();
    for (i, child) in tree.children.into_iter().enumerate() {
        let last = i + 1 == count;
        let own = format!("{below}{}", if last { "└── " } else { "├── " });
        let next = format!("{below}{}", if last { "    " } else { "│   " });
        flatten(child, &own, &next, out);
    }
}

fn gateway_tree(g: &GatewayStatus) -> Tree<'_> {
    let mut tree = Tree::object(&g.object);
    fn table<'a>(name: &str, id: Option<&str>, entries: &'a [ObjectStatus]) -> Tree<'a> {
        Tree::group(
            format!("{name} table {}", id.unwrap_or("(no id yet)")),
            entries.iter().map(Tree::object).collect(),
        )
    }
    if g.forward_table_id.is_some() || !g.forward_entries.is_empty() {
        tree.children.push(table(
            "DNAT",
            g.forward_table_id.as_deref(),
            &g.forward_entries,
        ));
    }
    if g.snat_table_id.is_some() || !g.snat_entries.is_empty() {
        tree.children
            .push(table("SNAT", g.snat_table_id.as_deref(), &g.snat_entries));
    }
    tree.children
        .extend(g.bandwidth_packages.iter().map(Tree::object));
    tree
}

fn missing_label(group: &MissingGroup) -> String {
    match group.missing {
        Missing::NatGatewayRef => format!("NatGateway {} (not found)", group.key),
        Missing::ForwardTableId => {
            format!("DNAT table {} (no NatGateway shown has it)", group.key)
        }
        Missing::SnatTableId => format!("SNAT table {} (no NatGateway shown has it)", group.key),
        Missing::NatGatewayId => {
            format!("NAT gateway {} (no NatGateway shown has it)", group.key)
        }
        Missing::None => "(no gateway reference)".to_string(),
    }
}

/// The longest message shown on a line, in characters.
const MESSAGE_WIDTH: usize = 100;

/// `text` on one line (runs of white space made one space), at most
/// [`MESSAGE_WIDTH`] characters.
fn one_line(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    let line = words.join(" ");
    if line.chars().count() <= MESSAGE_WIDTH {
        return line;
    }
    let mut cut: String = line.chars().take(MESSAGE_WIDTH - 1).collect();
    cut.push('…');
    cut
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const RESET: &str = "\x1b[0m";

fn ready_colour(object: &ObjectStatus) -> &'static str {
    match object.ready.as_str() {
        "True" if !object.stale => GREEN,
        "False" => RED,
        _ => YELLOW,
    }
}

fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(text.chars().count());
    format!("{text}{}", " ".repeat(fill))
}

/// The text of `status`: a header, one tree per gateway, the IPv6
/// bandwidths, the UCloud packages and the objects whose gateway is missing,
/// then how many objects are Ready. `colour`: the Ready column in ANSI
/// colours. Pure.
pub fn render(status: &Status, colour: bool) -> String {
    let mut out = String::new();
    if let Some(gateway) = &status.not_found {
        out.push_str(&format!("NatGateway {gateway} not found"));
        if status.namespace.is_none() {
            out.push_str(" in any namespace");
        }
        out.push('\n');
    }
    let mut blocks: Vec<Tree<'_>> = status.gateways.iter().map(gateway_tree).collect();
    if !status.ipv6_bandwidths.is_empty() {
        blocks.push(Tree::group(
            "IPv6 internet bandwidths".to_string(),
            status.ipv6_bandwidths.iter().map(Tree::object).collect(),
        ));
    }
    if !status.ucloud_bandwidth_packages.is_empty() {
        blocks.push(Tree::group(
            "UCloud bandwidth packages".to_string(),
            status
                .ucloud_bandwidth_packages
                .iter()
                .map(Tree::object)
                .collect(),
        ));
    }
    if !status.without_gateway.is_empty() {
        blocks.push(Tree::group(
            "Objects whose gateway object is missing".to_string(),
            status
                .without_gateway
                .iter()
                .map(|g| {
                    Tree::group(
                        missing_label(g),
                        g.objects.iter().map(Tree::object).collect(),
                    )
                })
                .collect(),
        ));
    }
    if !status.unreadable.is_empty() {
        blocks.push(Tree::group(
            "Objects natop cannot read".to_string(),
            status.unreadable.iter().map(Tree::object).collect(),
        ));
    }
    if blocks.is_empty() {
        if status.not_found.is_none() {
            match &status.namespace {
                Some(ns) => out.push_str(&format!("no natop objects in namespace {ns}\n")),
                None => out.push_str("no natop objects in any namespace\n"),
            }
        }
        return out;
    }

    let mut lines: Vec<Option<Line<'_>>> = Vec::new();
    for (i, block) in blocks.into_iter().enumerate() {
        if i > 0 {
            lines.push(None);
        }
        let mut flat = Vec::new();
        flatten(block, "", "", &mut flat);
        lines.extend(flat.into_iter().map(Some));
    }

    const HEADER: [&str; 4] = ["OBJECT", "ID", "READY", "REASON"];
    let objects = || {
        lines
            .iter()
            .flatten()
            .filter_map(|l| l.object.map(|o| (l, o)))
    };
    let width = |header: &str, cell: &dyn Fn(&Line<'_>, &ObjectStatus) -> usize| {
        objects()
            .map(|(l, o)| cell(l, o))
            .chain([header.chars().count()])
            .max()
            .unwrap_or_default()
    };
    let widths = [
        width(HEADER[0], &|l, _| l.head.chars().count()),
        width(HEADER[1], &|_, o| {
            o.id.as_deref().unwrap_or("-").chars().count()
        }),
        width(HEADER[2], &|_, o| o.ready.chars().count()),
        width(HEADER[3], &|_, o| {
            o.reason.as_deref().unwrap_or("-").chars().count()
        }),
    ];
    let row = |cells: [&str; 4], ready_colour: Option<&str>, message: &str| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            match ready_colour.filter(|_| i == 2) {
                Some(code) => {
                    text.push_str(code);
                    text.push_str(cell);
                    text.push_str(RESET);
                    text.push_str(&" ".repeat(width.saturating_sub(cell.chars().count())));
                }
                None => text.push_str(&pad(cell, width)),
            }
            text.push_str("  ");
        }
        text.push_str(message);
        let mut text = text.trim_end().to_string();
        text.push('\n');
        text
    };
    out.push_str(&row(HEADER, None, "MESSAGE"));
    for line in &lines {
        match line {
            None => out.push('\n'),
            Some(Line { head, object: None }) => {
                out.push_str(head);
                out.push('\n');
            }
            Some(Line {
                head,
                object: Some(o),
            }) => {
                let mut message = o.message.as_deref().map(one_line).unwrap_or_default();
                if o.stale {
                    message = format!("(latest generation not reconciled yet) {message}");
                }
                out.push_str(&row(
                    [
                        head,
                        o.id.as_deref().unwrap_or("-"),
                        &o.ready,
                        o.reason.as_deref().unwrap_or("-"),
                    ],
                    colour.then(|| ready_colour(o)),
                    &message,
                ));
            }
        }
    }
    let total = status.objects().count();
    let ready = status.objects().filter(|o| o.is_ready()).count();
    out.push('\n');
    if ready == total {
        out.push_str(&format!("all {total} objects Ready\n"));
    } else {
        out.push_str(&format!("{ready} of {total} objects Ready\n"));
    }
    out
}

/// `status` as `-o json` prints it (pretty, with a final newline).
pub fn to_json(status: &Status) -> Result<String, String> {
    serde_json::to_string_pretty(status)
        .map(|mut text| {
            text.push('\n');
            text
        })
        .map_err(|e| format!("cannot write JSON: {e}"))
}

// --- Cluster ----------------------------------------------------------------

/// Every object of kind `K` in `scope`.
async fn list<K>(client: &Client, scope: &Scope) -> Result<(Vec<K>, Vec<ObjectStatus>), String>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    // Listed untyped, then decoded one by one: an object that does not
    // decode as its kind is shown as such, never hides the others.
    let resource = ApiResource::erase::<K>(&());
    let api: Api<DynamicObject> = match scope {
        Scope::Namespace(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        Scope::All => Api::all_with(client.clone(), &resource),
    };
    let plural = K::plural(&()).to_string();
    let group = K::group(&()).to_string();
    let place = match scope {
        Scope::Namespace(ns) => format!("in namespace {ns}"),
        Scope::All => "in any namespace".to_string(),
    };
    let listed = match api.list(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 404 => {
            return Err(format!(
                "cannot list {plural} {place}: the CRD {plural}.{group} is not installed in this \
                 cluster (`natop crds | kubectl apply -f -`)"
            ));
        }
        Err(kube::Error::Api(status)) => {
            return Err(format!(
                "cannot list {plural} {place}: {} {}: {}",
                status.code, status.reason, status.message
            ));
        }
        Err(e) => {
            return Err(format!(
                "cannot list {plural} {place}: {}",
                super::run::chain(&e)
            ));
        }
    };
    Ok(decode::<K>(listed))
}

/// `listed` decoded as `K`; what does not decode, as not-Ready lines saying why.
fn decode<K>(listed: Vec<DynamicObject>) -> (Vec<K>, Vec<ObjectStatus>)
where
    K: Resource<DynamicType = ()> + DeserializeOwned,
{
    let mut typed = Vec::new();
    let mut unreadable = Vec::new();
    for object in listed {
        let decoded = serde_json::to_value(&object).and_then(serde_json::from_value::<K>);
        match decoded {
            Ok(k) => typed.push(k),
            Err(e) => unreadable.push(ObjectStatus {
                kind: K::kind(&()).to_string(),
                namespace: object.metadata.namespace.clone().unwrap_or_default(),
                name: object.metadata.name.clone().unwrap_or_default(),
                id: None,
                ready: "False".to_string(),
                reason: Some("InvalidObject".to_string()),
                message: Some(format!("does not decode as a {}: {e}", K::kind(&()))),
                stale: false,
            }),
        }
    }
    (typed, unreadable)
}

/// Lists every kind `natop status` shows.
pub async fn fetch(client: &Client, scope: &Scope) -> Result<Objects, String> {
    let (gateways, forward_entries, snat_entries, packages, ipv6_bandwidths) = tokio::try_join!(
        list::<NatGateway>(client, scope),
        list::<ForwardEntry>(client, scope),
        list::<SnatEntry>(client, scope),
        list::<BandwidthPackage>(client, scope),
        list::<Ipv6InternetBandwidth>(client, scope),
    )?;
    let unreadable = [
        gateways.1,
        forward_entries.1,
        snat_entries.1,
        packages.1,
        ipv6_bandwidths.1,
    ]
    .concat();
    Ok(Objects {
        gateways: gateways.0,
        forward_entries: forward_entries.0,
        snat_entries: snat_entries.0,
        packages: packages.0,
        ipv6_bandwidths: ipv6_bandwidths.0,
        unreadable,
    })
}

/// Whether `--color` asks for colour, given whether stdout is a terminal and
/// the value of NO_COLOR.
fn colour_enabled(choice: ColorChoice, terminal: bool, no_color: Option<&str>) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && no_color.is_none_or(str::is_empty),
    }
}

/// Clears a terminal and moves the cursor home.
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J\x1b[3J";

/// Run `natop status`; returns the exit code.
pub fn run(args: &StatusArgs) -> i32 {
    let Some(runtime) = super::runtime() else {
        return 1;
    };
    runtime.block_on(status(args))
}

fn print(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

async fn status(args: &StatusArgs) -> i32 {
    match watch(args).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn watch(args: &StatusArgs) -> Result<i32, String> {
    let client = super::run::connect(args.kubeconfig.as_deref()).await?;
    let scope = if args.all_namespaces {
        Scope::All
    } else {
        Scope::Namespace(
            args.namespace
                .clone()
                .unwrap_or_else(|| client.default_namespace().to_string()),
        )
    };
    let terminal = std::io::stdout().is_terminal();
    let no_color = std::env::var("NO_COLOR").ok();
    let colour = colour_enabled(args.color, terminal, no_color.as_deref());
    let gateway = args.gateway.as_deref();
    let deadline = tokio::time::Instant::now() + args.timeout;
    let mut first = true;
    loop {
        let objects = match fetch(&client, &scope).await {
            Ok(objects) => objects,
            // The first read decides whether the cluster can answer at all;
            // later failures are retried until the deadline.
            Err(e) if first => return Err(e),
            Err(e) => {
                eprintln!("warning: {e}");
                if tokio::time::Instant::now() >= deadline {
                    return Err(format!(
                        "timed out after {} reading the objects",
                        humanise(args.timeout)
                    ));
                }
                tokio::time::sleep(args.interval).await;
                continue;
            }
        };
        let status = build(&objects, &scope, gateway);
        let empty = status.objects().next().is_none();
        if !args.watch
            && empty
            && let Some(gateway) = &status.not_found
        {
            return Err(format!("NatGateway {gateway} not found"));
        }
        let text = match args.output {
            Output::Tree => render(&status, colour),
            Output::Json => to_json(&status)?,
        };
        if args.watch && terminal {
            print(CLEAR_SCREEN)?;
        } else if !first {
            print("\n")?;
        }
        print(&text)?;
        first = false;
        if empty && status.not_found.is_none() {
            if args.output == Output::Json {
                eprint!("{}", render(&status, false));
            }
            return Ok(0);
        }
        if !args.watch {
            if let Some(gateway) = &status.not_found {
                return Err(format!("NatGateway {gateway} not found"));
            }
            return Ok(0);
        }
        if status.all_ready {
            return Ok(0);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            eprintln!(
                "error: timed out after {}: not Ready: {}",
                humanise(args.timeout),
                status.not_ready().join(", ")
            );
            return Ok(1);
        }
        tokio::time::sleep(args.interval.min(deadline - now)).await;
    }
}

/// `d` in jiff's friendly format, e.g. `10m` or `1m 30s`.
fn humanise(d: Duration) -> String {
    match jiff::SignedDuration::try_from(d) {
        Ok(signed) => format!("{signed:#}"),
        Err(_) => format!("{d:?}"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use serde_json::{Value, json};

    use super::*;

    fn meta(namespace: &str, name: &str) -> Value {
        json!({"namespace": namespace, "name": name, "generation": 1})
    }

    fn ready(status: &str, reason: &str, message: &str) -> Value {
        json!([{
            "type": "Ready", "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2030-01-01T00:00:00Z", "observedGeneration": 1,
        }])
    }

    fn gateway(ns: &str, name: &str, id: &str, ftb: &str, stb: &str, cond: Value) -> NatGateway {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
            "metadata": meta(ns, name),
            "spec": {"vpcId": "vpc-1", "vSwitchId": "vsw-1"},
            "status": {"id": id, "forwardTableId": ftb, "snatTableId": stb, "conditions": cond},
        }))
        .unwrap()
    }

    fn forward(ns: &str, name: &str, by: Value, id: Option<&str>, cond: Value) -> ForwardEntry {
        let mut spec = json!({
            "externalIp": "1.2.3.4", "externalPort": 80, "internalIp": "10.0.0.1",
            "internalPort": 8080, "ipProtocol": "TCP",
        });
        spec.as_object_mut()
            .unwrap()
            .extend(by.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "ForwardEntry",
            "metadata": meta(ns, name), "spec": spec,
            "status": {"id": id, "conditions": cond},
        }))
        .unwrap()
    }

    fn snat(ns: &str, name: &str, by: Value, id: Option<&str>, cond: Value) -> SnatEntry {
        let mut spec = json!({"snatIps": ["1.2.3.4"], "sourceCIDR": "10.0.0.0/24"});
        spec.as_object_mut()
            .unwrap()
            .extend(by.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "SnatEntry",
            "metadata": meta(ns, name), "spec": spec,
            "status": {"id": id, "conditions": cond},
        }))
        .unwrap()
    }

    fn package(ns: &str, name: &str, cloud: Value, cond: Value) -> BandwidthPackage {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "BandwidthPackage",
            "metadata": meta(ns, name), "spec": cloud,
            "status": {"id": format!("cbwp-{name}"), "conditions": cond},
        }))
        .unwrap()
    }

    fn ipv6(ns: &str, name: &str, cond: Value) -> Ipv6InternetBandwidth {
        serde_json::from_value(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "Ipv6InternetBandwidth",
            "metadata": meta(ns, name),
            "spec": {"ipv6AddressId": "ipv6-1", "ipv6GatewayId": "ipv6gw-1", "bandwidth": 10},
            "status": {"id": "ipv6bw-1", "conditions": cond},
        }))
        .unwrap()
    }

    fn ok() -> Value {
        ready("True", "Available", "ok")
    }

    fn ns(name: &str) -> Scope {
        Scope::Namespace(name.to_string())
    }

    fn names(objects: &[ObjectStatus]) -> Vec<String> {
        objects.iter().map(ObjectStatus::label).collect()
    }

    /// Gateways gw (ftb-1, stb-1) and gw2 (ftb-2) in `a`, entries by name
    /// and by table id, packages, an IPv6 bandwidth and objects whose gateway
    /// is missing.
    fn fixture() -> Objects {
        Objects {
            unreadable: Vec::new(),
            gateways: vec![
                gateway("a", "gw2", "ngw-2", "ftb-2", "stb-2", ok()),
                gateway("a", "gw", "ngw-1", "ftb-1", "stb-1", ok()),
            ],
            forward_entries: vec![
                forward(
                    "a",
                    "web",
                    json!({"natGatewayRef": {"name": "gw"}}),
                    Some("fwd-1"),
                    ok(),
                ),
                forward(
                    "a",
                    "by-table",
                    json!({"forwardTableId": "ftb-2"}),
                    Some("fwd-2"),
                    ok(),
                ),
                forward(
                    "a",
                    "lost",
                    json!({"natGatewayRef": {"name": "gone"}}),
                    None,
                    json!([]),
                ),
                forward(
                    "a",
                    "stray",
                    json!({"forwardTableId": "ftb-9"}),
                    None,
                    json!([]),
                ),
                // The same name in another namespace is another gateway.
                forward(
                    "b",
                    "other-ns",
                    json!({"natGatewayRef": {"name": "gw"}}),
                    None,
                    json!([]),
                ),
            ],
            snat_entries: vec![
                snat(
                    "a",
                    "out",
                    json!({"snatTableId": "stb-1"}),
                    Some("snat-1"),
                    ok(),
                ),
                snat(
                    "a",
                    "lost-snat",
                    json!({"natGatewayRef": {"name": "gone"}}),
                    None,
                    json!([]),
                ),
            ],
            packages: vec![
                package(
                    "a",
                    "pkg",
                    json!({"alibaba": {"natGatewayRef": {"name": "gw"}, "bandwidth": 5, "ipCount": 1}}),
                    ok(),
                ),
                package(
                    "a",
                    "by-id",
                    json!({"alibaba": {"natGatewayId": "ngw-2", "bandwidth": 5, "ipCount": 1}}),
                    ok(),
                ),
                package(
                    "a",
                    "uc",
                    json!({"ucloud": {"eipId": "eip-1", "bandwidth": 5, "timeRange": 1}}),
                    ok(),
                ),
            ],
            ipv6_bandwidths: vec![ipv6("a", "v6", ok())],
        }
    }

    #[test]
    fn entries_join_their_gateway_by_reference_and_by_table_id() {
        let status = build(&fixture(), &Scope::All, None);
        let gateways: Vec<&str> = status
            .gateways
            .iter()
            .map(|g| g.object.name.as_str())
            .collect();
        assert_eq!(gateways, ["gw", "gw2"]);
        let gw = &status.gateways[0];
        assert_eq!(gw.forward_table_id.as_deref(), Some("ftb-1"));
        assert_eq!(names(&gw.forward_entries), ["ForwardEntry a/web"]);
        assert_eq!(names(&gw.snat_entries), ["SnatEntry a/out"]);
        assert_eq!(names(&gw.bandwidth_packages), ["BandwidthPackage a/pkg"]);
        let gw2 = &status.gateways[1];
        assert_eq!(names(&gw2.forward_entries), ["ForwardEntry a/by-table"]);
        assert!(gw2.snat_entries.is_empty());
        assert_eq!(names(&gw2.bandwidth_packages), ["BandwidthPackage a/by-id"]);
    }

    #[test]
    fn objects_whose_gateway_is_missing_are_grouped_by_what_they_name() {
        let status = build(&fixture(), &Scope::All, None);
        let groups: Vec<(Missing, &str, Vec<String>)> = status
            .without_gateway
            .iter()
            .map(|g| (g.missing.clone(), g.key.as_str(), names(&g.objects)))
            .collect();
        assert_eq!(
            groups,
            [
                (
                    Missing::NatGatewayRef,
                    "a/gone",
                    vec![
                        "ForwardEntry a/lost".to_string(),
                        "SnatEntry a/lost-snat".to_string()
                    ]
                ),
                (
                    Missing::NatGatewayRef,
                    "b/gw",
                    vec!["ForwardEntry b/other-ns".to_string()]
                ),
                (
                    Missing::ForwardTableId,
                    "ftb-9",
                    vec!["ForwardEntry a/stray".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn ipv6_bandwidths_and_ucloud_packages_stand_apart() {
        let status = build(&fixture(), &Scope::All, None);
        assert_eq!(
            names(&status.ipv6_bandwidths),
            ["Ipv6InternetBandwidth a/v6"]
        );
        assert_eq!(
            names(&status.ucloud_bandwidth_packages),
            ["BandwidthPackage a/uc"]
        );
        assert!(
            status
                .gateways
                .iter()
                .all(|g| g.bandwidth_packages.iter().all(|p| p.name != "uc"))
        );
        assert_eq!(status.objects().count(), 13);
    }

    #[test]
    fn all_ready_needs_every_object_ready_for_its_generation() {
        let mut objects = fixture();
        assert!(
            !build(&objects, &Scope::All, None).all_ready,
            "lost entries have no condition"
        );
        objects
            .forward_entries
            .retain(|e| e.metadata.namespace.as_deref() == Some("a"));
        objects
            .forward_entries
            .retain(|e| e.status.as_ref().unwrap().id.is_some());
        objects.snat_entries.truncate(1);
        let status = build(&objects, &Scope::All, None);
        assert!(status.all_ready, "{:?}", status.not_ready());
        assert!(status.not_ready().is_empty());

        // A newer generation than the Ready condition describes.
        objects.gateways[0].metadata.generation = Some(2);
        let status = build(&objects, &Scope::All, None);
        assert!(!status.all_ready);
        assert_eq!(
            status.not_ready(),
            ["NatGateway a/gw2 (Ready=True: Available, latest generation not reconciled yet)"]
        );

        objects.gateways[0].metadata.generation = Some(1);
        objects.snat_entries[0] = snat(
            "a",
            "out",
            json!({"snatTableId": "stb-1"}),
            None,
            ready("False", "CloudError", "no"),
        );
        let status = build(&objects, &Scope::All, None);
        assert_eq!(
            status.not_ready(),
            ["SnatEntry a/out (Ready=False: CloudError)"]
        );
    }

    #[test]
    fn a_gateway_asked_for_shows_only_its_tree_and_what_names_it() {
        let mut objects = fixture();
        let status = build(&objects, &ns("a"), Some("gw"));
        assert_eq!(status.gateways.len(), 1);
        assert_eq!(status.gateways[0].object.name, "gw");
        assert!(status.ipv6_bandwidths.is_empty() && status.ucloud_bandwidth_packages.is_empty());
        // Only the group of a missing object named like the gateway stays.
        let keys: Vec<&str> = status
            .without_gateway
            .iter()
            .map(|g| g.key.as_str())
            .collect();
        assert_eq!(keys, ["b/gw"]);
        assert_eq!(status.not_found, None);

        objects.gateways.clear();
        let status = build(&objects, &ns("a"), Some("gw"));
        assert_eq!(status.not_found.as_deref(), Some("a/gw"));
        assert!(!status.all_ready);
        assert!(render(&status, false).starts_with("NatGateway a/gw not found\n"));
    }

    #[test]
    fn nothing_found_says_so() {
        let status = build(&Objects::default(), &ns("prod"), None);
        assert!(status.all_ready);
        assert_eq!(
            render(&status, false),
            "no natop objects in namespace prod\n"
        );
        let status = build(&Objects::default(), &Scope::All, None);
        assert_eq!(
            render(&status, false),
            "no natop objects in any namespace\n"
        );
    }

    fn small() -> Objects {
        Objects {
            unreadable: Vec::new(),
            gateways: vec![gateway("a", "gw", "ngw-1", "ftb-1", "stb-1", ok())],
            forward_entries: vec![
                forward(
                    "a",
                    "web",
                    json!({"natGatewayRef": {"name": "gw"}}),
                    Some("fwd-1"),
                    ok(),
                ),
                forward(
                    "a",
                    "ssh",
                    json!({"natGatewayRef": {"name": "gw"}}),
                    None,
                    ready("False", "CloudError", "Forbidden:\n  the  port\tis taken"),
                ),
            ],
            snat_entries: vec![],
            packages: vec![package(
                "a",
                "pkg",
                json!({"alibaba": {"natGatewayRef": {"name": "gw"}, "bandwidth": 5, "ipCount": 1}}),
                json!([]),
            )],
            ipv6_bandwidths: vec![ipv6("a", "v6", ok())],
        }
    }

    #[test]
    fn the_tree_text() {
        let mut objects = small();
        objects.snat_entries.push(snat(
            "a",
            "lost",
            json!({"snatTableId": "stb-9"}),
            None,
            json!([]),
        ));
        let text = render(&build(&objects, &ns("a"), None), false);
        let expected = "\
OBJECT                          ID        READY    REASON      MESSAGE
NatGateway a/gw                 ngw-1     True     Available   ok
├── DNAT table ftb-1
│   ├── ForwardEntry a/ssh      -         False    CloudError  Forbidden: the port is taken
│   └── ForwardEntry a/web      fwd-1     True     Available   ok
├── SNAT table stb-1
└── BandwidthPackage a/pkg      cbwp-pkg  Unknown  -

IPv6 internet bandwidths
└── Ipv6InternetBandwidth a/v6  ipv6bw-1  True     Available   ok

Objects whose gateway object is missing
└── SNAT table stb-9 (no NatGateway shown has it)
    └── SnatEntry a/lost        -         Unknown  -

3 of 6 objects Ready
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn long_messages_are_cut_to_one_line() {
        let long = format!("first line\n{}", "x".repeat(200));
        let line = one_line(&long);
        assert_eq!(line.chars().count(), MESSAGE_WIDTH);
        assert!(line.starts_with("first line xxx") && line.ends_with('…'));
        assert_eq!(one_line(" a \n b "), "a b");
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let status = build(&small(), &ns("a"), None);
        let plain = render(&status, false);
        assert!(!plain.contains('\x1b'), "{plain}");
        let coloured = render(&status, true);
        assert!(coloured.contains(&format!("{GREEN}True{RESET}")));
        assert!(coloured.contains(&format!("{RED}False{RESET}")));
        assert!(coloured.contains(&format!("{YELLOW}Unknown{RESET}")));
        // The same text once the codes are gone: colour keeps the columns.
        let stripped = coloured
            .replace(GREEN, "")
            .replace(RED, "")
            .replace(YELLOW, "")
            .replace(RESET, "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn colour_choice_follows_the_terminal_and_no_color() {
        assert!(colour_enabled(ColorChoice::Auto, true, None));
        assert!(colour_enabled(ColorChoice::Auto, true, Some("")));
        assert!(!colour_enabled(ColorChoice::Auto, true, Some("1")));
        assert!(!colour_enabled(ColorChoice::Auto, false, None));
        assert!(colour_enabled(ColorChoice::Always, false, Some("1")));
        assert!(!colour_enabled(ColorChoice::Never, true, None));
    }

    #[test]
    fn the_json_shape() {
        let status = build(&small(), &ns("a"), None);
        let value: Value = serde_json::from_str(&to_json(&status).unwrap()).unwrap();
        assert_eq!(value["allReady"], json!(false));
        assert_eq!(value["namespace"], json!("a"));
        assert_eq!(value["gateway"], Value::Null);
        assert_eq!(value["notFound"], Value::Null);
        let gw = &value["gateways"][0];
        assert_eq!(gw["kind"], json!("NatGateway"));
        assert_eq!(gw["name"], json!("gw"));
        assert_eq!(gw["id"], json!("ngw-1"));
        assert_eq!(gw["forwardTableId"], json!("ftb-1"));
        assert_eq!(gw["snatTableId"], json!("stb-1"));
        assert_eq!(gw["snatEntries"], json!([]));
        assert_eq!(
            gw["forwardEntries"][0],
            json!({
                "kind": "ForwardEntry", "namespace": "a", "name": "ssh", "id": null,
                "ready": "False", "reason": "CloudError",
                "message": "Forbidden:\n  the  port\tis taken", "stale": false,
            })
        );
        assert_eq!(gw["bandwidthPackages"][0]["ready"], json!("Unknown"));
        assert_eq!(value["ipv6Bandwidths"][0]["id"], json!("ipv6bw-1"));
        assert_eq!(value["ucloudBandwidthPackages"], json!([]));
        assert_eq!(value["withoutGateway"], json!([]));

        let status = build(&fixture(), &Scope::All, None);
        let value = serde_json::to_value(&status).unwrap();
        assert_eq!(value["namespace"], Value::Null);
        assert_eq!(
            value["withoutGateway"][0]["missing"],
            json!("natGatewayRef")
        );
        assert_eq!(value["withoutGateway"][0]["key"], json!("a/gone"));
        assert_eq!(
            value["withoutGateway"][2]["missing"],
            json!("forwardTableId")
        );
    }

    #[test]
    fn durations_parse_in_the_friendly_format() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        for bad in ["", "10", "soon", "-2s", "0s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(humanise(Duration::from_secs(600)), "10m");
    }

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: StatusArgs,
    }

    #[test]
    fn flags() {
        let cli = Cli::try_parse_from([
            "status",
            "gw",
            "-n",
            "prod",
            "-o",
            "json",
            "--watch",
            "--timeout",
            "90s",
            "--interval",
            "500ms",
            "--color",
            "never",
        ])
        .unwrap();
        let a = cli.args;
        assert_eq!(a.gateway.as_deref(), Some("gw"));
        assert_eq!(a.namespace.as_deref(), Some("prod"));
        assert_eq!(a.output, Output::Json);
        assert!(a.watch && !a.all_namespaces);
        assert_eq!(a.timeout, Duration::from_secs(90));
        assert_eq!(a.interval, Duration::from_millis(500));
        assert_eq!(a.color, ColorChoice::Never);

        let a = Cli::try_parse_from(["status", "-A"]).unwrap().args;
        assert!(a.all_namespaces && a.gateway.is_none());
        assert_eq!(
            (a.timeout, a.interval),
            (Duration::from_secs(600), Duration::from_secs(2))
        );
        assert_eq!((a.output, a.color), (Output::Tree, ColorChoice::Auto));

        assert!(Cli::try_parse_from(["status", "-A", "-n", "x"]).is_err());
        assert!(Cli::try_parse_from(["status", "--timeout", "soon"]).is_err());
        assert!(Cli::try_parse_from(["status", "-o", "yaml"]).is_err());
    }

    #[test]
    fn a_condition_without_generation_uses_the_status_one() {
        let mut g = gateway("a", "gw", "ngw-1", "ftb-1", "stb-1", json!([]));
        let status = g.status.as_mut().unwrap();
        status.observed_generation = Some(1);
        status.conditions = vec![Condition {
            type_: "Ready".into(),
            status: "True".into(),
            reason: String::new(),
            message: String::new(),
            observed_generation: None,
            last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
        }];
        g.metadata.generation = Some(2);
        let o = object_status(&g);
        assert!(o.stale && !o.is_ready());
        assert_eq!((o.reason, o.message), (None, None));
    }

    #[test]
    fn an_object_that_does_not_decode_is_shown_not_ready_and_hides_nothing() {
        let good = serde_json::from_value::<DynamicObject>(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
            "metadata": {"name": "gw", "namespace": "a"},
            "spec": {"vpcId": "vpc-1", "vSwitchId": "vsw-1"}
        }))
        .expect("good");
        let bad = serde_json::from_value::<DynamicObject>(json!({
            "apiVersion": "natop.dev/v1alpha1", "kind": "NatGateway",
            "metadata": {"name": "huge", "namespace": "a"},
            "spec": {"vpcId": "vpc-1", "vSwitchId": "vsw-1", "specification": "Huge"}
        }))
        .expect("bad");
        let (typed, unreadable) = decode::<NatGateway>(vec![good, bad]);
        assert_eq!(typed.len(), 1);
        assert_eq!(unreadable.len(), 1);
        let shown = &unreadable[0];
        assert_eq!(
            (shown.name.as_str(), shown.ready.as_str()),
            ("huge", "False")
        );
        assert_eq!(shown.reason.as_deref(), Some("InvalidObject"));
        assert!(shown.message.as_deref().is_some_and(|m| m.contains("Huge")));
        let objects = Objects {
            unreadable,
            ..small()
        };
        let status = build(&objects, &Scope::Namespace("a".into()), None);
        assert!(!status.all_ready);
        let text = render(&status, false);
        assert!(text.contains("Objects natop cannot read"), "{text}");
        assert!(text.contains("NatGateway a/huge"), "{text}");
    }
}
