//! XML against the official STU3 schema (tests/fixtures/schema/fhir-single.xsd), by xmllint.
//! One copy for every test binary (tests/api, tests/fhir and tests/hostile each include it with
//! `#[path]`). xmllint must be installed (Debian: libxml2-utils); .ci/run installs it.
// Each binary uses one of the two checks or both.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn xmllint() -> Command {
    let xsd = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema/fhir-single.xsd");
    let mut cmd = Command::new("xmllint");
    cmd.args(["--noout", "--schema"]).arg(xsd);
    cmd
}

const MISSING: &str = "xmllint is installed (Debian: libxml2-utils; .ci/run installs it)";

/// Asserts that the document `xml` is schema-valid; `name` says which one it is on failure.
pub fn assert_schema_valid(name: &str, xml: &[u8]) {
    let mut child = xmllint()
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(MISSING);
    // Written from another thread, so that xmllint's stderr cannot fill while it waits.
    let mut stdin = child.stdin.take().unwrap();
    let bytes = xml.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&bytes));
    let out = child.wait_with_output().unwrap();
    // A write cut short by xmllint exiting shows in its status and stderr.
    let _ = writer.join().unwrap();
    assert_valid(&out, name, xml);
}

/// Asserts that every file in `files` is schema-valid, in one run of xmllint (which names each
/// file that is not).
pub fn assert_all_schema_valid(files: &[PathBuf]) {
    if files.is_empty() {
        return;
    }
    let out = xmllint().args(files).output().expect(MISSING);
    assert_valid(&out, &format!("{} files", files.len()), b"");
}

fn assert_valid(out: &Output, name: &str, xml: &[u8]) {
    assert!(
        out.status.success(),
        "{name}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(xml)
    );
}
