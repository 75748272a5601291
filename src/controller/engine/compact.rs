//! A compact encoding of the JSON a watch delivers, for the objects a
//! controller's cache keeps.
//!
//! A typed object keeps each field in a slot of its own and each text in an
//! allocation of its own: a Ready ForwardEntry took about 2.1 KiB in a
//! reflector store (`make bench`, `cache_cost`), most of it empty `Option`s
//! and small strings. Encoded here, the same object is one allocation of
//! its texts and numbers. Object keys (the CRDs' field names) and short
//! texts that many objects share (the API version, the namespace, a
//! condition's type, status and reason, the gateway's ids, the region) are
//! interned once for the process and written as a number: the texts that
//! name one object alone (its name, uid, resourceVersion, id, timestamps)
//! never are. The table of interned texts has a fixed cap; past it, texts
//! are written out in full, so it never grows without bound, whatever
//! objects come and go.
//!
//! The encoding is exact: [`decode`] gives back the value [`encode`] was
//! given, so an object decoded from the cache is the object the watch
//! delivered (after [`super::strip`]).

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use serde_json::{Map, Number, Value};

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
/// A non-negative integer, as a varint.
const UINT: u8 = 3;
/// A negative integer `n`, as the varint of `-(n + 1)`.
const NEG: u8 = 4;
/// Any other number, as its eight bytes.
const FLOAT: u8 = 5;
const STRING: u8 = 6;
const ARRAY: u8 = 7;
const OBJECT: u8 = 8;
/// An interned text, as the varint of its number.
const INTERNED: u8 = 9;

/// How many texts (keys and values) are interned at most, and how long
/// each may be: a text beyond either is written out in full. Keys come from
/// the CRDs' schemas and values are shared by many objects, so the table
/// stays far below the cap; the cap keeps an unexpected stream of texts
/// from growing it (at most about 8,192 × 64 bytes).
const MAX_KEYS: usize = 8192;
const MAX_KEY_LEN: usize = 64;

/// The keys whose string values name one object alone (or one moment):
/// interning them would fill the table with texts no other object shares.
const UNSHARED: &[&str] = &[
    "name",
    "uid",
    "resourceVersion",
    "id",
    "creationTimestamp",
    "deletionTimestamp",
    "lastTransitionTime",
    "creating",
    "clientToken",
];

