//! Register an appointment (RULES.md §1): read the body, check base STU3 and the registration
//! rules (every problem in one report), assign id and version 1, and store it — or, with
//! `If-None-Exist`, find the one already registered.

use serde_json::Value;

use super::resource;
use crate::error::{unprocessable, Error, Problem};
use crate::fhir::Format;
use crate::registry::identifier::IdentifierToken;
use crate::registry::{instant, register};
use crate::spine::SpineCode;
use crate::store::{Author, CreateOutcome, NewAppointment, Store, StoredVersion};

/// What a registration asks for.
pub struct RegisterRequest<'a> {
    pub body: &'a [u8],
    pub format: Format,
    /// FHIR conditional create: `If-None-Exist: identifier=…`.
    pub if_none_exist: Option<IdentifierToken>,
    /// Who registers it (recorded with it).
    pub author: Author,
}

#[derive(Debug)]
pub enum Registered {
    Created(StoredVersion),
    /// Conditional create matched an appointment already registered: nothing written.
    Existing(StoredVersion),
}

pub async fn register(store: &Store, request: RegisterRequest<'_>) -> Result<Registered, Error> {
    let (mut resource, registration) = admit(request.body, request.format)?;
    // UUIDv7: time-ordered, so new rows land at the right edge of the primary-key B-trees
    // instead of at random pages.
    let id = uuid::Uuid::now_v7().to_string();
    let last_updated = instant::now_column();
    resource::stamp(&mut resource, &id, 1, &last_updated);
    let new = NewAppointment {
        id,
        last_updated,
        registration,
        resource: resource::canonical_json(&resource)?,
        author: request.author,
        if_none_exist: request.if_none_exist,
    };
    match store.create(new).await? {
        CreateOutcome::Created(stored) => Ok(Registered::Created(stored)),
        CreateOutcome::Existing(stored) => Ok(Registered::Existing(stored)),
        CreateOutcome::Duplicate { system, value } => Err(unprocessable(
            Problem::new(
                "duplicate",
                SpineCode::DuplicateRejected,
                format!("an appointment with identifier {system}|{value} is already registered"),
            )
            .at("Appointment.identifier"),
        )),
        CreateOutcome::Ambiguous(n) => Err(Error::PreconditionFailed(format!(
            "If-None-Exist matched {n} appointments; it must match at most one"
        ))),
    }
}

/// Reads a registration body and checks it: base structure and the registration rules, every
/// problem of both in one report. Also the body of the `validator` fuzz target.
pub fn admit(bytes: &[u8], format: Format) -> Result<(Value, register::Registration), Error> {
    let (resource, structural) = resource::read(bytes, format)?;
    admit_read(resource, structural)
}

/// [`admit`] for an Appointment already read, with its base-structure problems.
pub fn admit_read(
    resource: Value,
    structural: Vec<Problem>,
) -> Result<(Value, register::Registration), Error> {
    let reported: Vec<String> = structural
        .iter()
        .filter_map(|p| p.expression.clone())
        .collect();
    match register::check(&resource, &reported) {
        Ok(r) if structural.is_empty() => Ok((resource, r)),
        Ok(_) => Err(Error::Unprocessable(structural)),
        Err(rules) => Err(Error::Unprocessable([structural, rules].concat())),
    }
}
