//! Structural validation of FHIR JSON against the structure table.
//! Issues are pushed in table order, which is document order for canonical input.

use serde_json::{Map, Value};

use super::structure::{self, ElementDef, Indexed, Kind, Member};
use super::{primitive, xhtml, Issue};

/// Validates a resource; `path` is where it sits (`None` at the root).
pub fn resource(v: &Value, path: Option<&str>, issues: &mut Vec<Issue>) {
    let mut walk = Walk {
        path: String::new(),
        given: Vec::new(),
        issues,
    };
    match path {
        Some(path) => walk.path.push_str(path),
        // At the root the path is the resource type, or "" when there is none.
        None => {
            if let Some(Value::String(rt)) = v.get("resourceType") {
                walk.path.push_str(rt);
            }
        }
    }
    walk.resource(v);
}

/// One validation's state: the path of the value being checked, grown and cut back as the walk
/// goes down and up (an issue copies it; nothing else allocates one), and the members of the
/// objects being walked, each object's above its parent's.
struct Walk<'m, 'i> {
    path: String,
    given: Vec<Given<'m>>,
    issues: &'i mut Vec<Issue>,
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

impl<'m> Walk<'m, '_> {
    fn issue(&mut self, issue_type: &'static str, message: impl Into<String>) {
        self.issues
            .push(Issue::new(&self.path, issue_type, message));
    }

    fn resource(&mut self, v: &'m Value) {
        let Some(map) = v.as_object() else {
            self.issue("structure", "expected a resource (JSON object)");
            return;
        };
        let Some(Value::String(rt)) = map.get("resourceType") else {
            self.issue("required", "resourceType is missing");
            return;
        };
        match structure::indexed_resource(rt) {
            Some(ty) => self.object(ty, map),
            None => self.issues.push(unsupported(rt, &self.path)),
        }
    }

