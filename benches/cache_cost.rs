//! What natop's memory holds for each entry, measured with the allocator the
//! binary uses (jemalloc, counting the size classes it hands out): a
//! ForwardEntry in natop's cache as it is at rest (stripped, Ready, three
//! conditions), with and without a `natop.dev/` annotation, beside what a
//! reflector store of typed objects took for it; the parts of a typed copy;
//! and a table row in a snapshot. Prints numbers; asserts nothing.
//!
//! Run with `make bench` or `cargo bench --bench cache_cost`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, ObjectMeta};
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, store};
use kube::runtime::watcher::Event;
use natop::api::common::CloudLocation;
use natop::api::forward_entry::{ForwardEntry, ForwardEntrySpec, ForwardEntryStatus};
use natop::cloud::alibaba::actions::forward_entry::ForwardTableEntry;
use natop::controller::engine::{ManagedKind, Shelf, strip};
use natop::controller::entries::forward::DnatRow;
use natop::controller::status::{Verdict, conditions};
use tikv_jemallocator::Jemalloc;

/// jemalloc, counting the bytes of the size classes it hands out.
struct Counted;

static LIVE: AtomicIsize = AtomicIsize::new(0);

fn usable(ptr: *const u8) -> isize {
    // SAFETY: `ptr` is a live allocation of this allocator.
    isize::try_from(unsafe { tikv_jemallocator::usable_size(ptr) }).unwrap_or(isize::MAX)
}

