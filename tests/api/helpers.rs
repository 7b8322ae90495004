//! `spawn_app()`: the real server on port 0, its own temp folder, certificates made by rcgen,
//! and the suite's database (`crate::suite_database`: a temp SQLite file, or a fresh database on
//! a throwaway PostgreSQL cluster in tests/api_postgres); and a real HTTPS client presenting the
//! dev client certificate.

use std::path::PathBuf;

use appointment_registry::app::Application;
use appointment_registry::config::Settings;
use appointment_registry::pki::{self, DevPkiPaths};
use appointment_registry::{auth, tls};
use reqwest::{Client, Response};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

pub const AUDIENCE: &str = "https://registry.test";
pub const ORG: &str = "RA1";
pub const WRITE_SCOPE: &str = "patient/Appointment.write";
pub const READ_SCOPE: &str = "patient/Appointment.read";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub pki: DevPkiPaths,
    pub secret: Vec<u8>,
    /// The SQLite file (tests of SQLite itself: backup, the CLI, plans); on PostgreSQL a path
    /// nothing uses. Tests that look into the store go through [`TestApp::db`].
    pub db_path: PathBuf,
    /// The database this server stores in, for a test's own SQL.
    pub db: TestDb,
    /// Faults the test can inject into this server's writer (tests/hostile).
    #[allow(dead_code)]
    pub faults: std::sync::Arc<appointment_registry::store::faults::Faults>,
    // Dropped last: removes certificates and database.
    pub dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// A server on the suite's database (a temp SQLite file, or PostgreSQL in tests/api_postgres).
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_suite_database(None, adjust).await
}

/// A server on `db` (a database the test made), whatever the suite's (tests/postgres).
#[allow(dead_code)]
pub async fn spawn_app_on(db: TestDb, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_suite_database(Some(db), adjust).await
}

async fn spawn_app_on_suite_database(
    db: Option<TestDb>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    init_test_log();
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().expect("temp dir");
    let pki = pki::generate(&dir.path().join("pki")).expect("dev pki");
    let mut settings = test_settings(&pki, &dir.path().join("registry.db"));
    let db = db.unwrap_or_else(|| crate::suite_database(&settings.database.path));
    db.configure(&mut settings);
    adjust(&mut settings);
    // What the server really opens, after the test's own changes.
    let db = match settings.database.backend {
        appointment_registry::config::Backend::Sqlite => {
            TestDb::Sqlite(settings.database.path.clone())
        }
        appointment_registry::config::Backend::Postgres => TestDb::Postgres {
            url: settings.database.url.clone(),
        },
    };
    settings.validate().expect("test settings are valid");

    let app = Application::build(&settings).expect("server starts");
    let base = app.base_url().to_string();
    let faults = app.faults();
    tokio::spawn(app.run_until_stopped());

    let secret = std::fs::read(&pki.jwt_secret).expect("jwt secret");
    TestApp {
        client: client_for(&pki, Some(&pki)),
        base,
        secret,
        db_path: settings.database.path.clone(),
        db,
        faults,
        pki,
        dir,
    }
}

/// With `TEST_LOG` set (`TEST_LOG=1 cargo test ...`), the in-process servers log to stderr at
/// `info` (or at `RUST_LOG`'s filter) through the test harness, which shows a test's output
/// when it fails. Without it they log nothing.
fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if test_log() {
            env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
                .is_test(true)
                .init();
        }
    });
}

/// Whether `TEST_LOG` asks for the servers' logs.
pub fn test_log() -> bool {
    std::env::var_os("TEST_LOG").is_some()
}

/// Settings for a server on a free port with the test PKI and `db`.
pub fn test_settings(pki: &DevPkiPaths, db: &std::path::Path) -> Settings {
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.base_url = String::new();
    settings.tls.cert = pki.server_cert.clone();
    settings.tls.key = pki.server_key.clone();
    settings.tls.client_ca = pki.ca_cert.clone();
    settings.tls.generate_dev_pki = false;
    settings.auth.audience = AUDIENCE.into();
    settings.auth.hs256_secret_file = pki.jwt_secret.clone();
    settings.database.path = db.to_path_buf();
    // Test data is from 2019: the scheduled expiry would delete it. Expiry tests turn it on.
    settings.expiry.enabled = false;
    // Every connection makes a full handshake (no resumption), and a debug build under a burst
    // of a few hundred can take longer than the production deadline of 1 s; the hostile tests
    // that are about that deadline set it back.
    settings.server.handshake_timeout_ms = 10_000;
    settings
}

/// An HTTPS client trusting `server`'s CA and presenting `identity`'s client certificate
/// (none when `identity` is None).
pub fn client_for(server: &DevPkiPaths, identity: Option<&DevPkiPaths>) -> Client {
    client_builder_for(server, identity)
        .build()
        .expect("client")
}

