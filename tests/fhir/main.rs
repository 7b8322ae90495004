//! The FHIR format module on its own: official examples round-trip, negative cases name the
//! element, and written XML passes the official STU3 XSD.

mod common;
mod negative;
mod robustness;
mod roundtrip;
#[path = "../common/xmllint.rs"]
mod xmllint;
mod xsd;
