//! Written XML passes the official STU3 XSD (xmllint).

use crate::common::{fixture, EXAMPLES};
use crate::xmllint::assert_schema_valid;
use appointment_registry::fhir;

#[test]
fn written_xml_validates_against_official_xsd() {
    let mut docs = crate::common::samples();
    for name in EXAMPLES {
        let v = fhir::read_json(&fixture(&format!("{name}.json"))).expect("example reads");
        docs.push((name, v));
    }
    for (name, value) in docs {
        assert_schema_valid(name, &fhir::write_xml(&value));
    }
}
