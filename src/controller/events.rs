//! Events (`events.k8s.io/v1`) natop publishes about its objects.
//!
//! natop publishes an event when something happens (a create, a delete, an
//! adoption, a refusal), not on every look. A repeat of the same event (same
//! object, type, reason and action) within [`SERIES_WINDOW`] of the last one
//! counts in the first event's `series` instead of making another object, as
//! the Events API asks.
//!
//! kube-runtime's `Recorder` does the same but keeps a full copy of every event
//! for six minutes and scans them all on each publish; with one `Created` event
//! per entry that is tens of MiB and quadratic work for 10,000 entries. What is
//! kept here per recent event is its name, count and time, keyed by
//! a hash of what makes events the same, and expired entries are swept at most
//! once a minute.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::api::{Patch, PatchParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Api, Client};
use serde_json::json;

pub use kube::runtime::events::EventType;

/// How long after an event a repeat of it counts in its series.
pub const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);
/// How often expired recent events are dropped.
const SWEEP_EVERY: SignedDuration = SignedDuration::from_mins(1);

/// A recent event: enough to count a repeat in its series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The Event object's name (in the namespace of the object it regards).
    pub name: Box<str>,
    /// How many times it happened.
    pub count: i32,
    /// When it last happened.
    pub last: Timestamp,
}

/// What to do with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publish {
    /// A new Event object.
    Create,
    /// The repeat of a recent event: its series counts `count`.
    Series {
        /// The count to record.
        count: i32,
    },
}

/// Create a new event, or count a repeat of `recent` (the last time the same
/// event was published, if remembered) in its series.
pub fn publish_as(recent: Option<&Sent>, now: Timestamp) -> Publish {
    match recent {
        Some(sent) if now.duration_since(sent.last) < SERIES_WINDOW => Publish::Series {
            count: sent.count.saturating_add(1),
        },
        _ => Publish::Create,
    }
}

struct Recent {
    by_key: HashMap<u64, Sent>,
    swept: Timestamp,
}

/// Publishes events for one controller instance.
pub struct Events {
    client: Client,
    controller: String,
    instance: String,
    hasher: RandomState,
    recent: Mutex<Recent>,
}

impl Events {
    /// Events reported by `controller` (`instance`: the pod, defaulting to
    /// the controller's name).
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Events {
        Events {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            hasher: RandomState::new(),
            recent: Mutex::new(Recent {
                by_key: HashMap::new(),
                swept: Timestamp::now(),
            }),
        }
    }

    /// How many recent events are remembered.
    pub fn remembered(&self) -> usize {
        self.lock().by_key.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publish an event about `regarding`.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let type_name = match type_ {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        };
        let key = self.hasher.hash_one((
            type_name,
            reason,
            action,
            &regarding.api_version,
            &regarding.kind,
            &regarding.namespace,
            &regarding.name,
            &regarding.uid,
        ));
        let recent = {
            let mut recent = self.lock();
            if now.duration_since(recent.swept) >= SWEEP_EVERY {
                recent
                    .by_key
                    .retain(|_, sent| now.duration_since(sent.last) < SERIES_WINDOW);
                recent.swept = now;
            }
            recent.by_key.get(&key).cloned()
        };
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let sent = match (publish_as(recent.as_ref(), now), recent) {
            (Publish::Series { count }, Some(sent)) => {
                let patch = json!({"series": {"count": count, "lastObservedTime": MicroTime(now)}});
                match api
                    .patch(&sent.name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                {
                    Ok(_) => Sent {
                        count,
                        last: now,
                        ..sent
                    },
                    // Deleted meanwhile (the API server's event TTL): a new one.
                    Err(kube::Error::Api(e)) if e.code == 404 => {
                        self.create(&api, regarding, type_name, reason, action, note, now)
                            .await?
                    }
                    Err(e) => return Err(e),
                }
            }
            _ => {
                self.create(&api, regarding, type_name, reason, action, note, now)
                    .await?
            }
        };
        self.lock().by_key.insert(key, sent);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        api: &Api<Event>,
        regarding: &ObjectReference,
        type_name: &str,
        reason: &str,
        action: &str,
        note: &str,
        now: Timestamp,
    ) -> Result<Sent, kube::Error> {
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let name = format!(
            "{}.{:x}",
            regarding.name.as_deref().unwrap_or(&self.controller),
            now.as_nanosecond()
        );
        let event = Event {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(namespace.to_string()),
                ..ObjectMeta::default()
            },
            action: Some(action.to_string()),
            reason: Some(reason.to_string()),
            note: Some(note.to_string()),
            type_: Some(type_name.to_string()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        };
        api.create(&PostParams::default(), &event).await?;
        Ok(Sent {
            name: name.into(),
            count: 1,
            last: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_counts_in_the_series_else_a_new_event() {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let sent = |count, ago_s: i64| Sent {
            name: "e.1".into(),
            count,
            last: now - SignedDuration::from_secs(ago_s),
        };
        for (name, recent, expected) in [
            ("never sent", None, Publish::Create),
            (
                "sent a moment ago",
                Some(sent(1, 1)),
                Publish::Series { count: 2 },
            ),
            (
                "repeated before, last time 5 min ago",
                Some(sent(7, 300)),
                Publish::Series { count: 8 },
            ),
            (
                "sent 6 min ago: a new event",
                Some(sent(3, 360)),
                Publish::Create,
            ),
            (
                "a count that cannot grow stays",
                Some(sent(i32::MAX, 1)),
                Publish::Series { count: i32::MAX },
            ),
        ] {
            assert_eq!(publish_as(recent.as_ref(), now), expected, "{name}");
        }
    }
}
