//! Search (RULES.md §4): the parameters a client may send, what each means, and the typed
//! query they make. No HTTP and no SQL here: `store::search` runs the query, `http::search`
//! answers with a Bundle.

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use time::OffsetDateTime;

use crate::error::Error;
use crate::fhir;
use crate::registry::identifier::IdentifierToken;
use crate::registry::patient::{NATIONAL_PATIENT_BASE, NHS_NUMBER_SYSTEM};
pub use crate::registry::search_date::{DateBound, Prefix};
use crate::registry::{instant, nhs_number, search_date};

/// `_count` when the search gives none (the default of `search.default_count`).
pub const DEFAULT_COUNT: usize = 50;
/// The largest page (the default of `search.max_count`); a larger `_count` is lowered to it
/// (FHIR lets a server return fewer).
pub const MAX_COUNT: usize = 500;

/// Page sizes, from the configuration.
#[derive(Debug, Clone, Copy)]
pub struct PageSizes {
    pub default: usize,
    pub max: usize,
}

impl Default for PageSizes {
    fn default() -> Self {
        PageSizes {
            default: DEFAULT_COUNT,
            max: MAX_COUNT,
        }
    }
}

/// The names that mean the patient; the last is the NHS page's original name.
const PATIENT_NAMES: [&str; 3] = ["patient", "actor", "Appointment.participant.actor"];
/// Every parameter the registry understands (`_format` is the negotiator's).
pub const SUPPORTED: &str = "patient, actor, Appointment.participant.actor, date, created, \
                             status, identifier, _count, _sort, _page, _format";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Start,
    Created,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

impl Sort {
    const ALL: [(&'static str, Sort); 4] = [
        ("date", Sort::new(SortKey::Start, false)),
        ("-date", Sort::new(SortKey::Start, true)),
        ("created", Sort::new(SortKey::Created, false)),
        ("-created", Sort::new(SortKey::Created, true)),
    ];

    const fn new(key: SortKey, descending: bool) -> Sort {
        Sort { key, descending }
    }

    pub fn param(self) -> &'static str {
        Sort::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("date", |(name, _)| name)
    }
}

/// Where the previous page ended: its last sort value and id (keyset paging).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageKey {
    pub sort_value: String,
    pub id: String,
}

#[derive(Debug, Clone)]
pub struct SearchQuery {
    pub nhs_number: String,
    /// Conditions on `Appointment.start`, all of which must hold.
    pub start: Vec<DateBound>,
    pub created: Vec<DateBound>,
    /// Any of these statuses; empty means any status.
    pub statuses: Vec<String>,
    pub identifier: Option<IdentifierToken>,
    pub count: usize,
    pub sort: Sort,
    /// Leave out appointments starting before this (the search set no `date`). Fixed on the
    /// first page and carried in `_page`, so an appointment whose start passes while a client
    /// pages is not lost between pages.
    pub not_before: Option<String>,
    /// Results come after this key.
    pub after: Option<PageKey>,
    /// The accepted parameters in a fixed order, for the Bundle's links.
    canonical: Vec<(&'static str, String)>,
    page_token: Option<String>,
}

fn invalid(message: String) -> Error {
    Error::InvalidParameter(message)
}

/// The query a search's parameters make (URL and form body pairs together). `now` decides
/// which appointments are past.
pub fn parse(
    pairs: &[(String, String)],
    now: OffsetDateTime,
    sizes: PageSizes,
) -> Result<SearchQuery, Error> {
    let mut seen = HashSet::new();
    let (mut patient, mut identifier, mut page) = (None, None, None);
    let (mut start, mut created, mut statuses) = (Vec::new(), Vec::new(), Vec::new());
    let mut raw_start = Vec::new();
    let mut raw_created = Vec::new();
    let (mut count, mut sort) = (sizes.default, Sort::new(SortKey::Start, false));
    let (mut raw_count, mut raw_status) = (None, None);
    for (name, value) in pairs {
        let name = name.as_str();
        if name == "_format" {
            continue;
        }
        let canonical = if PATIENT_NAMES.contains(&name) {
            "patient"
        } else {
            name
        };
        let repeatable = matches!(name, "date" | "created");
        if !repeatable && !seen.insert(canonical.to_string()) {
            return Err(invalid(format!(
                "'{name}' may appear only once (patient, actor and Appointment.participant.actor \
                 are one parameter); combine status codes with commas"
            )));
        }
        if value.is_empty() {
            return Err(invalid(format!("'{name}' has no value")));
        }
        match canonical {
            "patient" => patient = Some(nhs(name, value)?),
            "date" | "created" => {
                let bound = search_date::parse(value).ok_or_else(|| {
                    invalid(format!(
                        "{name} '{value}' is not a search date: [eq|ne|lt|le|gt|ge] then \
                         YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]][Z|±hh:mm]"
                    ))
                })?;
                let (bounds, raw) = if name == "date" {
                    (&mut start, &mut raw_start)
                } else {
                    (&mut created, &mut raw_created)
                };
                bounds.push(bound);
                raw.push(value.clone());
            }
            "status" => {
                for code in value.split(',') {
                    let allowed = fhir::structure::codes("Appointment", "status");
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
                raw_status = Some(statuses.join(","));
            }
            "identifier" => {
                identifier = Some(
                    IdentifierToken::parse(value)
                        .map_err(|why| invalid(format!("identifier '{value}' {why}")))?,
                )
            }
            "_count" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| invalid(format!("_count '{value}' is not a whole number")))?;
                count = n.min(sizes.max);
                raw_count = Some(count);
            }
            "_sort" => {
                sort = Sort::ALL
                    .iter()
                    .find(|(n, _)| n == value)
                    .map(|(_, s)| *s)
                    .ok_or_else(|| {
                        invalid(format!(
                            "_sort '{value}' is not supported: date, -date, created or -created"
                        ))
                    })?;
            }
            "_page" => page = Some(value.clone()),
            _ => {
                return Err(invalid(format!(
                "'{name}' is not a search parameter of this registry: it understands {SUPPORTED}"
            )))
            }
        }
    }
    let nhs_number = patient.ok_or_else(|| {
        invalid("a patient is required: patient=https://demographics.spineservices.nhs.uk/Patient/{nhs-number} (or actor, or Appointment.participant.actor)".into())
    })?;

