//! Throwaway PostgreSQL clusters for tests: `initdb` + `pg_ctl` in a temp directory, on a free
//! loopback port, as the `postgres` user when the tests run as root (initdb refuses root).
//! One copy for every test binary: include it with
//! `#[path = "../common/postgres.rs"] mod postgres;` (tests/api, tests/hostile …) or
//! `#[path = "common/postgres.rs"]` from a single-file target (tests/postgres_harness.rs).
//!
//! PostgreSQL 15 (Debian bookworm's `postgresql`) is the floor. The binaries are found in
//! `$APPOINTMENT_REGISTRY_PG_BINDIR` when set (and only there), else the highest
//! `/usr/lib/postgresql/<major>/bin` with major ≥ 15, else `pg_config --bindir`.
//! When none is found, [`PgCluster::start`] returns a [`Skip`]; [`Skip::report`] prints
//! `skipped: <why>` and lets the test pass, unless `APPOINTMENT_REGISTRY_REQUIRE_POSTGRES` is
//! set (`.ci/run` sets it), which turns a missing PostgreSQL into a failure. A PostgreSQL that is
//! there but fails to start is always a failure, with its log.
//!
//! Everything here blocks (it waits on child processes, each with a deadline). From an async
//! test whose runtime must keep serving, call it through `tokio::task::spawn_blocking`. It needs
//! no PostgreSQL client crate: the few queries it runs go through `psql`.
// Each binary uses part of it.
#![allow(dead_code)]

use std::fmt;
use std::io::{Read, Seek};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Set (to anything) to make a missing PostgreSQL a test failure instead of a skip.
pub const REQUIRE_VAR: &str = "APPOINTMENT_REGISTRY_REQUIRE_POSTGRES";
/// Set to a directory to take PostgreSQL's binaries from there and nowhere else (a directory
/// without them shows the skip path: `APPOINTMENT_REGISTRY_PG_BINDIR=/nonexistent`).
pub const BINDIR_VAR: &str = "APPOINTMENT_REGISTRY_PG_BINDIR";
/// The oldest major version the registry supports (Debian bookworm).
pub const MIN_MAJOR: u32 = 15;
/// The superuser `initdb` creates, and the database every cluster gets.
pub const SUPERUSER: &str = "registry";
pub const DATABASE: &str = "registry";

/// How long one step (initdb, start, stop, promote, a base backup, a wait) may take.
const STEP_DEADLINE: Duration = Duration::from_secs(60);

/// Why PostgreSQL cannot run here; not an error of the code under test.
#[derive(Debug, Clone)]
pub struct Skip(pub String);

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Skip {
    /// Prints `skipped: <why>`; panics instead when `APPOINTMENT_REGISTRY_REQUIRE_POSTGRES` is
    /// set, so that CI cannot pass by skipping.
    pub fn report(&self) {
        if std::env::var_os(REQUIRE_VAR).is_some() {
            panic!("PostgreSQL must run here ({REQUIRE_VAR} is set) but cannot: {self}");
        }
        eprintln!(
            "skipped: {self} (Debian: apt-get install postgresql; .ci/run installs it and sets {REQUIRE_VAR})"
        );
    }
}

/// The PostgreSQL binaries to use, and their major version.
#[derive(Debug, Clone)]
pub struct PgBin {
    pub dir: PathBuf,
    pub major: u32,
}

impl PgBin {
    /// Finds the binaries: `$APPOINTMENT_REGISTRY_PG_BINDIR` when set, else the default search.
    pub fn find() -> Result<PgBin, Skip> {
        Self::find_with(std::env::var_os(BINDIR_VAR).map(PathBuf::from))
    }

