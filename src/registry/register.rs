//! The registration rules of RULES.md §1, over an Appointment already read as FHIR JSON.
//! Pure: no HTTP, no SQL. Every broken rule is reported, not just the first.

use serde_json::Value;

use crate::error::Problem;
use crate::registry::problems::{missing, rule};
use crate::registry::{instant, patient};
use crate::spine::SpineCode;

/// Elements a registration must not carry, and why (the mission page's own words).
pub const FORBIDDEN: [(&str, &str); 6] = [
    (
        "id",
        "the registry assigns the id; it must not be included in the request body",
    ),
    (
        "contained",
        "no additional resources may be contained in the appointment",
    ),
    (
        "end",
        "the appointment end time is not required and must not be included",
    ),
    (
        "supportingInformation",
        "no supporting information may be included in the registry",
    ),
    (
        "description",
        "no description may be included in the registry",
    ),
    (
        "slot",
        "the details of the slot are irrelevant to the registry and must not be included",
    ),
];

/// What the store indexes about a valid registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub nhs_number: String,
    /// UTC, fixed width (see `instant::to_column`).
    pub start_at: String,
    pub created_at: String,
    /// `(system or "", value)` of each business identifier, for duplicate detection.
    pub identifiers: Vec<(String, String)>,
}

/// Checks the registration rules. `already` holds paths the base-structure validator has
/// reported, so one broken element is not reported twice in two words.
pub fn check(resource: &Value, already: &[String]) -> Result<Registration, Vec<Problem>> {
    let mut problems = Vec::new();
    let reported = |path: &str| {
        already.iter().any(|p| {
            p == path || p.starts_with(&format!("{path}.")) || p.starts_with(&format!("{path}["))
        })
    };

    // Whether any key starts with `_`: only then can a forbidden element's `_name` be there.
    let underscored = resource
        .as_object()
        .is_some_and(|map| map.keys().any(|k| k.starts_with('_')));
    for (name, why) in FORBIDDEN {
        let present = resource.get(name).is_some()
            || (underscored && resource.get(format!("_{name}")).is_some());
        if present {
            problems.push(rule(
                format!("Appointment.{name}"),
                format!("must not be present: {why}"),
            ));
        }
    }

    match resource.get("status") {
        None if !reported("Appointment.status") => {
            problems.push(missing("Appointment.status", "'booked'"))
        }
        Some(Value::String(s)) if s == "booked" => {}
        Some(other) if !reported("Appointment.status") => problems.push(rule(
            "Appointment.status",
            format!("must be 'booked' for a registration, not {other}"),
        )),
        _ => {}
    }

    let start_at = required_instant(resource, "start", &reported, &mut problems);
    let created_at = required_instant(resource, "created", &reported, &mut problems);
    let nhs = patient::find(resource, &reported, &mut problems);

    let identifiers = identifiers(resource);
    for (i, first, (system, value)) in repeated_identifiers(resource) {
        problems.push(
            Problem::new(
                "duplicate",
                SpineCode::DuplicateRejected,
                format!(
                    "repeats Appointment.identifier[{first}] ({system}|{value}): each business \
                     identifier may appear once"
                ),
            )
            .at(format!("Appointment.identifier[{i}]")),
        );
    }
    match (start_at, created_at, nhs) {
        (Some(start_at), Some(created_at), Some(nhs_number)) if problems.is_empty() => {
            Ok(Registration {
                nhs_number,
                start_at,
                created_at,
                identifiers,
            })
        }
        _ => Err(problems),
    }
}

fn required_instant(
    resource: &Value,
    name: &str,
    reported: &dyn Fn(&str) -> bool,
    problems: &mut Vec<Problem>,
) -> Option<String> {
    // Named only when there is something to report.
    let path = || format!("Appointment.{name}");
    match resource.get(name) {
        None => {
            if !reported(&path()) {
                problems.push(missing(&path(), "a FHIR instant"));
            }
            None
        }
        Some(Value::String(text)) => match instant::parse(text) {
            Ok(at) => Some(instant::to_column(at)),
            Err(why) => {
                if !reported(&path()) {
                    problems.push(
                        Problem::new(
                            "value",
                            SpineCode::InvalidResource,
                            format!("'{text}' is {why}"),
                        )
                        .at(path()),
                    );
                }
                None
            }
        },
        Some(_) => None, // a wrong JSON type is the structure validator's to report
    }
}

fn identifiers(resource: &Value) -> Vec<(String, String)> {
    indexed_identifiers(resource)
        .into_iter()
        .map(|(_, id)| id)
        .collect()
}

/// `(index in Appointment.identifier, (system or "", value))` of each identifier with a value.
fn indexed_identifiers(resource: &Value) -> Vec<(usize, (String, String))> {
    let Some(list) = resource.get("identifier").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let value = id.get("value")?.as_str()?;
            let system = id.get("system").and_then(Value::as_str).unwrap_or("");
            Some((i, (system.to_string(), value.to_string())))
        })
        .collect()
}

/// `(index, index of its first occurrence, identifier)` for each identifier given twice: the
/// store keeps one row per identifier, so a body naming one twice is refused here.
fn repeated_identifiers(resource: &Value) -> Vec<(usize, usize, (String, String))> {
    let all = indexed_identifiers(resource);
    all.iter()
        .enumerate()
        .filter_map(|(n, (i, id))| {
            let (first, _) = all[..n].iter().find(|(_, earlier)| earlier == id)?;
            Some((*i, *first, id.clone()))
        })
        .collect()
}
