//! Configuration: built-in defaults < config file < `REGISTRY_SECTION__KEY` environment variables.
//!
//! The key names are a public contract (operators and scripts depend on them): rename nothing
//! without a migration note. Unknown keys and bad values stop start-up with a message naming the key.

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

mod database_tls;
mod database_url;
mod validate;

pub use database_tls::{pg_config, split_tls, PgTls, SplitUrl, SslMode};
pub use database_url::mask_password;

/// `_count` when a search gives none (the default of `search.default_count`).
pub const DEFAULT_COUNT: usize = 50;
/// The largest page (the default of `search.max_count`).
pub const MAX_COUNT: usize = 500;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub server: Server,
    pub tls: Tls,
    pub auth: Auth,
    pub database: Database,
    pub limits: Limits,
    pub search: Search,
    pub expiry: Expiry,
    pub log: Log,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    pub listen: String,
    /// Absolute base for `Location` and `fullUrl`. Empty: derived from the bound address.
    pub base_url: String,
    /// A connection must finish its TLS handshake within this time or is closed.
    pub handshake_timeout_ms: u64,
    /// TLS handshakes in progress at once, for the whole server (divided among the workers,
    /// rounded up). A connection past it waits to be accepted until a handshake ends.
    pub max_handshakes: usize,
    /// Time to receive a request's head (request line and headers); 408 past it.
    pub client_request_timeout_ms: u64,
    /// Time to receive a request's whole body, from the moment the handler starts reading it;
    /// 408 OperationOutcome past it.
    pub body_timeout_ms: u64,
    /// Open connections at once, for the whole server (divided among the workers, rounded up).
    /// Past it the registry stops accepting until one closes.
    pub max_connections: usize,
    /// How long an idle keep-alive connection stays open; 0 closes after each response.
    pub keep_alive_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    pub enabled: bool,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: PathBuf,
    /// CRL files (PEM or DER) of the client CAs. Empty: no revocation check. When set, a client
    /// certificate whose issuer has no CRL here is refused. Reloaded when a file changes and on
    /// SIGHUP.
    pub client_crls: Vec<PathBuf>,
    /// How often the CRL files are checked for changes, in seconds; 0: only on SIGHUP.
    pub client_crls_poll_seconds: u64,
    pub generate_dev_pki: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Auth {
    pub audience: String,
    pub issuer: String,
    pub hs256_secret_file: PathBuf,
    pub public_keys: Vec<PathBuf>,
    pub jwks_file: PathBuf,
    /// An `https://` URL serving the trusted keys as a JWKS, fetched at start, every
    /// `jwks_refresh_seconds`, and when a token names an unknown `kid`. Empty: none.
    pub jwks_url: String,
    /// PEM CA certificate(s) trusted for `jwks_url`'s server (a private CA). Empty: the
    /// system's trust store.
    pub jwks_ca: PathBuf,
    /// Seconds between fetches of `jwks_url`.
    pub jwks_refresh_seconds: u64,
    pub allow_unsigned: bool,
    pub leeway_seconds: u64,
    /// Longest token accepted: `exp - iat` must not exceed it (and `iat` is required).
    pub max_token_lifetime_seconds: u64,
    /// The claim holding the token's permissions (`scope`, `scp`, `roles`, …): a
    /// space-separated string or an array of strings.
    pub scope_claim: String,
    /// The claim naming the requesting organisation; the token's `sub` when it is absent.
    pub organisation_claim: String,
    /// Role names granting reading and writing, when the permission claim carries the
    /// identity provider's roles rather than SMART scopes. Both empty: SMART scopes.
    pub roles: Roles,
}

/// `[auth.roles]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    pub read: Vec<String>,
    pub write: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    /// Which storage runs: the embedded SQLite file (default) or a PostgreSQL server.
    pub backend: Backend,
    pub path: PathBuf,
    /// Most writes the writer commits in one transaction (group commit). 1 = a commit per write.
    pub max_batch: usize,
    /// Reader connections in the pool.
    pub readers: u32,
    /// `full` (default): a 201 survives power loss. `normal`: faster, but with WAL a power cut
    /// can lose the last commits (never corrupts the file).
    pub synchronous: String,
    /// PostgreSQL (backend `postgres`): a libpq connection URI or `key=value` string, several
    /// hosts allowed (`postgresql://pg1,pg2/registry?target_session_attrs=read-write`). May hold
    /// a password: `describe` masks it, and nothing logs it.
    pub url: String,
    /// PostgreSQL connections in the pool (every read and write takes one).
    pub pool_size: u32,
    /// PostgreSQL: longest a statement may run (`statement_timeout`), so a request never hangs
    /// on the database beyond it; 0 = the server's own setting.
    pub statement_timeout_ms: u64,
}

impl Database {
    /// The key and value that say where the data lives, for error contexts and logs:
    /// `database.path FILE`, or `database.url URL` with its password masked.
    pub fn target(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("database.path {}", self.path.display()),
            Backend::Postgres => format!("database.url {}", mask_password(&self.url)),
        }
    }
}

/// `database.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_body_bytes: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Search {
    /// Page size when a search gives no `_count`.
    pub default_count: usize,
    /// Largest page; a larger `_count` is lowered to it.
    pub max_count: usize,
}

