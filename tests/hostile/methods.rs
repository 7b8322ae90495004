//! Made-up HTTP methods (any token is a valid method) are counted under one metrics label,
//! `OTHER`, so they cannot grow `/_metrics` or the process without bound.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};

use crate::helpers::*;

const KNOWN: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_share_one_metrics_series() {
    let _alone = crate::ONE_AT_A_TIME.lock().await;
    let app = spawn_app().await;
    let before = app.metrics().await.len();
    // 2,000 distinct methods at a real route (405), and 200 more at made-up paths (404).
    let requests = (0..2200).map(|i| {
        let method = reqwest::Method::from_bytes(format!("MADE-UP-{i}").as_bytes()).unwrap();
        let path = if i < 2000 {
            "/Appointment".to_string()
        } else {
            format!("/made-up/{i}")
        };
        let request = app.client.request(method, app.url(&path)).send();
        async move { request.await.expect("request sent").status().as_u16() }
    });
    let statuses: Vec<u16> = stream::iter(requests).buffer_unordered(16).collect().await;
    assert_eq!(statuses.iter().filter(|s| **s == 405).count(), 2000);
    assert_eq!(statuses.iter().filter(|s| **s == 404).count(), 200);

    let text = app.metrics().await;
    println!(
        "/_metrics: {before} bytes before, {} bytes after 2,200 made-up methods",
        text.len()
    );
    let mut series = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("registry_http_requests_total{") {
            let (labels, value) = rest.split_once("} ").expect("a sample");
            series.insert(labels.to_string(), value.to_string());
        }
    }
    for labels in series.keys() {
        let method = labels
            .split(',')
            .find_map(|l| l.strip_prefix("method=\""))
            .and_then(|m| m.strip_suffix('"'))
            .expect("a method label");
        assert!(KNOWN.contains(&method), "unbounded method label: {labels}");
    }
    let other: Vec<_> = series
        .iter()
        .filter(|(labels, _)| labels.contains("method=\"OTHER\""))
        .collect();
    assert_eq!(
        other,
        vec![
            (
                &"method=\"OTHER\",route=\"/Appointment\",status=\"405\"".to_string(),
                &"2000".to_string()
            ),
            (
                &"method=\"OTHER\",route=\"unmatched\",status=\"404\"".to_string(),
                &"200".to_string()
            ),
        ],
        "{series:#?}"
    );
    assert!(
        !text.contains("MADE-UP"),
        "a made-up method reached the metrics"
    );
    assert!(
        text.len() < 16 * 1024,
        "/_metrics grew to {} bytes",
        text.len()
    );
}
