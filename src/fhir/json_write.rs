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
    // Writing a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
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
