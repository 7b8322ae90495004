//! The cancellation rules of RULES.md §3, over the stored current version and the submitted
//! one (both FHIR JSON). Pure: no HTTP, no SQL.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::error::{invalid_request_state, Error, Problem};
use crate::registry::instant;
use crate::registry::problems::rule;
use crate::spine::SpineCode;

/// The statuses a booked appointment may move to by PUT.
pub const TARGETS: [&str; 2] = ["cancelled", "entered-in-error"];

/// What the store indexes about an accepted cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct Cancellation {
    pub status: String,
    /// `created` (the cancellation instant) in UTC, fixed width.
    pub created_at: String,
}

/// Elements the client may change, or that the server sets; everything else must be as stored.
/// `_status`/`_created` carry those elements' extensions and go with them.
const FREE: [&str; 7] = [
    "resourceType",
    "id",
    "meta",
    "status",
    "_status",
    "created",
    "_created",
];

/// `meta` children the server sets (`versionId`, `lastUpdated`) or does not judge (`profile`,
/// which the registry never validates against): the rest of `meta` must stay as stored.
const FREE_META: [&str; 3] = ["versionId", "lastUpdated", "profile"];

/// Checks `submitted` against `stored`: first the transition (422 INVALID_REQUEST_STATE), then
/// that only `status` and `created` changed and `created` is an instant (422 INVALID_RESOURCE,
/// every problem named).
pub fn check(stored: &Value, submitted: &Value) -> Result<Cancellation, Error> {
    let from = stored.get("status").and_then(Value::as_str).unwrap_or("");
    let to = submitted
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("");
    if from != "booked" {
        return Err(invalid_request_state(format!(
            "the appointment is '{from}'; only a booked appointment can be cancelled"
        )));
    }
    if !TARGETS.contains(&to) {
        return Err(invalid_request_state(format!(
            "a booked appointment can change to 'cancelled' or 'entered-in-error' only, not '{to}'"
        )));
    }

    let mut problems: Vec<Problem> = changed(stored, submitted)
        .into_iter()
        .map(|path| {
            rule(
                path,
                "must not change when cancelling: send it as it is stored",
            )
        })
        .collect();
    let created_at = match submitted.get("created") {
        Some(Value::String(text)) => instant::parse(text)
            .map(instant::to_column)
            .map_err(|why| format!("'{text}' is {why}")),
        _ => Err(
            "required: the time of cancellation as a FHIR instant (full date and time to \
                  the second and a zone, e.g. 2019-02-01T10:51:23.620+00:00)"
                .to_string(),
        ),
    };
    let created_at = match created_at {
        Ok(at) => Some(at),
        Err(why) => {
            problems.push(
                Problem::new("value", SpineCode::InvalidResource, why).at("Appointment.created"),
            );
            None
        }
    };
    match created_at {
        Some(created_at) if problems.is_empty() => Ok(Cancellation {
            status: to.to_string(),
            created_at,
        }),
        _ => Err(Error::Unprocessable(problems)),
    }
}

/// FHIRPaths of the top-level elements (and `meta` children) that differ, in name order.
/// `_x` (a primitive's extensions) counts as `x`.
fn changed(stored: &Value, submitted: &Value) -> BTreeSet<String> {
    let empty = Map::new();
    let (old, new) = (
        stored.as_object().unwrap_or(&empty),
        submitted.as_object().unwrap_or(&empty),
    );
    let mut paths = BTreeSet::new();
    for key in old.keys().chain(new.keys()) {
        if FREE.contains(&key.as_str()) || old.get(key) == new.get(key) {
            continue;
        }
        paths.insert(format!("Appointment.{}", key.trim_start_matches('_')));
    }
    let meta = |v: &Value| v.get("meta").and_then(Value::as_object).cloned();
    let (old_meta, new_meta) = (
        meta(stored).unwrap_or_default(),
        meta(submitted).unwrap_or_default(),
    );
    for key in old_meta.keys().chain(new_meta.keys()) {
        if !FREE_META.contains(&key.as_str()) && old_meta.get(key) != new_meta.get(key) {
            paths.insert(format!("Appointment.meta.{key}"));
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn stored() -> Value {
        json!({
            "resourceType": "Appointment", "id": "a1",
            "meta": { "versionId": "1", "lastUpdated": "2019-02-01T10:51:23.620Z",
                      "profile": ["https://example.org/p"] },
            "status": "booked", "start": "2030-02-01T10:51:23.620+00:00",
            "created": "2019-02-01T10:51:23+00:00",
            "participant": [{ "actor": { "reference": "x" }, "status": "accepted" }]
        })
    }

    fn cancelled(edit: impl FnOnce(&mut Value)) -> Value {
        let mut v = stored();
        v["status"] = json!("cancelled");
        v["created"] = json!("2019-03-01T09:00:00+01:00");
        v["meta"] = json!({ "versionId": "7" });
        edit(&mut v);
        v
    }

    fn problems(result: Result<Cancellation, Error>) -> Vec<(SpineCode, String)> {
        match result {
            Err(Error::Unprocessable(p)) => p
                .into_iter()
                .map(|p| (p.spine, p.expression.unwrap_or_default()))
                .collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn accepts_booked_to_cancelled_or_entered_in_error() {
        let ok = check(&stored(), &cancelled(|_| {})).expect("valid cancel");
        assert_eq!(ok.status, "cancelled");
        assert_eq!(ok.created_at, "2019-03-01T08:00:00.000Z");
        let eie = check(
            &stored(),
            &cancelled(|v| v["status"] = json!("entered-in-error")),
        );
        assert_eq!(eie.expect("valid").status, "entered-in-error");
    }

    #[test]
    fn refuses_other_transitions_as_a_state_error() {
        let mut gone = stored();
        gone["status"] = json!("cancelled");
        for (from, to) in [
            (gone, cancelled(|_| {})),
            (stored(), cancelled(|v| v["status"] = json!("booked"))),
            (stored(), cancelled(|v| v["status"] = json!("arrived"))),
        ] {
            let p = problems(check(&from, &to));
            assert_eq!(p[0].0, SpineCode::InvalidRequestState, "{to}");
        }
    }

    #[test]
    fn names_every_changed_element() {
        let p = problems(check(
            &stored(),
            &cancelled(|v| {
                v["start"] = json!("2031-01-01T00:00:00Z");
                v["participant"][0]["status"] = json!("declined");
                v["comment"] = json!("added");
                v["meta"]["tag"] = json!([{ "code": "t" }]);
                v["_status"] = json!({ "id": "s" }); // free: goes with status
            }),
        ));
        let paths: Vec<&str> = p.iter().map(|(_, path)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "Appointment.comment",
                "Appointment.meta.tag",
                "Appointment.participant",
                "Appointment.start"
            ]
        );
        assert!(p.iter().all(|(c, _)| *c == SpineCode::InvalidResource));
    }

    #[test]
    fn created_must_be_an_instant() {
        for bad in [json!("2019-03-01"), json!(null)] {
            let p = problems(check(&stored(), &cancelled(|v| v["created"] = bad.clone())));
            assert_eq!(
                p,
                [(SpineCode::InvalidResource, "Appointment.created".into())]
            );
        }
        let p = problems(check(
            &stored(),
            &cancelled(|v| {
                v.as_object_mut().map(|o| o.remove("created"));
            }),
        ));
        assert_eq!(p[0].1, "Appointment.created");
    }
}
