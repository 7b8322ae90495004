//! `$validate` (FHIR operation): every check a registration would run — base STU3, the
//! registry's rules, the NHS number — plus a warning when an identifier is registered already;
//! nothing is stored. The body is an Appointment, or a `Parameters` with `resource` (and `mode`,
//! of which the registry offers `create`, the default).

use serde_json::Value;

use super::register::admit;
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
    // A Parameters body gives its resource as JSON (already read); otherwise the body as sent.
    let (appointment, format) = match appointment_of(body, format)? {
        Some(inner) => (inner, Format::Json),
        None => (body.to_vec(), format),
    };
    let registration = match admit(&appointment, format) {
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

/// The Appointment inside a `Parameters` body, as JSON bytes; None when the body is not a
/// `Parameters` (it is then the Appointment itself).
fn appointment_of(body: &[u8], format: Format) -> Result<Option<Vec<u8>>, Error> {
    let parsed = match format {
        Format::Json => fhir::parse_json(body),
        Format::Xml => fhir::parse_xml(body),
    };
    let Ok((value, _)) = parsed else {
        return Ok(None); // unreadable: `admit` says why
    };
    if value.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Ok(None);
    }
    let parameters = value
        .get("parameter")
        .and_then(Value::as_array)
        .cloned()
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
    let resource = named("resource")
        .and_then(|p| p.get("resource"))
        .ok_or_else(|| {
            Error::BadRequest(
                "the Parameters has no 'resource' parameter holding the Appointment".into(),
            )
        })?;
    Ok(Some(fhir::write_json(resource)))
}
