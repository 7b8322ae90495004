//! Canonical compact FHIR JSON: resourceType first, then members in table order,
//! each primitive's `_name` sibling right after it. Members not in the table are
//! skipped; a value that is not an object is written as plain JSON.

use serde_json::{Map, Value};

use super::structure::{self, Kind, TypeDef};

pub fn write(resource: &Value) -> Vec<u8> {
    let mut out = String::new();
    match resource {
        Value::Object(map) => write_resource(map, &mut out),
        other => out.push_str(&other.to_string()),
    }
    out.into_bytes()
}

fn write_resource(map: &Map<String, Value>, out: &mut String) {
    let rt = map
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(td) = structure::resource_def(rt) else {
        // Not in the table: keep the data rather than lose it.
        out.push_str(&Value::Object(map.clone()).to_string());
        return;
    };
    out.push_str("{\"resourceType\":");
    out.push_str(&Value::String(rt.to_string()).to_string());
    write_members(td, map, out, false);
    out.push('}');
}

fn write_object(td: &TypeDef, map: &Map<String, Value>, out: &mut String) {
    out.push('{');
    write_members(td, map, out, true);
    out.push('}');
}

fn write_members(td: &TypeDef, map: &Map<String, Value>, out: &mut String, mut first: bool) {
    for el in td.elements {
        for c in el.choices {
            let under = format!("_{}", c.name);
            for (key, is_under) in [(c.name, false), (under.as_str(), true)] {
                let Some(v) = map.get(key) else { continue };
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&Value::String(key.to_string()).to_string());
                out.push(':');
                let kind = if is_under {
                    Kind::Complex("Element")
                } else {
                    c.kind
                };
                match v {
                    Value::Array(items) => {
                        out.push('[');
                        for (i, item) in items.iter().enumerate() {
                            if i > 0 {
                                out.push(',');
                            }
                            write_value(kind, item, out);
                        }
                        out.push(']');
                    }
                    _ => write_value(kind, v, out),
                }
            }
        }
    }
}

fn write_value(kind: Kind, v: &Value, out: &mut String) {
    match (kind, v) {
        (Kind::Complex(t), Value::Object(map)) => match structure::type_def(t) {
            Some(td) => write_object(td, map, out),
            None => out.push_str(&v.to_string()),
        },
        (Kind::Resource, Value::Object(map)) => write_resource(map, out),
        _ => out.push_str(&v.to_string()),
    }
}
