//! The two shapes of a broken registry rule, as OperationOutcome issues: a rule not met, and a
//! required element missing. Every rule module reports through these.

use crate::error::Problem;
use crate::spine::SpineCode;

/// A registry rule not met by the element at `path`.
pub(crate) fn rule(path: impl Into<String>, diagnostics: impl Into<String>) -> Problem {
    Problem::new("business-rule", SpineCode::InvalidResource, diagnostics).at(path)
}

/// An element a registration requires, missing at `path`.
pub(crate) fn missing(path: &str, what: &str) -> Problem {
    Problem::new(
        "required",
        SpineCode::InvalidResource,
        format!("required for a registration: {what}"),
    )
    .at(path)
}