    /// Finds the binaries in `dir` alone when given, else in `/usr/lib/postgresql/*/bin`
    /// (highest major first), else where `pg_config --bindir` says.
    pub fn find_with(dir: Option<PathBuf>) -> Result<PgBin, Skip> {
        if let Some(dir) = dir {
            return Self::at(&dir).map_err(|why| Skip(format!("{BINDIR_VAR}: {why}")));
        }
        let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
                Some((major, entry.path().join("bin")))
            })
            .collect();
        candidates.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
        let mut seen = Vec::new();
        for (_, dir) in &candidates {
            match Self::at(dir) {
                Ok(bin) => return Ok(bin),
                Err(why) => seen.push(why),
            }
        }
        if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
            if out.status.success() {
                let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
                match Self::at(&dir) {
                    Ok(bin) => return Ok(bin),
                    Err(why) => seen.push(why),
                }
            }
        }
        if seen.is_empty() {
            seen.push("no /usr/lib/postgresql/*/bin and no pg_config on PATH".into());
        }
        Err(Skip(format!(
            "PostgreSQL ≥ {MIN_MAJOR} not found: {}",
            seen.join("; ")
        )))
    }

    /// The binaries in `dir`, if it has what the clusters need and is new enough.
    fn at(dir: &Path) -> Result<PgBin, String> {
        let shown = dir.display();
        for tool in [
            "initdb",
            "pg_ctl",
            "postgres",
            "psql",
            "createdb",
            "pg_basebackup",
        ] {
            if !dir.join(tool).is_file() {
                return Err(format!("no {tool} in {shown}"));
            }
        }
        let out = Command::new(dir.join("postgres"))
            .arg("--version")
            .output()
            .map_err(|e| format!("{shown}/postgres --version: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let major = parse_major(&text)
            .ok_or_else(|| format!("{shown}/postgres --version said {:?}", text.trim()))?;
        if major < MIN_MAJOR {
            return Err(format!(
                "{shown} is PostgreSQL {major}, older than {MIN_MAJOR}"
            ));
        }
        Ok(PgBin {
            dir: dir.to_path_buf(),
            major,
        })
    }

    fn tool(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The major version in `postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)` or in
/// `SELECT version()`'s `PostgreSQL 15.14 (Debian …) on x86_64-pc-linux-gnu, …`.
pub fn parse_major(text: &str) -> Option<u32> {
    let rest = &text[text.find("PostgreSQL")? + "PostgreSQL".len()..];
    let rest = rest.trim_start_matches(')').trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// What a cluster started by [`PgCluster::start_tls`] serves TLS with (PEM text).
#[derive(Debug, Clone)]
pub struct ServerTls {
    /// The server's certificate (chain, leaf first).
    pub cert_pem: String,
    pub key_pem: String,
    /// When set, `ssl_ca_file`: every user but [`SUPERUSER`] then logs in over TCP with a
    /// client certificate of this CA whose common name is the user's name (`cert`).
    pub client_ca_pem: Option<String>,
}

/// How long a cluster took to come up.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    pub initdb: Duration,
    pub start: Duration,
    pub createdb: Duration,
    /// Base backup time, for a standby (`initdb` and `createdb` are then zero).
    pub basebackup: Duration,
    /// For a standby: until the primary reported it as a synchronous standby.
    pub sync: Duration,
}

impl Startup {
    pub fn total(&self) -> Duration {
        self.initdb + self.start + self.createdb + self.basebackup + self.sync
    }
}

impl fmt::Display for Startup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_millis();
        if self.basebackup.is_zero() {
            write!(
                f,
                "initdb {} ms, pg_ctl start {} ms, createdb {} ms, total {} ms",
                ms(self.initdb),
                ms(self.start),
                ms(self.createdb),
                ms(self.total())
            )
        } else {
            write!(
                f,
                "pg_basebackup {} ms, pg_ctl start {} ms, synchronous after {} ms, total {} ms",
                ms(self.basebackup),
                ms(self.start),
                ms(self.sync),
                ms(self.total())
            )
        }
    }
}

/// The unprivileged account to run PostgreSQL as when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A throwaway cluster: stopped (`pg_ctl stop -m immediate`) and deleted on drop.
pub struct PgCluster {
    bin: PgBin,
    run_as: Option<RunAs>,
    // Owned by `postgres` when root: {data/, sock/, postgres.log}.
    dir: tempfile::TempDir,
    port: u16,
    startup: Startup,
}

impl PgCluster {
    /// [`PgCluster::start`], or `None` after [`Skip::report`]:
    /// `let Some(pg) = PgCluster::start_or_skip() else { return };`
    pub fn start_or_skip() -> Option<PgCluster> {
        Self::or_skip(Self::start())
    }

    /// [`PgCluster::start_tls`], or `None` after [`Skip::report`].
    pub fn start_tls_or_skip(tls: &ServerTls) -> Option<PgCluster> {
        Self::or_skip(Self::start_tls(tls))
    }

    fn or_skip(started: Result<PgCluster, Skip>) -> Option<PgCluster> {
        match started {
            Ok(pg) => Some(pg),
            Err(skip) => {
                skip.report();
                None
            }
        }
    }

    /// A cluster folder of its own, nothing in it yet.
    fn unstarted(bin: PgBin, run_as: Option<RunAs>) -> PgCluster {
        PgCluster {
            dir: cluster_dir(run_as),
            bin,
            run_as,
            port: 0,
            startup: Startup::default(),
        }
    }

    /// A new primary with database [`DATABASE`], or why PostgreSQL cannot run here. Panics
    /// (with the server's log) if PostgreSQL is there but does not come up.
    pub fn start() -> Result<PgCluster, Skip> {
        Self::start_with(None)
    }

    /// [`PgCluster::start`] with `ssl = on` and the certificate of `tls`, taking TCP
    /// connections over TLS only (see [`ServerTls`]).
    pub fn start_tls(tls: &ServerTls) -> Result<PgCluster, Skip> {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<&ServerTls>) -> Result<PgCluster, Skip> {
        let mut pg = PgCluster::unstarted(PgBin::find()?, run_as()?);

        let began = Instant::now();
        let data = pg.data_dir();
        let mut initdb = pg.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ])
            // A throwaway cluster: no fsync of the fresh files (the server itself fsyncs).
            .arg("--no-sync");
        pg.run("initdb", &mut initdb);
        pg.startup.initdb = began.elapsed();
        if let Some(tls) = tls {
            pg.configure_tls(tls);
        }

        pg.start_server();

        let began = Instant::now();
        let mut createdb = pg.command("createdb");
        createdb.args(pg.conn_args()).arg(DATABASE);
        pg.run("createdb", &mut createdb);
        pg.startup.createdb = began.elapsed();
        Ok(pg)
    }

    /// Writes `tls`'s files into the data directory (the key mode 0600, as the server
    /// demands), turns `ssl` on and replaces `pg_hba.conf`: Unix sockets trusted, TCP only
    /// over TLS (`hostssl`; a plain connection finds no line and is refused) — the superuser
    /// trusted, other users by client certificate when `tls` has a client CA.
    fn configure_tls(&self, tls: &ServerTls) {
        let data = self.data_dir();
        let mut files = vec![
            ("server.crt", &tls.cert_pem, 0o644),
            ("server.key", &tls.key_pem, 0o600),
        ];
        if let Some(ca) = &tls.client_ca_pem {
            files.push(("client_ca.crt", ca, 0o644));
        }
        for (name, text, mode) in files {
            let path = data.join(name);
            std::fs::write(&path, text).expect("write a TLS file of the cluster");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("chmod a TLS file of the cluster");
            if let Some(RunAs { uid, gid }) = self.run_as {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown to postgres");
            }
        }
        let mut conf =
            String::from("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        if tls.client_ca_pem.is_some() {
            conf.push_str("ssl_ca_file = 'client_ca.crt'\n");
        }
        let conf_path = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path).expect("read postgresql.conf");
        text.push_str(&conf);
        std::fs::write(&conf_path, text).expect("write postgresql.conf");
        let others = if tls.client_ca_pem.is_some() {
            "cert"
        } else {
            "trust"
        };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n\
                 hostssl all {SUPERUSER} 127.0.0.1/32 trust\n\
                 hostssl all all 127.0.0.1/32 {others}\n"
            ),
        )
        .expect("write pg_hba.conf");
    }

    /// A streaming-replication standby of `primary`, made by `pg_basebackup -R`, which the
    /// primary then treats as synchronous (`synchronous_standby_names = '*'`): from the return
    /// of this call, a commit on the primary returns only once the standby has flushed it.
    /// The standby itself has no synchronous standby, so once promoted it accepts writes alone.
    pub fn standby_of(primary: &PgCluster) -> PgCluster {
        let mut pg = PgCluster::unstarted(primary.bin.clone(), primary.run_as);
        static STANDBYS: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "standby_{}_{}",
            std::process::id(),
            STANDBYS.fetch_add(1, Ordering::Relaxed)
        );

        let began = Instant::now();
        let mut backup = pg.command("pg_basebackup");
        backup
            .arg("-D")
            .arg(pg.data_dir())
            .args(primary.conn_args())
            .args(["-R", "-X", "stream", "--checkpoint=fast", "--no-sync"]);
        pg.run("pg_basebackup", &mut backup);
        // Later lines of postgresql.auto.conf win: a name the primary sees in
        // pg_stat_replication, and no inherited synchronous standby of its own.
        let auto_conf = pg.data_dir().join("postgresql.auto.conf");
        let mut conf = std::fs::read_to_string(&auto_conf).expect("read postgresql.auto.conf");
        conf.push_str(&format!(
            "cluster_name = '{name}'\nsynchronous_standby_names = ''\n"
        ));
        std::fs::write(&auto_conf, conf).expect("write postgresql.auto.conf");
        pg.startup.basebackup = began.elapsed();

        pg.start_server();

        let began = Instant::now();
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = '*'");
        primary.psql("SELECT pg_reload_conf()");
        let query =
            format!("SELECT sync_state FROM pg_stat_replication WHERE application_name = '{name}'");
        wait_until(&format!("{name} to be a synchronous standby"), || {
            primary.psql(&query) == "sync"
        });
        pg.startup.sync = began.elapsed();
        pg
    }

    /// `postgresql://registry@127.0.0.1:<port>/registry`
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The URL of another database of this cluster.
    pub fn url_of(&self, database: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@127.0.0.1:{}/{database}",
            self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("postgres.log")
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn major(&self) -> u32 {
        self.bin.major
    }

    pub fn startup(&self) -> &Startup {
        &self.startup
    }

    /// Runs one SQL statement as the superuser on [`DATABASE`] and returns its output, unaligned, without headers. Panics if it fails.
    pub fn psql(&self, sql: &str) -> String {
        let mut cmd = self.command("psql");
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(self.conn_args())
            .args(["-d", DATABASE, "-c", sql]);
        self.run(&format!("psql -c {sql:?}"), &mut cmd)
            .trim()
            .to_string()
    }

    /// `pg_ctl stop -m fast`: a clean shutdown (checkpoint, connections closed).
    pub fn stop(&self) {
        let mut cmd = self.pg_ctl("stop");
        cmd.args(["-m", "fast"]);
        self.run("pg_ctl stop", &mut cmd);
    }

    /// SIGKILL to the postmaster (pid from `postmaster.pid`), as a crashed machine would;
    /// returns once it is gone and its port is free (its backends exit when they see it die).
    pub fn kill9(&self) {
        let pid = self
            .postmaster_pid()
            .expect("kill9: no postmaster.pid, is the cluster running?");
        // SAFETY: kill(2) with a pid read from the cluster's own postmaster.pid.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill -9 {pid}: {}", std::io::Error::last_os_error());
        wait_until(&format!("postmaster {pid} to die"), || !alive(pid));
        let port = self.port;
        wait_until(&format!("port {port} to close"), || {
            TcpStream::connect(("127.0.0.1", port)).is_err()
        });
    }

    /// `pg_ctl promote -w`: a standby becomes a primary; returns once it accepts writes.
    pub fn promote(&self) {
        self.run("pg_ctl promote", &mut self.pg_ctl("promote"));
        wait_until("the promoted server to leave recovery", || {
            self.psql("SELECT pg_is_in_recovery()") == "f"
        });
    }

    /// The postmaster's pid, while `postmaster.pid` exists.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// `pg_ctl start` on a free port, retried on another port if one is taken under us.
    fn start_server(&mut self) {
        let began = Instant::now();
        for attempt in 1..=3 {
            self.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                self.port,
                self.dir.path().join("sock").display()
            );
            let mut cmd = self.pg_ctl("start");
            cmd.arg("-l").arg(self.log_path()).arg("-o").arg(options);
            match self.try_run(&mut cmd) {
                Ok(_) => {
                    self.startup.start = began.elapsed();
                    return;
                }
                Err(why) if attempt < 3 && self.log().contains("already in use") => {
                    eprintln!("postgres: port {} taken, retrying: {why}", self.port);
                }
                Err(why) => panic!(
                    "pg_ctl start failed: {why}\n--- server log ---\n{}",
                    self.log()
                ),
            }
        }
    }

    fn conn_args(&self) -> Vec<String> {
        vec![
            "-h".into(),
            "127.0.0.1".into(),
            "-p".into(),
            self.port.to_string(),
            "-U".into(),
            SUPERUSER.into(),
        ]
    }

    fn pg_ctl(&self, action: &str) -> Command {
        let mut cmd = self.command("pg_ctl");
        cmd.arg(action).arg("-D").arg(self.data_dir()).args([
            "-w",
            "-t",
            &STEP_DEADLINE.as_secs().to_string(),
        ]);
        cmd
    }

    /// A PostgreSQL tool, as `postgres` (through `runuser`) when we are root, in the cluster's
    /// directory (so that no tool trips over a working directory `postgres` cannot read), with
    /// no `PG*` variable of ours to redirect it.
    fn command(&self, tool: &str) -> Command {
        let mut cmd = match self.run_as {
            Some(_) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", "postgres", "--"]).arg(self.bin.tool(tool));
                cmd
            }
            None => Command::new(self.bin.tool(tool)),
        };
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("PG") {
                cmd.env_remove(key);
            }
        }
        cmd.current_dir(self.dir.path()).env("LC_ALL", "C");
        cmd
    }

    /// Runs `cmd` to completion; panics with its output (and the server's log) on failure.
    fn run(&self, what: &str, cmd: &mut Command) -> String {
        match self.try_run(cmd) {
            Ok(out) => out,
            Err(why) => panic!("{what} failed: {why}\n--- server log ---\n{}", self.log()),
        }
    }

    fn try_run(&self, cmd: &mut Command) -> Result<String, String> {
        run_with_deadline(cmd, STEP_DEADLINE)
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.postmaster_pid().is_some_and(alive) {
            let mut cmd = self.pg_ctl("stop");
            cmd.args(["-m", "immediate"]);
            if let Err(why) = run_with_deadline(&mut cmd, Duration::from_secs(20)) {
                eprintln!("postgres: pg_ctl stop -m immediate: {why}");
                if let Some(pid) = self.postmaster_pid().filter(|&pid| alive(pid)) {
                    // SAFETY: kill(2) with the pid from the cluster's own postmaster.pid.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        // The TempDir removes the directory (root may delete what `postgres` owns).
    }
}

/// `Some(postgres)` when we are root (initdb refuses to run as root), `None` otherwise.
fn run_as() -> Result<Option<RunAs>, Skip> {
    // SAFETY: geteuid(2) cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32, Skip> {
        let out = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .map_err(|e| {
                Skip(format!(
                    "running as root and `id {flag} postgres` failed: {e}"
                ))
            })?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| {
                Skip("running as root and there is no `postgres` user to run PostgreSQL as".into())
            })
    };
    Ok(Some(RunAs {
        uid: id("-u")?,
        gid: id("-g")?,
    }))
}

