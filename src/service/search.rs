//! Search (RULES.md §4): the parameters make a typed query (`registry::search`), the store runs
//! it; the caller renders the page and its links.

use time::OffsetDateTime;

use crate::error::Error;
use crate::registry::search::{self, Handling, PageSizes, SearchQuery};
use crate::store::{Page, Store};

/// The query the parameters make (URL and form pairs together), and its page of results.
pub async fn search(
    store: &Store,
    pairs: &[(String, String)],
    sizes: PageSizes,
    handling: Handling,
) -> Result<(SearchQuery, Page), Error> {
    let query = search::parse_with(pairs, OffsetDateTime::now_utc(), sizes, handling)?;
    let page = store.search(query.clone()).await?;
    Ok((query, page))
}
