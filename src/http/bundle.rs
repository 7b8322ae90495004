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
fn head(
    id: &str,
    last_updated: &str,
    kind: &str,
    total: Option<usize>,
    links: &[(&str, String)],
) -> Value {
    let mut b = Map::new();
    b.insert("resourceType".into(), json!("Bundle"));
    b.insert("id".into(), json!(id));
    b.insert("meta".into(), json!({ "lastUpdated": last_updated }));
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

/// [`head`] in JSON as `fhir::write_json` writes it (members in STU3 order: resourceType, id,
/// meta, type, total, link), less its closing brace, written straight into `out`: building a
/// `Value` and writing it through the structure table cost about as much as the rest of a
/// page's Bundle. A test checks the two agree.
fn head_json(
    out: &mut Vec<u8>,
    id: &str,
    last_updated: &str,
    kind: &str,
    total: Option<usize>,
    links: &[(&str, String)],
) {
    out.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"id\":");
    fhir::write_json_string(id, out);
    out.extend_from_slice(b",\"meta\":{\"lastUpdated\":");
    fhir::write_json_string(last_updated, out);
    out.extend_from_slice(b"},\"type\":");
    fhir::write_json_string(kind, out);
    if let Some(total) = total {
        out.extend_from_slice(b",\"total\":");
        out.extend_from_slice(total.to_string().as_bytes());
    }
    for (i, (relation, url)) in links.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b",\"link\":[" } else { b"," });
        out.extend_from_slice(b"{\"relation\":");
        fhir::write_json_string(relation, out);
        out.extend_from_slice(b",\"url\":");
        fhir::write_json_string(url, out);
        out.push(b'}');
    }
    if !links.is_empty() {
        out.push(b']');
    }
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

/// Bytes of a Bundle's head besides its links' URLs.
const HEAD_ROOM: usize = 160;

pub fn render(
    kind: &str,
    total: Option<usize>,
    links: &[(&str, String)],
    entries: Vec<Entry>,
    format: Format,
) -> Result<Vec<u8>, Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let last_updated = instant::now_column();
    match format {
        Format::Json => {
            // Room for every entry at once: the resources are most of the answer.
            let room: usize = entries
                .iter()
                .map(|e| e.full_url.len() + e.resource.len() + ENTRY_OVERHEAD)
                .sum();
            let links_room: usize = links.iter().map(|(_, url)| url.len() + 32).sum();
            let mut out = Vec::with_capacity(HEAD_ROOM + links_room + room + 16);
            head_json(&mut out, &id, &last_updated, kind, total, links);
            if entries.is_empty() {
                out.push(b'}');
                return Ok(out);
            }
            out.extend_from_slice(b",\"entry\":[");
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Entry members in STU3 order: fullUrl, resource, search, request; inside
                // `search` and `request`, members in the order `entry_shell`'s map gives them.
                out.extend_from_slice(b"{\"fullUrl\":");
                fhir::write_json_string(&e.full_url, &mut out);
                out.extend_from_slice(b",\"resource\":");
                out.extend_from_slice(e.resource.as_bytes());
                if let Some(mode) = e.search_mode {
                    out.extend_from_slice(b",\"search\":{\"mode\":");
                    fhir::write_json_string(mode, &mut out);
                    out.push(b'}');
                }
                if let Some((method, url)) = &e.request {
                    out.extend_from_slice(b",\"request\":{\"method\":");
                    fhir::write_json_string(method, &mut out);
                    out.extend_from_slice(b",\"url\":");
                    fhir::write_json_string(url, &mut out);
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
            let mut bundle = head(&id, &last_updated, kind, total, links);
            if !entries.is_empty() {
                bundle["entry"] = Value::Array(entries);
            }
            Ok(fhir::write_xml(&bundle))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head written by hand is the head `fhir::write_json` writes, whatever the total and
    /// links, and whatever their text needs escaped.
    #[test]
    fn the_json_head_is_what_the_fhir_writer_writes() {
        let odd = "https://x/Appointment?a=\"q\"&b=\\&c=\u{1}\u{7f}&d=é€/\n\t".to_string();
        let links: Vec<(&str, String)> = vec![
            (
                "self",
                "https://localhost/Appointment?patient=9000000009".into(),
            ),
            ("next", odd.clone()),
        ];
        for kind in ["searchset", "history"] {
            for total in [None, Some(0), Some(7), Some(usize::MAX)] {
                for links in [
                    &links[..0],
                    &links[..1],
                    &links[..],
                    &[("self", odd.clone())],
                ] {
                    let (id, at) = (
                        "0191f6d1-0000-7000-8000-000000000000",
                        "2025-01-02T03:04:05.678Z",
                    );
                    let mut hand = Vec::new();
                    head_json(&mut hand, id, at, kind, total, links);
                    hand.push(b'}');
                    let written = fhir::write_json(&head(id, at, kind, total, links));
                    assert_eq!(
                        String::from_utf8(hand).unwrap(),
                        String::from_utf8(written).unwrap(),
                        "{kind} {total:?} {links:?}"
                    );
                }
            }
        }
    }
}
