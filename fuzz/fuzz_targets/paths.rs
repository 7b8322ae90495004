#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| appointment_registry::fuzzing::paths(data));
