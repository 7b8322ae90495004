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
static ID: LazyLock<Regex> = LazyLock::new(|| re(r"[A-Za-z0-9\-\.]{1,64}"));
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

/// The regex matches days up to 31 in every month; `time` knows the calendar. Years are held to
/// 0001–9999, written and (with a time and zone) in UTC: XML Schema has no year 0000, and
/// converting beyond 9999 is where date libraries (and readers of the registry's XML) give up.
fn calendar_ok(s: &str) -> bool {
    if s.starts_with('-') {
        return false;
    }
    let parts: Vec<&str> = s.get(..10).unwrap_or("").split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        // year or year-month only
        return s
            .get(..4)
            .and_then(|y| y.parse::<i32>().ok())
            .is_some_and(|y| y >= 1);
    };
    let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i32>(), m.parse::<u8>(), d.parse::<u8>()) else {
        return false;
    };
    let Ok(date) = time::Month::try_from(m).and_then(|m| time::Date::from_calendar_date(y, m, d))
    else {
        return false;
    };
    y >= 1 && utc_year_ok(date, &s[10..])
}

/// For `Thh:mm:ss[.f](Z|±hh:mm)` after a date: does the moment, in UTC, stay within 0001–9999?
fn utc_year_ok(date: time::Date, rest: &str) -> bool {
    let Some(zone_at) = rest.rfind(['Z', '+', '-']) else {
        return true; // a date alone
    };
    let offset_seconds = match &rest[zone_at..] {
        "Z" => 0,
        zone => {
            let hours = zone
                .get(1..3)
                .and_then(|h| h.parse::<i32>().ok())
                .unwrap_or(0);
            let minutes = zone
                .get(4..6)
                .and_then(|m| m.parse::<i32>().ok())
                .unwrap_or(0);
            let seconds = hours * 3600 + minutes * 60;
            if zone.starts_with('-') {
                -seconds
            } else {
                seconds
            }
        }
    };
    let time = rest
        .get(1..9)
        .and_then(|t| time::Time::parse(t, TIME_OF_DAY).ok())
        .unwrap_or(time::Time::MIDNIGHT);
    let Ok(offset) = time::UtcOffset::from_whole_seconds(offset_seconds) else {
        return false;
    };
    time::PrimitiveDateTime::new(date, time)
        .assume_offset(offset)
        .checked_to_offset(time::UtcOffset::UTC)
        .is_some_and(|utc| (1..=9999).contains(&utc.year()))
}

const TIME_OF_DAY: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[hour]:[minute]:[second]");

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
        Prim::Id => ID.is_match(s),
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

/// A character XML 1.0 allows in a document (its `Char` production). Every stored resource
/// must be servable as XML, so string values are held to it in JSON too.
pub(super) fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Checks a string-form value; pushes issues and returns whether it was fine.
fn check_text(p: Prim, codes: &[&str], s: &str, path: &str, issues: &mut Vec<Issue>) -> bool {
    if s.is_empty() {
        issues.push(Issue::new(path, "value", "empty values are not allowed"));
        return false;
    }
    if let Some(c) = s.chars().find(|&c| !xml_char(c)) {
        let msg = format!(
            "contains the character U+{:04X}, which FHIR XML cannot carry",
            u32::from(c)
        );
        issues.push(Issue::new(path, "value", msg));
        return false;
    }
    if !lexical_ok(p, s) {
        let msg = format!("'{s}' is not a valid {}", prim_name(p));
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
