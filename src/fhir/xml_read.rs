//! FHIR XML (as an [`XElem`] tree) to FHIR JSON, checking XML-specific rules
//! (order, repeats, attributes, text) and the shared value rules as it goes, so
//! issues come out in document order.

use serde_json::{Map, Value};

use super::structure::{self, Choice, Kind, TypeDef};
use super::xml_tree::{self, XElem};
use super::{primitive, validate, xhtml, Issue, ReadError};

pub fn read(bytes: &[u8]) -> Result<(Value, Vec<Issue>), ReadError> {
    let root = xml_tree::parse(bytes)?;
    if !structure::is_known_resource(&root.name) {
        let msg = format!("root element '{}' is not a FHIR resource", root.name);
        return Err(ReadError::Unparseable(msg));
    }
    let mut issues = Vec::new();
    let value = resource(&root, &root.name, &mut issues);
    Ok((value, issues))
}

fn structure_issue(path: &str, msg: String, issues: &mut Vec<Issue>) {
    issues.push(Issue::new(path, "structure", msg));
}

/// Reports attributes other than the allowed ones, and stray text.
fn check_markup(el: &XElem, allowed: &[&str], path: &str, issues: &mut Vec<Issue>) {
    for (name, _) in el
        .attrs
        .iter()
        .filter(|(n, _)| !allowed.contains(&n.as_str()))
    {
        structure_issue(path, format!("unknown attribute '{name}'"), issues);
    }
    for name in &el.foreign_attrs {
        structure_issue(path, format!("unknown attribute '{name}'"), issues);
    }
    if el.has_text {
        structure_issue(
            path,
            format!("text is not allowed inside '{}'", el.name),
            issues,
        );
    }
}

fn resource(el: &XElem, path: &str, issues: &mut Vec<Issue>) -> Value {
    let mut map = Map::new();
    map.insert("resourceType".into(), Value::String(el.name.clone()));
    match structure::resource_def(&el.name) {
        Some(td) => {
            check_markup(el, &[], path, issues);
            object(td, el, path, &mut map, issues);
        }
        None => issues.push(validate::unsupported(&el.name, path)),
    }
    Value::Object(map)
}

/// Values collected for one table element: (value, `_name` sibling) per occurrence.
type Slots = Vec<(Option<Value>, Option<Value>)>;

fn object(
    td: &TypeDef,
    el: &XElem,
    path: &str,
    map: &mut Map<String, Value>,
    issues: &mut Vec<Issue>,
) {
    // Attributes map to members (Element.id, Extension.url).
    for (name, value) in &el.attrs {
        if let Some((_, def, c)) = td.find(name).filter(|(_, d, _)| d.attr) {
            let p = format!("{path}.{}", def.name);
            if let Kind::Primitive(prim) = c.kind {
                if let Some(v) = primitive::from_xml(prim, c.codes, value, &p, issues) {
                    map.insert(c.name.into(), v);
                }
            }
        }
    }
    let mut slots: Vec<(&Choice, Slots)> = Vec::new();
    let mut seen: Vec<Option<usize>> = vec![None; td.elements.len()];
    let mut last = 0usize;
    for child in &el.children {
        let found = td.find(&child.name).filter(|(_, d, c)| {
            !d.attr
                && (child.xhtml.is_some() == (c.kind == Kind::Xhtml))
                && (child.fhir_ns || child.xhtml.is_some())
        });
        let Some((idx, def, choice)) = found else {
            structure_issue(
                &format!("{path}.{}", child.name),
                format!("unknown element '{}'", child.name),
                issues,
            );
            continue;
        };
        let base = format!("{path}.{}", choice.name);
        if idx < last {
            structure_issue(
                &base,
                format!("element '{}' is out of order", child.name),
                issues,
            );
        }
        last = last.max(idx);
        let slot = match seen.get(idx).copied().flatten() {
            Some(_) if !def.many => {
                structure_issue(&base, "at most 1 allowed".into(), issues);
                continue;
            }
            Some(s) if slots.get(s).is_some_and(|(c, _)| c.name != choice.name) => {
                structure_issue(&base, "only one type may be given".into(), issues);
                continue;
            }
            Some(s) => s,
            None => {
                slots.push((choice, Vec::new()));
                if let Some(x) = seen.get_mut(idx) {
                    *x = Some(slots.len() - 1);
                }
                slots.len() - 1
            }
        };
        let Some((_, entries)) = slots.get_mut(slot) else {
            continue;
        };
        let p = if def.many {
            format!("{base}[{}]", entries.len())
        } else {
            base
        };
        entries.push(value(choice, child, &p, issues));
    }
    for (i, def) in td.elements.iter().enumerate() {
        let present = seen.get(i).copied().flatten().is_some()
            || (def.attr && def.choices.iter().any(|c| map.contains_key(c.name)));
        if def.min > 0 && !present {
            validate::missing(def, path, issues);
        }
    }
    for (choice, entries) in slots {
        let many = td.find(choice.name).is_some_and(|(_, d, _)| d.many);
        insert(map, choice.name, many, entries);
    }
    if td.name == "Extension" {
        validate::check_extension(map, path, issues);
    }
}

