//! Reading an Appointment body and stamping a version onto it: shared by register and cancel.

use serde_json::{Map, Value};

use crate::error::{Error, Problem};
use crate::fhir::{self, Format};
use crate::spine::SpineCode;

/// Parses the body. Unreadable → 400; base-structure problems are returned (not raised) so the
/// registry's own rules can be reported in the same OperationOutcome.
pub fn read(bytes: &[u8], format: Format) -> Result<(Value, Vec<Problem>), Error> {
    let (resource, issues) = parse(bytes, format)?;
    appointment(resource, issues)
}

/// Any FHIR resource and its base-structure issues; unreadable → 400.
pub fn parse(bytes: &[u8], format: Format) -> Result<(Value, Vec<fhir::Issue>), Error> {
    match format {
        Format::Json => fhir::parse_json(bytes),
        Format::Xml => fhir::parse_xml(bytes),
    }
    .map_err(|e| Error::BadRequest(e.to_string()))
}

/// A parsed resource that must be an Appointment, with its issues as OperationOutcome problems.
pub fn appointment(
    resource: Value,
    issues: Vec<fhir::Issue>,
) -> Result<(Value, Vec<Problem>), Error> {
    let kind = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or("");
    if kind != "Appointment" {
        return Err(Error::BadRequest(format!(
            "the body is a {kind}; an Appointment is expected here"
        )));
    }
    let problems = issues
        .into_iter()
        .map(|i| Problem::new(i.issue_type, SpineCode::InvalidResource, i.message).at(i.path))
        .collect();
    Ok((resource, problems))
}

/// Sets the id and `meta.versionId`/`meta.lastUpdated`, keeping whatever else `meta` holds.
pub fn stamp(resource: &mut Value, id: &str, version: i64, last_updated: &str) {
    // Straight into the maps: `value["key"] = …` walks from the root and allocates the key
    // for each of the four assignments.
    // Only an object gets here: `appointment` refuses any other body before it is stamped.
    let Value::Object(map) = resource else {
        return;
    };
    set(map, "id", Value::String(id.to_owned()));
    if !map.get("meta").is_some_and(Value::is_object) {
        set(map, "meta", Value::Object(Map::new()));
    }
    if let Some(Value::Object(meta)) = map.get_mut("meta") {
        set(meta, "versionId", Value::String(version.to_string()));
        set(meta, "lastUpdated", Value::String(last_updated.to_owned()));
    }
}

/// `map[key] = value`, allocating the key only when it is new.
fn set(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get_mut(key) {
        Some(slot) => *slot = value,
        None => {
            map.insert(key.to_owned(), value);
        }
    }
}

/// A resource id from a URL: a FHIR id, else 400.
pub fn check_id(id: &str) -> Result<(), Error> {
    if fhir::id::is_valid(id) {
        Ok(())
    } else {
        Err(Error::BadRequest(format!("'{id}' is not a FHIR id")))
    }
}

/// Canonical FHIR JSON text of a resource, as the store keeps it.
pub fn canonical_json(resource: &Value) -> Result<String, Error> {
    String::from_utf8(fhir::write_json(resource))
        .map_err(|e| Error::caused("writing canonical JSON", e))
}
