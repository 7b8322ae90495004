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
#[cfg(test)]
static DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1]))?)?"));
#[cfg(test)]
static DATE_TIME: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[0-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?",
    )
});
#[cfg(test)]
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

/// Unicode `\s` (the regex crate's, as the STU3 patterns use it) among ASCII bytes.
fn ascii_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ')
}

/// `CODE`: runs of non-space separated by single spaces. Checked by hand for ASCII text (every
/// code a registration carries), by the pattern otherwise.
fn code_ok(s: &str) -> bool {
    if !s.is_ascii() {
        return CODE.is_match(s);
    }
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            !ascii_space(first)
                && !ascii_space(last)
                && !b.windows(2).any(|w| ascii_space(w[0]) && ascii_space(w[1]))
        }
        _ => false,
    }
}

/// `URI`: no whitespace. By hand for ASCII text, by the pattern otherwise.
fn uri_ok(s: &str) -> bool {
    if s.is_ascii() {
        !s.bytes().any(ascii_space)
    } else {
        URI.is_match(s)
    }
}

/// Whether `s` has the lexical shape of a date, dateTime or instant (the `DATE`, `DATE_TIME`
/// and `INSTANT` patterns; false for any other primitive). Read by hand: the regex engine cost
/// more than the rest of a registration's primitive checks together.
fn date_shape(p: Prim, s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).is_some_and(u8::is_ascii_digit);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    // Two digits at `i`, as `first` then `second` for each (first, second) range allowed.
    let pair = |i: usize, ranges: &[(u8, u8, u8)]| match (b.get(i), b.get(i + 1)) {
        (Some(&x), Some(&y)) => ranges
            .iter()
            .any(|&(first, lo, hi)| x == first && (lo..=hi).contains(&y)),
        _ => false,
    };
    let sixty: &[(u8, u8, u8)] = &[
        (b'0', b'0', b'9'),
        (b'1', b'0', b'9'),
        (b'2', b'0', b'9'),
        (b'3', b'0', b'9'),
        (b'4', b'0', b'9'),
        (b'5', b'0', b'9'),
    ];
    let (date_only, full) = match p {
        Prim::Date => (true, false),
        Prim::DateTime => (false, false),
        Prim::Instant => (false, true),
        _ => return false,
    };
    let mut i = usize::from(at(0, b'-'));
    if !(0..4).all(|k| digit(i + k)) {
        return false;
    }
    i += 4;
    // Year, month and day may each end the text, except in an instant.
    if i == b.len() {
        return !full;
    }
    if !at(i, b'-') || !pair(i + 1, &[(b'0', b'1', b'9'), (b'1', b'0', b'2')]) {
        return false;
    }
    i += 3;
    if i == b.len() {
        return !full;
    }
    let day = &[
        (b'0', b'0', b'9'),
        (b'1', b'0', b'9'),
        (b'2', b'0', b'9'),
        (b'3', b'0', b'1'),
    ];
    if !at(i, b'-') || !pair(i + 1, day) {
        return false;
    }
    i += 3;
    if i == b.len() {
        return !full;
    }
    let hour = &[(b'0', b'0', b'9'), (b'1', b'0', b'9'), (b'2', b'0', b'3')];
    if date_only
        || !at(i, b'T')
        || !pair(i + 1, hour)
        || !at(i + 3, b':')
        || !pair(i + 4, sixty)
        || !at(i + 6, b':')
        || !pair(i + 7, sixty)
    {
        return false;
    }
    i += 9;
    if at(i, b'.') {
        let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += 1 + digits;
    }
    // The zone: Z, or ±hh:mm up to 13:59, or ±14:00.
    match b.get(i) {
        Some(b'Z') => i + 1 == b.len(),
        Some(b'+' | b'-') => {
            let zone_hour = &[(b'0', b'0', b'9'), (b'1', b'0', b'3')];
            i + 6 == b.len()
                && at(i + 3, b':')
                && ((pair(i + 1, zone_hour) && pair(i + 4, sixty)) || &b[i + 1..] == b"14:00")
        }
        _ => false,
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
        Prim::Code => code_ok(s),
        Prim::Id => super::id::is_valid(s),
        Prim::Uri => !s.is_empty() && uri_ok(s),
        Prim::Oid => OID.is_match(s),
        Prim::Uuid => UUID.is_match(s),
        Prim::Base64Binary => BASE64.is_match(s),
        Prim::Date | Prim::DateTime | Prim::Instant => date_shape(p, s) && calendar_ok(s),
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
    // Only bytes below 0x20 and 0xEF (which begins U+FFFE and U+FFFF) can start such a
    // character: most text has neither, and is passed without decoding it.
    if s.bytes().all(|b| b >= 0x20 && b != 0xEF) {
        return None;
    }
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
        let shape_ok = date_shape(p, s);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts near the date patterns: each sample, and each with one or two characters
    /// replaced, removed or added, from an alphabet of what the patterns care about.
    fn near_dates() -> Vec<String> {
        let samples = [
            "2019",
            "-2019",
            "2019-02",
            "2019-02-01",
            "2019-12-31T23:59:59Z",
            "2019-02-01T10:51:23.620+00:00",
            "2019-02-01T10:51:23-14:00",
            "2019-02-01T10:51:23.1+13:59",
            "2019-10-20T20:09:30.123456789Z",
        ];
        let alphabet = [
            "", "0", "1", "2", "3", "4", "5", "6", "9", "-", "+", ":", ".", "T", "Z", "t", " ",
            "é", "00", "14:00",
        ];
        let mut out: Vec<String> = Vec::new();
        for sample in samples {
            out.push(sample.to_string());
            let chars: Vec<char> = sample.chars().collect();
            for i in 0..=chars.len() {
                for a in alphabet {
                    let head: String = chars[..i].iter().collect();
                    let once =
                        |j: usize| -> String { chars[j.min(chars.len())..].iter().collect() };
                    out.push(format!("{head}{a}{}", once(i + 1))); // replace (or remove)
                    out.push(format!("{head}{a}{}", once(i))); // insert
                    for k in i + 1..chars.len() {
                        for b in ["0", "1", "2", "3", "5", "9", "", ":"] {
                            let mid: String = chars[(i + 1).min(k)..k].iter().collect();
                            out.push(format!("{head}{a}{mid}{b}{}", once(k + 1)));
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn date_shapes_are_the_patterns() {
        let texts = near_dates();
        assert!(texts.len() > 100_000);
        for s in &texts {
            assert_eq!(date_shape(Prim::Date, s), DATE.is_match(s), "date {s:?}");
            assert_eq!(
                date_shape(Prim::DateTime, s),
                DATE_TIME.is_match(s),
                "dateTime {s:?}"
            );
            assert_eq!(
                date_shape(Prim::Instant, s),
                INSTANT.is_match(s),
                "instant {s:?}"
            );
        }
    }

    #[test]
    fn codes_and_uris_are_the_patterns() {
        let parts = [
            "a", "B", "1", " ", "  ", "\t", "\n", "\u{b}", "\u{c}", "\r", "-", "é", "\u{a0}",
            "\u{85}", "\u{2003}", ":", "/",
        ];
        let mut texts = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = texts
                .iter()
                .flat_map(|t| parts.iter().map(move |p| format!("{t}{p}")))
                .collect();
            texts.extend(longer);
            texts.dedup();
        }
        for s in &texts {
            assert_eq!(code_ok(s), CODE.is_match(s), "code {s:?}");
            assert_eq!(uri_ok(s), URI.is_match(s), "uri {s:?}");
        }
    }

    #[test]
    fn forbidden_characters() {
        for (s, found) in [
            ("plain", None),
            ("tab\tnew\nline\r", None),
            ("é ✓ \u{FFFD} \u{FFFC} \u{FEFF}", None),
            ("a\u{1}", Some("U+0001")),
            ("\u{FFFE}", Some("U+FFFE")),
            ("x\u{FFFF}", Some("U+FFFF")),
            ("\u{0}", Some("U+0000")),
        ] {
            assert_eq!(forbidden_char(s).as_deref(), found, "{s:?}");
        }
    }
}
