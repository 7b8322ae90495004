//! TLS to PostgreSQL (`database.url`'s `sslmode`, `sslrootcert`, `sslcert`, `sslkey`, with
//! libpq's meaning) against clusters that take TCP connections over TLS only (`hostssl`: a
//! plain connection is refused), with certificates made here by rcgen.

use std::path::{Path, PathBuf};

use appointment_registry::app::Application;
use appointment_registry::config::Backend;
use appointment_registry::{pki, tls};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

use crate::cluster::{PgCluster, ServerTls};
use crate::helpers::*;

/// A certificate authority of the test's own.
struct TestCa {
    params: CertificateParams,
    key: KeyPair,
    pem: String,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        TestCa { params, key, pem }
    }

    /// A certificate and key (PEM) for `common_name`, with `names` as DNS or IP alternative
    /// names, for a server or (`client`) a client.
    fn issue(&self, common_name: &str, names: &[&str], client: bool) -> (String, String) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![if client {
            ExtendedKeyUsagePurpose::ClientAuth
        } else {
            ExtendedKeyUsagePurpose::ServerAuth
        }];
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the CA certificate to `dir/name`.
    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

/// A TLS-only cluster whose server certificate, from `ca`, names `names`; client
/// certificates of `client_ca` log in every user but the superuser. None when PostgreSQL is
/// not installed.
async fn tls_cluster(ca: &TestCa, names: &[&str], client_ca: Option<&TestCa>) -> Option<PgCluster> {
    let (cert_pem, key_pem) = ca.issue("postgres server", names, false);
    let server = ServerTls {
        cert_pem,
        key_pem,
        client_ca_pem: client_ca.map(|ca| ca.pem.clone()),
    };
    tokio::task::spawn_blocking(move || PgCluster::start_tls(&server))
        .await
        .unwrap()
}

/// `postgresql://registry[:password]@HOST:PORT/registry?hostaddr=127.0.0.1&PARAMS`: the host
/// name TLS checks is `host`, the address connected to always the cluster's.
fn url(cluster: &PgCluster, host: &str, password: Option<&str>, params: &str) -> String {
    let password = password.map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "postgresql://registry{password}@{host}:{}/registry?hostaddr=127.0.0.1&{params}",
        cluster.port()
    )
}

async fn app_on(url: String) -> TestApp {
    spawn_app_with(move |s| {
        s.database.backend = Backend::Postgres;
        s.database.url = url;
    })
    .await
}

/// Why the registry does not start with `url`, as the command line prints it (the error and
/// its causes on one line).
async fn start_error(url: String) -> String {
    tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::generate(&dir.path().join("pki")).unwrap();
    let mut settings = test_settings(&pki, &dir.path().join("registry.db"));
    settings.database.backend = Backend::Postgres;
    settings.database.url = url;
    settings.validate().expect("valid settings");
    match Application::build(&settings) {
        Ok(_) => panic!("the registry started with {}", settings.database.url),
        Err(e) => appointment_registry::error_chain::chain(e.as_ref()),
    }
}

/// Registers an appointment and reads it back.
async fn register_and_read(app: &TestApp) {
    let created = app.register_json(&valid_appointment()).await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    let read = app.get(&format!("/Appointment/{id}")).await;
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.unwrap(), body);
}

/// The registry's connections as the server sees them: (over TLS, in all).
fn registry_connections(cluster: &PgCluster, user: &str) -> (i64, i64) {
    let out = cluster.psql(&format!(
        "SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_activity a
           JOIN pg_stat_ssl s USING (pid)
          WHERE a.application_name = 'appointment-registry' AND a.usename = '{user}'"
    ));
    let (tls, all) = out.split_once('|').expect("two columns");
    (tls.parse().unwrap(), all.parse().unwrap())
}

