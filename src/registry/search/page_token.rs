//! The `_page` token of keyset paging: where the previous page ended (sort value and id), the
//! date bound fixed on the first page, so pages neither repeat nor skip entries, and the first
//! page's `Bundle.total`, so later pages repeat it without counting again.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{invalid, PageKey, SearchQuery, TOTAL_LIMIT};
use crate::error::Error;
use crate::fhir;
use crate::registry::instant;

/// What a token says about the page it asks for.
#[derive(Debug)]
pub struct Read {
    pub after: PageKey,
    pub not_before: Option<String>,
    /// The first page's total (None: it gave none).
    pub total: Option<usize>,
}

/// The token for the page after the one that ended at `last`; `total` is the total of the page
/// that ended there.
pub fn write(query: &SearchQuery, last: &PageKey, total: Option<usize>) -> String {
    let total = total.map(|n| n.to_string()).unwrap_or_default();
    let token = [
        query.sort.param(),
        &last.sort_value,
        &last.id,
        query.not_before.as_deref().unwrap_or(""),
        &total,
    ]
    .join("|");
    URL_SAFE_NO_PAD.encode(token)
}

/// Checks a `_page` token against the query it came with: it must be one this registry made
/// for the same sort and the same date bounding. A token of four parts (made before the total
/// was carried) reads as a page without a total.
pub fn read(token: &str, query: &SearchQuery) -> Result<Read, Error> {
    let bad = || {
        invalid(format!(
            "_page '{token}' is not a page of this search: follow the Bundle's next link as it is"
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let parts: Vec<&str> = text.split('|').collect();
    let (sort, value, id, not_before, total) = match parts.as_slice() {
        [sort, value, id, not_before] => (sort, value, id, not_before, ""),
        [sort, value, id, not_before, total] => (sort, value, id, not_before, *total),
        _ => return Err(bad()),
    };
    let not_before = match (*not_before, query.not_before.is_some()) {
        ("", false) => None,
        (t, true) if instant::is_column(t) => Some(t.to_string()),
        _ => return Err(bad()),
    };
    if *sort != query.sort.param() || !instant::is_column(value) || !fhir::id::is_valid(id) {
        return Err(bad());
    }
    let total = match total {
        "" => None,
        // The registry writes no total past the limit: a larger one was not written here.
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => Some(
            digits
                .parse()
                .ok()
                .filter(|n| *n <= TOTAL_LIMIT)
                .ok_or_else(bad)?,
        ),
        _ => return Err(bad()),
    };
    Ok(Read {
        after: PageKey {
            sort_value: value.to_string(),
            id: id.to_string(),
        },
        not_before,
        total,
    })
}
