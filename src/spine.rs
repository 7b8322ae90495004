//! The Spine error or warning codes the registry answers with, from
//! `https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1` (code and display verbatim).

pub const SYSTEM: &str = "https://fhir.nhs.uk/STU3/CodeSystem/Spine-ErrorOrWarningCode-1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpineCode {
    BadRequest,
    InvalidParameter,
    MissingOrInvalidHeader,
    AccessDenied,
    NoRecordFound,
    InvalidRequestType,
    /// 409: no dedicated Spine code exists; the state code reads true for a stale version.
    Conflict,
    PreconditionFailed,
    UnsupportedMediaType,
    InvalidResource,
    InvalidNhsNumber,
    DuplicateRejected,
    InvalidRequestState,
    InternalServerError,
    ResourceCreated,
    ResourceUpdated,
}

impl SpineCode {
    /// The code exactly as the CodeSystem spells it. Note "ACCESS DENIED" has a space there
    /// (unlike its neighbours); we emit the CodeSystem's code so the coding validates.
    pub fn code(self) -> &'static str {
        match self {
            SpineCode::BadRequest => "BAD_REQUEST",
            SpineCode::InvalidParameter => "INVALID_PARAMETER",
            SpineCode::MissingOrInvalidHeader => "MISSING_OR_INVALID_HEADER",
            SpineCode::AccessDenied => "ACCESS DENIED",
            SpineCode::NoRecordFound => "NO_RECORD_FOUND",
            SpineCode::InvalidRequestType => "INVALID_REQUEST_TYPE",
            SpineCode::Conflict | SpineCode::InvalidRequestState => "INVALID_REQUEST_STATE",
            SpineCode::PreconditionFailed => "PRECONDITION_FAILED",
            SpineCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            SpineCode::InvalidResource => "INVALID_RESOURCE",
            SpineCode::InvalidNhsNumber => "INVALID_NHS_NUMBER",
            SpineCode::DuplicateRejected => "DUPLICATE_REJECTED",
            SpineCode::InternalServerError => "INTERNAL_SERVER_ERROR",
            SpineCode::ResourceCreated => "RESOURCE_CREATED",
            SpineCode::ResourceUpdated => "RESOURCE_UPDATED",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            SpineCode::BadRequest => "Bad request",
            SpineCode::InvalidParameter => "Invalid parameter",
            SpineCode::MissingOrInvalidHeader => "There is a required header missing or invalid",
            SpineCode::AccessDenied => "Access has been denied to process this request",
            SpineCode::NoRecordFound => "No record found",
            SpineCode::InvalidRequestType => "The type of request is not supported by the API call",
            SpineCode::Conflict | SpineCode::InvalidRequestState => {
                "The request exists but is not in an appropriate state for the call to succeed"
            }
            SpineCode::PreconditionFailed => "Precondition failed",
            SpineCode::UnsupportedMediaType => "Unsupported media type",
            SpineCode::InvalidResource => "Invalid validation of resource",
            SpineCode::InvalidNhsNumber => "Invalid NHS number",
            SpineCode::DuplicateRejected => "Create would lead to creation of a duplicate resource",
            SpineCode::InternalServerError => "Unexpected internal server error",
            SpineCode::ResourceCreated => "New resource created",
            SpineCode::ResourceUpdated => "Resource has been successfully updated",
        }
    }
}
