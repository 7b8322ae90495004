//! What figment cannot check: addresses, URLs, ranges, files that must exist. Each refusal
//! names its key.

use std::net::SocketAddr;

use super::{Backend, ConfigError, Server, Settings};

impl Server {
    /// The `[server]` limits: each bounded so a typo cannot switch a protection off.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
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
}

impl Settings {
    /// `database.url` and `database.pool_size`, checked only when PostgreSQL is the backend.
    fn validate_postgres(&self) -> Result<(), ConfigError> {
        let db = &self.database;
        if db.backend != Backend::Postgres {
            return Ok(());
        }
        if db.url.trim().is_empty() {
            return Err(ConfigError::invalid(
                "database.url",
                "must be set when database.backend is \"postgres\" \
                 (e.g. postgresql://registry@pg1,pg2/registry?target_session_attrs=read-write)",
            ));
        }
        // The TLS keys (libpq's names) are taken out first; tokio-postgres parses the rest.
        // Neither message ever quotes a value other than a mode or a path.
        let (_, tls) =
            super::pg_config(&db.url).map_err(|why| ConfigError::invalid("database.url", why))?;
        for (key, path) in [
            ("sslrootcert", &tls.root_cert),
            ("sslcert", &tls.client_cert),
            ("sslkey", &tls.client_key),
        ] {
            if let Some(path) = path.as_deref().filter(|p| !p.is_file()) {
                return Err(ConfigError::invalid(
                    "database.url",
                    format!("{key} {} does not exist", path.display()),
                ));
            }
        }
        if !(1..=1000).contains(&db.pool_size) {
            return Err(ConfigError::invalid(
                "database.pool_size",
                "must be between 1 and 1000",
            ));
        }
        if db.statement_timeout_ms > 3_600_000 {
            return Err(ConfigError::invalid(
                "database.statement_timeout_ms",
                "must be at most 3600000 (0: the server's own setting)",
            ));
        }
        Ok(())
    }

    /// Checks values figment cannot: addresses, URLs, ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError::invalid(key, why));
        self.server.validate()?;
        // An address (`127.0.0.1:8443`, `[::1]:8443`) or a host name and port
        // (`localhost:8443`), which start-up resolves and binds on every address.
        let host_port = self
            .server
            .listen
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if self.server.listen.parse::<SocketAddr>().is_err() && !host_port {
            return bad(
                "server.listen",
                format!(
                    "'{}' is not an address:port or host:port",
                    self.server.listen
                ),
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
        for (key, claim) in [
            ("auth.scope_claim", &self.auth.scope_claim),
            ("auth.organisation_claim", &self.auth.organisation_claim),
        ] {
            if claim.trim().is_empty() {
                return bad(
                    key,
                    "must name a claim (e.g. \"scope\", \"scp\" or \"roles\")".into(),
                );
            }
        }
        for (key, roles) in [
            ("auth.roles.read", &self.auth.roles.read),
            ("auth.roles.write", &self.auth.roles.write),
        ] {
            if roles
                .iter()
                .any(|r| r.trim().is_empty() || r.contains(char::is_whitespace))
            {
                return bad(
                    key,
                    "role names must be non-empty and without spaces".into(),
                );
            }
        }
        let jwks_url = self.auth.jwks_url.trim();
        if !jwks_url.is_empty() && !jwks_url.to_ascii_lowercase().starts_with("https://") {
            return bad(
                "auth.jwks_url",
                format!("'{jwks_url}' must be an https:// URL (keys are only fetched over TLS)"),
            );
        }
        if !(1..=86_400).contains(&self.auth.jwks_refresh_seconds) {
            return bad(
                "auth.jwks_refresh_seconds",
                "must be between 1 and 86400".into(),
            );
        }
        if !self.auth.jwks_ca.as_os_str().is_empty() {
            if jwks_url.is_empty() {
                return bad("auth.jwks_ca", "is only used with auth.jwks_url".into());
            }
            if !self.auth.jwks_ca.is_file() {
                return bad(
                    "auth.jwks_ca",
                    format!("{} does not exist", self.auth.jwks_ca.display()),
                );
            }
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
        self.validate_postgres()?;
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
}
