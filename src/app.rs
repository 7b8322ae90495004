//! Building and running the server: dev PKI, keys, store, TLS listener. Tests use
//! `Application::build` with port 0 and read the bound port back (the zero2prod pattern).

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context as _;

use crate::auth::{AuthSettings, KeyError, Verifier};
use crate::config::{self, Expiry, Settings};
use crate::http::caller::PeerCertificate;
use crate::http::{self, access_log, AppState};
use crate::metrics::Metrics;
use crate::store::{Migration, Store};
use crate::{expiry, pki, tls};

pub struct Application {
    addr: std::net::SocketAddr,
    port: u16,
    base_url: String,
    server: Server,
    state: web::Data<AppState>,
    expiry: Expiry,
    /// The client-certificate verifier whose CRLs are reloaded while serving (TLS on).
    crl_reload: Option<(Arc<tls::ClientVerifier>, Option<std::time::Duration>)>,
}

impl Application {
    /// Everything start-up needs; the error names the setting (and file) at fault, its chain
    /// says why (print it with `{:#}`).
    pub fn build(settings: &Settings) -> anyhow::Result<Application> {
        tls::install_crypto_provider();
        // The port first: a server that cannot listen creates nothing (no dev PKI, no database).
        let listen = &settings.server.listen;
        let listeners = bind(listen).with_context(|| format!("server.listen {listen}"))?;
        let addr = listeners[0]
            .local_addr()
            .with_context(|| format!("server.listen {listen}"))?;
        if settings.tls.enabled && settings.tls.generate_dev_pki {
            let dir = settings.dev_pki_dir();
            let (_, created) = pki::ensure(&dir).with_context(|| {
                format!("tls.generate_dev_pki: cannot create {}", dir.display())
            })?;
            if created {
                log::info!("created a development PKI in {}", dir.display());
            }
        }
        let verifier = Verifier::new(&auth_settings(settings)?).map_err(|e| {
            match key_setting(&settings.auth, &e) {
                Some(setting) => anyhow::Error::new(e).context(setting),
                None => e.into(),
            }
        })?;
        let metrics = Arc::new(Metrics::new().context("metrics")?);
        let store = Store::open(&settings.database, metrics.clone(), Migration::Apply)
            .with_context(|| settings.database.target())?;

        let scheme = if settings.tls.enabled {
            "https"
        } else {
            "http"
        };
        let base_url = match settings.server.base_url.trim_end_matches('/') {
            "" => format!("{scheme}://localhost:{}", addr.port()),
            configured => configured.to_string(),
        };

        let state = web::Data::new(AppState {
            store,
            verifier,
            base_url: base_url.clone(),
            body_limits: http::body::BodyLimits {
                max_bytes: settings.limits.max_body_bytes,
                timeout: Duration::from_millis(settings.server.body_timeout_ms),
            },
            metrics,
            page_sizes: crate::registry::search::PageSizes {
                default: settings.search.default_count,
                max: settings.search.max_count,
            },
        });
        let app_state = state.clone();
        let limits = &settings.server;
        // actix-web's connection limits are per worker; the configuration states totals, so
        // the worker count is fixed here (one per CPU, actix's own default) and they are divided.
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .wrap_fn(http::panic_guard::guard)
                .wrap_fn(access_log::observe)
                .wrap_fn(http::unread_body::hold)
                .configure(http::routes)
        })
        .on_connect(|conn, data| {
            use actix_tls::accept::rustls_0_23::TlsStream;
            if let Some(stream) = conn.downcast_ref::<TlsStream<actix_web::rt::net::TcpStream>>() {
                // rustls verified the chain during the handshake; we keep who it was.
                let subject = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| tls::certificate_subject(leaf));
                data.insert(PeerCertificate { subject });
            }
        })
        .workers(workers)
        .max_connections(config::Server::per_worker(limits.max_connections, workers))
        // The handshake limit is a process-wide setting in actix-tls, read by each worker
        // thread when it accepts its first TLS connection.
        .max_connection_rate(config::Server::per_worker(limits.max_handshakes, workers))
        .tls_handshake_timeout(Duration::from_millis(limits.handshake_timeout_ms))
        .client_request_timeout(Duration::from_millis(limits.client_request_timeout_ms))
        .keep_alive(match limits.keep_alive_seconds {
            0 => actix_web::http::KeepAlive::Disabled,
            seconds => actix_web::http::KeepAlive::Timeout(Duration::from_secs(seconds)),
        });
        let mut crl_reload = None;
        let server = if settings.tls.enabled {
            let t = &settings.tls;
            let verifier = tls::client_verifier(&t.client_ca, &t.client_crls).map_err(tls_error)?;
            let poll = (t.client_crls_poll_seconds > 0)
                .then(|| std::time::Duration::from_secs(t.client_crls_poll_seconds));
            crl_reload = Some((verifier.clone(), poll));
            let config = tls::server_config(&t.cert, &t.key, verifier).map_err(tls_error)?;
            listeners.into_iter().try_fold(server, |server, listener| {
                server.listen_rustls_0_23(listener, config.clone())
            })
        } else {
            log::warn!(
                "TLS IS DISABLED (tls.enabled = false): the registry is serving plain HTTP with no \
                 client-certificate check. Never do this outside a test bench."
            );
            listeners
                .into_iter()
                .try_fold(server, |server, listener| server.listen(listener))
        }
        .with_context(|| format!("server.listen {listen}"))?
        .run();
        Ok(Application {
            addr,
            port: addr.port(),
            base_url,
            server,
            state,
            expiry: settings.expiry.clone(),
            crl_reload,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address actually bound (port 0 in the configuration picks a free one).
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Faults a test can inject into this server's writer.
    #[doc(hidden)]
    pub fn faults(&self) -> Arc<crate::store::faults::Faults> {
        self.state.store.faults()
    }

    /// Serves until SIGINT/SIGTERM: actix stops accepting and drains in-flight requests, then
    /// the expiry task stops and the writer finishes its queue and checkpoints the WAL.
    /// Meanwhile the client CRLs are reloaded when their files change and on SIGHUP.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let task = self.expiry.enabled.then(|| {
            let state = self.state.clone();
            let config = self.expiry.clone();
            tokio::spawn(
                async move { expiry::schedule(&state.store, &config, &state.metrics).await },
            )
        });
        let jwks_state = self.state.clone();
        let jwks_task = tokio::spawn(async move { jwks_state.verifier.keep_jwks_fresh().await });
        let crl_tasks = match self.crl_reload {
            Some((verifier, poll)) => tls::watch_crls(verifier, poll),
            None => Vec::new(),
        };
        let served = self.server.await;
        jwks_task.abort();
        for task in task.into_iter().chain(crl_tasks) {
            task.abort();
        }
        let state = self.state;
        // Joining the writer blocks; keep it off the async thread.
        let _ = actix_web::rt::task::spawn_blocking(move || state.store.stop()).await;
        log::info!("stopped");
        served
    }
}

