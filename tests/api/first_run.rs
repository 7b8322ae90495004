//! A newcomer's first run: the binary creates its dev PKI and prints a curl command that
//! registers the sample appointment. The printed command is run as printed.

use std::process::Command;

use crate::process;

#[test]
fn the_printed_curl_command_registers_the_sample() {
    Command::new("curl")
        .arg("--version")
        .output()
        .expect("curl is needed for this test (.ci/run installs it)");
    let dir = tempfile::tempdir().unwrap();
    let mut server = process::start(
        dir.path(),
        &[],
        &[
            ("REGISTRY_SERVER__LISTEN", "127.0.0.1:0"),
            ("REGISTRY_SERVER__BASE_URL", ""),
            ("RUST_LOG", "info"),
        ],
    );
    server.wait_for("try it:");
    let mut command = String::new();
    loop {
        let line = server.wait_for("");
        command.push_str(&line);
        command.push('\n');
        if !line.trim_end().ends_with('\\') {
            break;
        }
    }
    assert!(
        dir.path().join("dev-pki/ca.crt").is_file(),
        "dev-pki created on first start"
    );
    assert!(command.trim_start().starts_with("curl "), "{command}");

    let out = Command::new("bash")
        .arg("-c")
        .arg(&command)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
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
