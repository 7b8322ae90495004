//! Text from outside (token claims, certificate subjects) made safe to put in a log line: it can
//! neither split the line nor forge another one, nor close a quoted field, nor flood the log.

use std::borrow::Cow;
use std::fmt::Write;

/// Longest value written as is; longer ones are cut (in characters) and end with `…`.
pub const MAX_CHARS: usize = 256;

/// `\n`, `\r`, `\t`, `\"` and `\\` as such; every other control character (C0, DEL, C1) and the
/// Unicode line and paragraph separators as `\xNN` / `\u{NNNN}`. Plain text comes back borrowed.
pub fn escape(text: &str) -> Cow<'_, str> {
    let needs = |c: char| c.is_control() || matches!(c, '"' | '\\' | '\u{2028}' | '\u{2029}');
    if text.len() > MAX_CHARS {
        // Cut below, whatever it holds.
    } else if text
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
    {
        // Printable ASCII, the usual case (paths, ODS codes, subjects), checked a byte at a
        // time rather than decoded into chars.
        return Cow::Borrowed(text);
    } else if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(MAX_CHARS) + 8);
    for (i, c) in text.chars().enumerate() {
        if i == MAX_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x100 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if needs(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_can_split_or_forge_a_line() {
        assert!(matches!(escape("RR8"), Cow::Borrowed("RR8")));
        assert_eq!(
            escape("CN=a, O=\"b\"\\"),
            "CN=a, O=\\\"b\\\"\\\\".to_string()
        );
        assert_eq!(
            escape("X26\nGET /x 200 org=Y\r\t\u{1b}[31m\u{7f}\u{85}\u{2028}"),
            "X26\\nGET /x 200 org=Y\\r\\t\\x1b[31m\\x7f\\x85\\u{2028}"
        );
        let long = "é".repeat(MAX_CHARS + 10);
        let cut = escape(&long);
        assert_eq!(cut.chars().count(), MAX_CHARS + 1);
        assert!(cut.ends_with('…'));
        for c in (0u32..0x110000).filter_map(char::from_u32) {
            let e = escape(&c.to_string()).into_owned();
            assert!(!e.chars().any(|c| c.is_control()), "{c:?} -> {e:?}");
        }
    }
}
