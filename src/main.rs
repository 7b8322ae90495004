//! `appointment-registry`: serve (default), dev-certs, dev-token, check-config.

use std::alloc::{GlobalAlloc, Layout};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use appointment_registry::app::Application;
use appointment_registry::config::{Backend, Settings};
use appointment_registry::expiry::{self, Cutoffs};
use appointment_registry::metrics::Metrics;
use appointment_registry::store::{Migration, Store};
use appointment_registry::{auth, pki, sample, tls};
use clap::{Parser, Subcommand};
use mimalloc::MiMalloc;

/// See Cargo.toml: glibc's malloc cost registrations a fifth of their event-loop CPU.
#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

/// mimalloc, with one of its options set before its first allocation: by default it commits
/// its arenas eagerly, and in such an arena a purge only marks freed pages reclaimable
/// (MADV_FREE), so they stay in RSS. That took the server's peak RSS under 2,000 idle TLS
/// connections from 87 MB (glibc) to 112 MB; with arenas committed on demand, 78–84 MB
/// (bench/RESULTS.md, round 5). The first arena is made by the first allocation, before
/// `main`, so the option cannot wait for `main`.
struct Allocator;

static OPTIONS_SET: AtomicBool = AtomicBool::new(false);

impl Allocator {
    #[inline]
    fn options() {
        if !OPTIONS_SET.load(Ordering::Relaxed) {
            OPTIONS_SET.store(true, Ordering::Relaxed);
            allocator_options();
        }
    }
}

// SAFETY: every method passes its arguments on to mimalloc's allocator unchanged.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::options();
        unsafe { MiMalloc.alloc(layout) }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::options();
        unsafe { MiMalloc.alloc_zeroed(layout) }
    }
    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }
    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

/// `mi_option_arena_eager_commit` in the mimalloc that libmimalloc-sys 0.1.49 bundles (3.3.2;
/// a test fails should another version come in).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Arenas committed on demand, unless `MIMALLOC_ARENA_EAGER_COMMIT` says otherwise (mimalloc
/// read its environment when the process loaded; a default set now leaves that value alone).
/// Allocates nothing.
fn allocator_options() {
    // SAFETY: sets the default of one of mimalloc's options; no pointer is involved.
    unsafe { libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0) };
}

#[derive(Parser)]
#[command(
    name = "appointment-registry",
    version,
    about = "NHS Appointment Registry (FHIR STU3) over mutual TLS"
)]
struct Cli {
    /// Configuration file (default: ./config.toml when present, else built-in defaults).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the registry (the default).
    Serve,
    /// Write a development CA, a server certificate for localhost and a client certificate.
    DevCerts {
        #[arg(long, value_name = "DIR", default_value = "dev-pki")]
        out: PathBuf,
    },
    /// Print a JWT the configured server accepts, signed with the development secret.
    DevToken {
        #[arg(long, default_value = DEFAULT_SCOPE)]
        scope: String,
        /// ODS code of the calling organisation.
        #[arg(long, default_value = DEFAULT_ORG)]
        org: String,
        /// Lifetime in seconds; at most auth.max_token_lifetime_seconds (the server refuses
        /// longer-lived tokens).
        #[arg(long, default_value_t = 3600)]
        ttl: u64,
    },
    /// Load and validate the configuration, print the effective values.
    CheckConfig,
    /// Run one expiry pass now (RULES.md §7) and print what it deleted.
    Expire {
        /// Only count what a pass would delete.
        #[arg(long)]
        dry_run: bool,
    },
    /// Fill the database with valid registrations through the writer (benchmarks, capacity tests).
    Seed {
        #[arg(long, default_value_t = 100_000)]
        count: u64,
        /// How many patients the registrations are spread over.
        #[arg(long, default_value_t = 100_000)]
        patients: u64,
        /// Created and started in 2019: every one is due for expiry.
        #[arg(long)]
        expired: bool,
    },
    /// Copy the database, consistently, while the server runs (SQLite backup API).
    Backup {
        /// The copy to create (must not exist).
        dest: PathBuf,
    },
}

const DEFAULT_SCOPE: &str = "patient/Appointment.write patient/Appointment.read";
const DEFAULT_ORG: &str = "X26";