impl Default for Search {
    fn default() -> Self {
        Search {
            default_count: DEFAULT_COUNT,
            max_count: MAX_COUNT,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Expiry {
    /// Run the background expiry task.
    pub enabled: bool,
    pub interval_seconds: u64,
    /// Delete registrations whose `created` is older than this many days; 0 turns the rule off.
    pub max_age_days: u32,
    /// Delete registrations whose `start` passed more than this many days ago; 0 turns it off.
    pub past_start_days: u32,
    /// Rows deleted per writer job, so registrations keep flowing during a large purge.
    pub chunk_rows: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// env_logger filter (`info`, `warn`, `appointment_registry=debug`, …); RUST_LOG overrides it.
    pub level: String,
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            enabled: true,
            interval_seconds: 3600,
            max_age_days: 365,
            past_start_days: 30,
            chunk_rows: 1000,
        }
    }
}

impl Default for Log {
    fn default() -> Self {
        Log {
            level: "info".into(),
        }
    }
}

impl Default for Server {
    fn default() -> Self {
        Server {
            listen: "127.0.0.1:8443".into(),
            base_url: "https://localhost:8443".into(),
            handshake_timeout_ms: 1000,
            max_handshakes: 2048,
            client_request_timeout_ms: 5000,
            body_timeout_ms: 10_000,
            max_connections: 8192,
            keep_alive_seconds: 5,
        }
    }
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            enabled: true,
            cert: "dev-pki/server.crt".into(),
            key: "dev-pki/server.key".into(),
            client_ca: "dev-pki/ca.crt".into(),
            client_crls: Vec::new(),
            client_crls_poll_seconds: 5,
            generate_dev_pki: true,
        }
    }
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            audience: "https://localhost:8443".into(),
            issuer: String::new(),
            hs256_secret_file: "dev-pki/jwt-secret".into(),
            public_keys: Vec::new(),
            jwks_file: PathBuf::new(),
            jwks_url: String::new(),
            jwks_ca: PathBuf::new(),
            jwks_refresh_seconds: crate::auth::DEFAULT_JWKS_REFRESH_SECONDS,
            allow_unsigned: false,
            leeway_seconds: 60,
            max_token_lifetime_seconds: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
            scope_claim: crate::auth::DEFAULT_SCOPE_CLAIM.into(),
            organisation_claim: crate::auth::DEFAULT_ORGANISATION_CLAIM.into(),
            roles: Roles::default(),
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            backend: Backend::Sqlite,
            path: "registry.db".into(),
            max_batch: 256,
            readers: 8,
            synchronous: "full".into(),
            url: String::new(),
            pool_size: 16,
            statement_timeout_ms: 10_000,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 65536,
        }
    }
}

impl Server {
    /// `total` shared among `workers` (actix-web's limits are per worker), rounded up so the
    /// whole server admits at least `total`.
    pub fn per_worker(total: usize, workers: usize) -> usize {
        total.div_ceil(workers.max(1)).max(1)
    }
}

/// Why configuration could not be used; the message names the key (or the file).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config` names a file that is not there.
    #[error("configuration: config file {} does not exist", .0.display())]
    MissingFile(PathBuf),
    /// The file or the environment does not fit the settings (unknown key, wrong type, bad
    /// TOML). figment's error, the source, names the key and where its value came from.
    #[error("configuration")]
    Extract(#[source] Box<figment::Error>),
    /// A value figment accepted but the registry cannot use.
    #[error("configuration: {key}: {reason}")]
    Invalid { key: String, reason: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl Settings {
    /// Loads settings. `file`: an explicit `--config` (must exist); `None` reads `./config.toml`
    /// when present, else built-in defaults.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::MissingFile(path.to_path_buf()));
                }
                figment = figment.merge(Toml::file_exact(path));
            }
            None if Path::new("config.toml").is_file() => {
                figment = figment.merge(Toml::file_exact("config.toml"));
            }
            None => {}
        }
        figment = figment.merge(Env::prefixed("REGISTRY_").split("__"));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Extract(Box::new(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// The folder that `generate_dev_pki` fills: where the server certificate lives.
    pub fn dev_pki_dir(&self) -> PathBuf {
        self.tls
            .cert
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// The effective settings as TOML, for `check-config`. Secrets live in files, so only their
    /// paths are shown; the file contents are never printed. The one secret a value can hold,
    /// a password in `database.url`, is masked.
    pub fn describe(&self) -> String {
        // Every number is range-checked by `validate`, so none is beyond TOML's i64.
        let mut shown = self.clone();
        shown.database.url = mask_password(&shown.database.url);
        let mut out = toml::to_string(&shown)
            .unwrap_or_else(|e| format!("# the settings cannot be shown as TOML: {e}\n"));
        out.push('\n');
        let secret = &self.auth.hs256_secret_file;
        let state = match std::fs::metadata(secret) {
            Ok(m) => format!("present, {} bytes, contents not shown", m.len()),
            Err(_) => "missing".into(),
        };
        out.push_str(&format!(
            "# auth.hs256_secret_file {}: {state}\n",
            secret.display()
        ));
        if self.database.backend == Backend::Postgres {
            // What the TLS keys of database.url come to (validate has accepted them).
            if let Ok(split) = split_tls(&self.database.url) {
                out.push_str(&format!("# database.url TLS: {}\n", split.tls.describe()));
            }
        }
        out
    }
}
