//! Group commit: concurrent writes share commits, yet each stays exact — duplicates inside one
//! batch fail alone, and every acknowledged registration is in the file.

use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::*;

async fn race_duplicates(app: &TestApp, pairs: usize) -> (usize, usize) {
    let requests = (0..pairs * 2).map(|i| {
        let mut resource = valid_appointment();
        resource["identifier"] =
            json!([{"system": "urn:ietf:rfc:3986", "value": format!("urn:dup:{}", i / 2)}]);
        app.register_json_owned(resource)
    });
    let mut created = 0;
    let mut duplicates = 0;
    for response in join_all(requests).await {
        match response.status().as_u16() {
            201 => created += 1,
            422 => {
                assert!(response
                    .text()
                    .await
                    .unwrap()
                    .contains("DUPLICATE_REJECTED"));
                duplicates += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    (created, duplicates)
}

#[tokio::test]
async fn duplicates_in_one_batch_fail_alone_and_counts_are_exact() {
    let app = spawn_app().await;
    let (created, duplicates) = race_duplicates(&app, 100).await;
    assert_eq!((created, duplicates), (100, 100));
    assert_eq!(app.stored_appointments(), 100);

    // The writes really were grouped: fewer commits than writes.
    let (writes, commits) = (
        app.metric("registry_writer_batch_size_sum").await,
        app.metric("registry_writer_batch_size_count").await,
    );
    assert_eq!(writes, 200.0);
    assert!(commits < writes, "{commits} commits for {writes} writes");
}

#[tokio::test]
async fn one_commit_per_write_gives_the_same_answers() {
    let app = spawn_app_with(|s| {
        s.database.max_batch = 1;
    })
    .await;
    let (created, duplicates) = race_duplicates(&app, 50).await;
    assert_eq!((created, duplicates), (50, 50));
    assert_eq!(app.stored_appointments(), 50);
}