fn main() -> ExitCode {
    let cli = Cli::parse();
    tls::install_crypto_provider();
    let config = cli.config.as_deref();
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::DevCerts { out } => dev_certs(&out),
        Command::DevToken { scope, org, ttl } => dev_token(config, &scope, &org, ttl),
        Command::CheckConfig => check_config(config),
        Command::Expire { dry_run } => expire(config, dry_run),
        Command::Backup { dest } => backup(config, &dest),
        Command::Seed {
            count,
            patients,
            expired,
        } => seed(config, count, patients, expired),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "appointment-registry: {}",
                appointment_registry::error_chain::chain(e.as_ref())
            );
            ExitCode::from(2)
        }
    }
}

/// Logging at `[log] level`, unless RUST_LOG says otherwise.
fn init_logging(level: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level)).init();
}

/// Loads the configuration and starts logging at its level.
fn load(config: Option<&Path>) -> anyhow::Result<Settings> {
    let settings = Settings::load(config)?;
    init_logging(&settings.log.level);
    Ok(settings)
}

fn serve(config: Option<&Path>) -> anyhow::Result<()> {
    let settings = load(config)?;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings)?;
        log::info!(
            "Appointment Registry listening on {} (base URL {})",
            app.local_addr(),
            app.base_url()
        );
        if let Some(hint) = curl_hint(&settings, app.base_url()) {
            log::info!("try it:\n{hint}");
        }
        app.run_until_stopped().await.context("serving")
    })
}

/// A ready-to-paste command that registers the sample appointment, when the dev PKI and the
/// dev secret are in use (otherwise we hold no credentials to print).
fn curl_hint(settings: &Settings, base_url: &str) -> Option<String> {
    if !(settings.tls.enabled && settings.tls.generate_dev_pki) {
        return None;
    }
    let secret = std::fs::read(&settings.auth.hs256_secret_file).ok()?;
    let issuer = (!settings.auth.issuer.is_empty()).then_some(settings.auth.issuer.as_str());
    let token = auth::dev_token(
        &secret,
        &settings.auth.audience,
        issuer,
        DEFAULT_SCOPE,
        DEFAULT_ORG,
        // As long as the server accepts.
        settings.auth.max_token_lifetime_seconds,
    );
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .display()
            .to_string()
    };
    let dir = settings.dev_pki_dir();
    Some(format!(
        "curl -i --cacert '{}' --cert '{}' --key '{}' \\\n  -H 'Authorization: Bearer {token}' \\\n  \
         -H 'Content-Type: application/fhir+json' \\\n  --data '{}' \\\n  {base_url}/Appointment",
        abs(&settings.tls.client_ca),
        abs(&dir.join("client.crt")),
        abs(&dir.join("client.key")),
        sample::appointment_json(),
    ))
}

fn dev_certs(out: &Path) -> anyhow::Result<()> {
    init_logging("warn");
    let paths = pki::generate(out)?;
    println!("wrote a development PKI to {}:", paths.dir.display());
    for p in [
        &paths.ca_cert,
        &paths.server_cert,
        &paths.server_key,
        &paths.client_cert,
        &paths.client_key,
        &paths.client_p12,
        &paths.jwt_secret,
    ] {
        println!("  {}", p.display());
    }
    println!("client.p12 password: changeit");
    Ok(())
}

fn dev_token(config: Option<&Path>, scope: &str, org: &str, ttl: u64) -> anyhow::Result<()> {
    let settings = load(config)?;
    let max = settings.auth.max_token_lifetime_seconds;
    if ttl > max {
        anyhow::bail!(
            "--ttl {ttl} is longer than auth.max_token_lifetime_seconds ({max}): the server \
             would refuse the token; use --ttl {max} or less, or raise that setting"
        );
    }
    let path = &settings.auth.hs256_secret_file;
    let secret = std::fs::read(path).with_context(|| {
        format!(
            "auth.hs256_secret_file {} (start the server once, or run dev-certs, to create it)",
            path.display()
        )
    })?;
    let issuer = (!settings.auth.issuer.is_empty()).then_some(settings.auth.issuer.as_str());
    println!(
        "{}",
        auth::dev_token(&secret, &settings.auth.audience, issuer, scope, org, ttl)
    );
    Ok(())
}

