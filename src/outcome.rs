//! Errors as Spine-OperationOutcome resources (FHIR JSON values, written by `fhir::write_*`).

use serde_json::{json, Value};

use crate::error::{Error, Problem};
use crate::spine::{self, SpineCode};

pub const PROFILE: &str = "https://fhir.nhs.uk/STU3/StructureDefinition/Spine-OperationOutcome-1";

pub fn from_error(error: &Error) -> Value {
    from_problems(&error.problems())
}

pub fn from_problems(problems: &[Problem]) -> Value {
    let issues: Vec<Value> = problems.iter().map(issue).collect();
    json!({
        "resourceType": "OperationOutcome",
        "meta": { "profile": [PROFILE] },
        "issue": issues,
    })
}

fn issue(p: &Problem) -> Value {
    issue_of("error", p.issue_type, p.spine, &diagnostics(p))
}

fn issue_of(severity: &str, issue_type: &str, code: SpineCode, diagnostics: &str) -> Value {
    json!({
        "severity": severity,
        "code": issue_type,
        "details": { "coding": [{
            "system": spine::SYSTEM,
            "code": code.code(),
            "display": code.display(),
        }]},
        "diagnostics": diagnostics,
    })
}

/// The Spine profile forbids `issue.expression` (max 0), so the element path leads the
/// diagnostics instead: "Appointment.participant[0].status: required element missing".
fn diagnostics(p: &Problem) -> String {
    match &p.expression {
        Some(path) => format!("{path}: {}", p.diagnostics),
        None => p.diagnostics.clone(),
    }
}

/// The answer of `$validate`: errors, then warnings; one `information` issue when there is
/// neither.
pub fn validation_report(errors: &[Problem], warnings: &[Problem]) -> Value {
    let mut issues: Vec<Value> = errors.iter().map(issue).collect();
    issues.extend(
        warnings
            .iter()
            .map(|p| issue_of("warning", p.issue_type, p.spine, &diagnostics(p))),
    );
    if issues.is_empty() {
        issues.push(issue_of(
            "information",
            "informational",
            SpineCode::ResourceCreated,
            "the appointment is valid: a registration of it would be accepted",
        ));
    }
    json!({
        "resourceType": "OperationOutcome",
        "meta": { "profile": [PROFILE] },
        "issue": issues,
    })
}

/// A success told as an OperationOutcome (`Prefer: return=OperationOutcome`).
pub fn information(code: SpineCode, diagnostics: &str) -> Value {
    json!({
        "resourceType": "OperationOutcome",
        "meta": { "profile": [PROFILE] },
        "issue": [issue_of("information", "informational", code, diagnostics)],
    })
}
