//! Wire helpers shared by both clouds: flattening typed requests into the flat
//! `name=value` parameter lists the RPC protocols expect, lenient decoding of
//! responses whose numbers sometimes arrive as strings and whose lists are
//! sometimes wrapped one level down or missing, and writing such lists back in
//! their wrapped shape.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::str::FromStr;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Flat request parameters, ordered by name (the order is irrelevant for the wire
/// but makes tests and debugging output stable).
pub type Params = BTreeMap<String, String>;

/// How repeated values are numbered on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListBase {
    /// Alibaba RPC: `Name.1`, `Name.2`, `Tag.1.Key`.
    One,
    /// UCloud: `Name.0`, `Name.1`.
    Zero,
}

/// Error returned when a request type cannot be flattened. This only happens for
/// request types that are not objects, which is a programming error caught by tests.
#[derive(Debug, thiserror::Error)]
#[error("request parameters must serialize to a JSON object: {0}")]
pub struct FlattenError(String);

/// Flatten a request into wire parameters.
///
/// Objects contribute their field names, arrays are numbered from `base`, nested
/// objects inside arrays become `Name.N.Field`, `null` (an absent `Option`) is
/// left out, an empty string is kept (it is sent and signed), booleans are
/// `true`/`false` and whole floats are written as integers.
pub fn flatten<T: Serialize>(request: &T, base: ListBase) -> Result<Params, FlattenError> {
    let value = serde_json::to_value(request).map_err(|e| FlattenError(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(FlattenError(format!("got {value}")));
    };
    let mut out = Params::new();
    for (name, v) in map {
        flatten_into(&mut out, name, v, base);
    }
    Ok(out)
}

fn flatten_into(out: &mut Params, prefix: String, value: Value, base: ListBase) {
    match value {
        Value::Null => {}
        Value::Bool(b) => {
            out.insert(prefix, b.to_string());
        }
        Value::Number(n) => {
            out.insert(prefix, number_text(&n));
        }
        Value::String(s) => {
            out.insert(prefix, s);
        }
        Value::Array(items) => {
            let first = match base {
                ListBase::One => 1,
                ListBase::Zero => 0,
            };
            for (i, item) in items.into_iter().enumerate() {
                flatten_into(out, format!("{prefix}.{}", i + first), item, base);
            }
        }
        Value::Object(map) => {
            for (name, v) in map {
                flatten_into(out, format!("{prefix}.{name}"), v, base);
            }
        }
    }
}

fn number_text(n: &serde_json::Number) -> String {
    match n.as_f64() {
        Some(f) if n.is_f64() && f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

/// Rebuild a typed request from flat wire parameters (the inverse of [`flatten`]).
///
/// Numbered names (`X.1`, `X.2`) become arrays in numeric order, dotted names
/// become nested objects, and every leaf stays a string: request types decode
/// numbers and booleans with the lenient helpers of this module.
pub fn unflatten<T: DeserializeOwned>(params: &Params) -> Result<T, serde_json::Error> {
    let mut root = serde_json::Map::new();
    for (name, value) in params {
        let parts: Vec<&str> = name.split('.').collect();
        insert_path(&mut root, &parts, value);
    }
    serde_json::from_value(arrays_from_numbered(Value::Object(root)))
}

fn insert_path(map: &mut serde_json::Map<String, Value>, parts: &[&str], value: &str) {
    match parts {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), Value::String(value.to_string()));
        }
        [head, rest @ ..] => {
            let child = map
                .entry((*head).to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !child.is_object() {
                *child = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(inner) = child {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Objects whose keys are all numbers become arrays ordered by that number.
fn arrays_from_numbered(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let numbered = !map.is_empty() && map.keys().all(|k| k.parse::<u32>().is_ok());
            if numbered {
                let mut items: Vec<(u32, Value)> = map
                    .into_iter()
                    .filter_map(|(k, v)| k.parse().ok().map(|n| (n, arrays_from_numbered(v))))
                    .collect();
                items.sort_by_key(|(n, _)| *n);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, arrays_from_numbered(v)))
                        .collect(),
                )
            }
        }
        other => other,
    }
}

/// A value that may arrive as a JSON number, a JSON string holding a number, or a
/// JSON boolean / string holding a boolean.
#[derive(Deserialize)]
#[serde(untagged)]
enum Loose {
    Text(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Bool(bool),
}

impl Loose {
    fn text(self) -> String {
        match self {
            Loose::Text(s) => s,
            Loose::Int(n) => n.to_string(),
            Loose::Uint(n) => n.to_string(),
            Loose::Float(f) => f.to_string(),
            Loose::Bool(b) => b.to_string(),
        }
    }
}

/// Decode a number given either as a JSON number or as a string (`"8080"`).
/// An empty string or `null` decodes as `None`.
pub fn opt_num<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let Some(loose) = Option::<Loose>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let text = loose.text();
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<T>()
        .map(Some)
        .map_err(|e| de::Error::custom(format!("invalid number {text:?}: {e}")))
}

/// Decode a boolean given as `true`, `"true"`, `"True"`, `1` or `"1"`.
/// An empty string or `null` decodes as `None`.
pub fn opt_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<bool>, D::Error> {
    let Some(loose) = Option::<Loose>::deserialize(deserializer)? else {
        return Ok(None);
    };
    match loose.text().trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        other => Err(de::Error::custom(format!("invalid boolean {other:?}"))),
    }
}

