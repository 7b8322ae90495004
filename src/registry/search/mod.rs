//! Search (RULES.md §4): the parameters a client may send, what each means, and the typed
//! query they make. No HTTP and no SQL here: `store::search` runs the query, `http::search`
//! answers with a Bundle.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::error::Error;
use crate::registry::identifier::IdentifierToken;
use crate::registry::instant;
use crate::registry::patient::NATIONAL_PATIENT_BASE;
pub use crate::registry::search_date::{DateBound, Prefix};

mod page_token;
mod params;

pub use crate::fhir::subset::Subset;
pub use params::Summary;

/// `Prefer: handling=` (FHIR R4, honoured by the major servers whatever their version):
/// `strict` (the default) refuses unknown parameters; `lenient` ignores them and says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Handling {
    #[default]
    Strict,
    Lenient,
}

/// `_count` when the search gives none, and the largest page (a larger `_count` is lowered to
/// it; FHIR lets a server return fewer): the defaults of `search.default_count`/`max_count`.
pub use crate::config::{DEFAULT_COUNT, MAX_COUNT};

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
pub(crate) const PATIENT_NAMES: [&str; 3] = ["patient", "actor", "Appointment.participant.actor"];

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
    pub(crate) const ALL: [(&'static str, Sort); 4] = [
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

/// The largest `Bundle.total` a page of results counts up to. Beyond it the total is left out
/// (STU3 makes `Bundle.total` optional), so a page costs the same however long the patient's
/// history is: the count reads at most this many matches plus one.
pub const TOTAL_LIMIT: usize = 1000;

/// Where a search's `Bundle.total` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    /// The total is all that was asked for (`_summary=count`, `_count=0`): counted exactly,
    /// however many matches there are.
    Exact,
    /// A first page: its own length when it holds every match, else counted up to the limit;
    /// past the limit, no total.
    UpTo(usize),
    /// A later page: what the first page said (None: it gave no total), carried in `_page`;
    /// nothing is counted.
    Carried(Option<usize>),
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
    /// How `Bundle.total` is found.
    pub total: Total,
    /// Whether `_count` was given (the links repeat it only then).
    count_given: bool,
    /// `_summary`, as given (`count` makes `count` 0: the total only).
    pub summary: Option<Summary>,
    /// `_elements`, as given.
    pub elements: Option<Vec<String>>,
    /// Parameters ignored under `Prefer: handling=lenient`, by name.
    pub ignored: Vec<String>,
    page_token: Option<String>,
}

fn invalid(message: String) -> Error {
    Error::InvalidParameter(message)
}

/// The query a search's parameters make (URL and form body pairs together). `now` decides
/// which appointments are past. Each parameter's rule is its own function in `params`.
pub fn parse(
    pairs: &[(String, String)],
    now: OffsetDateTime,
    sizes: PageSizes,
) -> Result<SearchQuery, Error> {
    parse_with(pairs, now, sizes, Handling::Strict)
}

/// As [`parse`], with `handling` deciding what an unknown parameter does.
pub fn parse_with(
    pairs: &[(String, String)],
    now: OffsetDateTime,
    sizes: PageSizes,
    handling: Handling,
) -> Result<SearchQuery, Error> {
    let mut seen = HashSet::new();
    let mut found = Found::default();
    for (name, value) in pairs {
        let name = name.as_str();
        if name == "_format" {
            continue; // the negotiator's
        }
        let canonical = params::canonical_name(name);
        if !params::KNOWN.contains(&canonical) {
            // Unknown: refused, or (lenient) ignored whatever its value and however often.
            if handling == Handling::Strict {
                return Err(params::unknown(name));
            }
            if !found.ignored.iter().any(|n| n == name) {
                found.ignored.push(name.to_string());
            }
            continue;
        }
        params::check_once(&mut seen, name, canonical)?;
        if value.is_empty() {
            return Err(invalid(format!("'{name}' has no value")));
        }
        match canonical {
            "patient" => found.nhs_number = Some(params::patient(name, value)?),
            "date" => found.start.push(params::date(name, value)?),
            "created" => found.created.push(params::date(name, value)?),
            "status" => params::status(value, &mut found.statuses)?,
            "identifier" => found.identifier = Some(params::identifier(value)?),
            "_count" => found.count = Some(params::count(value, sizes)?),
            "_sort" => found.sort = Some(params::sort(value)?),
            "_page" => found.page = Some(value.clone()),
            "_summary" => found.summary = Some(params::summary(value)?),
            "_elements" => found.elements = Some(params::elements(value)?),
            _ => return Err(params::unknown(name)), // KNOWN and this match list the same names
        }
    }
    found.into_query(now, sizes)
}

/// The parameters as read, before the query is put together.
#[derive(Default)]
struct Found {
    nhs_number: Option<String>,
    start: Vec<DateBound>,
    created: Vec<DateBound>,
    statuses: Vec<String>,
    identifier: Option<IdentifierToken>,
    count: Option<usize>,
    sort: Option<Sort>,
    page: Option<String>,
    summary: Option<Summary>,
    elements: Option<Vec<String>>,
    ignored: Vec<String>,
}

impl Found {
    fn into_query(self, now: OffsetDateTime, sizes: PageSizes) -> Result<SearchQuery, Error> {
        let nhs_number = self.nhs_number.ok_or_else(|| {
            invalid("a patient is required: patient=https://demographics.spineservices.nhs.uk/Patient/{nhs-number} (or actor, or Appointment.participant.actor)".into())
        })?;
        if self.elements.is_some() && self.summary.is_some_and(|s| s != Summary::False) {
            return Err(invalid(
                "_summary and _elements choose the returned elements two ways: use one".into(),
            ));
        }
        let count = match self.summary {
            Some(Summary::Count) => 0,
            _ => self.count.unwrap_or(sizes.default),
        };
        let mut query = SearchQuery {
            nhs_number,
            not_before: self.start.is_empty().then(|| instant::to_column(now)),
            start: self.start,
            created: self.created,
            statuses: self.statuses,
            identifier: self.identifier,
            count,
            count_given: self.count.is_some(),
            summary: self.summary,
            elements: self.elements,
            ignored: self.ignored,
            sort: self.sort.unwrap_or(Sort::new(SortKey::Start, false)),
            after: None,
            total: Total::UpTo(TOTAL_LIMIT),
            page_token: None,
        };
        if let Some(token) = self.page {
            let read = page_token::read(&token, &query)?;
            query.after = Some(read.after);
            query.not_before = read.not_before;
            query.total = Total::Carried(read.total);
            query.page_token = Some(token);
        }
        if count == 0 {
            query.total = Total::Exact;
        }
        Ok(query)
    }
}

impl SearchQuery {
    /// The accepted parameters in a fixed order, for the Bundle's links.
    fn canonical(&self) -> Vec<(&'static str, String)> {
        let mut params = vec![(
            "patient",
            format!("{NATIONAL_PATIENT_BASE}{}", self.nhs_number),
        )];
        params.extend(self.start.iter().map(|b| ("date", b.text.clone())));
        params.extend(self.created.iter().map(|b| ("created", b.text.clone())));
        if !self.statuses.is_empty() {
            params.push(("status", self.statuses.join(",")));
        }
        params.extend(
            self.identifier
                .as_ref()
                .map(|id| ("identifier", id.to_param())),
        );
        params.push(("_sort", self.sort.param().to_string()));
        if self.count_given {
            params.push(("_count", self.count.to_string()));
        }
        params.extend(self.summary.map(|s| ("_summary", s.param().to_string())));
        params.extend(self.elements.as_ref().map(|e| ("_elements", e.join(","))));
        params
    }

    /// How each returned resource is cut, if it is.
    pub fn subset(&self) -> Option<Subset> {
        match (&self.elements, self.summary) {
            (Some(names), _) => Some(Subset::Elements(names.clone())),
            (None, Some(Summary::True)) => Some(Subset::Summary),
            (None, Some(Summary::Text)) => Some(Subset::Text),
            (None, Some(Summary::Data)) => Some(Subset::Data),
            _ => None,
        }
    }

    /// The parameters of this page's `self` link.
    pub fn self_params(&self) -> Vec<(&'static str, String)> {
        let mut params = self.canonical();
        params.extend(self.page_token.clone().map(|t| ("_page", t)));
        params
    }

    /// The parameters of the page after the one that ended at `last` (sort value, id), on
    /// which `total` (this page's `Bundle.total`) is repeated.
    pub fn next_params(&self, last: &PageKey, total: Option<usize>) -> Vec<(&'static str, String)> {
        let mut params = self.canonical();
        params.push(("_page", page_token::write(self, last, total)));
        params
    }
}

#[cfg(test)]
mod tests;
