//! One error type for every failure a client can see. Each carries its HTTP status, the FHIR
//! issue type and the Spine code; `outcome.rs` renders it as a Spine-OperationOutcome.

use crate::spine::SpineCode;

/// One problem, as it will appear as an `OperationOutcome.issue`.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// FHIR IssueType code (`invalid`, `structure`, `required`, `value`, `code-invalid`, …).
    pub issue_type: &'static str,
    pub spine: SpineCode,
    /// Plain words for the reader of the response.
    pub diagnostics: String,
    /// FHIRPath of the element concerned, when there is one.
    pub expression: Option<String>,
}

impl Problem {
    pub fn new(issue_type: &'static str, spine: SpineCode, diagnostics: impl Into<String>) -> Self {
        Problem {
            issue_type,
            spine,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.expression = Some(path.into());
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the body or a parameter cannot be understood at all.
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// 403 for a missing or malformed Authorization header.
    #[error("missing or invalid header: {0}")]
    MissingOrInvalidHeader(String),
    /// 403 for a token that is not acceptable.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// 403 for a valid token without the scope the request needs.
    #[error("insufficient scope: {0}")]
    InsufficientScope(String),
    /// 403 for a valid caller who may not touch this resource (another organisation's).
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed: {0}")]
    MethodNotAllowed(String),
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    /// 408: the body did not arrive within `server.body_timeout_ms`.
    #[error("request timeout: {0}")]
    RequestTimeout(String),
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// 422: the resource breaks base FHIR or the registry's rules; every problem found.
    #[error("unprocessable: {} problem(s)", .0.len())]
    Unprocessable(Vec<Problem>),
    /// 500: logged with its whole cause chain (`chain`); the client sees nothing internal.
    #[error("{context}")]
    Internal {
        /// What was being done.
        context: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// 500 because the database could not store or read for a reason of the storage itself
    /// (disk full, I/O error, read-only or unopenable file): the writer reports the registry
    /// not ready until a write succeeds again.
    #[error("storage failure")]
    Storage(#[source] rusqlite::Error),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if is_storage_fault(&e) {
            Error::Storage(e)
        } else {
            Error::caused("database", e)
        }
    }
}

/// SQLite errors that say the storage underneath failed, not the statement.
pub fn is_storage_fault(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        e.sqlite_error_code(),
        Some(
            C::DiskFull
                | C::SystemIoFailure
                | C::ReadOnly
                | C::CannotOpen
                | C::DatabaseCorrupt
                | C::NotADatabase
        )
    )
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) | Error::InvalidParameter(_) => 400,
            Error::MissingOrInvalidHeader(_)
            | Error::AccessDenied(_)
            | Error::InsufficientScope(_)
            | Error::Forbidden(_) => 403,
            Error::NotFound(_) => 404,
            Error::MethodNotAllowed(_) => 405,
            Error::NotAcceptable(_) => 406,
            Error::Conflict(_) => 409,
            Error::RequestTimeout(_) => 408,
            Error::PreconditionFailed(_) => 412,
            Error::PayloadTooLarge(_) => 413,
            Error::UnsupportedMediaType(_) => 415,
            Error::Unprocessable(_) => 422,
            Error::Internal { .. } | Error::Storage(_) => 500,
        }
    }

    /// The issues of the OperationOutcome that answers this error.
    pub fn problems(&self) -> Vec<Problem> {
        use SpineCode as S;
        let one = |t: &'static str, s: SpineCode, d: &str| vec![Problem::new(t, s, d)];
        match self {
            Error::BadRequest(d) => one("invalid", S::BadRequest, d),
            Error::InvalidParameter(d) => one("invalid", S::InvalidParameter, d),
            Error::MissingOrInvalidHeader(d) => one("forbidden", S::MissingOrInvalidHeader, d),
            Error::AccessDenied(d) | Error::InsufficientScope(d) | Error::Forbidden(d) => {
                one("forbidden", S::AccessDenied, d)
            }
            Error::NotFound(d) => one("not-found", S::NoRecordFound, d),
            Error::MethodNotAllowed(d) => one("not-supported", S::InvalidRequestType, d),
            Error::NotAcceptable(d) => one("not-supported", S::BadRequest, d),
            Error::Conflict(d) => one("conflict", S::Conflict, d),
            Error::PreconditionFailed(d) => one("conflict", S::PreconditionFailed, d),
            // The Spine CodeSystem has no timeout code; BAD_REQUEST with FHIR issue type
            // `timeout` says what happened.
            Error::RequestTimeout(d) => one("timeout", S::BadRequest, d),
            Error::PayloadTooLarge(d) => one("too-costly", S::BadRequest, d),
            Error::UnsupportedMediaType(d) => one("not-supported", S::UnsupportedMediaType, d),
            Error::Unprocessable(problems) => problems.clone(),
            // The cause stays in the log; the client learns only that it may retry.
            Error::Internal { .. } | Error::Storage(_) => one(
                "exception",
                S::InternalServerError,
                "the registry could not complete the request; it is safe to retry",
            ),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Error::Internal {
            context: cause.to_string(),
            source: None,
        }
    }

    /// A 500 while doing `context`, keeping the error that caused it for the log.
    pub fn caused(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Internal {
            context: context.into(),
            source: Some(Box::new(source)),
        }
    }

    /// Whether SQLite refused at once because a lock was held (SQLITE_BUSY or SQLITE_LOCKED):
    /// worth trying again where waiting is allowed.
    pub fn is_sqlite_busy(&self) -> bool {
        matches!(
            self.sqlite_code(),
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
        )
    }

    /// Whether SQLite stopped a statement because it was interrupted (SQLITE_INTERRUPT: a
    /// progress handler's budget ran out): worth running again without the budget.
    pub fn is_sqlite_interrupted(&self) -> bool {
        self.sqlite_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
    }

    fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        let Error::Internal {
            source: Some(source),
            ..
        } = self
        else {
            return None;
        };
        source
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
    }

    /// This error and every cause under it, `outer: inner: innermost`, for the log.
    pub fn chain(&self) -> String {
        crate::error_chain::chain(self)
    }
}

