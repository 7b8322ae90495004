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
    // Paths are written only when there is a problem to report at them.
    let mut found: Option<(usize, Via, &str)> = None;
    let mut n = 0;
    for (i, participant) in participants.iter().enumerate() {
        if let Some((via, nhs)) = from_actor(participant.get("actor"), i, problems) {
            found = found.or(Some((i, via, nhs)));
            n += 1;
        }
    }
    match (n, found) {
        (0, _) if problems.len() == before => {
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
        (1, Some((i, via, nhs))) => {
            if nhs_number::is_valid(nhs) {
                return Some(nhs.to_string());
            }
            let path = format!("{}{}", actor_path(i), via.suffix());
            nhs_number::check(&path, nhs, problems);
            None
        }
        (0 | 1, _) => None,
        (n, _) => {
            problems.push(rule(
                "Appointment.participant",
                format!("exactly one patient per appointment; {n} participants name a patient"),
            ));
            None
        }
    }
}

/// Where an actor names the NHS number.
#[derive(Clone, Copy)]
enum Via {
    Reference,
    Identifier,
}

impl Via {
    fn suffix(self) -> &'static str {
        match self {
            Via::Reference => ".reference",
            Via::Identifier => ".identifier.value",
        }
    }
}

/// `Appointment.participant[i].actor`.
fn actor_path(i: usize) -> String {
    format!("Appointment.participant[{i}].actor")
}

/// Where and which NHS number, when the actor of participant `i` refers to a patient nationally.
fn from_actor<'a>(
    actor: Option<&'a Value>,
    i: usize,
    problems: &mut Vec<Problem>,
) -> Option<(Via, &'a str)> {
    let actor = actor?;
    let by_reference = actor
        .get("reference")
        .and_then(Value::as_str)
        .and_then(|r| {
            if let Some(nhs) = r.strip_prefix(NATIONAL_PATIENT_BASE) {
                Some((Via::Reference, nhs))
            } else {
                if r.starts_with("Patient/") || r.contains("/Patient/") {
                    problems.push(rule(
                        format!("{}.reference", actor_path(i)),
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
            (Via::Identifier, nhs)
        })
    });
    match (by_reference, by_identifier) {
        (Some(r), Some(i_)) if r.1 != i_.1 => {
            problems.push(rule(
                actor_path(i),
                format!(
                    "actor.reference names NHS number '{}' but actor.identifier names '{}'",
                    r.1, i_.1
                ),
            ));
            None
        }
        (Some(r), _) => Some(r),
        (None, i_) => i_,
    }
}