    let mut canonical = vec![("patient", format!("{NATIONAL_PATIENT_BASE}{nhs_number}"))];
    canonical.extend(raw_start.into_iter().map(|v| ("date", v)));
    canonical.extend(raw_created.into_iter().map(|v| ("created", v)));
    canonical.extend(raw_status.map(|v| ("status", v)));
    canonical.extend(identifier.as_ref().map(|id| ("identifier", id.to_param())));
    canonical.push(("_sort", sort.param().to_string()));
    canonical.extend(raw_count.map(|n| ("_count", n.to_string())));

    let mut query = SearchQuery {
        nhs_number,
        not_before: start.is_empty().then(|| instant::to_column(now)),
        start,
        created,
        statuses,
        identifier,
        count,
        sort,
        after: None,
        canonical,
        page_token: None,
    };
    if let Some(token) = page {
        let (key, not_before) = read_token(&token, &query)?;
        query.after = Some(key);
        query.not_before = not_before;
        query.page_token = Some(token);
    }
    Ok(query)
}

impl SearchQuery {
    /// The parameters of this page's `self` link.
    pub fn self_params(&self) -> Vec<(&'static str, String)> {
        let mut params = self.canonical.clone();
        params.extend(self.page_token.clone().map(|t| ("_page", t)));
        params
    }

    /// The parameters of the page after the one that ended at `last` (sort value, id).
    pub fn next_params(&self, last: &PageKey) -> Vec<(&'static str, String)> {
        let token = [
            self.sort.param(),
            &last.sort_value,
            &last.id,
            self.not_before.as_deref().unwrap_or(""),
        ]
        .join("|");
        let mut params = self.canonical.clone();
        params.push(("_page", URL_SAFE_NO_PAD.encode(token)));
        params
    }
}

/// A patient in any accepted form; its NHS number must pass Modulus 11.
fn nhs(name: &str, value: &str) -> Result<String, Error> {
    let token = format!("{NHS_NUMBER_SYSTEM}|");
    let number = value
        .strip_prefix(NATIONAL_PATIENT_BASE)
        .or_else(|| value.strip_prefix("Patient/"))
        .or_else(|| value.strip_prefix(token.as_str()))
        .unwrap_or(value);
    if nhs_number::is_valid(number) {
        Ok(number.to_string())
    } else {
        Err(invalid(format!(
            "{name} '{value}' does not name a patient by a valid NHS number (10 digits with a \
             Modulus 11 check digit): use {NATIONAL_PATIENT_BASE}{{nhs}}, Patient/{{nhs}}, {{nhs}} \
             or {NHS_NUMBER_SYSTEM}|{{nhs}}"
        )))
    }
}

/// Checks a `_page` token against the query it came with: it must be one this registry made
/// for the same sort and the same date bounding.
fn read_token(token: &str, query: &SearchQuery) -> Result<(PageKey, Option<String>), Error> {
    let bad = || {
        invalid(format!(
            "_page '{token}' is not a page of this search: follow the Bundle's next link as it is"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('|').collect();
    let [sort, value, id, not_before] = parts.as_slice() else {
        return Err(bad());
    };
    let id_ok = fhir::id::is_valid(id);
    let not_before = match (*not_before, query.not_before.is_some()) {
        ("", false) => None,
        (t, true) if instant::is_column(t) => Some(t.to_string()),
        _ => return Err(bad()),
    };
    if *sort != query.sort.param() || !instant::is_column(value) || !id_ok {
        return Err(bad());
    }
    let key = PageKey {
        sort_value: value.to_string(),
        id: id.to_string(),
    };
    Ok((key, not_before))
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
