//! `appointment-registry seed`: fills a database with valid registrations through the same
//! writer (and group commit) the server uses — for benchmarks and capacity tests.

use futures_util::future::join_all;
use serde_json::json;
use time::{Duration, OffsetDateTime};

use crate::error::Error;
use crate::fhir;
use crate::registry::register::Registration;
use crate::registry::{instant, nhs_number};
use crate::store::{Author, NewAppointment, Store};

/// The `n`-th valid NHS number (Modulus 11), from `9000000000` upwards: benches spread
/// registrations over patients with it.
pub fn nhs_number(n: u64) -> String {
    // Even bases, so the one-step bump past an impossible check digit (10) never lands on the
    // next number's base: two neighbouring bases never both give 10 (their sums differ by 2).
    let mut base = 900_000_000 + (n % 49_999_999) * 2;
    loop {
        let digits: Vec<u32> = format!("{base:09}")
            .chars()
            .filter_map(|c| c.to_digit(10))
            .collect();
        match nhs_number::check_digit(&digits) {
            None => base += 1,
            Some(check) => return format!("{base:09}{check}"),
        }
    }
}

/// Writes `count` registrations spread over `patients` patients. `expired`: created and started
/// in 2019, so both expiry rules delete them.
pub async fn seed(store: &Store, count: u64, patients: u64, expired: bool) -> Result<u64, Error> {
    let now = OffsetDateTime::now_utc();
    let mut written = 0;
    let mut next = 0u64;
    while next < count {
        let end = (next + 4096).min(count);
        let jobs = (next..end).map(|i| {
            // Like real traffic, `created` rises with arrival (just before now) and a patient's
            // registrations come together; only `start` is spread over the coming year.
            let ago = Duration::seconds((count - i) as i64);
            let (start, created) = if expired {
                (
                    OffsetDateTime::UNIX_EPOCH
                        + Duration::days(17_928)
                        + Duration::minutes(i as i64 % 10_000),
                    OffsetDateTime::UNIX_EPOCH + Duration::days(17_897) - ago,
                )
            } else {
                (
                    now + Duration::days(1 + (i % 365) as i64)
                        + Duration::minutes((i % 1440) as i64),
                    now - ago,
                )
            };
            let patient = i * patients.max(1) / count.max(1);
            store.create(appointment(&nhs_number(patient), start, created))
        });
        for result in join_all(jobs).await {
            result?;
            written += 1;
        }
        next = end;
    }
    Ok(written)
}

fn appointment(nhs: &str, start: OffsetDateTime, created: OffsetDateTime) -> NewAppointment {
    let id = uuid::Uuid::now_v7().to_string();
    let last_updated = instant::now_column();
    let (start_at, created_at) = (instant::to_column(start), instant::to_column(created));
    let resource = json!({
        "resourceType": "Appointment",
        "id": id,
        "meta": { "versionId": "1", "lastUpdated": last_updated },
        "status": "booked",
        "start": start_at,
        "created": created_at,
        "participant": [{
            "actor": { "identifier": { "system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs } },
            "status": "accepted"
        }]
    });
    NewAppointment {
        id,
        last_updated,
        registration: Registration {
            nhs_number: nhs.to_string(),
            start_at,
            created_at,
            identifiers: Vec::new(),
        },
        resource: String::from_utf8_lossy(&fhir::write_json(&resource)).into_owned(),
        author: Author {
            org: Some("SEED".into()),
            asid: None,
            cert_subject: None,
        },
        if_none_exist: None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeded_nhs_numbers_are_valid_and_distinct() {
        let numbers: Vec<String> = (0..2000).map(super::nhs_number).collect();
        for n in &numbers {
            assert!(crate::registry::nhs_number::is_valid(n), "{n}");
        }
        let distinct: std::collections::HashSet<_> = numbers.iter().collect();
        assert_eq!(distinct.len(), numbers.len());
    }
}