/// [`client_for`]'s builder, for a test that tunes the connection pool.
pub fn client_builder_for(
    server: &DevPkiPaths,
    identity: Option<&DevPkiPaths>,
) -> reqwest::ClientBuilder {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&server.ca_cert).expect("ca pem") {
        roots.add(cert.expect("ca cert")).expect("add root");
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    let config = match identity {
        Some(id) => {
            let chain: Vec<CertificateDer<'static>> =
                CertificateDer::pem_file_iter(&id.client_cert)
                    .expect("client pem")
                    .map(|c| c.expect("client cert"))
                    .collect();
            let key = PrivateKeyDer::from_pem_file(&id.client_key).expect("client key");
            builder
                .with_client_auth_cert(chain, key)
                .expect("client auth")
        }
        None => builder.with_no_client_auth(),
    };
    Client::builder()
        .use_preconfigured_tls(config)
        // Below the server's keep-alive (5 s): a connection the server is closing is never
        // picked for the next request (hyper's IncompleteMessage after a long pause in a test).
        .pool_idle_timeout(std::time::Duration::from_secs(2))
}

impl TestApp {
    pub fn token(&self) -> String {
        self.token_with(&format!("{WRITE_SCOPE} {READ_SCOPE}"), ORG)
    }

    pub fn token_with(&self, scope: &str, org: &str) -> String {
        auth::dev_token(&self.secret, AUDIENCE, None, scope, org, 300)
    }

    pub fn settings_with_db(&self, db: &std::path::Path) -> Settings {
        test_settings(&self.pki, db)
    }

    /// The JSON CapabilityStatement of `GET /metadata` (no token).
    pub async fn capability_statement(&self) -> Value {
        let response = self
            .client
            .get(self.url("/metadata"))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), 200);
        response.json().await.expect("a CapabilityStatement")
    }

    /// The Prometheus text of `GET /_metrics`.
    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(self.url("/_metrics"))
            .send()
            .await
            .expect("request sent");
        response.text().await.expect("metrics text")
    }

    /// The value of one series of `GET /_metrics`, named with its labels as the text writes
    /// them (`registry_writer_queue_depth`, `name{label="value"}`).
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The status of `GET path` with no token (`/_health`, `/_ready`, `/_metrics`).
    pub async fn status_of(&self, path: &str) -> u16 {
        let response = self.client.get(self.url(path)).send().await;
        response.expect("request sent").status().as_u16()
    }

    /// POST /Appointment with a valid token.
    pub async fn register(&self, content_type: &str, body: impl Into<reqwest::Body>) -> Response {
        self.client
            .post(self.url("/Appointment"))
            .bearer_auth(self.token())
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn register_json(&self, body: &Value) -> Response {
        self.register("application/fhir+json", body.to_string())
            .await
    }

    /// Registers the valid appointment, expects a 201, and returns the stored version 1.
    pub async fn registered(&self) -> Value {
        let response = self.register_json(&valid_appointment()).await;
        assert_eq!(response.status(), 201);
        response.json().await.expect("the created appointment")
    }

    /// How many appointments the database holds, counted in SQL.
    pub fn stored_appointments(&self) -> i64 {
        self.db.count("SELECT count(*) FROM appointment")
    }

    /// As `register_json`, for futures that must own their body (many in flight at once).
    pub async fn register_json_owned(&self, body: Value) -> Response {
        self.register_json(&body).await
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(self.token())
            .send()
            .await
            .expect("request sent")
    }
}

/// The database a test server stores in, and a test's own SQL on it (the same SQL on both
/// backends: the schemas share table and column names).
#[derive(Clone, Debug)]
pub enum TestDb {
    Sqlite(PathBuf),
    Postgres { url: String },
}

