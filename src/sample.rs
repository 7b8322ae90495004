//! The sample registration printed at start-up: the mission page's sample body, with the
//! `participant.status` STU3 requires, a start a week ahead (so expiry leaves it alone) and
//! no identifier (so the printed command can be pasted more than once).

use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::registry::instant;

pub fn appointment_json() -> String {
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let start = now + Duration::days(7);
    json!({
        "resourceType": "Appointment",
        "status": "booked",
        "start": instant::to_column(start),
        "created": instant::to_column(now),
        "participant": [{
            "actor": { "identifier": {
                "use": "official",
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "1234554321"
            }},
            "status": "accepted"
        }]
    })
    .to_string()
}
