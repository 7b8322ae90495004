//! Canonical compact FHIR JSON: resourceType first, then members in table order,
//! each primitive's `_name` sibling right after it. Members not in the table are
//! skipped; a value that is not an object is written as plain JSON.
//!
//! This runs for every registration and every stored version, so it writes straight into one
//! byte buffer: member names come from the table (plain ASCII identifiers, no escaping), and
//! leaf values go through serde_json's writer.

use serde_json::{Map, Value};

use super::structure::{self, Indexed, Kind, Member};

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
    let Some(ty) = structure::indexed_resource(rt) else {
        // Not in the table: keep the data rather than lose it.
        let _ = serde_json::to_writer(&mut *out, map);
        return;
    };
    out.extend_from_slice(b"{\"resourceType\":\"");
    out.extend_from_slice(rt.as_bytes()); // a table name: no escaping needed
    out.push(b'"');
    write_members(ty, map, out, false);
    out.push(b'}');
}

fn write_object(ty: &'static Indexed, map: &Map<String, Value>, out: &mut Vec<u8>) {
    out.push(b'{');
    write_members(ty, map, out, true);
    out.push(b'}');
}

/// A member to write: the table's member, and whether this is its `_name` sibling.
struct Placed<'m> {
    member: &'static Member,
    under: bool,
    key: &'m str,
    value: &'m Value,
}

fn write_members(
    ty: &'static Indexed,
    map: &Map<String, Value>,
    out: &mut Vec<u8>,
    mut first: bool,
) {
    // Each key placed in the table with one search, then written in table order, a `_name`
    // sibling right after its value.
    let mut placed: Vec<Placed> = Vec::with_capacity(map.len());
    for (key, value) in map {
        let (name, under) = match key.strip_prefix('_') {
            Some(rest) => (rest, true),
            None => (key.as_str(), false),
        };
        if let Some(member) = ty.member(name) {
            placed.push(Placed {
                member,
                under,
                key,
                value,
            });
        }
    }
    placed.sort_unstable_by_key(|p| (p.member.rank, p.under));
    for p in &placed {
        if p.under {
            member(p.key, Element::Sibling, p.value, out, &mut first);
        } else {
            member(p.key, Element::Of(p.member), p.value, out, &mut first);
        }
    }
}

/// What a member holds: a table member's kind, or (a `_name` sibling) an Element.
#[derive(Clone, Copy)]
enum Element {
    Of(&'static Member),
    Sibling,
}

fn member(name: &str, kind: Element, v: &Value, out: &mut Vec<u8>, first: &mut bool) {
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

fn write_value(kind: Element, v: &Value, out: &mut Vec<u8>) {
    let Value::Object(map) = v else {
        return plain(v, out);
    };
    let complex = match kind {
        Element::Sibling => structure::indexed("Element"),
        Element::Of(m) => match m.choice.kind {
            Kind::Complex(_) => m.complex(),
            Kind::Resource => return write_resource(map, out),
            _ => return plain(v, out),
        },
    };
    match complex {
        Some(ty) => write_object(ty, map, out),
        None => plain(v, out),
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