#[tokio::test]
async fn verify_full_serves_the_api_and_checks_the_host_connected_to() {
    let ca = TestCa::new("registry test PostgreSQL CA");
    let clients = TestCa::new("registry test client CA");
    let Some(cluster) = tls_cluster(&ca, &["localhost"], Some(&clients)).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "pg ca.pem");
    let root = ca_file.display().to_string().replace(' ', "%20");

    let app = app_on(url(
        &cluster,
        "localhost",
        None,
        &format!("sslmode=verify-full&sslrootcert={root}"),
    ))
    .await;
    assert_eq!(app.status_of("/_ready").await, 200);
    register_and_read(&app).await;
    let (over_tls, all) = registry_connections(&cluster, "registry");
    assert!(all > 0 && over_tls == all, "{over_tls} of {all} over TLS");

    // Several hosts (key=value form): the first is down; the certificate names only the
    // second, which verify-full checks because it is the one connected to.
    let dead = crate::cluster::free_port();
    let multi = format!(
        "host=db-old.test,localhost hostaddr=127.0.0.1,127.0.0.1 port={dead},{} user=registry \
         dbname=registry sslmode=verify-full sslrootcert='{}'",
        cluster.port(),
        ca_file.display()
    );
    let second = app_on(multi).await;
    assert_eq!(second.status_of("/_ready").await, 200);
    register_and_read(&second).await;

    // A client certificate (sslcert, sslkey) logs in a user with `cert` authentication.
    cluster.psql("CREATE ROLE certuser LOGIN SUPERUSER");
    let (cert, key) = clients.issue("certuser", &[], true);
    let (cert_file, key_file) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    std::fs::write(&cert_file, cert).unwrap();
    std::fs::write(&key_file, key).unwrap();
    let with_cert = format!(
        "postgresql://certuser@localhost:{}/registry?hostaddr=127.0.0.1&sslmode=verify-full\
         &sslrootcert={root}&sslcert={}&sslkey={}",
        cluster.port(),
        cert_file.display(),
        key_file.display()
    );
    let third = app_on(with_cert).await;
    assert_eq!(third.status_of("/_ready").await, 200);
    register_and_read(&third).await;
    assert!(registry_connections(&cluster, "certuser").0 > 0);
    let without_cert = format!(
        "postgresql://certuser@localhost:{}/registry?hostaddr=127.0.0.1&sslmode=verify-full\
         &sslrootcert={root}",
        cluster.port()
    );
    let refused = start_error(without_cert).await;
    assert!(
        refused.contains("cannot connect to PostgreSQL") && refused.contains("certificate"),
        "{refused}"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_ca_stops_start_up_naming_database_url_and_the_file() {
    let ca = TestCa::new("registry test PostgreSQL CA");
    let Some(cluster) = tls_cluster(&ca, &["localhost"], None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let other = TestCa::new("another CA").write(dir.path(), "other-ca.pem");
    let params = format!("sslmode=verify-full&sslrootcert={}", other.display());
    let error = start_error(url(&cluster, "localhost", Some("s3cret"), &params)).await;
    for needle in [
        "database.url postgresql://registry:***@localhost:",
        "cannot connect to PostgreSQL (sslmode=verify-full",
        &format!("not signed by a CA in sslrootcert {}", other.display()),
        "UnknownIssuer",
    ] {
        assert!(error.contains(needle), "missing {needle:?} in {error}");
    }
    assert!(!error.contains("s3cret"), "{error}");

    // The same CA under require: with a root certificate, require checks the chain (libpq).
    let params = format!("sslmode=require&sslrootcert={}", other.display());
    let error = start_error(url(&cluster, "localhost", None, &params)).await;
    assert!(error.contains("UnknownIssuer"), "{error}");

    // A file that is not there stops check-config already; one that is no certificate, start.
    let mut settings = appointment_registry::config::Settings::default();
    settings.database.backend = Backend::Postgres;
    settings.database.url = url(
        &cluster,
        "localhost",
        Some("s3cret"),
        "sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
    );
    let invalid = settings.validate().unwrap_err().to_string();
    assert!(
        invalid.contains("database.url") && invalid.contains("sslrootcert /nonexistent/ca.pem"),
        "{invalid}"
    );
    assert!(!invalid.contains("s3cret"), "{invalid}");
    let not_pem = dir.path().join("not-a-cert.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    let params = format!("sslmode=verify-full&sslrootcert={}", not_pem.display());
    let error = start_error(url(&cluster, "localhost", Some("s3cret"), &params)).await;
    assert!(
        error.contains("database.url sslrootcert")
            && error.contains(&not_pem.display().to_string()),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "{error}");
}

#[tokio::test]
async fn another_host_name_fails_verify_full_but_passes_verify_ca() {
    let ca = TestCa::new("registry test PostgreSQL CA");
    let Some(cluster) = tls_cluster(&ca, &["db.elsewhere.test"], None).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write(dir.path(), "ca.pem");

    let full = format!("sslmode=verify-full&sslrootcert={}", ca_file.display());
    let error = start_error(url(&cluster, "localhost", None, &full)).await;
    assert!(
        error.contains("not issued for the host name") && error.contains("verify-ca"),
        "{error}"
    );

    let chain_only = format!("sslmode=verify-ca&sslrootcert={}", ca_file.display());
    let app = app_on(url(&cluster, "localhost", None, &chain_only)).await;
    assert_eq!(app.status_of("/_ready").await, 200);
    register_and_read(&app).await;
}

#[tokio::test]
async fn require_encrypts_without_a_root_certificate_and_disable_is_refused_clearly() {
    // A CA nobody is given: nothing but the handshake can be checked.
    let ca = TestCa::new("an unknown CA");
    let Some(cluster) = tls_cluster(&ca, &["db.elsewhere.test"], None).await else {
        return;
    };

    let app = app_on(url(&cluster, "localhost", None, "sslmode=require")).await;
    assert_eq!(app.status_of("/_ready").await, 200);
    register_and_read(&app).await;
    let (over_tls, all) = registry_connections(&cluster, "registry");
    assert!(all > 0 && over_tls == all, "{over_tls} of {all} over TLS");
    drop(app);

    // No sslmode is libpq's prefer: TLS, as the server offers it.
    let app = app_on(format!(
        "postgresql://registry@127.0.0.1:{}/registry",
        cluster.port()
    ))
    .await;
    assert_eq!(app.status_of("/_ready").await, 200);
    drop(app);

    let error = start_error(url(
        &cluster,
        "localhost",
        Some("s3cret"),
        "sslmode=disable",
    ))
    .await;
    for needle in [
        "database.url postgresql://registry:***@localhost:",
        "sslmode=disable",
        "no pg_hba.conf entry",
        "takes only TLS connections",
    ] {
        assert!(error.contains(needle), "missing {needle:?} in {error}");
    }
    assert!(!error.contains("s3cret"), "{error}");
}
