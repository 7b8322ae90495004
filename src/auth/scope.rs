//! Scopes and caller identity taken from verified claims.

use serde_json::Value;

use super::{Access, AuthError, Caller};

/// FHIR identifier system of ODS organisation codes.
pub const ODS_ORGANIZATION_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
/// FHIR identifier system of Spine accredited-system ids (ASIDs).
pub const ACCREDITED_SYSTEM: &str = "https://fhir.nhs.uk/Id/accredited-system";

const WRITE_SCOPES: [&str; 2] = ["patient/Appointment.write", "patient/*.write"];
const READ_SCOPES: [&str; 2] = ["patient/Appointment.read", "patient/*.read"];

/// Default of `auth.scope_claim`.
pub const DEFAULT_SCOPE_CLAIM: &str = "scope";
/// Default of `auth.organisation_claim`.
pub const DEFAULT_ORGANISATION_CLAIM: &str = "requesting_organization";

/// Where a token's permissions and organisation are read, and what its permissions mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permissions {
    /// The claim holding the permissions (a space-separated string or an array of strings).
    /// With the default `scope`, `requested_scope` is read too, as before.
    pub scope_claim: String,
    /// Role names granting reading. When this or `write_roles` is non-empty, the claim's values
    /// are matched against the roles instead of the SMART scopes.
    pub read_roles: Vec<String>,
    /// Role names granting writing (and reading).
    pub write_roles: Vec<String>,
    /// The claim naming the requesting organisation; `sub` when the token has none.
    pub organisation_claim: String,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions {
            scope_claim: DEFAULT_SCOPE_CLAIM.to_string(),
            read_roles: Vec::new(),
            write_roles: Vec::new(),
            organisation_claim: DEFAULT_ORGANISATION_CLAIM.to_string(),
        }
    }
}

/// Values of the permission claim (and of `requested_scope` with the default `scope` claim):
/// space-separated strings, or arrays of them.
fn scopes(claims: &Value, scope_claim: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let names: &[&str] = if scope_claim == DEFAULT_SCOPE_CLAIM {
        &["scope", "requested_scope"]
    } else {
        &[scope_claim]
    };
    for &name in names {
        let texts: Vec<&str> = match claims.get(name) {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for scope in texts.iter().flat_map(|t| t.split_whitespace()) {
            if !out.iter().any(|s| s == scope) {
                out.push(scope.to_string());
            }
        }
    }
    out
}

/// Value of a `system|value` string, a plain string, or the identifier with `system` in a FHIR
/// resource object (`{"resourceType": .., "identifier": [{"system": .., "value": ..}]}`).
fn identifier(claim: Option<&Value>, system: &str) -> Option<String> {
    let value = match claim? {
        Value::String(s) => {
            let s = s.trim();
            s.strip_prefix(system)
                .and_then(|rest| rest.strip_prefix('|'))
                .unwrap_or(s)
                .to_string()
        }
        Value::Object(resource) => {
            let ids = resource.get("identifier")?;
            // `identifier` is an array in FHIR, but tolerate a lone object.
            let list = match ids {
                Value::Array(list) => list.as_slice(),
                single @ Value::Object(_) => std::slice::from_ref(single),
                _ => return None,
            };
            list.iter()
                .find(|id| id.get("system").and_then(Value::as_str) == Some(system))
                .and_then(|id| id.get("value"))
                .and_then(Value::as_str)?
                .trim()
                .to_string()
        }
        _ => return None,
    };
    (!value.is_empty()).then_some(value)
}

pub(crate) fn caller_from_claims(claims: &Value, permissions: &Permissions) -> Caller {
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let org = identifier(
        claims.get(permissions.organisation_claim.as_str()),
        ODS_ORGANIZATION_CODE,
    )
    .or_else(|| subject.clone());
    let system = identifier(claims.get("requesting_system"), ACCREDITED_SYSTEM);
    Caller {
        org,
        system,
        subject,
        scopes: scopes(claims, &permissions.scope_claim),
    }
}

/// Checks that the scopes (or roles) allow `access`; write implies read.
pub(crate) fn require(
    scopes: &[String],
    access: Access,
    permissions: &Permissions,
) -> Result<(), AuthError> {
    if !permissions.read_roles.is_empty() || !permissions.write_roles.is_empty() {
        return require_roles(scopes, access, permissions);
    }
    let has = |wanted: &[&str]| scopes.iter().any(|s| wanted.contains(&s.as_str()));
    match access {
        Access::Write if has(&WRITE_SCOPES) => Ok(()),
        Access::Write => Err(AuthError::InsufficientScope(
            "writing appointments needs scope patient/Appointment.write (or patient/*.write)"
                .to_string(),
        )),
        Access::Read if has(&READ_SCOPES) || has(&WRITE_SCOPES) => Ok(()),
        Access::Read => Err(AuthError::InsufficientScope(
            "reading appointments needs scope patient/Appointment.read (or patient/*.read, \
             or a write scope)"
                .to_string(),
        )),
    }
}

/// `require` when `auth.roles` are configured: the claim's values are role names.
fn require_roles(
    values: &[String],
    access: Access,
    permissions: &Permissions,
) -> Result<(), AuthError> {
    let has = |wanted: &[String]| values.iter().any(|v| wanted.contains(v));
    let names = |roles: &[String]| roles.join(", ");
    let claim = &permissions.scope_claim;
    match access {
        Access::Write if has(&permissions.write_roles) => Ok(()),
        Access::Write => Err(AuthError::InsufficientScope(format!(
            "writing appointments needs one of the roles [{}] in the \"{claim}\" claim",
            names(&permissions.write_roles)
        ))),
        Access::Read if has(&permissions.read_roles) || has(&permissions.write_roles) => Ok(()),
        Access::Read => Err(AuthError::InsufficientScope(format!(
            "reading appointments needs one of the roles [{}] in the \"{claim}\" claim",
            names(&[&permissions.read_roles[..], &permissions.write_roles[..]].concat())
        ))),
    }
}
