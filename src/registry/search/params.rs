//! Each search parameter's rule: what its value may be, and what it means.

use std::collections::HashSet;

use super::{invalid, DateBound, PageSizes, Sort, PATIENT_NAMES};
use crate::error::Error;
use crate::fhir;
use crate::registry::identifier::IdentifierToken;
use crate::registry::nhs_number;
use crate::registry::patient::{DEMOGRAPHICS_SYSTEM, NATIONAL_PATIENT_BASE, NHS_NUMBER_SYSTEM};
use crate::registry::search_date;

/// The parameters the registry understands (by canonical name; `_format` is the negotiator's).
pub const KNOWN: [&str; 10] = [
    "patient",
    "date",
    "created",
    "status",
    "identifier",
    "_count",
    "_sort",
    "_page",
    "_summary",
    "_elements",
];

/// `patient`, `actor` and `Appointment.participant.actor` are one parameter.
pub fn canonical_name(name: &str) -> &str {
    if PATIENT_NAMES.contains(&name) {
        "patient"
    } else {
        name
    }
}

/// Only `date` and `created` may repeat (a range is two bounds).
pub fn check_once(seen: &mut HashSet<String>, name: &str, canonical: &str) -> Result<(), Error> {
    let repeatable = matches!(name, "date" | "created");
    if !repeatable && !seen.insert(canonical.to_string()) {
        return Err(invalid(format!(
            "'{name}' may appear only once (patient, actor and Appointment.participant.actor \
             are one parameter); combine status codes with commas"
        )));
    }
    Ok(())
}

/// A patient in any accepted form; its NHS number must pass Modulus 11.
pub fn patient(name: &str, value: &str) -> Result<String, Error> {
    let token = format!("{NHS_NUMBER_SYSTEM}|");
    let demographics = format!("{DEMOGRAPHICS_SYSTEM}|");
    let number = value
        .strip_prefix(NATIONAL_PATIENT_BASE)
        .or_else(|| value.strip_prefix("Patient/"))
        .or_else(|| value.strip_prefix(token.as_str()))
        .or_else(|| value.strip_prefix(demographics.as_str()))
        .unwrap_or(value);
    if nhs_number::is_valid(number) {
        Ok(number.to_string())
    } else {
        Err(invalid(format!(
            "{name} '{value}' does not name a patient by a valid NHS number (10 digits with a \
             Modulus 11 check digit): use {NATIONAL_PATIENT_BASE}{{nhs}}, Patient/{{nhs}}, {{nhs}}, \
             {NHS_NUMBER_SYSTEM}|{{nhs}} or {DEMOGRAPHICS_SYSTEM}|{{nhs}}"
        )))
    }
}

/// `date` or `created`: a prefix and a value whose precision makes an interval.
pub fn date(name: &str, value: &str) -> Result<DateBound, Error> {
    search_date::parse(value).ok_or_else(|| {
        invalid(format!(
            "{name} '{value}' is not a search date: [eq|ne|lt|le|gt|ge] then \
             YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm]"
        ))
    })
}

/// Comma-separated AppointmentStatus codes, added to `statuses` once each.
pub fn status(value: &str, statuses: &mut Vec<String>) -> Result<(), Error> {
    let allowed = fhir::structure::codes("Appointment", "status");
    for code in value.split(',') {
        if !allowed.contains(&code) {
            return Err(invalid(format!(
                "status '{code}' is not an appointment status: one of {}",
                allowed.join(", ")
            )));
        }
        if !statuses.iter().any(|s| s == code) {
            statuses.push(code.to_string());
        }
    }
    Ok(())
}

pub fn identifier(value: &str) -> Result<IdentifierToken, Error> {
    IdentifierToken::parse(value).map_err(|why| invalid(format!("identifier '{value}' {why}")))
}

/// `_count`: a whole number, lowered to the largest page.
pub fn count(value: &str, sizes: PageSizes) -> Result<usize, Error> {
    let n: usize = value
        .parse()
        .map_err(|_| invalid(format!("_count '{value}' is not a whole number")))?;
    Ok(n.min(sizes.max))
}

pub fn sort(value: &str) -> Result<Sort, Error> {
    Sort::ALL
        .iter()
        .find(|(n, _)| *n == value)
        .map(|(_, s)| *s)
        .ok_or_else(|| {
            invalid(format!(
                "_sort '{value}' is not supported: date, -date, created or -created"
            ))
        })
}

/// `_summary`: which part of each resource to return (or only the count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Summary {
    True,
    False,
    Text,
    Data,
    Count,
}

impl Summary {
    pub fn param(self) -> &'static str {
        match self {
            Summary::True => "true",
            Summary::False => "false",
            Summary::Text => "text",
            Summary::Data => "data",
            Summary::Count => "count",
        }
    }
}

pub fn summary(value: &str) -> Result<Summary, Error> {
    [
        Summary::True,
        Summary::False,
        Summary::Text,
        Summary::Data,
        Summary::Count,
    ]
    .into_iter()
    .find(|s| s.param() == value)
    .ok_or_else(|| {
        invalid(format!(
            "_summary '{value}' is not supported: true, false, text, data or count"
        ))
    })
}

/// `_elements`: comma-separated top-level Appointment elements.
pub fn elements(value: &str) -> Result<Vec<String>, Error> {
    let appointment = fhir::structure::type_def("Appointment");
    let mut names: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim) {
        if appointment.and_then(|t| t.find(name)).is_none() {
            return Err(invalid(format!(
                "_elements '{name}' is not an element of Appointment"
            )));
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

pub fn unknown(name: &str) -> Error {
    // Every name understood: the patient's aliases, the other KNOWN ones, and the negotiator's.
    let understood: Vec<&str> = PATIENT_NAMES
        .iter()
        .chain(KNOWN.iter().filter(|n| **n != "patient"))
        .chain(&["_format"])
        .copied()
        .collect();
    invalid(format!(
        "'{name}' is not a search parameter of this registry: it understands {}",
        understood.join(", ")
    ))
}
