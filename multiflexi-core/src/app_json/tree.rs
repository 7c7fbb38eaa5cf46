//! An order-preserving JSON tree that notices duplicate object keys.
//!
//! `serde_json::Value` keeps one value per key without saying so, and (without its
//! `preserve_order` feature) sorts keys. App files need both facts: a repeated key is worth a
//! warning, and the order of environment fields and `set` options is the author's.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Number;
use std::collections::HashMap;
use std::fmt;

/// One JSON value; objects keep their keys in file order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// A key that appeared more than once in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Duplicate {
    /// JSON Pointer of the repeated key.
    pub path: String,
    /// The key itself.
    pub key: String,
    /// How many times it appeared.
    pub count: usize,
    /// Whether an earlier occurrence had another value, which is lost.
    pub lost: bool,
}

/// Why the bytes are not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl Node {
    /// The JSON type name, as the schema spells it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "boolean",
            Node::Number(_) => "number",
            Node::String(_) => "string",
            Node::Array(_) => "array",
            Node::Object(_) => "object",
        }
    }

    /// The value under `key` (the last one if the key repeats), when this is an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, when this is an object.
    pub fn entries(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Object(entries) => Some(entries),
            _ => None,
        }
    }

    /// Converts to a `serde_json::Value` (key order then follows `serde_json::Map`).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            Node::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// The UTF-8 byte-order mark, which some editors put before the JSON.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses `bytes` (a leading UTF-8 byte-order mark is skipped) and collapses repeated keys:
/// the last value wins, at the position of the first occurrence (as PHP and Python do).
pub(crate) fn parse(bytes: &[u8]) -> Result<(Node, Vec<Duplicate>), SyntaxError> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let node = Node::deserialize(&mut de)
        .and_then(|n| de.end().map(|()| n))
        .map_err(syntax_error)?;
    let mut dups = Vec::new();
    let node = dedupe(node, "", &mut dups);
    Ok((node, dups))
}

/// The first merge-conflict marker line (`<<<<<<< `, `=======`, `>>>>>>> `): its 1-based
/// line and the marker. Only asked when the bytes are not JSON (a marker inside a string is
/// text).
pub(crate) fn conflict_marker(bytes: &[u8]) -> Option<(usize, &'static str)> {
    const MARKERS: [&str; 3] = ["<<<<<<<", "=======", ">>>>>>>"];
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .find_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            MARKERS.into_iter().find_map(|m| {
                let rest = line.strip_prefix(m.as_bytes())?;
                let fits = if m == "=======" {
                    rest.is_empty()
                } else {
                    rest.is_empty() || rest[0] == b' '
                };
                fits.then_some((i + 1, m))
            })
        })
}

fn syntax_error(e: serde_json::Error) -> SyntaxError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    SyntaxError {
        line,
        column,
        message,
    }
}

fn dedupe(node: Node, path: &str, dups: &mut Vec<Duplicate>) -> Node {
    match node {
        Node::Array(items) => Node::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| dedupe(item, &child(path, &i.to_string()), dups))
                .collect(),
        ),
        Node::Object(entries) => {
            let mut out: Vec<(String, Node)> = Vec::with_capacity(entries.len());
            let mut seen: HashMap<String, (usize, usize, bool)> = HashMap::new();
            for (key, value) in entries {
                let value = dedupe(value, &child(path, &key), dups);
                match seen.get_mut(&key) {
                    Some((index, count, lost)) => {
                        *lost |= out[*index].1 != value;
                        out[*index].1 = value;
                        *count += 1;
                    }
                    None => {
                        seen.insert(key.clone(), (out.len(), 1, false));
                        out.push((key, value));
                    }
                }
            }
            for (key, _) in &out {
                if let Some(&(_, count, lost)) = seen.get(key)
                    && count > 1
                {
                    dups.push(Duplicate {
                        path: child(path, key),
                        key: key.clone(),
                        count,
                        lost,
                    });
                }
            }
            Node::Object(out)
        }
        other => other,
    }
}

/// The JSON Pointer (RFC 6901) of `key` under `parent`.
pub(crate) fn child(parent: &str, key: &str) -> String {
    let mut p = String::with_capacity(parent.len() + key.len() + 1);
    p.push_str(parent);
    p.push('/');
    for c in key.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(Node::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            entries.push((k, v));
        }
        Ok(Node::Object(entries))
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Number(n) => n.serialize(s),
            Node::String(v) => s.serialize_str(v),
            Node::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_duplicate_wins_at_first_position() {
        let (n, dups) = parse(br#"{"a":2,"b":{"x":1,"x":2,"x":3},"a":2}"#).unwrap();
        let keys: Vec<_> = n
            .entries()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(n.get("a"), Some(&Node::Number(2.into())));
        assert_eq!(n.get("b").unwrap().get("x"), Some(&Node::Number(3.into())));
        assert_eq!(
            dups,
            [
                Duplicate {
                    path: "/b/x".into(),
                    key: "x".into(),
                    count: 3,
                    lost: true,
                },
                Duplicate {
                    path: "/a".into(),
                    key: "a".into(),
                    count: 2,
                    lost: false,
                },
            ]
        );
    }

    #[test]
    fn syntax_error_has_position_without_suffix() {
        let e = parse(b"{\n  \"a\": 1,\n}").unwrap_err();
        assert_eq!((e.line, e.column), (3, 1));
        assert_eq!(e.message, "trailing comma");
        assert!(parse(b"{} x").is_err());
        assert!(parse(b"\xEF\xBB\xBF{}").is_ok());
    }

    #[test]
    fn merge_conflict_markers_are_found_at_line_starts_only() {
        let file = b"{\n<<<<<<< HEAD\n  \"a\": 1\n=======\n  \"a\": 2\n>>>>>>> topic\n}";
        assert_eq!(conflict_marker(file), Some((2, "<<<<<<<")));
        assert_eq!(conflict_marker(b"{\r\n=======\r\n}"), Some((2, "=======")));
        assert_eq!(conflict_marker(b"{\"a\": \"<<<<<<< x\"}"), None);
        assert_eq!(conflict_marker(b"{\n========\n}"), None);
    }

    #[test]
    fn pointer_escapes() {
        assert_eq!(child("/a", "b/c~d"), "/a/b~1c~0d");
    }
}
