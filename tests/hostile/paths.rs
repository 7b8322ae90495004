//! Hostile paths under the routes the registry matches by splitting the path
//! (`http::variable_paths`): many segments, long ids made of escapes, bytes that are not UTF-8,
//! control characters. Each is answered with a FHIR error, nothing of the path reaches the
//! metrics' labels, and the server goes on answering.

use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_paths_get_fhir_errors_and_leave_no_trace_in_the_metrics() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let created: Value = app.registered().await;
    let id = created["id"].as_str().unwrap().to_string();
    const NOT_FOUND: (u16, &str) = (404, "NO_RECORD_FOUND");
    const BAD_REQUEST: (u16, &str) = (400, "BAD_REQUEST");
    let cases: Vec<(String, (u16, &str))> = vec![
        // 5,000 segments under an id: no route has them.
        (
            format!("/Appointment/{id}{}", "/a".repeat(5_000)),
            NOT_FOUND,
        ),
        // 5,000 empty segments.
        (format!("/Appointment{}", "/".repeat(5_000)), NOT_FOUND),
        // An id of 3,000 escaped `%`, decoded once: 3,000 `%`, not a FHIR id.
        (format!("/Appointment/{}", "%25".repeat(3_000)), BAD_REQUEST),
        // 3,000 bytes that are not UTF-8, and an id of control characters.
        (format!("/Appointment/{}", "%FF".repeat(3_000)), BAD_REQUEST),
        ("/Appointment/%00%0A%0D%1B%7F".to_string(), BAD_REQUEST),
        // A version id of separators, and one past i64.
        (format!("/Appointment/{id}/_history/%2F%2F"), BAD_REQUEST),
        (
            format!("/Appointment/{id}/_history/99999999999999999999"),
            BAD_REQUEST,
        ),
        // The history of an id of 3,000 `+` (kept encoded for routing, decoded in the id).
        (
            format!("/Appointment/{}/_history", "%2B".repeat(3_000)),
            BAD_REQUEST,
        ),
        (
            format!("/SearchParameter/{}", "%FF".repeat(3_000)),
            NOT_FOUND,
        ),
    ];
    for (path, (status, code)) in &cases {
        let shown = &path[..path.len().min(60)];
        let response = app.get(path).await;
        assert_eq!(response.status(), *status, "{shown}…");
        let outcome: Value = response.json().await.expect("an OperationOutcome");
        assert_eq!(outcome["resourceType"], "OperationOutcome", "{shown}…");
        let coded = outcome["issue"][0]["details"]["coding"][0]["code"].as_str();
        assert_eq!(coded, Some(*code), "{shown}…: {outcome}");
    }
    // The server goes on: the appointment reads as before.
    let read = app.get(&format!("/Appointment/{id}")).await;
    assert_eq!(read.status(), 200);
    // Only patterns and "unmatched" name routes in the metrics, never a path.
    let metrics = app.metrics().await;
    for line in metrics.lines().filter(|l| l.contains("route=\"")) {
        let route = line
            .split("route=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            route == "unmatched" || route.starts_with('/') && !route.contains('%'),
            "a route label from a path: {line}"
        );
        assert!(route.len() < 64, "{line}");
    }
}