impl TestDb {
    /// Points `settings` at this database.
    pub fn configure(&self, settings: &mut Settings) {
        match self {
            TestDb::Sqlite(path) => settings.database.path = path.clone(),
            TestDb::Postgres { url } => {
                settings.database.backend = appointment_registry::config::Backend::Postgres;
                settings.database.url = url.clone();
                // Two tests at a time, some with two servers: stay far below max_connections.
                settings.database.pool_size = 4;
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, TestDb::Postgres { .. })
    }

    /// True (after saying so) when this is PostgreSQL and the test is about SQLite only:
    /// `if app.db.sqlite_only("…") { return; }`.
    pub fn sqlite_only(&self, why: &str) -> bool {
        if self.is_postgres() {
            eprintln!("skipped on PostgreSQL: {why}");
        }
        self.is_postgres()
    }

    /// The `[database]` table of a configuration file naming this database (for the binary).
    pub fn config_toml(&self) -> String {
        match self {
            TestDb::Sqlite(path) => format!("[database]\npath = \"{}\"\n", path.display()),
            TestDb::Postgres { url } => {
                format!("[database]\nbackend = \"postgres\"\nurl = \"{url}\"\n")
            }
        }
    }

    /// Runs `sql` (one or more statements).
    pub fn execute(&self, sql: &str) {
        match self {
            TestDb::Sqlite(path) => {
                let conn = open_sqlite(path);
                conn.execute_batch(sql)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            TestDb::Postgres { .. } => {
                self.query(sql);
            }
        }
    }

    /// The first row of `sql`'s answer, each column as text (None for NULL).
    pub fn row(&self, sql: &str) -> Vec<Option<String>> {
        self.query(sql)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no row from {sql}"))
    }

    /// The first column of the first row of `sql`, a number (a count).
    pub fn count(&self, sql: &str) -> i64 {
        let row = self.row(sql);
        let text = row.first().cloned().flatten().expect("a value");
        text.parse().unwrap_or_else(|_| panic!("{sql} gave {text}"))
    }

    /// The rows the query `sql` answers, each column as text (None for NULL).
    pub fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        match self {
            TestDb::Sqlite(path) => {
                let conn = open_sqlite(path);
                let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
                let columns = stmt.column_count();
                let rows = stmt
                    .query_map([], |r| {
                        (0..columns)
                            .map(|i| {
                                Ok(match r.get::<_, rusqlite::types::Value>(i)? {
                                    rusqlite::types::Value::Null => None,
                                    rusqlite::types::Value::Integer(n) => Some(n.to_string()),
                                    rusqlite::types::Value::Real(f) => Some(f.to_string()),
                                    rusqlite::types::Value::Text(t) => Some(t),
                                    rusqlite::types::Value::Blob(b) => {
                                        Some(String::from_utf8_lossy(&b).into_owned())
                                    }
                                })
                            })
                            .collect::<rusqlite::Result<Vec<_>>>()
                    })
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
                rows.map(|r| r.expect("row")).collect()
            }
            TestDb::Postgres { url } => {
                // The sync client runs a runtime of its own: off this test's runtime thread.
                let (url, sql) = (url.clone(), sql.to_string());
                std::thread::spawn(move || {
                    let mut client =
                        postgres::Client::connect(&url, postgres::NoTls).expect("connects");
                    let messages = client
                        .simple_query(&sql)
                        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
                    // A query answers rows; statements around it (`execute`) answer none.
                    let mut rows = Vec::new();
                    for message in messages {
                        if let postgres::SimpleQueryMessage::Row(row) = message {
                            rows.push(
                                (0..row.len())
                                    .map(|i| row.get(i).map(str::to_string))
                                    .collect(),
                            );
                        }
                    }
                    rows
                })
                .join()
                .expect("query thread")
            }
        }
    }
}

/// A connection to a test server's SQLite file that waits for the server's writer.
fn open_sqlite(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("database opens");
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    conn
}

pub fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A registration that passes every rule (the NHS sample body with participant.status).
pub fn valid_appointment() -> Value {
    serde_json::json!({
        "resourceType": "Appointment",
        "meta": { "profile": ["https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-Appointment-1"] },
        "status": "booked",
        "start": "2030-02-01T10:51:23.620+00:00",
        "created": "2019-02-01T10:51:23+00:00",
        "participant": [{
            "actor": { "identifier": {
                "use": "official",
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "1234554321"
            }},
            "status": "accepted"
        }]
    })
}

/// A response's Content-Type ("" when it has none).
pub fn content_type(response: &Response) -> &str {
    response
        .headers()
        .get("content-type")
        .map_or("", |v| v.to_str().unwrap_or(""))
}

/// The OperationOutcome body of a response (JSON or XML, read strictly), and its issues' Spine codes and diagnostics.
pub async fn outcome(response: Response) -> (u16, Vec<(String, String)>) {
    let status = response.status().as_u16();
    let xml = content_type(&response).starts_with("application/fhir+xml");
    let text = response.bytes().await.expect("body");
    let body = if xml {
        appointment_registry::fhir::read_xml(&text).expect("XML OperationOutcome")
    } else {
        appointment_registry::fhir::read_json(&text).expect("JSON OperationOutcome")
    };
    assert_eq!(body["resourceType"], "OperationOutcome", "{body}");
    let issues = body["issue"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| {
            (
                i["details"]["coding"][0]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                i["diagnostics"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    (status, issues)
}

/// Asserts a 4xx OperationOutcome with `status` whose issues include `code` with a
/// diagnostics text that mentions `mentions`.
pub async fn assert_outcome(response: Response, status: u16, code: &str, mentions: &str) {
    let (got, issues) = outcome(response).await;
    assert_eq!(got, status, "{issues:?}");
    assert!(
        issues
            .iter()
            .any(|(c, d)| c == code && d.contains(mentions)),
        "expected {code} mentioning '{mentions}' in {issues:?}"
    );
}