/// The interned texts: by number, and each text's number.
#[derive(Default)]
struct Keys {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

static KEYS: LazyLock<RwLock<Keys>> = LazyLock::new(RwLock::default);

/// The number of text `key` (1-based; 0: not interned), interning it if
/// there is room.
fn key_number(key: &str) -> u32 {
    if key.len() > MAX_KEY_LEN {
        return 0;
    }
    if let Some(n) = KEYS
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .numbers
        .get(key)
    {
        return *n;
    }
    KEYS.write()
        .unwrap_or_else(PoisonError::into_inner)
        .intern(key, MAX_KEYS)
}

impl Keys {
    /// The number of `key` (1-based), interning it while the table holds
    /// fewer than `cap` texts; 0 once it is full.
    fn intern(&mut self, key: &str, cap: usize) -> u32 {
        if let Some(n) = self.numbers.get(key) {
            return *n;
        }
        if self.names.len() >= cap {
            return 0;
        }
        self.names.push(key.into());
        let n = u32::try_from(self.names.len()).unwrap_or(0);
        self.numbers.insert(key.into(), n);
        n
    }
}

/// The value as bytes.
pub fn encode(value: &Value) -> Box<[u8]> {
    let mut out = Vec::with_capacity(256);
    put(&mut out, value, false);
    out.into_boxed_slice()
}

/// The value `bytes` encode (`None`: not bytes [`encode`] wrote).
pub fn decode(bytes: &[u8]) -> Option<Value> {
    let mut at = 0;
    let value = {
        let keys = KEYS.read().unwrap_or_else(PoisonError::into_inner);
        get(bytes, &mut at, &keys)?
    };
    (at == bytes.len()).then_some(value)
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        // The low seven bits of `n`, always below 128.
        let low = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(low);
            return;
        }
        out.push(low | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_varint(out, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Write `value`; `shared`: a text here is one many objects may share (it
/// is not under a key of [`UNSHARED`]).
fn put(out: &mut Vec<u8>, value: &Value, shared: bool) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                out.push(UINT);
                put_varint(out, u);
            } else if let Some(i) = n.as_i64() {
                out.push(NEG);
                // `i` is negative here: -(i + 1) is at least 0.
                put_varint(out, (-(i + 1)).unsigned_abs());
            } else {
                out.push(FLOAT);
                out.extend_from_slice(&n.as_f64().unwrap_or_default().to_le_bytes());
            }
        }
        Value::String(text) => match if shared { key_number(text) } else { 0 } {
            0 => {
                out.push(STRING);
                put_str(out, text);
            }
            n => {
                out.push(INTERNED);
                put_varint(out, u64::from(n));
            }
        },
        Value::Array(items) => {
            out.push(ARRAY);
            put_varint(out, items.len() as u64);
            for item in items {
                put(out, item, shared);
            }
        }
        Value::Object(fields) => {
            out.push(OBJECT);
            put_varint(out, fields.len() as u64);
            for (key, item) in fields {
                let n = key_number(key);
                put_varint(out, u64::from(n));
                if n == 0 {
                    put_str(out, key);
                }
                put(out, item, !UNSHARED.contains(&key.as_str()));
            }
        }
    }
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

fn get_str<'a>(bytes: &'a [u8], at: &mut usize) -> Option<&'a str> {
    let len = usize::try_from(get_varint(bytes, at)?).ok()?;
    let end = at.checked_add(len)?;
    let text = std::str::from_utf8(bytes.get(*at..end)?).ok()?;
    *at = end;
    Some(text)
}

