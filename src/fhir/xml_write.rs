//! Compact FHIR XML from FHIR JSON, following the structure table: attributes
//! for Element.id / Extension.url / primitive values, children in table order.
//! Members not in the table, and values of the wrong shape, are skipped.

use serde_json::{Map, Value};

use super::structure::{self, Choice, Kind, TypeDef};
use super::xml_tree::FHIR_NS;
use super::{primitive, xhtml};

pub fn write(resource: &Value) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    if let Value::Object(map) = resource {
        write_resource(map, &mut out, true);
    }
    out.into_bytes()
}

/// Escapes for attribute values; whitespace as character references so that
/// attribute-value normalization on reading does not turn it into spaces.
fn escape_attr(s: &str, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            // Stored resources never hold these (the reader refuses them), but an
            // OperationOutcome may quote a client's text: keep the document well-formed.
            c if !super::primitive::xml_char_ok(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

fn attr(name: &str, value: &str, out: &mut String) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    escape_attr(value, out);
    out.push('"');
}

fn write_resource(map: &Map<String, Value>, out: &mut String, root: bool) {
    let rt = map
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(td) = structure::resource_def(rt) else {
        return;
    };
    out.push('<');
    out.push_str(rt);
    if root {
        attr("xmlns", FHIR_NS, out);
    }
    out.push('>');
    write_children(td, map, out);
    out.push_str("</");
    out.push_str(rt);
    out.push('>');
}

fn write_children(td: &TypeDef, map: &Map<String, Value>, out: &mut String) {
    for el in td.elements.iter().filter(|e| !e.attr) {
        for c in el.choices {
            let v = map.get(c.name);
            let u = map.get(&format!("_{}", c.name));
            match (v, u) {
                (Some(Value::Array(_)), _) | (_, Some(Value::Array(_))) => {
                    let vs = v.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                    let us = u.and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
                    for i in 0..vs.len().max(us.len()) {
                        write_item(c, vs.get(i), us.get(i), out);
                    }
                }
                _ => write_item(c, v, u, out),
            }
        }
    }
}

fn open_tag(name: &str, out: &mut String) {
    out.push('<');
    out.push_str(name);
}

/// Closes a start tag, as empty when there is no content.
fn close(name: &str, content: &str, out: &mut String) {
    if content.is_empty() {
        out.push_str("/>");
    } else {
        out.push('>');
        out.push_str(content);
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    }
}

fn write_item(c: &Choice, v: Option<&Value>, u: Option<&Value>, out: &mut String) {
    match c.kind {
        Kind::Primitive(_) => {
            let text = v.and_then(primitive::to_xml_text);
            let meta = u.and_then(Value::as_object);
            if text.is_none() && meta.is_none() {
                return;
            }
            open_tag(c.name, out);
            if let Some(id) = meta.and_then(|m| m.get("id")).and_then(Value::as_str) {
                attr("id", id, out);
            }
            if let Some(t) = &text {
                attr("value", t, out);
            }
            let mut inner = String::new();
            if let (Some(m), Some(td)) = (meta, structure::type_def("Element")) {
                write_children(td, m, &mut inner);
            }
            close(c.name, &inner, out);
        }
        Kind::Complex(t) => {
            if let (Some(Value::Object(map)), Some(td)) = (v, structure::type_def(t)) {
                write_complex(c.name, td, map, out);
            }
        }
        Kind::Resource => {
            if let Some(Value::Object(map)) = v {
                let mut inner = String::new();
                write_resource(map, &mut inner, false);
                open_tag(c.name, out);
                close(c.name, &inner, out);
            }
        }
        Kind::Xhtml => {
            if let Some(Value::String(s)) = v {
                if xhtml::problem(s).is_none() {
                    out.push_str(s);
                } else {
                    // Not usable XHTML: keep its text rather than emit broken XML.
                    out.push_str("<div xmlns=\"http://www.w3.org/1999/xhtml\">");
                    escape_attr(s, out);
                    out.push_str("</div>");
                }
            }
        }
    }
}

fn write_complex(name: &str, td: &TypeDef, map: &Map<String, Value>, out: &mut String) {
    open_tag(name, out);
    for el in td.elements.iter().filter(|e| e.attr) {
        if let Some(text) = map.get(el.name).and_then(primitive::to_xml_text) {
            attr(el.name, &text, out);
        }
    }
    let mut inner = String::new();
    write_children(td, map, &mut inner);
    close(name, &inner, out);
}
