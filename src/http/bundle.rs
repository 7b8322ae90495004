//! Bundles (searchset, history), rendered in the negotiated format.
//!
//! Entries carry the stored canonical JSON of their resource. In JSON the Bundle is written
//! around those texts as they are — no parse and re-serialisation of every resource, which
//! was most of the cost of a search. XML needs the structure, so there the texts are parsed.

use serde_json::{json, Map, Value};

use super::negotiate::Format;
use crate::error::Error;
use crate::fhir;
use crate::registry::instant;

/// One `Bundle.entry`.
pub struct Entry {
    pub full_url: String,
    /// The resource as stored: canonical FHIR JSON.
    pub resource: String,
    /// `search.mode` for searchsets (`match`).
    pub search_mode: Option<&'static str>,
    /// `request` (method, url) for history entries.
    pub request: Option<(&'static str, String)>,
}

/// The Bundle without its entries; `entry` is the last element Bundles here use (`signature`,
/// after it, is never set), so entries can follow the head.
fn head(kind: &str, total: Option<usize>, links: &[(&str, String)]) -> Value {
    let mut b = Map::new();
    b.insert("resourceType".into(), json!("Bundle"));
    b.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    b.insert(
        "meta".into(),
        json!({ "lastUpdated": instant::now_column() }),
    );
    b.insert("type".into(), json!(kind));
    if let Some(total) = total {
        b.insert("total".into(), json!(total));
    }
    if !links.is_empty() {
        let links: Vec<Value> = links
            .iter()
            .map(|(rel, url)| json!({"relation": rel, "url": url}))
            .collect();
        b.insert("link".into(), Value::Array(links));
    }
    Value::Object(b)
}

/// The entry without its resource, as a JSON object.
fn entry_shell(e: &Entry) -> Map<String, Value> {
    let mut v = Map::new();
    v.insert("fullUrl".into(), json!(e.full_url));
    if let Some(mode) = e.search_mode {
        v.insert("search".into(), json!({ "mode": mode }));
    }
    if let Some((method, url)) = &e.request {
        v.insert("request".into(), json!({ "method": method, "url": url }));
    }
    v
}

/// Bytes an entry adds besides its fullUrl and resource (member names, `search`, `request`).
const ENTRY_OVERHEAD: usize = 96;

/// A JSON string, escaped as serde_json writes it.
fn json_string(out: &mut Vec<u8>, text: &str) {
    fhir::write_json_string(text, out);
}

pub fn render(
    kind: &str,
    total: Option<usize>,
    links: &[(&str, String)],
    entries: Vec<Entry>,
    format: Format,
) -> Result<Vec<u8>, Error> {
    let mut bundle = head(kind, total, links);
    match format {
        Format::Json => {
            let mut out = fhir::write_json(&bundle);
            if entries.is_empty() {
                return Ok(out);
            }
            // Room for every entry at once: the resources are most of the answer.
            let room: usize = entries
                .iter()
                .map(|e| e.full_url.len() + e.resource.len() + ENTRY_OVERHEAD)
                .sum();
            out.reserve(room + 16);
            out.pop(); // the head's closing brace
            out.extend_from_slice(b",\"entry\":[");
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Entry members in STU3 order: fullUrl, resource, search, request; inside
                // `search` and `request`, members in the order `entry_shell`'s map gives them.
                out.extend_from_slice(b"{\"fullUrl\":");
                json_string(&mut out, &e.full_url);
                out.extend_from_slice(b",\"resource\":");
                out.extend_from_slice(e.resource.as_bytes());
                if let Some(mode) = e.search_mode {
                    out.extend_from_slice(b",\"search\":{\"mode\":");
                    json_string(&mut out, mode);
                    out.push(b'}');
                }
                if let Some((method, url)) = &e.request {
                    out.extend_from_slice(b",\"request\":{\"method\":");
                    json_string(&mut out, method);
                    out.extend_from_slice(b",\"url\":");
                    json_string(&mut out, url);
                    out.push(b'}');
                }
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
            Ok(out)
        }
        Format::Xml => {
            let entries = entries
                .iter()
                .map(|e| {
                    let mut shell = entry_shell(e);
                    let resource: Value = serde_json::from_str(&e.resource)
                        .map_err(|e| Error::caused("reading a stored resource", e))?;
                    shell.insert("resource".into(), resource);
                    Ok(Value::Object(shell))
                })
                .collect::<Result<Vec<_>, Error>>()?;
            if !entries.is_empty() {
                bundle["entry"] = Value::Array(entries);
            }
            Ok(fhir::write_xml(&bundle))
        }
    }
}
