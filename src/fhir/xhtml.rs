//! Checks of Narrative.div: well-formed XML, a single `div` root in the XHTML
//! namespace, and no DTD or entity references beyond the predefined five.

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use super::{primitive, Issue};

pub const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
const PREDEFINED: [&str; 5] = ["amp", "lt", "gt", "quot", "apos"];

/// Why `raw` is not acceptable narrative XHTML, if it is not.
pub fn problem(raw: &str) -> Option<String> {
    if !raw.starts_with("<div") {
        return Some("must start with a <div> element".into());
    }
    if let Some(c) = raw.chars().find(|&c| !primitive::xml_char(c)) {
        return Some(not_xml_char(c));
    }
    let mut reader = NsReader::from_str(raw);
    let mut depth = 0usize;
    loop {
        let (ns_ok, event) = match reader.read_resolved_event() {
            Ok((res, ev)) => (
                matches!(res, ResolveResult::Bound(Namespace(n)) if n == XHTML_NS),
                ev,
            ),
            Err(e) => return Some(format!("not well-formed XML: {e}")),
        };
        let at_root = depth == 0;
        let is_element = matches!(event, Event::Start(_) | Event::Empty(_) | Event::End(_));
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                if at_root && (e.local_name().as_ref() != "div" || !ns_ok) {
                    return Some("root must be a div in the XHTML namespace".into());
                }
                for attr in e.attributes() {
                    let value = attr
                        .ok()
                        .and_then(|a| a.normalized_value(XmlVersion::Implicit1_0).ok()?.into());
                    let Some(value) = value else {
                        return Some("malformed attribute or entity reference".into());
                    };
                    if let Some(c) = value.chars().find(|&c| !primitive::xml_char(c)) {
                        return Some(not_xml_char(c));
                    }
                }
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::DocType(_) => return Some("DTD declarations are not allowed".into()),
            Event::GeneralRef(r) => {
                let name = r.into_inner();
                let char_ref = name.starts_with('#');
                if !char_ref && !PREDEFINED.contains(&name.as_ref()) {
                    return Some(format!("entity reference '&{name};' is not allowed"));
                }
                if char_ref {
                    let code = match name.strip_prefix("#x") {
                        Some(hex) => u32::from_str_radix(hex, 16),
                        None => name[1..].parse(),
                    };
                    match code.ok().and_then(char::from_u32) {
                        Some(c) if primitive::xml_char(c) => {}
                        _ => return Some(format!("'&{name};' is not a character XML allows")),
                    }
                }
            }
            Event::Decl(_) | Event::PI(_) => {
                return Some("declarations and processing instructions are not allowed".into())
            }
            Event::Eof => return (depth != 0).then(|| "unclosed elements".into()),
            Event::Text(_) | Event::CData(_) | Event::Comment(_) => {}
        }
        // Exactly one root element: nothing may follow its end.
        if depth == 0 && is_element {
            let at_end = reader.buffer_position() as usize == raw.len();
            return (!at_end).then(|| "content after the closing </div>".into());
        }
    }
}

fn not_xml_char(c: char) -> String {
    format!(
        "contains the character U+{:04X}, which XML cannot carry",
        u32::from(c)
    )
}

pub fn check(raw: &str, path: &str, issues: &mut Vec<Issue>) {
    if let Some(p) = problem(raw) {
        issues.push(Issue::new(
            path,
            "value",
            format!("invalid narrative XHTML: {p}"),
        ));
    }
}