fn get(bytes: &[u8], at: &mut usize, keys: &Keys) -> Option<Value> {
    let tag = *bytes.get(*at)?;
    *at += 1;
    Some(match tag {
        NULL => Value::Null,
        FALSE => Value::Bool(false),
        TRUE => Value::Bool(true),
        UINT => Value::Number(get_varint(bytes, at)?.into()),
        NEG => {
            let n = i64::try_from(get_varint(bytes, at)?).ok()?;
            Value::Number((-n - 1).into())
        }
        FLOAT => {
            let end = at.checked_add(8)?;
            let raw: [u8; 8] = bytes.get(*at..end)?.try_into().ok()?;
            *at = end;
            Value::Number(Number::from_f64(f64::from_le_bytes(raw))?)
        }
        STRING => Value::String(get_str(bytes, at)?.to_owned()),
        INTERNED => {
            let n = usize::try_from(get_varint(bytes, at)?).ok()?;
            Value::String(keys.names.get(n.checked_sub(1)?)?.to_string())
        }
        ARRAY => {
            let len = usize::try_from(get_varint(bytes, at)?).ok()?;
            let mut items = Vec::with_capacity(len.min(bytes.len()));
            for _ in 0..len {
                items.push(get(bytes, at, keys)?);
            }
            Value::Array(items)
        }
        OBJECT => {
            let len = usize::try_from(get_varint(bytes, at)?).ok()?;
            let mut fields = Map::new();
            for _ in 0..len {
                let n = usize::try_from(get_varint(bytes, at)?).ok()?;
                let key = match n.checked_sub(1) {
                    None => get_str(bytes, at)?.to_owned(),
                    Some(i) => keys.names.get(i)?.to_string(),
                };
                fields.insert(key, get(bytes, at, keys)?);
            }
            Value::Object(fields)
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_value_comes_back_as_it_went_in() {
        let long_key = "k".repeat(MAX_KEY_LEN + 1);
        for value in [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(127),
            json!(128),
            json!(u64::MAX),
            json!(-1),
            json!(i64::MIN),
            json!(1.5),
            json!(-0.25),
            json!(""),
            json!("ü€ text"),
            json!([]),
            json!({}),
            json!([1, "two", [3], {"four": 4}]),
            json!({
                "metadata": {"name": "gw-17-entry-3", "generation": 2, "finalizers": ["natop.dev/cleanup"]},
                "spec": {"externalPort": 10_003, "internalIp": "192.168.17.10", "nested": {"deep": [null, false]}},
                long_key.clone(): "a key too long to intern",
            }),
        ] {
            let bytes = encode(&value);
            assert_eq!(decode(&bytes), Some(value.clone()), "{value}");
        }
    }

    #[test]
    fn shared_texts_are_interned_and_an_object_s_own_are_not() {
        let entry = |name: &str| {
            json!({"metadata": {"name": name, "namespace": "team-shared-7"},
                "status": {"id": format!("fwd-{name}"), "region": "cn-shared-7"}})
        };
        let one = encode(&entry("gw-0-1"));
        let two = encode(&entry("gw-0-2"));
        assert_eq!(decode(&one), Some(entry("gw-0-1")));
        assert_eq!(decode(&two), Some(entry("gw-0-2")));
        let contains =
            |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|w| w == text.as_bytes());
        for bytes in [&one, &two] {
            assert!(
                !contains(bytes, "team-shared-7"),
                "the namespace is a number"
            );
            assert!(!contains(bytes, "cn-shared-7"), "the region is a number");
        }
        assert!(contains(&one, "gw-0-1") && contains(&one, "fwd-gw-0-1"));
        let keys = KEYS.read().unwrap();
        assert!(keys.numbers.contains_key("team-shared-7"));
        assert!(
            !keys.numbers.contains_key("gw-0-1"),
            "a name is never interned"
        );
        assert!(
            !keys.numbers.contains_key("fwd-gw-0-1"),
            "an id is never interned"
        );
    }

    #[test]
    fn the_table_stops_growing_at_its_cap() {
        let mut keys = Keys::default();
        assert_eq!(keys.intern("a", 2), 1);
        assert_eq!(keys.intern("b", 2), 2);
        assert_eq!(keys.intern("c", 2), 0, "full: written out in full");
        assert_eq!(keys.intern("a", 2), 1, "what it holds keeps its number");
        assert_eq!(keys.names.len(), 2);
        assert_eq!(keys.numbers.len(), 2);
    }

    #[test]
    fn an_object_costs_its_texts_and_little_more() {
        let value = json!({"status": {"id": "fwd-0123456789abcdef0001", "status": "Available"}});
        let bytes = encode(&value);
        // Tags, counts, key numbers and lengths: 2 bytes each at most here
        // ("Available" is interned: a tag and its number).
        let texts = "fwd-0123456789abcdef0001".len();
        assert!(bytes.len() <= texts + 14, "{} bytes", bytes.len());
        assert!(bytes.len() < value.to_string().len());
    }

    #[test]
    fn bytes_that_are_not_an_encoding_decode_to_nothing() {
        let whole = encode(&json!({"a": ["b", 3]}));
        for cut in 0..whole.len() {
            assert_eq!(decode(&whole[..cut]), None, "cut at {cut}");
        }
        let mut longer = whole.to_vec();
        longer.push(NULL);
        assert_eq!(decode(&longer), None, "trailing bytes");
        assert_eq!(decode(&[42]), None, "an unknown tag");
        assert_eq!(decode(&[STRING, 2, 0xff, 0xfe]), None, "not UTF-8");
        // Text number 16,385, beyond the most there can be.
        assert_eq!(
            decode(&[OBJECT, 1, 0x81, 0x80, 0x01, NULL]),
            None,
            "a key never interned"
        );
        assert_eq!(
            decode(&[INTERNED, 0x81, 0x80, 0x01]),
            None,
            "a text never interned"
        );
        assert_eq!(decode(&[INTERNED, 0]), None, "text number 0");
    }
}