/// Decode a string that might arrive as a number (ids and names are strings, but
/// a lenient reader accepts `123` too). `null` decodes as `None`.
pub fn opt_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<Loose>::deserialize(deserializer)?.map(Loose::text))
}

/// [`opt_num`] for a field that is a plain number: absent, `null` and `""`
/// decode as the type's default (0).
pub fn num<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr + Default,
    T::Err: Display,
{
    Ok(opt_num(deserializer)?.unwrap_or_default())
}

/// [`opt_text`] for a field that is a plain string: `null` decodes as `""`.
pub fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(opt_text(deserializer)?.unwrap_or_default())
}

/// Decode a list that the service may send bare (`[..]`), wrapped one level down
/// (`{"NatGateway": [..]}`), as a single object instead of a one-element list, as
/// an empty string, or not at all.
pub fn list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Option::<Value>::deserialize(deserializer)?.unwrap_or(Value::Null);
    list_from_value(value).map_err(de::Error::custom)
}

fn list_from_value<T: DeserializeOwned>(value: Value) -> Result<Vec<T>, serde_json::Error> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::Array(items) => items.into_iter().map(serde_json::from_value).collect(),
        Value::Object(map) if map.is_empty() => Ok(Vec::new()),
        Value::Object(mut map) if map.len() == 1 && is_wrapped(&map) => {
            let inner = map
                .values_mut()
                .next()
                .map(Value::take)
                .unwrap_or(Value::Null);
            match inner {
                Value::Object(ref m) if m.is_empty() => Ok(Vec::new()),
                // A wrapper holding a single object instead of a one-element list.
                Value::Object(_) => Ok(vec![serde_json::from_value(inner)?]),
                other => list_from_value(other),
            }
        }
        other => Ok(vec![serde_json::from_value(other)?]),
    }
}

/// A one-key object is a wrapper when its value is a list, an object, null or
/// an empty string; otherwise it is a one-field element.
fn is_wrapped(map: &serde_json::Map<String, Value>) -> bool {
    map.values().all(|v| match v {
        Value::Array(_) | Value::Object(_) | Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    })
}

/// An element of a list the service wraps one level down; `KEY` is the name of
/// the wrapper's single field (`NatGateway` in `NatGateways.NatGateway[]`).
pub trait WrappedItem {
    /// The wrapper key, exactly as on the wire (misspellings included).
    const KEY: &'static str;
}