    fn object(&mut self, ty: &'static Indexed, map: &'m Map<String, Value>) {
        let td = ty.def;
        // Each key placed in the table with one search (keys in map order, which the unknown
        // ones are reported in), then visited in table order.
        let base = self.given.len();
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
            // A value and its sibling are two keys: the second joins the first's entry
            // (searched for only when a `_name` key is involved, which most objects have none
            // of).
            underscored_seen |= underscored;
            let earlier = underscored_seen
                .then(|| {
                    self.given[base..]
                        .iter()
                        .position(|g| std::ptr::eq(g.member, member))
                })
                .flatten();
            let at = match earlier {
                Some(at) => base + at,
                None => {
                    self.given.push(Given {
                        member,
                        value: None,
                        under: None,
                    });
                    self.given.len() - 1
                }
            };
            if underscored {
                self.given[at].under = Some(v);
            } else {
                self.given[at].value = Some(v);
            }
        }
        let mut kept = base;
        for i in base..self.given.len() {
            if self.given[i].given() {
                self.given[kept] = self.given[i];
                kept += 1;
            }
        }
        self.given.truncate(kept);
        self.given[base..].sort_unstable_by_key(|g| g.member.rank);
        let end = self.given.len();
        let mut next = base;
        for (i, el) in td.elements.iter().enumerate() {
            let from = next;
            while next < end && self.given[next].member.element == i {
                next += 1;
            }
            if from == next {
                if el.min > 0 {
                    missing(el, &self.path, self.issues);
                }
                continue;
            }
            if next - from > 1 {
                let p = format!("{}.{}", self.path, el.display_name());
                self.issues
                    .push(Issue::new(&p, "structure", "only one type may be given"));
            }
            for at in from..next {
                // Copied out: the members below push their own entries after this object's.
                let g = self.given[at];
                let len = self.path.len();
                self.path.push('.');
                self.path.push_str(g.member.name);
                self.member(g.member, g.value, g.under);
                self.path.truncate(len);
            }
        }
        self.given.truncate(base);
        for key in unknown {
            let msg = format!("unknown element '{key}'");
            let p = format!("{}.{key}", self.path);
            self.issues.push(Issue::new(&p, "structure", msg));
        }
        if td.name == "Extension" {
            check_extension(map, &self.path, self.issues);
        }
    }

    fn member(&mut self, m: &'static Member, val: Option<&'m Value>, under: Option<&'m Value>) {
        let c = m.choice;
        if !m.def.many {
            let (val, under) = (self.single(val), self.single(under));
            if val.is_some() || under.is_some() {
                self.item(m, val, under, false);
            }
            return;
        }
        let (vals, unders) = (self.array(val), self.array(under));
        if let (Some(v), Some(u)) = (vals, unders) {
            if v.len() != u.len() {
                let msg = format!("'_{}' must have as many entries as '{}'", c.name, c.name);
                self.issue("structure", msg);
            }
        }
        let n = vals
            .map_or(0, <[Value]>::len)
            .max(unders.map_or(0, <[Value]>::len));
        for i in 0..n {
            let len = self.path.len();
            push_index(&mut self.path, i);
            let v = vals.and_then(|a| a.get(i));
            let u = unders.and_then(|a| a.get(i));
            self.item(m, v, u, true);
            self.path.truncate(len);
        }
    }

    fn single(&mut self, v: Option<&'m Value>) -> Option<&'m Value> {
        if let Some(Value::Array(_)) = v {
            self.issue("structure", "expected a single value, not an array");
            return None;
        }
        v
    }

    fn array(&mut self, v: Option<&'m Value>) -> Option<&'m [Value]> {
        match v {
            Some(Value::Array(a)) if a.is_empty() => {
                self.issue("value", "empty arrays are not allowed");
                None
            }
            Some(Value::Array(a)) => Some(a.as_slice()),
            Some(_) => {
                self.issue("structure", "expected an array");
                None
            }
            None => None,
        }
    }

    fn null_issue(&mut self) {
        self.issue("value", "null is not allowed");
    }

    fn item(
        &mut self,
        m: &'static Member,
        v: Option<&'m Value>,
        u: Option<&'m Value>,
        in_array: bool,
    ) {
        let is_null = |x: Option<&Value>| x.is_none_or(Value::is_null);
        let c = m.choice;
        let Kind::Primitive(p) = c.kind else {
            match v {
                None | Some(Value::Null) => self.null_issue(),
                Some(v) => self.non_primitive(m, v),
            }
            return;
        };
        // Nulls only pad aligned arrays, and never on both sides at once.
        if is_null(v) && is_null(u) {
            self.null_issue();
            return;
        }
        match v {
            Some(Value::Null) if !in_array => self.null_issue(),
            Some(Value::Null) | None => {}
            Some(v) => primitive::check_json(p, c.codes, v, &self.path, self.issues),
        }
        match u {
            Some(Value::Null) if !in_array => self.null_issue(),
            Some(Value::Null) | None => {}
            Some(u) => self.complex(structure::indexed("Element"), u),
        }
    }

    fn non_primitive(&mut self, m: &Member, v: &'m Value) {
        match m.choice.kind {
            Kind::Complex(_) => self.complex(m.complex(), v),
            Kind::Resource => self.resource(v),
            Kind::Xhtml => match v {
                Value::String(s) => xhtml::check(s, &self.path, self.issues),
                _ => self.issue("structure", "expected a string"),
            },
            Kind::Primitive(_) => {}
        }
    }

    /// `ty` is None for a type the table lacks: only the object's shape is checked.
    fn complex(&mut self, ty: Option<&'static Indexed>, v: &'m Value) {
        let Value::Object(map) = v else {
            self.issue("structure", "expected an object");
            return;
        };
        if map.is_empty() {
            self.issue("value", "empty objects are not allowed");
            return;
        }
        if let Some(ty) = ty {
            self.object(ty, map);
        }
    }
}

/// Appends `[i]` to a path.
fn push_index(path: &mut String, i: usize) {
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
    path.push('[');
    path.extend(digits[at..].iter().map(|&d| char::from(d)));
    path.push(']');
}
