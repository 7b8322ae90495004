//! `_summary` and `_elements` (FHIR search, STU3 §2.21.1.3): an Appointment cut to a subset of
//! its top-level elements, marked with the `SUBSETTED` tag. Which elements are summary elements
//! is the CareConnect-Appointment-1 snapshot's `isSummary`; mandatory ones (min 1) always stay.

use serde_json::{json, Value};

/// Appointment's summary elements (isSummary in the profile's snapshot).
const SUMMARY: [&str; 12] = [
    "id",
    "meta",
    "implicitRules",
    "identifier",
    "status",
    "serviceCategory",
    "serviceType",
    "specialty",
    "appointmentType",
    "reason",
    "start",
    "end",
];
/// Kept whatever is asked: what identifies the resource, what changes its meaning, and the
/// elements Appointment requires (min 1).
const ALWAYS: [&str; 6] = [
    "resourceType",
    "id",
    "meta",
    "modifierExtension",
    "status",
    "participant",
];

/// The `meta.tag` FHIR puts on a subsetted resource.
pub const SUBSETTED_SYSTEM: &str = "http://hl7.org/fhir/v3/ObservationValue";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subset {
    /// `_summary=true`: the summary elements.
    Summary,
    /// `_summary=text`: text, id, meta and the mandatory elements.
    Text,
    /// `_summary=data`: everything but text.
    Data,
    /// `_elements=a,b`: those elements and the mandatory ones.
    Elements(Vec<String>),
}

impl Subset {
    fn keeps(&self, name: &str) -> bool {
        let name = name.strip_prefix('_').unwrap_or(name); // a primitive's extensions
        if ALWAYS.contains(&name) {
            return true;
        }
        match self {
            Subset::Summary => SUMMARY.contains(&name),
            Subset::Text => name == "text",
            Subset::Data => name != "text",
            Subset::Elements(names) => names.iter().any(|n| n == name),
        }
    }
}

/// The resource cut to `subset`, tagged SUBSETTED.
pub fn apply(resource: &Value, subset: &Subset) -> Value {
    let Some(members) = resource.as_object() else {
        return resource.clone();
    };
    let mut out: serde_json::Map<String, Value> = members
        .iter()
        .filter(|(k, _)| subset.keeps(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let meta = out
        .entry("meta")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .map(|m| m.entry("tag").or_insert_with(|| json!([])));
    if let Some(Value::Array(tags)) = meta {
        tags.push(json!({ "system": SUBSETTED_SYSTEM, "code": "SUBSETTED" }));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appointment() -> Value {
        json!({
            "resourceType": "Appointment", "id": "a", "meta": { "versionId": "1" },
            "text": { "status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>" },
            "status": "booked", "_status": { "id": "s" }, "comment": "c", "start": "2030-01-01T00:00:00Z",
            "participant": [{ "status": "accepted" }]
        })
    }

    fn keys(v: &Value) -> Vec<&str> {
        let mut k: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    }

    #[test]
    fn each_mode_keeps_what_fhir_says() {
        let a = appointment();
        let base = ["id", "meta", "participant", "resourceType", "status"];
        fn with(base: &[&'static str], extra: &[&'static str]) -> Vec<&'static str> {
            let mut k: Vec<&str> = base.iter().chain(extra).copied().collect();
            k.sort_unstable();
            k
        }
        assert_eq!(
            keys(&apply(&a, &Subset::Summary)),
            with(&base, &["_status", "start"])
        );
        assert_eq!(
            keys(&apply(&a, &Subset::Text)),
            with(&base, &["_status", "text"])
        );
        assert_eq!(
            keys(&apply(&a, &Subset::Data)),
            with(&base, &["_status", "comment", "start"])
        );
        assert_eq!(
            keys(&apply(&a, &Subset::Elements(vec!["comment".into()]))),
            with(&base, &["_status", "comment"])
        );
        let tagged = apply(&a, &Subset::Summary);
        assert_eq!(tagged["meta"]["tag"][0]["code"], "SUBSETTED");
        assert_eq!(tagged["meta"]["versionId"], "1");
    }
}
