//! Configuration: built-in defaults < config file < `REGISTRY_SECTION__KEY` environment variables.
//!
//! The key names are a public contract (operators and scripts depend on them): rename nothing
//! without a migration note. Unknown keys and bad values stop start-up with a message naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

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
    pub allow_unsigned: bool,
    pub leeway_seconds: u64,
    /// Longest token accepted: `exp - iat` must not exceed it (and `iat` is required).
    pub max_token_lifetime_seconds: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Database {
    pub path: PathBuf,
    /// Most writes the writer commits in one transaction (group commit). 1 = a commit per write.
    pub max_batch: usize,
    /// Reader connections in the pool.
    pub readers: u32,
    /// `full` (default): a 201 survives power loss. `normal`: faster, but with WAL a power cut
    /// can lose the last commits (never corrupts the file).
    pub synchronous: String,
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
            default_count: crate::registry::search::DEFAULT_COUNT,
            max_count: crate::registry::search::MAX_COUNT,
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
            allow_unsigned: false,
            leeway_seconds: 60,
            max_token_lifetime_seconds: crate::auth::DEFAULT_MAX_TOKEN_LIFETIME_SECONDS,
        }
    }
}

impl Default for Database {
    fn default() -> Self {
        Database {
            path: "registry.db".into(),
            max_batch: 256,
            readers: 8,
            synchronous: "full".into(),
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
    /// The `[server]` limits: each bounded so a typo cannot switch a protection off.
    fn validate(&self) -> Result<(), ConfigError> {
        let range = |key: &str, value: u64, min: u64, max: u64| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ConfigError::invalid(
                    format!("server.{key}"),
                    format!("must be between {min} and {max} (got {value})"),
                ))
            }
        };
        range(
            "handshake_timeout_ms",
            self.handshake_timeout_ms,
            100,
            60_000,
        )?;
        range("max_handshakes", self.max_handshakes as u64, 1, 1_000_000)?;
        range(
            "client_request_timeout_ms",
            self.client_request_timeout_ms,
            100,
            300_000,
        )?;
        range("body_timeout_ms", self.body_timeout_ms, 100, 3_600_000)?;
        range("max_connections", self.max_connections as u64, 1, 1_000_000)?;
        range("keep_alive_seconds", self.keep_alive_seconds, 0, 3600)?;
        if self.max_handshakes > self.max_connections {
            return Err(ConfigError::invalid(
                "server.max_handshakes",
                format!(
                    "must not exceed server.max_connections ({})",
                    self.max_connections
                ),
            ));
        }
        Ok(())
    }

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
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
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

    /// Checks values figment cannot: addresses, URLs, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::invalid(key, why));
        self.server.validate()?;
        if self.server.listen.parse::<SocketAddr>().is_err() {
            return bad(
                "server.listen",
                format!("'{}' is not an address:port", self.server.listen),
            );
        }
        let base = &self.server.base_url;
        if !(base.is_empty() || base.starts_with("https://") || base.starts_with("http://")) {
            return bad(
                "server.base_url",
                format!("'{base}' must be an absolute http(s) URL"),
            );
        }
        if base.contains('?') || base.contains('#') {
            return bad(
                "server.base_url",
                "must not hold a query or fragment".into(),
            );
        }
        if self.auth.audience.trim().is_empty() {
            return bad("auth.audience", "must not be empty".into());
        }
        if self.auth.leeway_seconds > 3600 {
            return bad("auth.leeway_seconds", "must be at most 3600".into());
        }
        if !(60..=86_400).contains(&self.auth.max_token_lifetime_seconds) {
            return bad(
                "auth.max_token_lifetime_seconds",
                "must be between 60 and 86400".into(),
            );
        }
        if self.tls.client_crls_poll_seconds > 3600 {
            return bad(
                "tls.client_crls_poll_seconds",
                "must be at most 3600 (0: reload only on SIGHUP)".into(),
            );
        }
        if self.database.path.as_os_str().is_empty() {
            return bad("database.path", "must not be empty".into());
        }
        if !(1..=10_000).contains(&self.database.max_batch) {
            return bad("database.max_batch", "must be between 1 and 10000".into());
        }
        if !["full", "normal"].contains(&self.database.synchronous.as_str()) {
            return bad(
                "database.synchronous",
                format!(
                    "'{}' must be \"full\" or \"normal\"",
                    self.database.synchronous
                ),
            );
        }
        if self.search.default_count == 0 || self.search.default_count > self.search.max_count {
            return bad(
                "search.default_count",
                "must be between 1 and search.max_count".into(),
            );
        }
        if !(1..=10_000).contains(&self.search.max_count) {
            return bad("search.max_count", "must be between 1 and 10000".into());
        }
        if !(1..=256).contains(&self.database.readers) {
            return bad("database.readers", "must be between 1 and 256".into());
        }
        if !(1024..=64 * 1024 * 1024).contains(&self.limits.max_body_bytes) {
            return bad(
                "limits.max_body_bytes",
                "must be between 1024 and 67108864".into(),
            );
        }
        if !(1..=7 * 86_400).contains(&self.expiry.interval_seconds) {
            return bad(
                "expiry.interval_seconds",
                "must be between 1 and 604800".into(),
            );
        }
        if !(1..=100_000).contains(&self.expiry.chunk_rows) {
            return bad("expiry.chunk_rows", "must be between 1 and 100000".into());
        }
        if self.log.level.trim().is_empty() {
            return bad("log.level", "must not be empty (e.g. \"info\")".into());
        }
        if self.tls.enabled && !self.tls.generate_dev_pki {
            for (key, path) in [
                ("tls.cert", &self.tls.cert),
                ("tls.key", &self.tls.key),
                ("tls.client_ca", &self.tls.client_ca),
            ] {
                if !path.is_file() {
                    return bad(key, format!("{} does not exist", path.display()));
                }
            }
        }
        if self.tls.enabled {
            for (i, path) in self.tls.client_crls.iter().enumerate() {
                if !path.is_file() {
                    return bad(
                        &format!("tls.client_crls[{i}]"),
                        format!("{} does not exist", path.display()),
                    );
                }
            }
        }
        for (i, path) in self.auth.public_keys.iter().enumerate() {
            if !path.is_file() {
                return bad(
                    &format!("auth.public_keys[{i}]"),
                    format!("{} does not exist", path.display()),
                );
            }
        }
        if !self.auth.jwks_file.as_os_str().is_empty() && !self.auth.jwks_file.is_file() {
            return bad(
                "auth.jwks_file",
                format!("{} does not exist", self.auth.jwks_file.display()),
            );
        }
        Ok(())
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
    /// paths are shown; the file contents are never printed.
    pub fn describe(&self) -> String {
        // Settings hold no secrets (only paths to them), so they serialise as they are. Every
        // number is range-checked by `validate`, so none is beyond TOML's i64.
        let mut out = toml::to_string(self)
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
        out
    }
}
