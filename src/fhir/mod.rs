//! FHIR STU3 JSON/XML reading, structural validation and canonical writing,
//! all driven by the XSD-derived table in `structure_gen.rs`.

pub mod datetime;
pub mod id;
mod json_write;
mod primitive;
pub mod structure;
mod structure_gen;
pub mod subset;
mod validate;
mod xhtml;
mod xml_read;
mod xml_tree;
mod xml_write;

pub use serde_json::Value;

/// The two FHIR formats the registry reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/fhir+json; charset=utf-8",
            Format::Xml => "application/fhir+xml; charset=utf-8",
        }
    }
}

/// One problem found in a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    /// FHIRPath-like location, e.g. "Appointment.participant[0].status".
    pub path: String,
    /// Plain-words description.
    pub message: String,
    /// FHIR IssueType code: "structure" | "required" | "value" | "code-invalid" | "invalid".
    pub issue_type: &'static str,
}

impl Issue {
    pub(crate) fn new(path: &str, issue_type: &'static str, message: impl Into<String>) -> Self {
        Issue {
            path: path.to_string(),
            message: message.into(),
            issue_type,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not JSON / not well-formed XML / DTD or entity declaration present / root not a
    /// known FHIR resource / no resourceType / not UTF-8. Maps to HTTP 400.
    #[error("{0}")]
    Unparseable(String),
    /// Parsed, but violates base STU3 structure; every issue found. Maps to HTTP 422.
    #[error("invalid resource")]
    Invalid(Vec<Issue>),
}

/// Reads a FHIR JSON resource and validates it.
pub fn read_json(bytes: &[u8]) -> Result<Value, ReadError> {
    strict(parse_json(bytes)?)
}

/// Reads a FHIR XML resource into the same JSON value the JSON form would give.
pub fn read_xml(bytes: &[u8]) -> Result<Value, ReadError> {
    strict(parse_xml(bytes)?)
}

/// Deepest nesting of arrays and objects a resource may have, in either format. Well below
/// serde_json's recursion limit (128), so whatever is accepted and stored as JSON re-parses
/// when it is read back; no real resource comes near it.
pub const MAX_DEPTH: usize = 64;

/// Nesting depth of a value: a scalar is 0, `{}` and `[]` are 1.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check_depth(value: &Value) -> Result<(), ReadError> {
    if depth(value) > MAX_DEPTH {
        return Err(ReadError::Unparseable(format!(
            "the resource is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    Ok(())
}

/// Reads FHIR JSON, returning the resource together with its structural issues, so a caller
/// can add its own rules' problems to the same report. Only `Unparseable` is an error here.
pub fn parse_json(bytes: &[u8]) -> Result<(Value, Vec<Issue>), ReadError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ReadError::Unparseable("body is not valid UTF-8".into()))?;
    // A UTF-8 byte-order mark is noise some editors add; JSON itself has no place for it.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(|e| {
        ReadError::Unparseable(if e.to_string().contains("recursion limit") {
            format!("the resource is nested more than {MAX_DEPTH} levels deep")
        } else {
            format!("not valid JSON: {e}")
        })
    })?;
    check_depth(&value)?;
    let Some(obj) = value.as_object() else {
        return Err(ReadError::Unparseable("JSON body is not an object".into()));
    };
    match obj.get("resourceType") {
        Some(Value::String(t)) if structure::is_known_resource(t) => {}
        Some(Value::String(t)) => {
            return Err(ReadError::Unparseable(format!(
                "'{t}' is not a known FHIR resource type"
            )))
        }
        _ => return Err(ReadError::Unparseable("resourceType is missing".into())),
    }
    let issues = validate(&value);
    Ok((value, issues))
}

/// Reads FHIR XML as [`parse_json`] reads JSON.
pub fn parse_xml(bytes: &[u8]) -> Result<(Value, Vec<Issue>), ReadError> {
    let (value, issues) = xml_read::read(bytes)?;
    check_depth(&value)?;
    Ok((value, issues))
}

fn strict((value, issues): (Value, Vec<Issue>)) -> Result<Value, ReadError> {
    if issues.is_empty() {
        Ok(value)
    } else {
        Err(ReadError::Invalid(issues))
    }
}

/// Structural validation of a resource in FHIR JSON form.
pub fn validate(resource: &Value) -> Vec<Issue> {
    let mut issues = Vec::new();
    validate::resource(resource, None, &mut issues);
    issues
}

/// Canonical compact JSON: members in table order, resourceType first.
pub fn write_json(resource: &Value) -> Vec<u8> {
    json_write::write(resource)
}

/// `text` as a JSON string, exactly as serde_json writes it.
pub fn write_json_string(text: &str, out: &mut Vec<u8>) {
    json_write::string(text, out)
}

/// XML declaration plus the resource in the FHIR namespace, compact.
pub fn write_xml(resource: &Value) -> Vec<u8> {
    xml_write::write(resource)
}
