//! Read an appointment (its current version), one version of it (vread), or its history.

use super::resource::check_id;
use crate::error::Error;
use crate::store::{Store, StoredVersion};

pub async fn current(store: &Store, id: String) -> Result<StoredVersion, Error> {
    check_id(&id)?;
    store
        .current(id)
        .await?
        .ok_or_else(|| Error::NotFound("no appointment with that id is registered".into()))
}

/// `vid` as given in the URL: a positive whole number, else 400.
pub async fn version(store: &Store, id: String, vid: &str) -> Result<StoredVersion, Error> {
    check_id(&id)?;
    let version: i64 = vid
        .parse()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| Error::BadRequest(format!("'{vid}' is not a version id")))?;
    store
        .version(id, version)
        .await?
        .ok_or_else(|| Error::NotFound("no such version of that appointment".into()))
}

/// Every version, newest first; 404 when the appointment is unknown (or expired).
pub async fn history(store: &Store, id: String) -> Result<Vec<StoredVersion>, Error> {
    check_id(&id)?;
    let versions = store.history(id).await?;
    if versions.is_empty() {
        return Err(Error::NotFound(
            "no appointment with that id is registered".into(),
        ));
    }
    Ok(versions)
}
