//! Running it like an appliance on PostgreSQL: the database-size metric, `expire --dry-run`
//! and `backup` from the command line.

use std::path::Path;
use std::process::Output;

use crate::api::pg_app;
use crate::helpers::*;

/// `appointment-registry ARGS --config CONFIG`, with no REGISTRY_* variable of ours.
fn run(config: &Path, args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_appointment-registry"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("REGISTRY_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    cmd.args(args).arg("--config").arg(config).output().unwrap()
}

/// A config file in `dir` for the cluster at `url`, the password in it to see it masked.
fn config_for(dir: &Path, url: &str) -> std::path::PathBuf {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let path = dir.join("pg.toml");
    std::fs::write(
        &path,
        format!("[database]\nbackend = \"postgres\"\nurl = \"{scheme}://{user}:s3cret@{host}\"\n"),
    )
    .unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

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

#[tokio::test]
async fn expire_dry_run_counts_on_postgres_and_the_real_run_deletes() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    let config = config_for(app.dir.path(), &cluster.url());
    let out = tokio::task::spawn_blocking(move || {
        let seeded = run(&config, &["seed", "--count", "12", "--expired"]);
        assert!(seeded.status.success(), "{seeded:?}");
        let dry = run(&config, &["expire", "--dry-run"]);
        let real = run(&config, &["expire"]);
        let again = run(&config, &["expire", "--dry-run"]);
        (dry, real, again)
    })
    .await
    .unwrap();
    let (dry, real, again) = out;
    assert!(dry.status.success(), "{dry:?}");
    assert!(
        text(&dry.stdout).contains("would delete 12 appointment(s) (dry run: nothing deleted)"),
        "{dry:?}"
    );
    assert!(real.status.success(), "{real:?}");
    assert!(
        text(&real.stdout).contains("deleted 12 appointment(s)"),
        "{real:?}"
    );
    assert!(
        text(&again.stdout).contains("would delete 0 appointment(s)"),
        "{again:?}"
    );
    let runs: i64 = cluster.query(|c| {
        c.query_one(
            "SELECT count(*) FROM expiry_run WHERE trigger = 'command' AND deleted = 12",
            &[],
        )
        .unwrap()
        .get(0)
    });
    assert_eq!(
        runs, 1,
        "the dry runs recorded nothing, the real one itself"
    );
}

#[tokio::test]
async fn backup_on_postgres_says_to_use_pg_basebackup_or_pg_dump() {
    let Some((cluster, app)) = pg_app().await else {
        return;
    };
    let config = config_for(app.dir.path(), &cluster.url());
    let dest = app.dir.path().join("copy.db");
    let out = run(&config, &["backup", dest.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = text(&out.stderr);
    for needle in [
        "database.backend = \"postgres\"",
        "pg_basebackup",
        "pg_dump",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
    }
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(!dest.exists(), "nothing written");
}