fn check_config(config: Option<&Path>) -> anyhow::Result<()> {
    init_logging("warn");
    let settings = Settings::load(config)?;
    print!("{}", settings.describe());
    println!("# configuration is valid");
    Ok(())
}

fn expire(config: Option<&Path>, dry_run: bool) -> anyhow::Result<()> {
    let settings = load(config)?;
    let cutoffs = Cutoffs::at(time::OffsetDateTime::now_utc(), &settings.expiry);
    let describe = |c: &Option<String>| c.clone().unwrap_or_else(|| "(rule off)".into());
    println!("created before: {}", describe(&cutoffs.created_before));
    println!("start before:   {}", describe(&cutoffs.start_before));
    if dry_run {
        let n = appointment_registry::store::count_expired(
            &settings.database,
            cutoffs.created_before.as_deref(),
            cutoffs.start_before.as_deref(),
        )
        .with_context(|| settings.database.target())?;
        println!("would delete {n} appointment(s) (dry run: nothing deleted)");
        return Ok(());
    }
    let store = open_store(&settings)?;
    let run = actix_web::rt::System::new()
        .block_on(expiry::run_pass(
            &store,
            &cutoffs,
            settings.expiry.chunk_rows,
            "command",
            None,
            false,
        ))
        .with_context(|| format!("expiry pass on {}", settings.database.target()))?;
    store.stop();
    println!(
        "deleted {} appointment(s) in {} ms",
        run.deleted, run.duration_ms
    );
    Ok(())
}

fn backup(config: Option<&Path>, dest: &Path) -> anyhow::Result<()> {
    let settings = load(config)?;
    anyhow::ensure!(
        settings.database.backend == Backend::Sqlite,
        "backup copies the SQLite file; with database.backend = \"postgres\" back up the \
         server with pg_basebackup (physical, with WAL archiving for point-in-time recovery) or \
         pg_dump (logical)"
    );
    let db = &settings.database.path;
    let report = appointment_registry::store::backup::backup(db, dest).with_context(|| {
        format!(
            "backup of database.path {} to {}",
            db.display(),
            dest.display()
        )
    })?;
    println!(
        "backed up {} to {}: {} pages, {} appointment(s), integrity ok",
        settings.database.path.display(),
        dest.display(),
        report.pages,
        report.appointments
    );
    Ok(())
}

fn seed(config: Option<&Path>, count: u64, patients: u64, expired: bool) -> anyhow::Result<()> {
    let settings = load(config)?;
    let store = open_store(&settings)?;
    let started = std::time::Instant::now();
    let written = actix_web::rt::System::new()
        .block_on(appointment_registry::seed::seed(
            &store, count, patients, expired,
        ))
        .with_context(|| format!("seeding {}", settings.database.target()))?;
    store.stop();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {written} registration(s) over {patients} patient(s) in {secs:.1} s ({:.0}/s)",
        written as f64 / secs
    );
    Ok(())
}

/// The store of `[database]`, with its writer, for the commands that write.
fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let metrics = std::sync::Arc::new(Metrics::new().context("metrics")?);
    Store::open(&settings.database, metrics, Migration::Refuse)
        .with_context(|| settings.database.target())
}

#[cfg(test)]
mod tests {
    use libmimalloc_sys::{mi_option_get, mi_version};

    /// The bundled mimalloc is the one whose option numbers `ARENA_EAGER_COMMIT` names, and its
    /// arenas are committed on demand once anything was allocated (unless the environment
    /// chose otherwise, which this test then leaves alone).
    #[test]
    fn mimalloc_commits_its_arenas_on_demand() {
        let allocated = String::from("allocated");
        assert_eq!(allocated.len(), 9);
        // SAFETY: reads mimalloc's version and one of its option values.
        let (version, eager) = unsafe { (mi_version(), mi_option_get(super::ARENA_EAGER_COMMIT)) };
        assert_eq!(
            version, 30302,
            "another mimalloc: check the option numbers in main.rs"
        );
        if std::env::var_os("MIMALLOC_ARENA_EAGER_COMMIT").is_none() {
            assert_eq!(eager, 0);
        }
    }
}
