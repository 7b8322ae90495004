//! Structural validation of FHIR JSON against the structure table.
//! Issues are pushed in table order, which is document order for canonical input.

use serde_json::{Map, Value};

use super::structure::{self, Choice, ElementDef, Kind, TypeDef};
use super::{primitive, xhtml, Issue};

/// Validates a resource; `path` is where it sits (`None` at the root).
pub fn resource(v: &Value, path: Option<&str>, issues: &mut Vec<Issue>) {
    let here = path.unwrap_or("");
    let Some(map) = v.as_object() else {
        issues.push(Issue::new(
            here,
            "structure",
            "expected a resource (JSON object)",
        ));
        return;
    };
    let Some(Value::String(rt)) = map.get("resourceType") else {
        issues.push(Issue::new(here, "required", "resourceType is missing"));
        return;
    };
    let base = path.map_or_else(|| rt.clone(), str::to_string);
    match structure::resource_def(rt) {
        Some(td) => object(td, map, &base, issues),
        None => issues.push(unsupported(rt, &base)),
    }
}

pub fn unsupported(rt: &str, path: &str) -> Issue {
    let msg = if structure::is_known_resource(rt) {
        format!("resource type '{rt}' is not supported here")
    } else {
        format!("unknown resource type '{rt}'")
    };
    Issue::new(path, "structure", msg)
}

pub fn missing(el: &ElementDef, path: &str, issues: &mut Vec<Issue>) {
    let p = format!("{path}.{}", el.display_name());
    let msg = format!("required element missing (min {})", el.min);
    issues.push(Issue::new(&p, "required", msg));
}

/// ext-1: an extension has a value or nested extensions, never both.
pub fn check_extension(map: &Map<String, Value>, path: &str, issues: &mut Vec<Issue>) {
    let has_value = map
        .keys()
        .any(|k| k.starts_with("value") || k.starts_with("_value"));
    let has_nested = map.contains_key("extension");
    let msg = match (has_value, has_nested) {
        (true, true) => "an extension cannot have both a value and nested extensions",
        (false, false) => "an extension must have a value or nested extensions",
        _ => return,
    };
    issues.push(Issue::new(path, "invalid", msg));
}

/// `path.name`. Paths are built for every member present, so by appending: `format!` cost
/// over a thousand instructions each.
fn child(path: &str, name: &str) -> String {
    let mut p = String::with_capacity(path.len() + 1 + name.len());
    p.push_str(path);
    p.push('.');
    p.push_str(name);
    p
}

/// `path[i]`, as [`child`].
fn indexed(path: &str, i: usize) -> String {
    let mut p = String::with_capacity(path.len() + 4);
    p.push_str(path);
    p.push('[');
    let mut digits = [0u8; 20];
    let mut n = i;
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    p.extend(digits[at..].iter().map(|&d| char::from(d)));
    p.push(']');
    p
}

/// Looks up `_name` members of one object.
struct Sibling<'m> {
    map: &'m Map<String, Value>,
    /// Whether the object has any key starting with `_`.
    any: bool,
    name: String,
}

impl<'m> Sibling<'m> {
    /// The `_name` member for `name`, if the object has it.
    fn get(&mut self, name: &str) -> Option<&'m Value> {
        if !self.any {
            return None;
        }
        self.name.clear();
        self.name.push('_');
        self.name.push_str(name);
        self.map.get(self.name.as_str())
    }
}

/// Primitives other than XML attributes (id, url) may have a `_name` sibling.
fn has_sibling(el: &ElementDef, c: &Choice) -> bool {
    matches!(c.kind, Kind::Primitive(_)) && !el.attr
}

fn object(td: &TypeDef, map: &Map<String, Value>, path: &str, issues: &mut Vec<Issue>) {
    // `_name` siblings are rare: they are looked up only when the object has a key starting
    // with `_` (otherwise every such lookup misses), in one reused buffer.
    let mut sibling = Sibling {
        map,
        any: map.keys().any(|k| k.starts_with('_')),
        name: String::new(),
    };
    for el in td.elements {
        // Which of the element's types are given. Most elements are absent and most of the rest
        // have one type given, so the first is kept and any others only counted here.
        let given = |c: &Choice, sibling: &mut Sibling| {
            map.contains_key(c.name) || (has_sibling(el, c) && sibling.get(c.name).is_some())
        };
        let mut first: Option<&Choice> = None;
        let mut count = 0;
        for c in el.choices {
            if given(c, &mut sibling) {
                first = first.or(Some(c));
                count += 1;
            }
        }
        let Some(first) = first else {
            if el.min > 0 {
                missing(el, path, issues);
            }
            continue;
        };
        if count > 1 {
            let p = format!("{path}.{}", el.display_name());
            issues.push(Issue::new(&p, "structure", "only one type may be given"));
        }
        for c in el.choices {
            if std::ptr::eq(c, first) || (count > 1 && given(c, &mut sibling)) {
                let p = child(path, c.name);
                let under = sibling.get(c.name);
                member(el, c, map.get(c.name), under, &p, issues);
            }
        }
    }
    let is_resource = structure::resource_def(td.name).is_some();
    for key in map.keys() {
        if is_resource && key == "resourceType" {
            continue;
        }
        let (name, underscored) = match key.strip_prefix('_') {
            Some(rest) => (rest, true),
            None => (key.as_str(), false),
        };
        let known = td
            .find(name)
            .is_some_and(|(_, el, c)| !underscored || has_sibling(el, c));
        if !known {
            let msg = format!("unknown element '{key}'");
            issues.push(Issue::new(&format!("{path}.{key}"), "structure", msg));
        }
    }
    if td.name == "Extension" {
        check_extension(map, path, issues);
    }
}