/// Connections the kernel queues before the registry accepts them: actix-web's own `bind`
/// default. std's `TcpListener::bind` queues 128, which a burst of connections (or a moment
/// with every handshake slot taken) overflows, and a dropped SYN costs a client a 1 s retry.
const LISTEN_BACKLOG: i32 = 1024;

/// A listening socket as actix-web's `bind` makes it (address reuse, a 1024 backlog), bound
/// here so the port is known before the server starts.
/// Binds every address `listen` resolves to (`localhost:8443` is 127.0.0.1 and ::1). With port
/// 0, the first address picks a free port and the others take the same one.
fn bind(listen: &str) -> std::io::Result<Vec<TcpListener>> {
    use std::net::ToSocketAddrs;
    let mut addrs: Vec<std::net::SocketAddr> = Vec::new();
    for addr in listen.to_socket_addrs()? {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    let mut listeners: Vec<TcpListener> = Vec::new();
    for mut addr in addrs {
        if let (0, Some(first)) = (addr.port(), listeners.first()) {
            addr.set_port(first.local_addr()?.port());
        }
        listeners.push(bind_one(addr)?);
    }
    if listeners.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            "resolves to no address",
        ));
    }
    Ok(listeners)
}

fn bind_one(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // ::1 alone, so 127.0.0.1 can be bound beside it.
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// The setting a TLS error is about, as context, when the error does not name it itself.
fn tls_error(e: tls::TlsError) -> anyhow::Error {
    use tls::{TlsError, TlsFile};
    let setting = match &e {
        TlsError::File { file, .. } => match file {
            TlsFile::ServerCertificate => "tls.cert",
            TlsFile::ServerKey => "tls.key",
            TlsFile::ClientCa => "tls.client_ca",
            TlsFile::JwksCa => "auth.jwks_ca",
            // These name database.url themselves (and come through the store).
            TlsFile::PostgresRootCertificate
            | TlsFile::PostgresClientCertificate
            | TlsFile::PostgresClientKey => return e.into(),
        },
        TlsError::KeyPair { .. } => "tls.cert and tls.key",
        // These name tls.client_crls or database.url themselves.
        TlsError::Crl { .. }
        | TlsError::Crls(_)
        | TlsError::Versions(_)
        | TlsError::PostgresKeyPair { .. }
        | TlsError::PostgresSetting(_) => return e.into(),
    };
    anyhow::Error::new(e).context(setting)
}

/// The setting and file a key error is about (`auth.public_keys[0] /etc/keys/a.pem`), as
/// context; `Verifier::new` only sees the files' contents.
fn key_setting(auth: &config::Auth, e: &KeyError) -> Option<String> {
    let (key, path) = match e {
        KeyError::PublicKey { index, .. } => (
            format!("auth.public_keys[{index}]"),
            auth.public_keys.get(*index)?,
        ),
        KeyError::Jwks(_) | KeyError::JwksKey { .. } | KeyError::NoUsableJwksKey => {
            ("auth.jwks_file".to_string(), &auth.jwks_file)
        }
        KeyError::EmptySecret => (
            "auth.hs256_secret_file".to_string(),
            &auth.hs256_secret_file,
        ),
        KeyError::JwksClient(_) => return Some(format!("auth.jwks_url {}", auth.jwks_url)),
        KeyError::EmptyAudience | KeyError::NoKeys => return None,
    };
    Some(format!("{key} {}", path.display()))
}

fn read_file(key: &str, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{key} {}", path.display()))
}

fn auth_settings(settings: &Settings) -> anyhow::Result<AuthSettings> {
    let a = &settings.auth;
    let hs256_secret = if a.hs256_secret_file.as_os_str().is_empty() {
        None
    } else if a.hs256_secret_file.is_file() {
        Some(read_file("auth.hs256_secret_file", &a.hs256_secret_file)?)
    } else {
        anyhow::bail!(
            "auth.hs256_secret_file {} does not exist (set it to \"\" to accept no HS256 tokens)",
            a.hs256_secret_file.display()
        );
    };
    let public_key_pems = a
        .public_keys
        .iter()
        .enumerate()
        .map(|(i, p)| read_file(&format!("auth.public_keys[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    let jwks_ca = if a.jwks_ca.as_os_str().is_empty() {
        None
    } else {
        Some(tls::load_certs(tls::TlsFile::JwksCa, &a.jwks_ca).context("auth.jwks_ca")?)
    };
    let jwks_json = if a.jwks_file.as_os_str().is_empty() {
        None
    } else {
        Some(read_file("auth.jwks_file", &a.jwks_file)?)
    };
    Ok(AuthSettings {
        audience: a.audience.clone(),
        issuer: (!a.issuer.is_empty()).then(|| a.issuer.clone()),
        hs256_secret,
        public_key_pems,
        jwks_json,
        allow_unsigned: a.allow_unsigned,
        leeway_seconds: a.leeway_seconds,
        max_lifetime_seconds: a.max_token_lifetime_seconds,
        permissions: crate::auth::Permissions {
            scope_claim: a.scope_claim.clone(),
            read_roles: a.roles.read.clone(),
            write_roles: a.roles.write.clone(),
            organisation_claim: a.organisation_claim.clone(),
        },
        jwks_source: (!a.jwks_url.trim().is_empty()).then(|| crate::auth::JwksSource {
            url: a.jwks_url.trim().to_string(),
            ca: jwks_ca,
            refresh: Duration::from_secs(a.jwks_refresh_seconds),
        }),
    })
}
