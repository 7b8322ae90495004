//! The command line: check-config, dev-certs, dev-token.

use std::path::Path;
use std::process::{Command, Output};

use crate::helpers::*;

fn registry() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_appointment-registry"));
    // Only what each test sets reaches the binary.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("REGISTRY_")) {
        cmd.env_remove(k);
    }
    cmd
}

/// `check-config --config <file>`, with `env` set.
fn check_config(file: &Path, env: &[(&str, &str)]) -> Output {
    registry()
        .args(["check-config", "--config"])
        .arg(file)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `check-config` run in `dir`, which reads `dir/config.toml`, with `env` set.
fn check_config_in(dir: &Path, env: &[(&str, &str)]) -> Output {
    registry()
        .arg("check-config")
        .current_dir(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn check_config_names_the_bad_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:8443\"\nlisen = \"x\"\n",
    )
    .unwrap();
    let out = check_config(&file, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("lisen"),
        "{out:?}"
    );

    std::fs::write(&file, "[limits]\nmax_body_bytes = \"lots\"\n").unwrap();
    let out = check_config(&file, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("max_body_bytes"),
        "{out:?}"
    );

    let out = check_config(&file, &[("REGISTRY_LIMITS__MAX_BODY_BYTES", "4096")]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("max_body_bytes = 4096"));

    // Without --config, ./config.toml is read; here it is fine and the environment breaks it.
    std::fs::write(&file, "[limits]\nmax_body_bytes = 4096\n").unwrap();
    let out = check_config_in(dir.path(), &[("REGISTRY_SERVER__LISTEN", "nowhere")]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("server.listen"),
        "{out:?}"
    );

    // The certificate and token keys of issue 8.
    for (var, value, key) in [
        (
            "REGISTRY_AUTH__MAX_TOKEN_LIFETIME_SECONDS",
            "10",
            "auth.max_token_lifetime_seconds",
        ),
        (
            "REGISTRY_TLS__CLIENT_CRLS_POLL_SECONDS",
            "86400",
            "tls.client_crls_poll_seconds",
        ),
        (
            "REGISTRY_TLS__CLIENT_CRLS",
            "[\"missing.crl\"]",
            "tls.client_crls[0]",
        ),
    ] {
        let out = check_config_in(dir.path(), &[(var, value)]);
        assert!(!out.status.success(), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(key), "{var}: {stderr}");
    }
}

#[tokio::test]
async fn dev_certs_and_dev_token_work_against_a_server() {
    let app = spawn_app().await;
    let out = registry()
        .args(["dev-certs", "--out"])
        .arg(app.dir.path().join("made"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for f in [
        "ca.crt",
        "server.crt",
        "server.key",
        "client.crt",
        "client.key",
        "client.p12",
        "jwt-secret",
    ] {
        assert!(app.dir.path().join("made").join(f).is_file(), "{f}");
    }

    let config = app.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[auth]\naudience = \"{AUDIENCE}\"\nhs256_secret_file = \"{}\"\n[tls]\ngenerate_dev_pki = false\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n",
            app.pki.jwt_secret.display(),
            app.pki.server_cert.display(),
            app.pki.server_key.display(),
            app.pki.ca_cert.display()
        ),
    )
    .unwrap();
    let out = registry()
        .args(["dev-token", "--org", "RX1", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let response = app
        .client
        .post(app.url("/Appointment"))
        .bearer_auth(&token)
        .header("Content-Type", "application/fhir+json")
        .body(valid_appointment().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

#[test]
fn dev_token_refuses_a_ttl_the_server_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let out = registry()
        .args(["dev-token", "--ttl", "7200"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--ttl 7200") && stderr.contains("auth.max_token_lifetime_seconds (3600)"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "no token is printed");
    // Within a raised maximum it is fine (the secret is missing here, which is the next check).
    let out = registry()
        .args(["dev-token", "--ttl", "7200"])
        .current_dir(dir.path())
        .env("REGISTRY_AUTH__MAX_TOKEN_LIFETIME_SECONDS", "7200")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("--ttl") && stderr.contains("hs256_secret_file"),
        "{stderr}"
    );
}

#[test]
fn the_documented_config_is_valid_and_is_the_defaults() {
    // config.toml documents every key; it is the local-testing profile, equal to the defaults.
    let path = format!("{}/config.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let from_file: appointment_registry::config::Settings = figment::Figment::new()
        .merge(<figment::providers::Toml as figment::providers::Format>::string(&text))
        .extract()
        .unwrap();
    let defaults = appointment_registry::config::Settings::default();
    assert_eq!(
        serde_json::to_value(&from_file).unwrap(),
        serde_json::to_value(&defaults).unwrap()
    );
}

#[test]
fn the_production_template_and_unit_are_what_operators_expect() {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/packaging/config.production.toml")).unwrap();
    // Every key is known (unknown keys would stop start-up) and the dev conveniences are off.
    let settings: appointment_registry::config::Settings = figment::Figment::new()
        .merge(<figment::providers::Toml as figment::providers::Format>::string(&text))
        .extract()
        .unwrap();
    assert!(settings.tls.enabled && !settings.tls.generate_dev_pki);
    assert!(settings.auth.hs256_secret_file.as_os_str().is_empty());
    assert!(!settings.auth.allow_unsigned);
    assert_eq!(settings.database.synchronous, "full");
    assert!(settings
        .database
        .path
        .starts_with("/var/lib/appointment-registry"));

    let unit =
        std::fs::read_to_string(format!("{root}/packaging/appointment-registry.service")).unwrap();
    for line in [
        "DynamicUser=yes",
        "StateDirectory=appointment-registry",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "Restart=on-failure",
        "ExecStart=/usr/bin/appointment-registry serve --config /etc/appointment-registry/config.toml",
    ] {
        assert!(unit.lines().any(|l| l.trim() == line), "unit lacks {line}");
    }
}

#[test]
fn seed_fills_the_database_through_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("seeded.db");
    let out = registry()
        .args(["seed", "--count", "300", "--patients", "7"])
        .current_dir(dir.path())
        .env("REGISTRY_DATABASE__PATH", &db)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (rows, patients, versions): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT nhs_number), (SELECT count(*) FROM appointment_version) FROM appointment",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((rows, patients, versions), (300, 7, 300));
}

/// The commands that write (`seed`, `expire`) do not migrate a database an older binary wrote:
/// they may run beside the server that uses it, and a migration rebuilds indexes under the
/// write lock. They say to start the server first; the file is left as it was.
#[test]
fn commands_refuse_a_database_at_an_older_schema_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("older.db");
    let run = |args: &[&str]| {
        registry()
            .args(args)
            .current_dir(dir.path())
            .env("REGISTRY_DATABASE__PATH", &db)
            .output()
            .unwrap()
    };
    assert!(run(&["seed", "--count", "5"]).status.success());
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA user_version = 2").unwrap();
    for args in [&["seed", "--count", "5"][..], &["expire"][..]] {
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} ran: {err}");
        assert!(
            err.contains("schema version 2") && err.contains("appointment-registry serve"),
            "{args:?}: {err}"
        );
    }
    let (version, rows): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), count(*) FROM appointment",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((version, rows), (2, 5));
}

#[test]
fn start_up_errors_name_the_setting_and_the_file_then_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let pki = dir.path().join("pki");
    let out = registry()
        .args(["dev-certs", "--out"])
        .arg(&pki)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bad_crl = dir.path().join("bad.crl");
    std::fs::write(&bad_crl, "not a CRL").unwrap();
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[database]\npath = \"{db}\"\n[tls]\n\
         generate_dev_pki = false\ncert = \"{p}/server.crt\"\nkey = \"{p}/server.key\"\n\
         client_ca = \"{p}/ca.crt\"\n",
        db = dir.path().join("r.db").display(),
        p = pki.display()
    );
    let auth = format!(
        "[auth]\nhs256_secret_file = \"{}/jwt-secret\"\n",
        pki.display()
    );
    let client_key = pki.join("client.key").display().to_string();
    for (extra, needles) in [
        (
            format!("{auth}public_keys = [\"{client_key}\"]\n"),
            vec![
                format!("auth.public_keys[0] {client_key}: "),
                "is a private key".to_string(),
            ],
        ),
        (
            format!("client_crls = [\"{}\"]\n{auth}", bad_crl.display()),
            vec![
                "tls.client_crls[0]".to_string(),
                format!("{}", bad_crl.display()),
                "holds no CRL".to_string(),
            ],
        ),
    ] {
        let config = dir.path().join("config.toml");
        std::fs::write(&config, format!("{base}{extra}")).unwrap();
        let out = registry()
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        for needle in needles {
            assert!(stderr.contains(&needle), "no {needle:?} in {stderr}");
        }
    }
}

#[test]
fn a_server_that_cannot_listen_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = \"{addr}\"\n[expiry]\nenabled = false\n"),
    )
    .unwrap();
    let out = registry()
        .args(["serve", "--config", config.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("server.listen"), "{stderr}");
    // The port is checked first: no dev PKI, no database left behind by the failed start.
    assert!(!dir.path().join("dev-pki").exists(), "dev-pki/ was created");
    assert!(
        !dir.path().join("registry.db").exists(),
        "a database was created"
    );
}

#[tokio::test]
async fn a_host_name_to_listen_on_binds_every_address_it_resolves_to() {
    let app = spawn_app_with(|s| s.server.listen = "localhost:0".into()).await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    let ipv6_here = std::net::TcpListener::bind("[::1]:0").is_ok();
    let resolves_to_v6 = std::net::ToSocketAddrs::to_socket_addrs("localhost:0")
        .unwrap()
        .any(|a| a.is_ipv6());
    if ipv6_here && resolves_to_v6 {
        assert!(std::net::TcpStream::connect(("::1", port)).is_ok());
    } else {
        eprintln!("::1 not checked: localhost does not resolve to IPv6 here");
    }
    let response = app.get("/Appointment?patient=1234554321").await;
    assert_eq!(response.status(), 200);
}
