use std::path::PathBuf;

use super::{pg_config, split_tls, PgTls, SslMode};
use crate::config::mask_password;

fn path(p: &str) -> Option<PathBuf> {
    Some(PathBuf::from(p))
}

#[test]
fn a_uri_loses_its_tls_parameters_and_keeps_the_rest_as_written() {
    let url = "postgresql://reg:s3cret@pg1:5432,pg2:5432/registry?sslmode=verify-full\
               &sslrootcert=%2Fetc%2Fregistry%2Fpg%20ca.pem&target_session_attrs=read-write\
               &sslcert=/etc/registry/client.crt&sslkey=/etc/registry/client.key";
    let split = split_tls(url).unwrap();
    assert_eq!(
        split.rest,
        "postgresql://reg:s3cret@pg1:5432,pg2:5432/registry?target_session_attrs=read-write"
    );
    assert_eq!(
        split.tls,
        PgTls {
            mode: SslMode::VerifyFull,
            root_cert: path("/etc/registry/pg ca.pem"),
            client_cert: path("/etc/registry/client.crt"),
            client_key: path("/etc/registry/client.key"),
        }
    );
    let (config, tls) = pg_config(url).unwrap();
    assert_eq!(
        config.get_ssl_mode(),
        postgres::config::SslMode::Require,
        "verify-full connects as tokio-postgres's require"
    );
    assert_eq!(config.get_hosts().len(), 2);
    assert_eq!(config.get_password(), Some(&b"s3cret"[..]));
    assert!(tls.verifies_chain() && tls.verifies_host());
}

#[test]
fn a_uri_with_only_tls_parameters_keeps_no_question_mark() {
    for (url, rest, mode) in [
        (
            "postgres://reg@pg1/registry?sslmode=verify-ca&sslrootcert=/ca.pem",
            "postgres://reg@pg1/registry",
            SslMode::VerifyCa,
        ),
        (
            "postgresql://pg1/registry?ssl=true",
            "postgresql://pg1/registry",
            SslMode::Require,
        ),
        (
            "postgresql://pg1/registry",
            "postgresql://pg1/registry",
            SslMode::Prefer,
        ),
        (
            "postgresql://pg1/registry?sslmode=disable&user=reg",
            "postgresql://pg1/registry?user=reg",
            SslMode::Disable,
        ),
    ] {
        let split = split_tls(url).unwrap();
        assert_eq!(split.rest, rest, "{url}");
        assert_eq!(split.tls.mode, mode, "{url}");
        pg_config(url).unwrap();
    }
}

#[test]
fn a_key_value_string_loses_its_tls_pairs_and_quotes_the_rest() {
    let url = "host=pg1,pg2 user=reg password='s3 cr\\'et' sslmode = verify-ca \
               sslrootcert='/etc/my ca.pem' dbname=registry sslcert=/c.pem sslkey=/k\\ ey.pem";
    let split = split_tls(url).unwrap();
    assert_eq!(
        split.rest,
        "host='pg1,pg2' user='reg' password='s3 cr\\'et' dbname='registry'"
    );
    assert_eq!(
        split.tls,
        PgTls {
            mode: SslMode::VerifyCa,
            root_cert: path("/etc/my ca.pem"),
            client_cert: path("/c.pem"),
            client_key: path("/k ey.pem"),
        }
    );
    let (config, tls) = pg_config(url).unwrap();
    assert_eq!(config.get_password(), Some(&b"s3 cr'et"[..]));
    assert_eq!(config.get_dbname(), Some("registry"));
    assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);
    assert!(tls.verifies_chain() && !tls.verifies_host());
}

#[test]
fn require_checks_the_chain_only_with_a_root_certificate_as_libpq_does() {
    let bare = split_tls("host=pg1 sslmode=require").unwrap().tls;
    assert!(!bare.verifies_chain());
    assert!(
        bare.describe().contains("not checked"),
        "{}",
        bare.describe()
    );
    let rooted = split_tls("host=pg1 sslmode=require sslrootcert=/ca.pem")
        .unwrap()
        .tls;
    assert!(rooted.verifies_chain() && !rooted.verifies_host());
    assert!(
        rooted.describe().contains("/ca.pem"),
        "{}",
        rooted.describe()
    );
    let prefer = split_tls("host=pg1 sslrootcert=/ca.pem").unwrap().tls;
    assert_eq!(prefer.mode, SslMode::Prefer);
    assert!(prefer.verifies_chain());
    let disabled = split_tls("host=pg1 sslmode=disable sslrootcert=/ca.pem")
        .unwrap()
        .tls;
    assert!(!disabled.verifies_chain());
}

