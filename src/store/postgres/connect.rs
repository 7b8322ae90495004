//! From `database.url` to connections: its TLS keys split off (`config::split_tls`), a rustls
//! connector built for them (`tls::postgres_client_config`, libpq's `sslmode` semantics), and
//! the first connection made by hand, so that a refusal stops start-up at once with its cause
//! and a hint, rather than as the pool's timeout.

use std::time::Duration;

use postgres::Client;
use r2d2::ManageConnection;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{Database, PgTls, SslMode};
use crate::store::StoreError;

pub type Manager = PostgresConnectionManager<MakeRustlsConnect>;

/// How long connecting to a server may take when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection manager of `[database]`, and what its URL asks of TLS. What the URL leaves
/// open gets the registry's defaults: a connect timeout, the application name, the statement
/// timeout of `database.statement_timeout_ms`, and TCP keepalives.
pub fn manager(db: &Database) -> Result<(Manager, PgTls), StoreError> {
    let (mut config, tls) = crate::config::pg_config(&db.url)
        .map_err(|why| StoreError::Setup(format!("database.url: {why}")))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("appointment-registry");
    }
    // Bounded waits: a statement ends at the timeout, and keepalives notice a server (or a
    // network path) that vanished without closing the connection, as in a failover.
    if db.statement_timeout_ms > 0 && config.get_options().is_none() {
        config.options(&format!("-c statement_timeout={}", db.statement_timeout_ms));
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(10));
    let client = crate::tls::postgres_client_config(&tls)?;
    Ok((
        PostgresConnectionManager::new(config, MakeRustlsConnect::new(client)),
        tls,
    ))
}

/// One connection, made now (blocking: not on an async thread); a failure says what TLS
/// asked and, when it can tell, why the server or its certificate was refused.
pub fn connect(manager: &Manager, tls: &PgTls) -> Result<Client, StoreError> {
    manager.connect().map_err(|source| {
        let mut what = tls.describe();
        if let Some(hint) = hint(tls, &source) {
            what = format!("{what}; {hint}");
        }
        StoreError::Connect { what, source }
    })
}

/// A hint for a failed connection, from the rustls error or the server's refusal under it.
fn hint(tls: &PgTls, error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = cause {
        let rustls_error = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .or_else(|| e.downcast_ref::<rustls::Error>());
        if let Some(rustls::Error::InvalidCertificate(why)) = rustls_error {
            use rustls::CertificateError as C;
            let root = tls
                .root_cert
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            return Some(match why {
                C::UnknownIssuer | C::BadSignature => {
                    format!("the server's certificate is not signed by a CA in sslrootcert {root}")
                }
                C::NotValidForName | C::NotValidForNameContext { .. } => {
                    "the server's certificate was not issued for the host name in \
                     database.url (sslmode=verify-ca checks the CA only)"
                        .into()
                }
                C::Expired | C::ExpiredContext { .. } => {
                    "the server's certificate has expired".into()
                }
                _ => return None,
            });
        }
        if let Some(db) = e.downcast_ref::<postgres::error::DbError>() {
            if tls.mode == SslMode::Disable
                && db.code() == &postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                && db.message().contains("no encryption")
            {
                return Some(
                    "the server takes only TLS connections from here: set sslmode=require, \
                     or verify-full with sslrootcert"
                        .into(),
                );
            }
        }
        if e.to_string().contains("server does not support TLS") {
            return Some(format!(
                "sslmode={} needs a server with ssl = on",
                tls.mode.as_str()
            ));
        }
        cause = e.source();
    }
    None
}