// SAFETY: every call goes to jemalloc as it came; only the counter is added.
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { Jemalloc.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(usable(ptr), Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(usable(ptr), Ordering::Relaxed);
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        let before = usable(ptr);
        let moved = unsafe { Jemalloc.realloc(ptr, layout, size) };
        if !moved.is_null() {
            LIVE.fetch_add(usable(moved) - before, Ordering::Relaxed);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counted = Counted;

const OBJECTS: usize = 10_000;

/// Bytes held per item by what `make` builds for `OBJECTS` items.
fn per_item<T>(make: impl Fn(usize) -> T) -> (f64, Vec<T>) {
    let before = LIVE.load(Ordering::Relaxed);
    let items: Vec<T> = (0..OBJECTS).map(make).collect();
    let after = LIVE.load(Ordering::Relaxed);
    let vec = isize::try_from(items.capacity() * size_of::<T>()).unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let bytes = (after - before - vec) as f64 / OBJECTS as f64;
    (bytes, items)
}

/// Entry `i` of gateway 17 as natop's status writes leave it at rest, in the
/// JSON a watch delivers.
fn entry_json(i: usize, annotated: bool) -> Vec<u8> {
    let id = format!("fwd-0123456789abcdef{i:04}");
    let mut entry = ForwardEntry::new(
        &format!("gw-17-entry-{i}"),
        serde_json::from_value::<ForwardEntrySpec>(serde_json::json!({
            "providerConfigRef": {"name": "default"},
            "natGatewayRef": {"name": "gw-17"},
            "externalIp": "47.100.17.1",
            "externalPort": 10_000 + i,
            "internalIp": "192.168.17.10",
            "internalPort": 8080,
            "ipProtocol": "TCP",
        }))
        .expect("a valid spec"),
    );
    entry.metadata = ObjectMeta {
        namespace: Some("bench-scale".into()),
        uid: Some(format!("0f3e5a4c-1b2d-4e5f-8a9b-0c1d2e3f{i:04}")),
        resource_version: Some(format!("{}", 1_234_567 + i)),
        generation: Some(1),
        finalizers: Some(vec![natop::api::FINALIZER.to_string()]),
        annotations: annotated
            .then(|| [("natop.dev/drift-interval".to_string(), "30s".to_string())].into()),
        ..entry.metadata
    };
    entry.status = Some(ForwardEntryStatus {
        id: Some(id.clone()),
        observed_generation: Some(1),
        conditions: conditions(
            &[],
            Some(1),
            &Verdict::in_sync(&format!("entry {id}"), false),
        ),
        location: Some(CloudLocation {
            provider_config: "default".into(),
            region: "cn-hangzhou".into(),
            account_id: "1234567890123456".into(),
        }),
        nat_gateway_id: Some("ngw-0123456789abcdef0123".into()),
        forward_table_id: Some("ftb-0123456789abcdef0123".into()),
        external_ip: Some("47.100.17.1".into()),
        status: Some("Available".into()),
        creating: None,
    });
    serde_json::to_vec(&entry).expect("serializable")
}

fn cached(blob: &[u8]) -> DeserializeGuard<ForwardEntry> {
    let mut object: DeserializeGuard<ForwardEntry> = serde_json::from_slice(blob).expect("decodes");
    strip(&mut object);
    object
}

fn main() {
    println!(
        "inline sizes: ForwardEntry {} bytes (ObjectMeta {}, spec {}, status {}), one Condition {}, a cache key {}",
        size_of::<ForwardEntry>(),
        size_of::<ObjectMeta>(),
        size_of::<ForwardEntrySpec>(),
        size_of::<ForwardEntryStatus>(),
        size_of::<Condition>(),
        size_of::<ObjectRef<DeserializeGuard<ForwardEntry>>>(),
    );
    for annotated in [false, true] {
        let blobs: Vec<Vec<u8>> = (0..OBJECTS).map(|i| entry_json(i, annotated)).collect();
        let before = LIVE.load(Ordering::Relaxed);
        let (reader, mut writer) = store::<DeserializeGuard<ForwardEntry>>();
        for blob in &blobs {
            writer.apply_watcher_event(&Event::Apply(cached(blob)));
        }
        let after = LIVE.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let in_store = (after - before) as f64 / OBJECTS as f64;
        let before = LIVE.load(Ordering::Relaxed);
        let shelf = Shelf::new(|e: &ForwardEntry| e.hot());
        for blob in &blobs {
            shelf.apply(&Event::Apply(cached(blob)));
        }
        let after = LIVE.load(Ordering::Relaxed);
        #[allow(clippy::cast_precision_loss)]
        let on_shelf = (after - before) as f64 / OBJECTS as f64;
        let (object, objects) = per_item(|i| Arc::new(cached(&blobs[i])));
        let entries: Vec<&ForwardEntry> =
            objects.iter().filter_map(|o| o.0.as_ref().ok()).collect();
        let (conditions, kept) = per_item(|i| {
            entries[i]
                .status
                .as_ref()
                .map(|s| s.conditions.clone())
                .unwrap_or_default()
        });
        drop(kept);
        let (status, kept) = per_item(|i| entries[i].status.clone());
        drop(kept);
        let (metadata, kept) = per_item(|i| entries[i].metadata.clone());
        drop(kept);
        let (spec, kept) = per_item(|i| entries[i].spec.clone());
        drop(kept);
        let label = if annotated {
            "with a natop.dev/ annotation"
        } else {
            "without annotations"
        };
        println!(
            "natop's cache, {} entries {label}: {on_shelf:.0} bytes an entry ({} held); a reflector store of typed objects took {in_store:.0} ({} held)",
            OBJECTS,
            shelf.len(),
            reader.state().len()
        );
        println!(
            "  the object alone {object:.0}: {} inline, and beyond that its metadata {metadata:.0}, spec {spec:.0} and status {status:.0} (the three conditions {conditions:.0} of it)",
            size_of::<ForwardEntry>()
        );
    }
    let rows: Vec<ForwardTableEntry> = (0..OBJECTS)
        .map(|i| ForwardTableEntry {
            forward_entry_id: format!("fwd-0123456789abcdef{i:04}"),
            forward_entry_name: String::new(),
            forward_table_id: "ftb-0123456789abcdef0123".into(),
            nat_gateway_id: "ngw-0123456789abcdef0123".into(),
            external_ip: "47.100.17.1".into(),
            external_port: Some(format!("{}", 10_000 + i)),
            internal_ip: "192.168.17.10".into(),
            internal_port: Some("8080".into()),
            ip_protocol: "TCP".into(),
            status: "Available".into(),
        })
        .collect();
    let (cloud_row, kept) = per_item(|i| rows[i].clone());
    drop(kept);
    let (packed_row, kept) = per_item(|i| DnatRow::from(&rows[i]));
    drop(kept);
    println!(
        "a DNAT row in a table snapshot: {:.0} bytes as natop keeps it ({packed_row:.0} beyond its {} inline), {:.0} as the cloud's answer ({cloud_row:.0} beyond its {} inline)",
        packed_row + size_of::<DnatRow>() as f64,
        size_of::<DnatRow>(),
        cloud_row + size_of::<ForwardTableEntry>() as f64,
        size_of::<ForwardTableEntry>(),
    );
}
