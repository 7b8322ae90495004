//! Running it like an appliance on PostgreSQL: the database-size metric.

use crate::api::pg_app;
use crate::helpers::*;

#[tokio::test]
async fn the_database_size_metric_is_the_postgres_database_size() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    assert_eq!(app.register_json(&valid_appointment()).await.status(), 201);
    let metric: i64 = app
        .metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix("registry_database_size_bytes "))
        .and_then(|v| v.parse().ok())
        .expect("registry_database_size_bytes");
    let actual: i64 = cluster.query(|c| {
        c.query_one("SELECT pg_database_size(current_database())", &[])
            .unwrap()
            .get(0)
    });
    // The same measure, taken a moment apart (autovacuum or the pool may touch a page).
    assert!(metric > 1_000_000, "{metric}");
    assert!((metric - actual).abs() < 1_000_000, "{metric} vs {actual}");
}