fn member(
    el: &ElementDef,
    c: &Choice,
    val: Option<&Value>,
    under: Option<&Value>,
    path: &str,
    issues: &mut Vec<Issue>,
) {
    if !el.many {
        let (val, under) = (single(val, path, issues), single(under, path, issues));
        if val.is_some() || under.is_some() {
            item(c, val, under, path, false, issues);
        }
        return;
    }
    let (vals, unders) = (array(val, path, issues), array(under, path, issues));
    if let (Some(v), Some(u)) = (vals, unders) {
        if v.len() != u.len() {
            let msg = format!("'_{}' must have as many entries as '{}'", c.name, c.name);
            issues.push(Issue::new(path, "structure", msg));
        }
    }
    let n = vals
        .map_or(0, <[Value]>::len)
        .max(unders.map_or(0, <[Value]>::len));
    for i in 0..n {
        let p = indexed(path, i);
        let v = vals.and_then(|a| a.get(i));
        let u = unders.and_then(|a| a.get(i));
        item(c, v, u, &p, true, issues);
    }
}

fn single<'a>(v: Option<&'a Value>, path: &str, issues: &mut Vec<Issue>) -> Option<&'a Value> {
    if let Some(Value::Array(_)) = v {
        let msg = "expected a single value, not an array";
        issues.push(Issue::new(path, "structure", msg));
        return None;
    }
    v
}

fn array<'a>(v: Option<&'a Value>, path: &str, issues: &mut Vec<Issue>) -> Option<&'a [Value]> {
    match v {
        Some(Value::Array(a)) if a.is_empty() => {
            issues.push(Issue::new(path, "value", "empty arrays are not allowed"));
            None
        }
        Some(Value::Array(a)) => Some(a.as_slice()),
        Some(_) => {
            issues.push(Issue::new(path, "structure", "expected an array"));
            None
        }
        None => None,
    }
}

fn null_issue(path: &str, issues: &mut Vec<Issue>) {
    issues.push(Issue::new(path, "value", "null is not allowed"));
}

fn item(
    c: &Choice,
    v: Option<&Value>,
    u: Option<&Value>,
    path: &str,
    in_array: bool,
    issues: &mut Vec<Issue>,
) {
    let is_null = |x: Option<&Value>| x.is_none_or(Value::is_null);
    let Kind::Primitive(p) = c.kind else {
        match v {
            None | Some(Value::Null) => null_issue(path, issues),
            Some(v) => non_primitive(c.kind, v, path, issues),
        }
        return;
    };
    // Nulls only pad aligned arrays, and never on both sides at once.
    if is_null(v) && is_null(u) {
        null_issue(path, issues);
        return;
    }
    match v {
        Some(Value::Null) if !in_array => null_issue(path, issues),
        Some(Value::Null) | None => {}
        Some(v) => primitive::check_json(p, c.codes, v, path, issues),
    }
    match u {
        Some(Value::Null) if !in_array => null_issue(path, issues),
        Some(Value::Null) | None => {}
        Some(u) => complex("Element", u, path, issues),
    }
}

fn non_primitive(kind: Kind, v: &Value, path: &str, issues: &mut Vec<Issue>) {
    match kind {
        Kind::Complex(t) => complex(t, v, path, issues),
        Kind::Resource => resource(v, Some(path), issues),
        Kind::Xhtml => match v {
            Value::String(s) => xhtml::check(s, path, issues),
            _ => issues.push(Issue::new(path, "structure", "expected a string")),
        },
        Kind::Primitive(_) => {}
    }
}

fn complex(type_name: &str, v: &Value, path: &str, issues: &mut Vec<Issue>) {
    let Value::Object(map) = v else {
        issues.push(Issue::new(path, "structure", "expected an object"));
        return;
    };
    if map.is_empty() {
        issues.push(Issue::new(path, "value", "empty objects are not allowed"));
        return;
    }
    if let Some(td) = structure::type_def(type_name) {
        object(td, map, path, issues);
    }
}