#[test]
fn settings_that_cannot_work_are_refused_naming_the_key_never_the_password() {
    for (url, says) in [
        (
            "postgresql://reg:s3cret@pg1/registry?sslmode=verify-full",
            "sslmode=verify-full needs sslrootcert",
        ),
        (
            "host=pg1 password=s3cret sslmode=verify-ca",
            "sslmode=verify-ca needs sslrootcert",
        ),
        (
            "host=pg1 password=s3cret sslmode=allow",
            "sslmode=allow is not supported",
        ),
        (
            "postgresql://reg:s3cret@pg1/registry?sslmode=strict",
            "sslmode=strict is not one of",
        ),
        (
            "postgresql://reg:s3cret@pg1/registry?sslrootcert=system&sslmode=verify-full",
            "sslrootcert=system",
        ),
        (
            "host=pg1 password=s3cret sslcert=/c.pem",
            "sslcert and sslkey go together",
        ),
        (
            "postgresql://reg:s3cret@pg1/registry?ssl=false",
            "only ssl=true",
        ),
        // An '@' past the host: libpq and the client would read different hosts and TLS keys
        // (here libpq keeps verify-full, the client would see none of it).
        (
            "postgresql://pg1/registry?sslmode=verify-full&sslrootcert=/etc/pg@db2/ca.pem",
            "write it as %40",
        ),
        (
            "postgresql://reg:s3/cret@pg1/registry?sslmode=require",
            "write it as %40",
        ),
        // An unquoted password with a space: the rest of it must not be quoted back.
        ("host=pg1 password=s3 cret sslmode=require", "key='a b'"),
        ("host=pg1 password='s3cret", "key='a b'"),
    ] {
        let why = split_tls(url).expect_err(url);
        assert!(why.contains(says), "{url}: {why}");
        assert!(!why.contains("s3") && !why.contains("cret"), "{why}");
    }
    let why = pg_config("host=pg1 password=s3cret bogus=1").unwrap_err();
    assert!(why.contains("bogus"), "{why}");
    assert!(!why.contains("s3cret"), "{why}");
}

#[test]
fn the_shown_url_keeps_the_tls_paths_and_masks_the_password() {
    for url in [
        "postgresql://reg:s3cret@pg1/registry?sslmode=verify-full&sslrootcert=/etc/ca.pem",
        "host=pg1 password=s3cret sslmode=verify-full sslrootcert=/etc/ca.pem",
    ] {
        let shown = mask_password(url);
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("sslmode=verify-full") && shown.contains("/etc/ca.pem"),
            "{shown}"
        );
    }
}

#[test]
fn check_config_shows_what_tls_comes_to_and_refuses_what_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("pg-ca.pem");
    std::fs::write(&ca, "not read by check-config\n").unwrap();
    let mut settings = crate::config::Settings::default();
    settings.database.backend = crate::config::Backend::Postgres;
    settings.database.url = format!(
        "postgresql://reg:s3cret@pg1,pg2/registry?sslmode=verify-full&sslrootcert={}",
        ca.display()
    );
    settings.validate().unwrap();
    let shown = settings.describe();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("postgresql://reg:***@pg1,pg2/registry?sslmode=verify-full"));
    assert!(
        shown.contains(&format!(
            "# database.url TLS: sslmode=verify-full: the server's certificate must chain to \
             sslrootcert {} and name the host connected to",
            ca.display()
        )),
        "{shown}"
    );

    for (url, says) in [
        (
            "postgresql://reg:s3cret@pg1/registry?sslmode=verify-full".to_string(),
            "configuration: database.url: sslmode=verify-full needs sslrootcert",
        ),
        (
            "host=pg1 password=s3cret sslmode=require sslrootcert=/nonexistent/ca.pem".to_string(),
            "configuration: database.url: sslrootcert /nonexistent/ca.pem does not exist",
        ),
        (
            format!(
                "host=pg1 password=s3cret sslcert={} sslkey=/nonexistent/k.pem",
                ca.display()
            ),
            "configuration: database.url: sslkey /nonexistent/k.pem does not exist",
        ),
    ] {
        settings.database.url = url;
        let why = settings.validate().unwrap_err().to_string();
        assert!(why.contains(says), "{why}");
        assert!(!why.contains("s3cret"), "{why}");
    }
}
