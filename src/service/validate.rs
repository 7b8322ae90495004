//! `$validate` (FHIR operation): every check a registration would run — base STU3, the
//! registry's rules, the NHS number — plus a warning when an identifier is registered already;
//! nothing is stored. The body is an Appointment, or a `Parameters` with `resource` (and `mode`,
//! of which the registry offers `create`, the default).

use serde_json::Value;

use super::register::admit_read;
use super::resource;
use crate::error::{Error, Problem};
use crate::fhir::{self, Format};
use crate::spine::SpineCode;
use crate::store::Store;

/// The report: errors (what would refuse a registration) and warnings.
pub struct Report {
    pub errors: Vec<Problem>,
    pub warnings: Vec<Problem>,
}

pub async fn validate(store: &Store, body: &[u8], format: Format) -> Result<Report, Error> {
    // Read once: an Appointment as it is, or the one a Parameters holds (checked on its own,
    // so its problems are named from `Appointment`).
    let (value, issues) = resource::parse(body, format)?;
    let (value, issues) = match appointment_in_parameters(&value)? {
        Some(inner) => {
            let issues = fhir::validate(&inner);
            (inner, issues)
        }
        None => (value, issues),
    };
    let (value, structural) = resource::appointment(value, issues)?;
    let registration = match admit_read(value, structural) {
        Ok((_, registration)) => registration,
        Err(Error::Unprocessable(errors)) => {
            return Ok(Report {
                errors,
                warnings: Vec::new(),
            })
        }
        Err(other) => return Err(other),
    };
    let taken = store
        .registered_identifiers(registration.identifiers.clone())
        .await?;
    let warnings = taken
        .into_iter()
        .map(|(system, value)| {
            Problem::new(
                "duplicate",
                SpineCode::DuplicateRejected,
                format!(
                    "an appointment with identifier {system}|{value} is already registered: \
                     registering this one would be refused"
                ),
            )
            .at("Appointment.identifier")
        })
        .collect();
    Ok(Report {
        errors: Vec::new(),
        warnings,
    })
}

/// The Appointment a `Parameters` body holds in its `resource` parameter; None when the body
/// is not a `Parameters` (it is then the Appointment itself).
fn appointment_in_parameters(value: &Value) -> Result<Option<Value>, Error> {
    if value.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Ok(None);
    }
    let parameters = value
        .get("parameter")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let named = |name: &str| {
        parameters
            .iter()
            .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
    };
    if let Some(mode) = named("mode") {
        let mode = mode.get("valueCode").and_then(Value::as_str).unwrap_or("");
        if mode != "create" {
            return Err(Error::InvalidParameter(format!(
                "$validate mode '{mode}' is not offered: the registry validates registrations \
                 (mode create, the default)"
            )));
        }
    }
    named("resource")
        .and_then(|p| p.get("resource"))
        .cloned()
        .map(Some)
        .ok_or_else(|| {
            Error::BadRequest(
                "the Parameters has no 'resource' parameter holding the Appointment".into(),
            )
        })
}
