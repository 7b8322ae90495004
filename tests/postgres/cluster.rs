//! A throwaway PostgreSQL 15 cluster for one test: `initdb` + `pg_ctl` on a free loopback port
//! in a temp folder, as the `postgres` user when the tests run as root, trust authentication.
//! Stand-in until the shared `tests/common/postgres.rs` (branch pg-harness) is merged.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct PgCluster {
    port: u16,
    data: PathBuf,
    // Dropped last: the cluster's files.
    _dir: tempfile::TempDir,
}

/// `program args…`, as `postgres` when we are root (PostgreSQL refuses to run as root).
fn command(program: &str, args: &[&str]) -> Command {
    let program = Path::new(BIN).join(program);
    if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(args);
        c
    } else {
        let mut c = Command::new(program);
        c.args(args);
        c
    }
}

fn run(program: &str, args: &[&str]) {
    let out = command(program, args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PgCluster {
    /// A running cluster, or None (with a message) when PostgreSQL is not installed, unless
    /// APPOINTMENT_REGISTRY_REQUIRE_POSTGRES=1 makes that a failure.
    pub fn start() -> Option<PgCluster> {
        if !Path::new(BIN).join("initdb").is_file() {
            assert!(
                std::env::var("APPOINTMENT_REGISTRY_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "PostgreSQL 15 is required (APPOINTMENT_REGISTRY_REQUIRE_POSTGRES=1) but {BIN} has no initdb"
            );
            eprintln!("skipped: PostgreSQL 15 is not installed ({BIN}/initdb missing)");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if unsafe { libc::geteuid() } == 0 {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown postgres {}", dir.path().display());
        }
        let data_s = data.to_str().expect("utf-8 path");
        run(
            "initdb",
            &["-D", data_s, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        let port = free_port();
        let log = dir.path().join("log");
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c max_connections=200",
            dir.path().display()
        );
        run(
            "pg_ctl",
            &[
                "-D",
                data_s,
                "-l",
                log.to_str().expect("utf-8 path"),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        Some(PgCluster {
            port,
            data,
            _dir: dir,
        })
    }

    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A connection for checks in SQL, on a thread of its own (the sync client cannot run
    /// inside the test's runtime).
    pub fn query<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut postgres::Client) -> T + Send + 'static,
    ) -> T {
        let url = self.url();
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("connect");
            f(&mut client)
        })
        .join()
        .expect("query thread")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = command(
            "pg_ctl",
            &[
                "-D",
                self.data.to_str().unwrap_or_default(),
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}
