//! Canonical compact FHIR JSON: resourceType first, then members in table order,
//! each primitive's `_name` sibling right after it. Members not in the table are
//! skipped; a value that is not an object is written as plain JSON.
//!
//! This runs for every registration and every stored version, so it writes straight into one
//! byte buffer: member names come from the table (plain ASCII identifiers, no escaping), and
//! leaf values go through serde_json's writer.

use serde_json::{Map, Value};

use super::structure::{self, Kind, TypeDef};

pub fn write(resource: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    match resource {
        Value::Object(map) => write_resource(map, &mut out),
        other => plain(other, &mut out),
    }
    out
}

fn plain(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::String(s) => string(s, out),
        // Writing a Value into a Vec cannot fail.
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
    }
}

/// A JSON string, byte for byte as serde_json writes it. Most strings need no escape (no `"`,
/// `\` or control character): those are copied between quotes in one pass instead of going
/// through serde's escaper byte by byte; the others go through it.
pub fn string(s: &str, out: &mut Vec<u8>) {
    let plain = s
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

fn write_resource(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let rt = map
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(td) = structure::resource_def(rt) else {
        // Not in the table: keep the data rather than lose it.
        let _ = serde_json::to_writer(&mut *out, map);
        return;
    };
    out.extend_from_slice(b"{\"resourceType\":\"");
    out.extend_from_slice(rt.as_bytes()); // a table name: no escaping needed
    out.push(b'"');
    write_members(td, map, out, false);
    out.push(b'}');
}

fn write_object(td: &TypeDef, map: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    write_members(td, map, out, true);
    out.push(b'}');
}

fn write_members(td: &TypeDef, map: &Map<String, Value>, out: &mut Vec<u8>, mut first: bool) {
    // `_name` siblings are rare: look for them only when the object has any.
    let underscored = map.keys().any(|k| k.starts_with('_'));
    let mut under = String::new();
    for el in td.elements {
        for c in el.choices {
            if let Some(v) = map.get(c.name) {
                member(c.name, c.kind, v, out, &mut first);
            }
            if underscored {
                under.clear();
                under.push('_');
                under.push_str(c.name);
                if let Some(v) = map.get(under.as_str()) {
                    member(&under, Kind::Complex("Element"), v, out, &mut first);
                }
            }
        }
    }
}

fn member(name: &str, kind: Kind, v: &Value, out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
    out.push(b'"');
    out.extend_from_slice(name.as_bytes()); // table names are plain identifiers
    out.extend_from_slice(b"\":");
    match v {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(kind, item, out);
            }
            out.push(b']');
        }
        _ => write_value(kind, v, out),
    }
}

fn write_value(kind: Kind, v: &Value, out: &mut Vec<u8>) {
    match (kind, v) {
        (Kind::Complex(t), Value::Object(map)) => match structure::type_def(t) {
            Some(td) => write_object(td, map, out),
            None => plain(v, out),
        },
        (Kind::Resource, Value::Object(map)) => write_resource(map, out),
        _ => plain(v, out),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "plain",
            "https://fhir.nhs.uk/Id/nhs-number",
            "quote \" inside",
            "back\\slash",
            "line\nbreak\ttab\r\u{8}\u{c}",
            "\u{0}\u{1}\u{1f}",
            "\u{7f} del, é, \u{2028}, 😀, </script>",
        ] {
            let mut ours = Vec::new();
            super::string(text, &mut ours);
            assert_eq!(ours, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }
}
