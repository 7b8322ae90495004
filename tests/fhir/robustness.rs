//! Nothing panics on any input: every prefix of every fixture, and byte flips, go through the
//! readers and the registration rules.

use appointment_registry::fhir;
use appointment_registry::registry::register;

use crate::common::fixture;

const FIXTURES: [&str; 8] = [
    "appointment-example.json",
    "appointment-example.xml",
    "appointment-example-request.json",
    "appointment-example-request.xml",
    "appointment-example2doctors.json",
    "appointment-example2doctors.xml",
    "registry-register-request.example.xml",
    "registry-cancel-request.example.xml",
];

fn exercise(bytes: &[u8]) {
    for (value, issues) in [fhir::parse_json(bytes), fhir::parse_xml(bytes)]
        .into_iter()
        .flatten()
    {
        let paths: Vec<String> = issues.iter().map(|i| i.path.clone()).collect();
        let _ = register::check(&value, &paths);
        let _ = fhir::write_xml(&value);
        let _ = fhir::write_json(&value);
    }
}

#[test]
fn every_prefix_and_byte_flip_is_handled() {
    for name in FIXTURES {
        let bytes = fixture(name);
        for end in 0..bytes.len() {
            exercise(&bytes[..end]);
        }
        for i in (0..bytes.len()).step_by(7) {
            for replacement in [b'"', b'<', b'>', b'{', b'}', b'&', 0xff, b'0'] {
                let mut flipped = bytes.clone();
                flipped[i] = replacement;
                exercise(&flipped);
            }
        }
    }
}
