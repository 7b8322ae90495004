//! Scopes and caller identity taken from verified claims.

use serde_json::Value;

use super::{Access, AuthError, Caller};

/// FHIR identifier system of ODS organisation codes.
pub const ODS_ORGANIZATION_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// FHIR identifier system of Spine accredited-system ids (ASIDs).
pub const ACCREDITED_SYSTEM: &str = "https://fhir.nhs.uk/Id/accredited-system";

const WRITE_SCOPES: [&str; 2] = ["patient/Appointment.write", "patient/*.write"];
const READ_SCOPES: [&str; 2] = ["patient/Appointment.read", "patient/*.read"];

/// Scopes from `scope` and `requested_scope` (space-separated strings, or arrays of them).
fn scopes(claims: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in ["scope", "requested_scope"] {
        let texts: Vec<&str> = match claims.get(name) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for scope in texts.iter().flat_map(|t| t.split_whitespace()) {
            if !out.iter().any(|s| s == scope) {
                out.push(scope.to_string());
            }
        }
    }
    out
}

/// Value of a `system|value` string, a plain string, or the identifier with `system` in a FHIR
/// resource object (`{"resourceType": .., "identifier": [{"system": .., "value": ..}]}`).
fn identifier(claim: Option<&Value>, system: &str) -> Option<String> {
    let value = match claim? {
        Value::String(s) => {
            let s = s.trim();
            s.strip_prefix(system)
                .and_then(|rest| rest.strip_prefix('|'))
                .unwrap_or(s)
                .to_string()
        }
        Value::Object(resource) => {
            let ids = resource.get("identifier")?;
            // `identifier` is an array in FHIR, but tolerate a lone object.
            let list = match ids {
                Value::Array(list) => list.as_slice(),
                single @ Value::Object(_) => std::slice::from_ref(single),
                _ => return None,
            };
            list.iter()
                .find(|id| id.get("system").and_then(Value::as_str) == Some(system))
                .and_then(|id| id.get("value"))
                .and_then(Value::as_str)?
                .trim()
                .to_string()
        }
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

pub(crate) fn caller_from_claims(claims: &Value) -> Caller {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let org = identifier(claims.get("requesting_organization"), ODS_ORGANIZATION_CODE)
        .or_else(|| subject.clone());
    let system = identifier(claims.get("requesting_system"), ACCREDITED_SYSTEM);
    Caller {
        org,
        system,
        subject,
        scopes: scopes(claims),
    }
}

/// Checks that the scopes allow `access`; write scopes imply read.
pub(crate) fn require(scopes: &[String], access: Access) -> Result<(), AuthError> {
    let has = |wanted: &[&str]| scopes.iter().any(|s| wanted.contains(&s.as_str()));
    match access {
        Access::Write if has(&WRITE_SCOPES) => Ok(()),
        Access::Write => Err(AuthError::InsufficientScope(
            "writing appointments needs scope patient/Appointment.write (or patient/*.write)"
                .to_string(),
        )),
        Access::Read if has(&READ_SCOPES) || has(&WRITE_SCOPES) => Ok(()),
        Access::Read => Err(AuthError::InsufficientScope(
            "reading appointments needs scope patient/Appointment.read (or patient/*.read, \
             or a write scope)"
                .to_string(),
        )),
    }
}
