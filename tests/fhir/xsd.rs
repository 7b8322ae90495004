//! Checks write_xml output against the official XSD with xmllint.
//! xmllint must be installed (Debian: libxml2-utils); .ci/run installs it.

use crate::common::{fixture, EXAMPLES};
use appointment_registry::fhir;

#[test]
fn written_xml_validates_against_official_xsd() {
    let xsd = crate::common::xsd_path();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("xsd-check");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut docs = crate::common::samples();
    for name in EXAMPLES {
        let v = fhir::read_json(&fixture(&format!("{name}.json"))).expect("example reads");
        docs.push((name, v));
    }
    for (name, value) in docs {
        let file = dir.join(format!("{name}.xml"));
        std::fs::write(&file, fhir::write_xml(&value)).expect("write temp file");
        let out = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", &xsd])
            .arg(&file)
            .output()
            .expect("xmllint runs (apt-get install libxml2-utils)");
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
