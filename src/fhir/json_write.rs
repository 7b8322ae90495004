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
    let mut w = Writer {
        out: Vec::with_capacity(512),
        placed: Vec::new(),
    };
    match resource {
        Value::Object(map) => w.resource(map),
        other => plain(other, &mut w.out),
    }
    w.out
}

/// One write's output, and the members of the objects being written (each object's above its
/// parent's), in one buffer for the whole resource.
struct Writer<'m> {
    out: Vec<u8>,
    placed: Vec<Placed<'m>>,
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

/// A member to write: the table's member, and whether this is its `_name` sibling.
#[derive(Clone, Copy)]
struct Placed<'m> {
    member: &'static Member,
    under: bool,
    key: &'m str,
    value: &'m Value,
}

/// What a member holds: a table member's kind, or (a `_name` sibling) an Element.
#[derive(Clone, Copy)]
enum Element {
    Of(&'static Member),
    Sibling,
}

impl<'m> Writer<'m> {
    fn resource(&mut self, map: &'m Map<String, Value>) {
        let out = &mut self.out;
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
        self.members(ty, map, false);
        self.out.push(b'}');
    }

    fn object(&mut self, ty: &'static Indexed, map: &'m Map<String, Value>) {
        self.out.push(b'{');
        self.members(ty, map, true);
        self.out.push(b'}');
    }

    fn members(&mut self, ty: &'static Indexed, map: &'m Map<String, Value>, mut first: bool) {
        // Each key placed in the table with one search, then written in table order, a `_name`
        // sibling right after its value.
        let base = self.placed.len();
        for (key, value) in map {
            let (name, under) = match key.strip_prefix('_') {
                Some(rest) => (rest, true),
                None => (key.as_str(), false),
            };
            if let Some(member) = ty.member(name) {
                self.placed.push(Placed {
                    member,
                    under,
                    key,
                    value,
                });
            }
        }
        self.placed[base..].sort_unstable_by_key(|p| (p.member.rank, p.under));
        for at in base..self.placed.len() {
            // Copied out: the members below place their own after this object's.
            let p = self.placed[at];
            let kind = if p.under {
                Element::Sibling
            } else {
                Element::Of(p.member)
            };
            self.member(p.key, kind, p.value, &mut first);
        }
        self.placed.truncate(base);
    }

    fn member(&mut self, name: &str, kind: Element, v: &'m Value, first: &mut bool) {
        let out = &mut self.out;
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
                        self.out.push(b',');
                    }
                    self.value(kind, item);
                }
                self.out.push(b']');
            }
            _ => self.value(kind, v),
        }
    }

    fn value(&mut self, kind: Element, v: &'m Value) {
        let Value::Object(map) = v else {
            return plain(v, &mut self.out);
        };
        let complex = match kind {
            Element::Sibling => structure::indexed("Element"),
            Element::Of(m) => match m.choice.kind {
                Kind::Complex(_) => m.complex(),
                Kind::Resource => return self.resource(map),
                _ => return plain(v, &mut self.out),
            },
        };
        match complex {
            Some(ty) => self.object(ty, map),
            None => plain(v, &mut self.out),
        }
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
