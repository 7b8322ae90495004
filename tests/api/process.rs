//! Running the real binary as an operator would, and reading its log.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

pub struct Running {
    pub child: Child,
    lines: Receiver<String>,
    /// Every log line read so far.
    pub log: Vec<String>,
}

/// Starts `appointment-registry` with `args` in `dir`; REGISTRY_* variables come from `env`.
pub fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_appointment-registry"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("REGISTRY_") || k == "RUST_LOG") {
        cmd.env_remove(k);
    }
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, lines) = channel();
    let echo = crate::helpers::test_log();
    // A thread spawned by the test inherits its output capture: with TEST_LOG the child's log
    // shows when the test fails.
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if echo {
                eprintln!("{line}");
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Running {
        child,
        lines,
        log: Vec::new(),
    }
}

/// Starts `appointment-registry serve --config <config>` in `dir`, as `start` does.
pub fn serve(dir: &Path, config: &Path, env: &[(&str, &str)]) -> Running {
    start(
        dir,
        &["serve", "--config", config.to_str().expect("UTF-8 path")],
        env,
    )
}

impl Running {
    /// Waits (up to 30 s) for a log line containing `needle`, returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.log.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no log line with '{needle}' in:\n{}", self.log.join("\n"));
    }

    /// The port from the "listening on 127.0.0.1:PORT" line.
    pub fn port(&mut self) -> u16 {
        let line = self.wait_for("listening on");
        let after = line.split("listening on ").nth(1).expect("address");
        let addr = after.split_whitespace().next().expect("address");
        addr.rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// Reads the remaining log until the process has exited.
    pub fn drain(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.log.push(line);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes a dev PKI and a `config.toml` for the binary into `dir`: a free port, the database at
/// `db` (default `dir/registry.db` when None), expiry off. Returns the config path and the PKI.
pub fn config_file(
    dir: &Path,
    db: Option<&Path>,
) -> (std::path::PathBuf, appointment_registry::pki::DevPkiPaths) {
    config_file_with(dir, db, "")
}

/// As `config_file`, with `tls_extra` (TOML lines ending in a newline) added to `[tls]`.
pub fn config_file_with(
    dir: &Path,
    db: Option<&Path>,
    tls_extra: &str,
) -> (std::path::PathBuf, appointment_registry::pki::DevPkiPaths) {
    let pki = appointment_registry::pki::generate(&dir.join("pki")).expect("dev pki");
    let db = db.map_or_else(|| dir.join("registry.db"), Path::to_path_buf);
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nbase_url = \"\"\n\
             [tls]\ngenerate_dev_pki = false\ncert = \"{}\"\nkey = \"{}\"\nclient_ca = \"{}\"\n{tls_extra}\
             [auth]\naudience = \"{}\"\nhs256_secret_file = \"{}\"\n\
             [database]\npath = \"{}\"\n[expiry]\nenabled = false\n[log]\nlevel = \"info\"\n",
            pki.server_cert.display(),
            pki.server_key.display(),
            pki.ca_cert.display(),
            crate::helpers::AUDIENCE,
            pki.jwt_secret.display(),
            db.display()
        ),
    )
    .expect("config written");
    (config, pki)
}
