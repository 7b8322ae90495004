//! A newcomer's first run: the binary creates its dev PKI and prints a curl command that
//! registers the sample appointment. The printed command is run as printed.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_printed_curl_command_registers_the_sample() {
    if Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is needed for this test (.ci/run installs it)");
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_appointment-registry"))
        .current_dir(dir.path())
        .env("REGISTRY_SERVER__LISTEN", "127.0.0.1:0")
        .env("REGISTRY_SERVER__BASE_URL", "")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut command = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut capturing = false;
    while Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) else {
            continue;
        };
        if line.trim_start().starts_with("curl ") {
            capturing = true;
        }
        if capturing {
            command.push_str(&line);
            command.push('\n');
            if !line.trim_end().ends_with('\\') {
                break;
            }
        }
    }
    assert!(
        dir.path().join("dev-pki/ca.crt").is_file(),
        "dev-pki created on first start"
    );
    assert!(!command.is_empty(), "the server printed a curl command");

    let out = Command::new("bash")
        .arg("-c")
        .arg(&command)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        text.starts_with("HTTP/1.1 201"),
        "{command}\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.to_ascii_lowercase()
            .contains("\nlocation: https://localhost:"),
        "{text}"
    );
}
