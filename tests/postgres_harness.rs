//! The real-PostgreSQL test harness itself (tests/common/postgres.rs): throwaway clusters come
//! up on loopback, speak to the `postgres` client crate, are PostgreSQL ≥ 15, go away on drop;
//! and a synchronous standby survives `kill -9` of its primary with every acknowledged commit.
//! Without PostgreSQL each test prints `skipped: …` and passes, unless
//! `APPOINTMENT_REGISTRY_REQUIRE_POSTGRES` is set (`.ci/run`).

#[path = "common/postgres.rs"]
mod pg;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use pg::{PgBin, PgCluster};

fn connect(pg: &PgCluster) -> postgres::Client {
    let mut config: postgres::Config = pg.url().parse().unwrap();
    config.connect_timeout(Duration::from_secs(10));
    config
        .connect(postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect {}: {e}\n{}", pg.url(), pg.log()))
}

#[test]
fn a_throwaway_cluster_is_postgresql_15_or_newer_on_loopback() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    eprintln!(
        "postgres {} on port {}: {}",
        pg.major(),
        pg.port(),
        pg.startup()
    );
    assert!(
        pg.url().starts_with("postgresql://registry@127.0.0.1:"),
        "{}",
        pg.url()
    );

    let mut client = connect(&pg);
    let version: String = client.query_one("SELECT version()", &[]).unwrap().get(0);
    eprintln!("{version}");
    let major = pg::parse_major(&version).unwrap_or_else(|| panic!("no version in {version:?}"));
    assert!(major >= pg::MIN_MAJOR, "{version}");
    assert_eq!(major, pg.major());

    let row = client
        .query_one(
            "SELECT current_database(), current_user, current_setting('listen_addresses'), \
             current_setting('server_encoding'), current_setting('synchronous_commit')",
            &[],
        )
        .unwrap();
    let settings: Vec<String> = (0..5).map(|i| row.get(i)).collect();
    assert_eq!(
        settings,
        ["registry", "registry", "127.0.0.1", "UTF8", "on"]
    );
    assert!(pg.data_dir().join("PG_VERSION").is_file());
}

#[test]
fn a_cluster_is_stopped_and_removed_on_drop_and_stop_stops_it() {
    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    let (port, data) = (pg.port(), pg.data_dir());
    assert_eq!(pg.psql("SELECT 1 + 1"), "2");
    drop(pg);
    assert!(!data.exists(), "{} is left behind", data.display());
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} still open"
    );

    let Some(pg) = PgCluster::start_or_skip() else {
        return;
    };
    pg.stop();
    assert!(
        pg.postmaster_pid().is_none(),
        "postmaster.pid left after a clean stop"
    );
    assert!(TcpStream::connect(("127.0.0.1", pg.port())).is_err());
}

#[test]
fn a_synchronous_standby_keeps_every_acknowledged_commit_through_kill_9_and_promote() {
    let Some(primary) = PgCluster::start_or_skip() else {
        return;
    };
    eprintln!("primary on port {}: {}", primary.port(), primary.startup());
    let standby = PgCluster::standby_of(&primary);
    eprintln!("standby on port {}: {}", standby.port(), standby.startup());

    let mut writer = connect(&primary);
    writer
        .batch_execute(
            "CREATE TABLE acknowledged (n int PRIMARY KEY, at timestamptz DEFAULT now())",
        )
        .unwrap();
    let state: String = writer
        .query_one("SELECT sync_state FROM pg_stat_replication", &[])
        .unwrap()
        .get(0);
    assert_eq!(state, "sync");
    // Each commit returns only once the standby has flushed it (synchronous_commit = on).
    let rows = 200;
    let began = Instant::now();
    for n in 0..rows {
        writer
            .execute("INSERT INTO acknowledged (n) VALUES ($1)", &[&n])
            .unwrap();
    }
    let commits = began.elapsed();

    // Flushed is not yet replayed: the standby shows the rows once it has applied them.
    let mut reader = connect(&standby);
    let count = |client: &mut postgres::Client| -> i64 {
        client
            .query_one("SELECT count(*) FROM acknowledged", &[])
            .unwrap()
            .get(0)
    };
    pg::wait_until("the standby to replay the inserts", || {
        count(&mut reader) == i64::from(rows)
    });
    let in_recovery: bool = reader
        .query_one("SELECT pg_is_in_recovery()", &[])
        .unwrap()
        .get(0);
    assert!(in_recovery, "the standby is not in recovery");
    assert!(reader
        .execute("INSERT INTO acknowledged (n) VALUES (-1)", &[])
        .is_err());
    drop(reader);

    let killed = Instant::now();
    primary.kill9();
    let dead = killed.elapsed();
    drop(writer);

    let promoting = Instant::now();
    standby.promote();
    let promoted = promoting.elapsed();
    let mut client = connect(&standby);
    assert_eq!(
        count(&mut client),
        i64::from(rows),
        "acknowledged commits lost"
    );
    let max: i32 = client
        .query_one("SELECT max(n) FROM acknowledged", &[])
        .unwrap()
        .get(0);
    assert_eq!(max, rows - 1);
    // The new primary has no synchronous standby to wait for: a write returns at once.
    client
        .execute("INSERT INTO acknowledged (n) VALUES ($1)", &[&rows])
        .unwrap();
    eprintln!(
        "failover: {rows} synchronous commits in {} ms; primary dead {} ms after kill -9; \
         promoted in {} ms; {} rows readable, 0 lost; writes resumed {} ms after the kill",
        commits.as_millis(),
        dead.as_millis(),
        promoted.as_millis(),
        rows,
        killed.elapsed().as_millis()
    );
}

#[test]
fn a_bin_dir_without_postgresql_is_a_skip_that_says_why() {
    let skip = PgBin::find_with(Some(PathBuf::from("/nonexistent/pg/bin"))).unwrap_err();
    assert!(skip.0.contains(pg::BINDIR_VAR), "{skip}");
    assert!(
        skip.0.contains("no initdb in /nonexistent/pg/bin"),
        "{skip}"
    );
}

#[test]
fn versions_are_read_from_both_spellings() {
    assert_eq!(
        pg::parse_major("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
        Some(15)
    );
    assert_eq!(
        pg::parse_major("PostgreSQL 17.2 on x86_64-pc-linux-gnu, compiled by gcc"),
        Some(17)
    );
    assert_eq!(pg::parse_major("postgres (PostgreSQL) 9.6.24"), Some(9));
    assert_eq!(pg::parse_major("no version here"), None);
}