/// A fresh temp directory, handed to `postgres` when we are root, with `sock/` in it.
fn cluster_dir(run_as: Option<RunAs>) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pg-")
        .tempdir()
        .expect("temp dir");
    let sock = dir.path().join("sock");
    std::fs::create_dir(&sock).expect("sock dir");
    if let Some(RunAs { uid, gid }) = run_as {
        for path in [dir.path(), sock.as_path()] {
            std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown to postgres");
        }
    }
    dir
}

/// A port nobody listens on now: the kernel's pick for 127.0.0.1:0.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

/// Whether `pid` is a live process (a zombie waiting for its reaper counts as dead).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls `done` every 50 ms; panics after [`STEP_DEADLINE`].
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + STEP_DEADLINE;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "gave up after {STEP_DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs `cmd` with its output in anonymous files (no pipe a daemon could hold open), killing it
/// after `deadline`. Ok(stdout) on success; Err(the command, status, stdout and stderr).
fn run_with_deadline(cmd: &mut Command, deadline: Duration) -> Result<String, String> {
    let mut stdout = tempfile::tempfile().map_err(|e| e.to_string())?;
    let mut stderr = tempfile::tempfile().map_err(|e| e.to_string())?;
    let shown = format!("{cmd:?}");
    // Its own process group, so that a deadline kills `runuser` and the tool under it.
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(stdout.try_clone().map_err(|e| e.to_string())?)
        .stderr(stderr.try_clone().map_err(|e| e.to_string())?)
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let until = Instant::now() + deadline;
    let status: Option<ExitStatus> = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break Some(status),
            None if Instant::now() >= until => {
                // SAFETY: kill(2) on the process group of the child we spawned.
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let read = |file: &mut std::fs::File| {
        let mut text = String::new();
        let _ = file.rewind();
        let _ = file.read_to_string(&mut text);
        text
    };
    let (out, err) = (read(&mut stdout), read(&mut stderr));
    match status {
        Some(status) if status.success() => Ok(out),
        Some(status) => Err(format!("{shown}: {status}\n{out}{err}")),
        None => Err(format!("{shown}: killed after {deadline:?}\n{out}{err}")),
    }
}