/// A 422 with one problem.
pub fn unprocessable(problem: Problem) -> Error {
    Error::Unprocessable(vec![problem])
}

/// A 422 `INVALID_REQUEST_STATE`: the resource exists but its state does not allow the change.
pub fn invalid_request_state(diagnostics: impl Into<String>) -> Error {
    unprocessable(Problem::new(
        "business-rule",
        SpineCode::InvalidRequestState,
        diagnostics,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_500_keeps_its_causes_for_the_log_and_shows_the_client_none() {
        let cause = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let err = Error::caused("reading a stored resource", cause);
        let chain = err.chain();
        assert!(
            chain.starts_with("reading a stored resource: EOF while parsing"),
            "{chain}"
        );
        let shown = &err.problems()[0].diagnostics;
        assert!(
            !shown.contains("EOF") && shown.contains("safe to retry"),
            "{shown}"
        );

        let db = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some("UNIQUE constraint failed".into()),
        );
        let chain = Error::from(db).chain();
        assert!(
            chain.starts_with("database: UNIQUE constraint failed"),
            "{chain}"
        );
    }

    /// What sends an inline read to the blocking pool: a lock or a spent budget, nothing else.
    #[test]
    fn busy_and_locked_are_told_apart_from_other_failures() {
        let sqlite = |code| {
            Error::from(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(code),
                None,
            ))
        };
        assert!(sqlite(rusqlite::ffi::SQLITE_BUSY).is_sqlite_busy());
        assert!(sqlite(rusqlite::ffi::SQLITE_LOCKED).is_sqlite_busy());
        assert!(!sqlite(rusqlite::ffi::SQLITE_CONSTRAINT).is_sqlite_busy());
        assert!(!sqlite(rusqlite::ffi::SQLITE_IOERR).is_sqlite_busy());
        assert!(!sqlite(rusqlite::ffi::SQLITE_INTERRUPT).is_sqlite_busy());
        assert!(sqlite(rusqlite::ffi::SQLITE_INTERRUPT).is_sqlite_interrupted());
        assert!(!sqlite(rusqlite::ffi::SQLITE_BUSY).is_sqlite_interrupted());
        assert!(!Error::NotFound("x".into()).is_sqlite_busy());
    }
}
