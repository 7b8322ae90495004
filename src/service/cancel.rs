//! Cancel an appointment (RULES.md §3): a PUT of the appointment as read, with `status`
//! changed to cancelled or entered-in-error and `created` to the time of cancellation. What
//! can be checked without the stored row is checked here (body, id); the store's update decides
//! the rest atomically (404, ownership, stale version, the cancellation rules).

use serde_json::Value;

use super::resource;
use crate::error::Error;
use crate::fhir::Format;
use crate::registry::instant;
use crate::store::{Store, StoredVersion, Update, UpdateOutcome};

pub struct CancelRequest<'a> {
    pub id: String,
    /// The version the client read (`If-Match`).
    pub if_match: i64,
    pub body: &'a [u8],
    pub format: Format,
    /// The caller's organisation: must be the one that registered the appointment.
    pub caller_org: Option<String>,
}

/// The new version, once stored.
pub async fn cancel(store: &Store, request: CancelRequest<'_>) -> Result<StoredVersion, Error> {
    let CancelRequest {
        id,
        if_match,
        body,
        format,
        caller_org,
    } = request;
    resource::check_id(&id)?;
    let (resource, structural) = resource::read(body, format)?;
    if !structural.is_empty() {
        return Err(Error::Unprocessable(structural));
    }
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id => {}
        Some(other) => {
            return Err(Error::BadRequest(format!(
                "the body's id '{other}' is not the id in the URL ('{id}')"
            )))
        }
        None => {
            return Err(Error::BadRequest(
                "the body has no id: PUT the appointment back as read, with its id".into(),
            ))
        }
    }
    let mut resource = resource;
    let last_updated = instant::now_column();
    // The write succeeds only while If-Match is current, so the new version is If-Match + 1.
    resource::stamp(&mut resource, &id, if_match + 1, &last_updated);
    let json = resource::canonical_json(&resource)?;
    // The writer compares the submission with the stored version element by element: it gets
    // the canonical form, as stored, read back from the one text written.
    let resource: Value = serde_json::from_str(&json)
        .map_err(|e| Error::caused("reading back the canonical JSON written", e))?;
    let update = Update {
        id,
        if_match,
        caller_org,
        last_updated,
        resource,
        json,
    };
    match store.update(update).await? {
        UpdateOutcome::Updated(stored) => Ok(stored),
        UpdateOutcome::NotFound => Err(Error::NotFound(
            "no appointment with that id is registered".into(),
        )),
        UpdateOutcome::NotOwner => Err(Error::Forbidden(
            "only the organisation that registered this appointment may change it".into(),
        )),
        UpdateOutcome::Stale { current } => Err(Error::Conflict(format!(
            "If-Match names version {if_match} but the appointment is at version {current}: \
             read it again and resubmit"
        ))),
        UpdateOutcome::Rejected(problems) => Err(Error::Unprocessable(problems)),
    }
}