/// Stores values (and `_name` siblings) as single members or aligned arrays.
fn insert(map: &mut Map<String, Value>, name: &str, many: bool, entries: Slots) {
    let has_v = entries.iter().any(|(v, _)| v.is_some());
    let has_u = entries.iter().any(|(_, u)| u.is_some());
    let (vs, us): (Vec<Value>, Vec<Value>) = entries
        .into_iter()
        .map(|(v, u)| (v.unwrap_or(Value::Null), u.unwrap_or(Value::Null)))
        .unzip();
    let pack = |mut xs: Vec<Value>| {
        if many {
            Value::Array(xs)
        } else {
            xs.pop().unwrap_or(Value::Null)
        }
    };
    if has_v {
        map.insert(name.to_string(), pack(vs));
    }
    if has_u {
        map.insert(format!("_{name}"), pack(us));
    }
}

fn value(
    c: &Choice,
    el: &XElem,
    path: &str,
    issues: &mut Vec<Issue>,
) -> (Option<Value>, Option<Value>) {
    match c.kind {
        Kind::Primitive(p) => primitive_value(p, c.codes, el, path, issues),
        Kind::Complex(t) => (Some(complex(t, el, path, issues)), None),
        Kind::Xhtml => {
            let src = el.xhtml.clone().unwrap_or_default();
            xhtml::check(&src, path, issues);
            (Some(Value::String(src)), None)
        }
        Kind::Resource => {
            check_markup(el, &[], path, issues);
            let inner: Vec<&XElem> = el.children.iter().collect();
            match inner.as_slice() {
                [r] if r.fhir_ns && structure::is_known_resource(&r.name) => {
                    (Some(resource(r, path, issues)), None)
                }
                [r] => {
                    structure_issue(path, format!("'{}' is not a FHIR resource", r.name), issues);
                    (None, None)
                }
                _ => {
                    structure_issue(path, "must contain exactly one resource".into(), issues);
                    (None, None)
                }
            }
        }
    }
}

fn complex(type_name: &str, el: &XElem, path: &str, issues: &mut Vec<Issue>) -> Value {
    let mut map = Map::new();
    let Some(td) = structure::type_def(type_name) else {
        return Value::Object(map);
    };
    let attrs: Vec<&str> = td
        .elements
        .iter()
        .filter(|d| d.attr)
        .map(|d| d.name)
        .collect();
    check_markup(el, &attrs, path, issues);
    if el.attrs.is_empty() && el.children.is_empty() {
        issues.push(Issue::new(path, "value", "empty elements are not allowed"));
    }
    object(td, el, path, &mut map, issues);
    Value::Object(map)
}

fn primitive_value(
    p: structure::Prim,
    codes: &[&str],
    el: &XElem,
    path: &str,
    issues: &mut Vec<Issue>,
) -> (Option<Value>, Option<Value>) {
    check_markup(el, &["value", "id"], path, issues);
    let raw = el
        .attrs
        .iter()
        .find(|(n, _)| n == "value")
        .map(|(_, v)| v.as_str());
    let v = raw.and_then(|s| primitive::from_xml(p, codes, s, path, issues));
    // id and extension go to the `_name` sibling, typed as Element.
    let has_meta = el.attrs.iter().any(|(n, _)| n == "id") || !el.children.is_empty();
    let mut under = None;
    if let Some(td) = structure::type_def("Element").filter(|_| has_meta) {
        let mut map = Map::new();
        object(td, el, path, &mut map, issues);
        under = Some(Value::Object(map));
    }
    if raw.is_none() && !has_meta {
        issues.push(Issue::new(
            path,
            "value",
            "element has no value or extensions",
        ));
    }
    (v, under)
}
