//! Lexical checks for FHIR primitives (STU3 regexes plus calendar validity) and
//! conversion of XML `value` attributes into their JSON form.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Number, Value};

use super::structure::{JsonShape, Prim};
use super::Issue;

fn re(pattern: &str) -> Regex {
    // Only called with the constant patterns below (never with input), so a
    // failure is a programming error caught by every test run.
    Regex::new(&format!("^(?:{pattern})$")).expect("constant regex pattern")
}

static INTEGER: LazyLock<Regex> = LazyLock::new(|| re(r"-?([0]|([1-9][0-9]*))"));
static DECIMAL: LazyLock<Regex> = LazyLock::new(|| re(r"-?([0]|([1-9][0-9]*))(\.[0-9]+)?"));
static UNSIGNED: LazyLock<Regex> = LazyLock::new(|| re(r"[0]|([1-9][0-9]*)"));
static POSITIVE: LazyLock<Regex> = LazyLock::new(|| re(r"[1-9][0-9]*"));
static CODE: LazyLock<Regex> = LazyLock::new(|| re(r"[^\s]+([\s]?[^\s]+)*"));
static OID: LazyLock<Regex> = LazyLock::new(|| re(r"urn:oid:(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*"));
static UUID: LazyLock<Regex> =
    LazyLock::new(|| re(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"));
static URI: LazyLock<Regex> = LazyLock::new(|| re(r"\S*"));
static BASE64: LazyLock<Regex> = LazyLock::new(|| re(r"(\s*([0-9a-zA-Z\+/=]){4}\s*)+"));
static DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1]))?)?"));
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
    )
});
static INSTANT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"-?[0-9]{4}-(0[1-9]|1[0-2])-(0[0-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))",
    )
});
static TIME: LazyLock<Regex> =
    LazyLock::new(|| re(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"));

fn prim_name(p: Prim) -> &'static str {
    match p {
        Prim::Boolean => "boolean",
        Prim::Integer => "integer",
        Prim::UnsignedInt => "unsignedInt",
        Prim::PositiveInt => "positiveInt",
        Prim::Decimal => "decimal",
        Prim::String => "string",
        Prim::Code => "code",
        Prim::Id => "id",
        Prim::Uri => "uri",
        Prim::Oid => "oid",
        Prim::Uuid => "uuid",
        Prim::Markdown => "markdown",
        Prim::Base64Binary => "base64Binary",
        Prim::Date => "date",
        Prim::DateTime => "dateTime",
        Prim::Instant => "instant",
        Prim::Time => "time",
    }
}

/// The lexical patterns match days up to 31 in every month and any four-digit year; the one
/// date reader (`datetime`) knows the calendar and holds years to 0001–9999.
fn calendar_ok(s: &str) -> bool {
    super::datetime::parse(s).is_ok()
}

fn int_range(p: Prim) -> (i64, i64) {
    match p {
        Prim::UnsignedInt => (0, i32::MAX as i64),
        Prim::PositiveInt => (1, i32::MAX as i64),
        _ => (i32::MIN as i64, i32::MAX as i64),
    }
}

/// Lexical check of the string form of a primitive.
fn lexical_ok(p: Prim, s: &str) -> bool {
    let in_range = |s: &str| {
        let (lo, hi) = int_range(p);
        s.parse::<i64>().is_ok_and(|n| n >= lo && n <= hi)
    };
    match p {
        Prim::Boolean => s == "true" || s == "false",
        Prim::Integer => INTEGER.is_match(s) && in_range(s),
        Prim::UnsignedInt => UNSIGNED.is_match(s) && in_range(s),
        Prim::PositiveInt => POSITIVE.is_match(s) && in_range(s),
        Prim::Decimal => DECIMAL.is_match(s),
        Prim::String | Prim::Markdown => !s.is_empty(),
        Prim::Code => CODE.is_match(s),
        Prim::Id => super::id::is_valid(s),
        Prim::Uri => !s.is_empty() && URI.is_match(s),
        Prim::Oid => OID.is_match(s),
        Prim::Uuid => UUID.is_match(s),
        Prim::Base64Binary => BASE64.is_match(s),
        Prim::Date => DATE.is_match(s) && calendar_ok(s),
        Prim::DateTime => DATE_TIME.is_match(s) && calendar_ok(s),
        Prim::Instant => INSTANT.is_match(s) && calendar_ok(s),
        Prim::Time => TIME.is_match(s),
    }
}

/// Characters XML 1.0 cannot carry (C0 controls other than tab, newline and carriage return,
/// and U+FFFE/U+FFFF). A resource holding one could be stored but never written as XML, so
/// every string is held to XML's rule whatever format it came in.
pub(crate) fn xml_char_ok(c: char) -> bool {
    !((c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}')
}

/// The first character of `s` that XML 1.0 cannot carry, as `U+XXXX`.
pub(crate) fn forbidden_char(s: &str) -> Option<String> {
    s.chars()
        .find(|c| !xml_char_ok(*c))
        .map(|c| format!("U+{:04X}", u32::from(c)))
}

/// Checks a string-form value; pushes issues and returns whether it was fine.
fn check_text(p: Prim, codes: &[&str], s: &str, path: &str, issues: &mut Vec<Issue>) -> bool {
    if s.is_empty() {
        issues.push(Issue::new(path, "value", "empty values are not allowed"));
        return false;
    }
    if let Some(c) = forbidden_char(s) {
        let msg = format!("contains the control character {c}, which FHIR (XML 1.0) cannot carry");
        issues.push(Issue::new(path, "value", msg));
        return false;
    }
    if !lexical_ok(p, s) {
        let shape_ok = match p {
            Prim::Date => DATE.is_match(s),
            Prim::DateTime => DATE_TIME.is_match(s),
            Prim::Instant => INSTANT.is_match(s),
            _ => false,
        };
        let why = if shape_ok {
            ": the date does not exist, or lies outside the years 0001 to 9999 (written or in UTC)"
        } else {
            ""
        };
        let msg = format!("'{s}' is not a valid {}{why}", prim_name(p));
        issues.push(Issue::new(path, "value", msg));
        return false;
    }
    if !codes.is_empty() && !codes.contains(&s) {
        let msg = format!("'{s}' is not a valid code (allowed: {})", codes.join(", "));
        issues.push(Issue::new(path, "code-invalid", msg));
        return false;
    }
    true
}

/// Validates a (non-null) JSON primitive value.
pub fn check_json(p: Prim, codes: &[&str], v: &Value, path: &str, issues: &mut Vec<Issue>) {
    let wrong = |what: &str, issues: &mut Vec<Issue>| {
        issues.push(Issue::new(path, "structure", format!("expected {what}")));
    };
    match (p.json_shape(), v) {
        (JsonShape::Bool, Value::Bool(_)) => {}
        (JsonShape::Bool, _) => wrong("a boolean", issues),
        (JsonShape::Number, Value::Number(n)) => {
            if p == Prim::Decimal {
                return;
            }
            let (lo, hi) = int_range(p);
            match n.as_i64() {
                Some(i) if i >= lo && i <= hi => {}
                _ => {
                    let msg = format!("{n} is not a valid {}", prim_name(p));
                    issues.push(Issue::new(path, "value", msg));
                }
            }
        }
        (JsonShape::Number, _) => wrong("a number", issues),
        (JsonShape::String, Value::String(s)) => {
            check_text(p, codes, s, path, issues);
        }
        (JsonShape::String, _) => wrong("a string", issues),
    }
}

/// Converts an XML `value` attribute to its JSON form, or reports why not.
pub fn from_xml(
    p: Prim,
    codes: &[&str],
    s: &str,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<Value> {
    if !check_text(p, codes, s, path, issues) {
        return None;
    }
    match p.json_shape() {
        JsonShape::Bool => Some(Value::Bool(s == "true")),
        JsonShape::Number => {
            // Integers stay integers so they compare equal to the JSON form.
            if let Ok(i) = s.parse::<i64>() {
                return Some(Value::from(i));
            }
            if let Ok(u) = s.parse::<u64>() {
                return Some(Value::from(u));
            }
            let n = s.parse::<f64>().ok().and_then(Number::from_f64);
            if n.is_none() {
                let msg = format!("'{s}' is not a representable decimal");
                issues.push(Issue::new(path, "value", msg));
            }
            n.map(Value::Number)
        }
        JsonShape::String => Some(Value::String(s.to_string())),
    }
}

/// Text form of a JSON primitive for the XML `value` attribute.
pub fn to_xml_text(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match n.as_f64().filter(|_| n.is_f64()) {
            // serde_json writes large and small floats with an exponent (`1e+300`), which an
            // XML decimal may not have; Rust's Display never does. Keep the point so it reads
            // back as the same float.
            Some(f) => {
                let text = f.to_string();
                if text.contains('.') {
                    text
                } else {
                    text + ".0"
                }
            }
            None => n.to_string(),
        }),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}
