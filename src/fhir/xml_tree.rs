//! Secure parse of an XML document into a small element tree. DTDs (and so
//! entity declarations) are refused outright; nothing is ever expanded or fetched.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, XmlVersion};

use super::xhtml::XHTML_NS;
use super::ReadError;

pub const FHIR_NS: &str = "http://hl7.org/fhir";
/// Elements nested deeper cannot make a resource within `fhir::MAX_DEPTH` (each element is
/// at least one JSON level), so reading stops here, before any recursion over the tree.
const MAX_DEPTH: usize = super::MAX_DEPTH;

#[derive(Debug, Default)]
pub struct XElem {
    pub name: String,
    pub fhir_ns: bool,
    /// Unprefixed attributes (name, normalized value); namespace declarations dropped.
    pub attrs: Vec<(String, String)>,
    /// Prefixed attributes other than namespace declarations and xsi:*.
    pub foreign_attrs: Vec<String>,
    pub children: Vec<XElem>,
    /// Non-whitespace character data directly inside this element.
    pub has_text: bool,
    /// Exact source of an XHTML `div`, kept verbatim for Narrative.div.
    pub xhtml: Option<String>,
}

fn bad(msg: impl Into<String>) -> ReadError {
    ReadError::Unparseable(msg.into())
}

fn element(e: &BytesStart, fhir_ns: bool) -> Result<XElem, ReadError> {
    let mut el = XElem {
        name: e.local_name().as_ref().to_string(),
        fhir_ns,
        ..XElem::default()
    };
    for attr in e.attributes() {
        let attr = attr.map_err(|e| bad(format!("malformed attribute: {e}")))?;
        let key = attr.key.as_ref().to_string();
        // Unknown entities in values are an error here, never expanded.
        let value = attr
            .normalized_value(XmlVersion::Implicit1_0)
            .map_err(|e| bad(format!("bad attribute value: {e}")))?;
        if key == "xmlns" || key.starts_with("xmlns:") || key.starts_with("xsi:") {
            continue;
        }
        if key.contains(':') {
            el.foreign_attrs.push(key);
        } else {
            el.attrs.push((key, value.into_owned()));
        }
    }
    Ok(el)
}

/// Parses `bytes` (UTF-8) and returns the root element.
pub fn parse(bytes: &[u8]) -> Result<XElem, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("body is not valid UTF-8"))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<XElem> = Vec::new();
    let mut root: Option<XElem> = None;
    loop {
        let start_pos = reader.buffer_position() as usize;
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(Namespace(n)), ev)) => (Some(n.to_string()), ev),
            Ok((_, ev)) => (None, ev),
            Err(e) => return Err(bad(format!("not well-formed XML: {e}"))),
        };
        let in_element = !stack.is_empty();
        match event {
            Event::Decl(d) => {
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| bad(format!("bad XML declaration: {e}")))?;
                    if !enc.eq_ignore_ascii_case("UTF-8") {
                        return Err(bad(format!(
                            "encoding '{enc}' is not supported (UTF-8 only)"
                        )));
                    }
                }
            }
            Event::DocType(_) => return Err(bad("DOCTYPE/DTD declarations are not allowed")),
            Event::PI(_) | Event::Comment(_) => {}
            Event::Start(ref e) | Event::Empty(ref e) => {
                if root.is_some() {
                    return Err(bad("content after the root element"));
                }
                if !in_element && ns.as_deref() != Some(FHIR_NS) {
                    return Err(bad("root element is not in the FHIR namespace"));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(bad("XML is nested too deeply"));
                }
                let is_empty = matches!(event, Event::Empty(_));
                if in_element && ns.as_deref() == Some(XHTML_NS) && e.local_name().as_ref() == "div"
                {
                    // Keep the div's exact source; its content is checked later.
                    if !is_empty {
                        reader
                            .read_to_end(e.name())
                            .map_err(|e| bad(format!("not well-formed XML: {e}")))?;
                    }
                    let end_pos = reader.buffer_position() as usize;
                    let src = text.get(start_pos..end_pos).unwrap_or_default().to_string();
                    let div = XElem {
                        name: "div".into(),
                        xhtml: Some(src),
                        ..XElem::default()
                    };
                    if let Some(parent) = stack.last_mut() {
                        parent.children.push(div);
                    }
                    continue;
                }
                let el = element(e, ns.as_deref() == Some(FHIR_NS))?;
                if is_empty {
                    finish(el, &mut stack, &mut root);
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                if let Some(el) = stack.pop() {
                    finish(el, &mut stack, &mut root);
                }
            }
            Event::Text(t) => {
                let blank = t.xml10_content().trim().is_empty();
                match stack.last_mut() {
                    Some(top) => top.has_text |= !blank,
                    None if !blank => return Err(bad("text outside the root element")),
                    None => {}
                }
            }
            Event::CData(_) | Event::GeneralRef(_) => match stack.last_mut() {
                Some(top) => top.has_text = true,
                None => return Err(bad("text outside the root element")),
            },
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(bad("not well-formed XML: unclosed elements"));
    }
    root.ok_or_else(|| bad("no root element"))
}

fn finish(el: XElem, stack: &mut [XElem], root: &mut Option<XElem>) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None => *root = Some(el),
    }
}