/// Serialize a list of [`WrappedItem`]s as `{"<T::KEY>": [..]}`, the shape
/// [`list`] reads back. Meant for `#[serde(serialize_with = "wire::wrapped")]`,
/// so that responses the emulator writes have the real wire shape.
pub fn wrapped<S, T>(items: &[T], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize + WrappedItem,
{
    wrapped_as(T::KEY, items, serializer)
}

/// Serialize `items` as `{"<key>": [..]}`: the same shape as [`wrapped`], for
/// lists whose element type does not name its key (lists of ids, e.g.
/// `ForwardTableIds.ForwardTableId[]`), used through a small per-field function.
pub fn wrapped_as<S, T>(key: &'static str, items: &[T], serializer: S) -> Result<S::Ok, S::Error>
where
    S: Serializer,
    T: Serialize,
{
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(key, items)?;
    map.end()
}

/// Flatten `req` with `base`, check that [`unflatten`] gives the same request
/// back, and return the parameters for the caller's wire-name assertions.
#[cfg(test)]
pub(crate) fn assert_round_trip<T>(req: &T, base: ListBase) -> Params
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let params = flatten(req, base).unwrap();
    let back: T = unflatten(&params).unwrap();
    assert_eq!(&back, req, "unflatten inverts flatten: {params:?}");
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Tag {
        key: String,
        value: String,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Default)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        region_id: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        removed_ip_addresses: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tag: Vec<Tag>,
        #[serde(
            default,
            deserialize_with = "opt_bool",
            skip_serializing_if = "Option::is_none"
        )]
        force: Option<bool>,
        #[serde(
            default,
            deserialize_with = "opt_num",
            skip_serializing_if = "Option::is_none"
        )]
        page_size: Option<u32>,
    }

    #[test]
    fn flattens_one_based_lists_and_nested_structs() {
        let req = Req {
            region_id: "cn-hangzhou".into(),
            name: Some(String::new()),
            removed_ip_addresses: (1..=11).map(|i| format!("10.0.0.{i}")).collect(),
            tag: vec![Tag {
                key: "k".into(),
                value: "v".into(),
            }],
            force: Some(true),
            page_size: Some(50),
        };
        let p = flatten(&req, ListBase::One).unwrap();
        assert_eq!(p["RegionId"], "cn-hangzhou");
        assert_eq!(p["Name"], "", "empty values are kept");
        assert_eq!(p["RemovedIpAddresses.1"], "10.0.0.1");
        assert_eq!(p["RemovedIpAddresses.11"], "10.0.0.11");
        assert!(!p.contains_key("RemovedIpAddresses.0"));
        assert_eq!(p["Tag.1.Key"], "k");
        assert_eq!(p["Tag.1.Value"], "v");
        assert_eq!(p["Force"], "true");
        assert_eq!(p["PageSize"], "50");
        let back: Req = unflatten(&p).unwrap();
        assert_eq!(back, req, "unflatten inverts flatten");
    }

    #[test]
    fn flattens_zero_based_and_whole_floats() {
        #[derive(Serialize)]
        struct U {
            #[serde(rename = "Key")]
            key: Vec<String>,
            #[serde(rename = "Bandwidth")]
            bandwidth: f64,
            #[serde(rename = "Ratio")]
            ratio: f64,
            #[serde(rename = "On")]
            on: bool,
        }
        let p = flatten(
            &U {
                key: vec!["a".into(), "b".into()],
                bandwidth: 200.0,
                ratio: 0.5,
                on: false,
            },
            ListBase::Zero,
        )
        .unwrap();
        assert_eq!(p["Key.0"], "a");
        assert_eq!(p["Key.1"], "b");
        assert_eq!(p["Bandwidth"], "200");
        assert_eq!(p["Ratio"], "0.5");
        assert_eq!(p["On"], "false");
    }

    #[test]
    fn non_object_requests_are_refused() {
        assert!(flatten(&5, ListBase::One).is_err());
    }

    #[derive(Deserialize, Debug)]
    struct Item {
        #[serde(rename = "Id")]
        id: String,
    }

    #[derive(Deserialize, Debug)]
    struct Resp {
        #[serde(rename = "Items", default, deserialize_with = "list")]
        items: Vec<Item>,
        #[serde(rename = "Port", default, deserialize_with = "opt_num")]
        port: Option<u16>,
        #[serde(rename = "Flag", default, deserialize_with = "opt_bool")]
        flag: Option<bool>,
    }

    #[test]
    fn lists_accept_every_wrapper_shape() {
        for body in [
            r#"{"Items": {"Item": [{"Id": "a"}, {"Id": "b"}]}}"#,
            r#"{"Items": [{"Id": "a"}, {"Id": "b"}]}"#,
        ] {
            let r: Resp = serde_json::from_str(body).unwrap();
            assert_eq!(r.items.len(), 2, "{body}");
            assert_eq!(r.items[1].id, "b");
        }
        for body in [
            r#"{}"#,
            r#"{"Items": []}"#,
            r#"{"Items": {"Item": []}}"#,
            r#"{"Items": {}}"#,
            r#"{"Items": ""}"#,
            r#"{"Items": null}"#,
        ] {
            let r: Resp = serde_json::from_str(body).unwrap();
            assert!(r.items.is_empty(), "{body}");
        }
        let r: Resp = serde_json::from_str(r#"{"Items": {"Item": {"Id": "solo"}}}"#).unwrap();
        assert_eq!(r.items[0].id, "solo");
    }

    #[test]
    fn wrapped_lists_serialize_one_level_down_and_read_back() {
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            id: String,
        }
        impl WrappedItem for Entry {
            const KEY: &'static str = "Entry";
        }
        fn wrap_id<S: Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
            wrapped_as("Id", items, s)
        }
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "PascalCase")]
        struct Lists {
            #[serde(default, deserialize_with = "list", serialize_with = "wrapped")]
            entries: Vec<Entry>,
            #[serde(default, deserialize_with = "list", serialize_with = "wrap_id")]
            ids: Vec<String>,
        }
        let lists = Lists {
            entries: vec![Entry { id: "a".into() }],
            ids: Vec::new(),
        };
        let v = serde_json::to_value(&lists).unwrap();
        assert_eq!(v["Entries"]["Entry"][0]["Id"], "a");
        assert_eq!(v["Ids"]["Id"], serde_json::json!([]));
        let back: Lists = serde_json::from_value(v).unwrap();
        assert_eq!(back, lists);
    }

    #[test]
    fn numbers_and_booleans_accept_strings() {
        let r: Resp = serde_json::from_str(r#"{"Port": "8080", "Flag": "true"}"#).unwrap();
        assert_eq!(r.port, Some(8080));
        assert_eq!(r.flag, Some(true));
        let r: Resp = serde_json::from_str(r#"{"Port": 22, "Flag": 0}"#).unwrap();
        assert_eq!(r.port, Some(22));
        assert_eq!(r.flag, Some(false));
        let r: Resp = serde_json::from_str(r#"{"Port": ""}"#).unwrap();
        assert_eq!(r.port, None);
        assert!(serde_json::from_str::<Resp>(r#"{"Port": "http"}"#).is_err());
    }
}
