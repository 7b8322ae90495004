//! The `_page` token of keyset paging: where the previous page ended (sort value and id) and
//! the date bound fixed on the first page, so pages neither repeat nor skip entries.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{invalid, PageKey, SearchQuery};
use crate::error::Error;
use crate::fhir;
use crate::registry::instant;

/// The token for the page after the one that ended at `last`.
pub fn write(query: &SearchQuery, last: &PageKey) -> String {
    let token = [
        query.sort.param(),
        &last.sort_value,
        &last.id,
        query.not_before.as_deref().unwrap_or(""),
    ]
    .join("|");
    URL_SAFE_NO_PAD.encode(token)
}

/// Checks a `_page` token against the query it came with: it must be one this registry made
/// for the same sort and the same date bounding.
pub fn read(token: &str, query: &SearchQuery) -> Result<(PageKey, Option<String>), Error> {
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
    let not_before = match (*not_before, query.not_before.is_some()) {
        ("", false) => None,
        (t, true) if instant::is_column(t) => Some(t.to_string()),
        _ => return Err(bad()),
    };
    if *sort != query.sort.param() || !instant::is_column(value) || !fhir::id::is_valid(id) {
        return Err(bad());
    }
    let key = PageKey {
        sort_value: value.to_string(),
        id: id.to_string(),
    };
    Ok((key, not_before))
}
