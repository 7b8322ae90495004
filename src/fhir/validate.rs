//! Structural validation of FHIR JSON against the structure table.
//! Issues are pushed in table order, which is document order for canonical input.

use serde_json::{Map, Value};

use super::structure::{self, ElementDef, Indexed, Kind, Member};
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
    match structure::indexed_resource(rt) {
        Some(ty) => object(ty, map, &base, issues),
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

/// One member name of a type as given in an object: its value and its `_name` sibling.
#[derive(Clone, Copy)]
struct Given<'m> {
    member: &'static Member,
    value: Option<&'m Value>,
    under: Option<&'m Value>,
}

impl Given<'_> {
    /// Whether the alternative counts as given: by its value, or by a `_name` sibling where a
    /// primitive may have one (any other `_name` is reported as unknown).
    fn given(&self) -> bool {
        self.value.is_some() || (self.under.is_some() && has_sibling(self.member))
    }
}

/// Primitives other than XML attributes (id, url) may have a `_name` sibling.
fn has_sibling(m: &Member) -> bool {
    matches!(m.choice.kind, Kind::Primitive(_)) && !m.def.attr
}

fn object(ty: &'static Indexed, map: &Map<String, Value>, path: &str, issues: &mut Vec<Issue>) {
    let td = ty.def;
    // Each key placed in the table with one search (keys in map order, which the unknown
    // ones are reported in), then visited in table order.
    let mut given: Vec<Given> = Vec::with_capacity(map.len());
    let mut unknown: Vec<&str> = Vec::new();
    let mut underscored_seen = false;
    for (key, v) in map {
        if ty.is_resource && key == "resourceType" {
            continue;
        }
        let (name, underscored) = match key.strip_prefix('_') {
            Some(rest) => (rest, true),
            None => (key.as_str(), false),
        };
        let Some(member) = ty.member(name) else {
            unknown.push(key);
            continue;
        };
        if underscored && !has_sibling(member) {
            unknown.push(key);
        }
        // A value and its sibling are two keys: the second joins the first's entry (searched
        // for only when a `_name` key is involved, which most objects have none of).
        underscored_seen |= underscored;
        let earlier = underscored_seen
            .then(|| given.iter().position(|g| std::ptr::eq(g.member, member)))
            .flatten();
        let at = match earlier {
            Some(at) => at,
            None => {
                given.push(Given {
                    member,
                    value: None,
                    under: None,
                });
                given.len() - 1
            }
        };
        if underscored {
            given[at].under = Some(v);
        } else {
            given[at].value = Some(v);
        }
    }
    given.retain(Given::given);
    given.sort_unstable_by_key(|g| g.member.rank);
    let mut next = 0;
    for (i, el) in td.elements.iter().enumerate() {
        let from = next;
        while next < given.len() && given[next].member.element == i {
            next += 1;
        }
        let here = &given[from..next];
        if here.is_empty() {
            if el.min > 0 {
                missing(el, path, issues);
            }
            continue;
        }
        if here.len() > 1 {
            let p = format!("{path}.{}", el.display_name());
            issues.push(Issue::new(&p, "structure", "only one type may be given"));
        }
        for g in here {
            let p = child(path, g.member.name);
            member(g.member, g.value, g.under, &p, issues);
        }
    }
    for key in unknown {
        let msg = format!("unknown element '{key}'");
        issues.push(Issue::new(&format!("{path}.{key}"), "structure", msg));
    }
    if td.name == "Extension" {
        check_extension(map, path, issues);
    }
}

fn member(
    m: &'static Member,
    val: Option<&Value>,
    under: Option<&Value>,
    path: &str,
    issues: &mut Vec<Issue>,
) {
    let c = m.choice;
    if !m.def.many {
        let (val, under) = (single(val, path, issues), single(under, path, issues));
        if val.is_some() || under.is_some() {
            item(m, val, under, path, false, issues);
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
        item(m, v, u, &p, true, issues);
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
    m: &'static Member,
    v: Option<&Value>,
    u: Option<&Value>,
    path: &str,
    in_array: bool,
    issues: &mut Vec<Issue>,
) {
    let is_null = |x: Option<&Value>| x.is_none_or(Value::is_null);
    let c = m.choice;
    let Kind::Primitive(p) = c.kind else {
        match v {
            None | Some(Value::Null) => null_issue(path, issues),
            Some(v) => non_primitive(m, v, path, issues),
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
        Some(u) => complex(structure::indexed("Element"), u, path, issues),
    }
}

fn non_primitive(m: &Member, v: &Value, path: &str, issues: &mut Vec<Issue>) {
    match m.choice.kind {
        Kind::Complex(_) => complex(m.complex(), v, path, issues),
        Kind::Resource => resource(v, Some(path), issues),
        Kind::Xhtml => match v {
            Value::String(s) => xhtml::check(s, path, issues),
            _ => issues.push(Issue::new(path, "structure", "expected a string")),
        },
        Kind::Primitive(_) => {}
    }
}

/// `ty` is None for a type the table lacks: only the object's shape is checked.
fn complex(ty: Option<&'static Indexed>, v: &Value, path: &str, issues: &mut Vec<Issue>) {
    let Value::Object(map) = v else {
        issues.push(Issue::new(path, "structure", "expected an object"));
        return;
    };
    if map.is_empty() {
        issues.push(Issue::new(path, "value", "empty objects are not allowed"));
        return;
    }
    if let Some(ty) = ty {
        object(ty, map, path, issues);
    }
}
