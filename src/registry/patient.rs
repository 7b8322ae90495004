//! The national reference to the Patient: exactly one participant's actor must name the patient,
//! as `https://demographics.spineservices.nhs.uk/Patient/{nhs}` or as an identifier with system
//! `https://fhir.nhs.uk/Id/nhs-number`.

use serde_json::Value;

use crate::error::Problem;
use crate::registry::nhs_number;
use crate::registry::problems::{missing, rule};

pub const NATIONAL_PATIENT_BASE: &str = "https://demographics.spineservices.nhs.uk/Patient/";
pub const NHS_NUMBER_SYSTEM: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// The demographics service's base, used as a token system by the NHS search page's own
/// example (`Appointment.participant.actor=https://demographics.spineservices.nhs.uk|{nhs}`).
pub const DEMOGRAPHICS_SYSTEM: &str = "https://demographics.spineservices.nhs.uk";

/// The patient's NHS number, when exactly one valid national patient reference is present;
/// otherwise the problems are pushed.
pub fn find(
    resource: &Value,
    reported: &dyn Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    let participants = resource.get("participant").and_then(Value::as_array);
    let Some(participants) = participants else {
        if !reported("Appointment.participant") {
            problems.push(missing(
                "Appointment.participant",
                "a participant whose actor is a national reference to the Patient",
            ));
        }
        return None;
    };
    let before = problems.len();
    let mut found: Vec<(String, String)> = Vec::new();
    for (i, participant) in participants.iter().enumerate() {
        let base = format!("Appointment.participant[{i}].actor");
        if let Some(p) = from_actor(participant.get("actor"), &base, problems) {
            found.push(p);
        }
    }
    match found.len() {
        0 if problems.len() == before => {
            problems.push(missing(
                "Appointment.participant",
                &format!(
                    "a participant whose actor is a national reference to the Patient: \
                     actor.reference '{NATIONAL_PATIENT_BASE}{{nhs-number}}' or actor.identifier \
                     with system '{NHS_NUMBER_SYSTEM}'"
                ),
            ));
            None
        }
        0 => None,
        1 => {
            let (path, nhs) = found.remove(0);
            nhs_number::check(&path, &nhs, problems).then_some(nhs)
        }
        n => {
            problems.push(rule(
                "Appointment.participant",
                format!("exactly one patient per appointment; {n} participants name a patient"),
            ));
            None
        }
    }
}

/// `(path of the NHS number, NHS number)` when this actor refers to a patient nationally.
fn from_actor(
    actor: Option<&Value>,
    base: &str,
    problems: &mut Vec<Problem>,
) -> Option<(String, String)> {
    let actor = actor?;
    let by_reference = actor
        .get("reference")
        .and_then(Value::as_str)
        .and_then(|r| {
            if let Some(nhs) = r.strip_prefix(NATIONAL_PATIENT_BASE) {
                Some((format!("{base}.reference"), nhs.to_string()))
            } else {
                if r.starts_with("Patient/") || r.contains("/Patient/") {
                    problems.push(rule(
                        format!("{base}.reference"),
                        format!(
                            "the patient must be referenced nationally: \
                         '{NATIONAL_PATIENT_BASE}{{nhs-number}}', not '{r}'"
                        ),
                    ));
                }
                None
            }
        });
    let identifier = actor.get("identifier");
    let by_identifier = identifier.and_then(|id| {
        (id.get("system").and_then(Value::as_str) == Some(NHS_NUMBER_SYSTEM)).then(|| {
            let nhs = id.get("value").and_then(Value::as_str).unwrap_or("");
            (format!("{base}.identifier.value"), nhs.to_string())
        })
    });
    match (by_reference, by_identifier) {
        (Some(r), Some(i)) if r.1 != i.1 => {
            problems.push(rule(
                base,
                format!(
                    "actor.reference names NHS number '{}' but actor.identifier names '{}'",
                    r.1, i.1
                ),
            ));
            None
        }
        (Some(r), _) => Some(r),
        (None, i) => i,
    }
}
