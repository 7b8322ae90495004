//! Bundles (searchset, history) as FHIR JSON values.

use serde_json::{json, Map, Value};

use crate::registry::instant;

/// One `Bundle.entry`.
pub struct Entry {
    pub full_url: String,
    pub resource: Value,
    /// `search.mode` for searchsets (`match`).
    pub search_mode: Option<&'static str>,
    /// `request` (method, url) for history entries.
    pub request: Option<(&'static str, String)>,
}

pub fn bundle(
    kind: &str,
    total: Option<usize>,
    links: &[(&str, String)],
    entries: Vec<Entry>,
) -> Value {
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
    if !entries.is_empty() {
        let entries: Vec<Value> = entries.into_iter().map(entry).collect();
        b.insert("entry".into(), Value::Array(entries));
    }
    Value::Object(b)
}

fn entry(e: Entry) -> Value {
    let mut v = json!({ "fullUrl": e.full_url, "resource": e.resource });
    if let Some(mode) = e.search_mode {
        v["search"] = json!({ "mode": mode });
    }
    if let Some((method, url)) = e.request {
        v["request"] = json!({ "method": method, "url": url });
    }
    v
}
