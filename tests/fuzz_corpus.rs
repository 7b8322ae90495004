//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and every crash the fuzzers
//! found (`fuzz/regressions/<target>/`) through the same `fuzzing::*` functions the cargo-fuzz
//! targets run, on stable: CI guards what the fuzzers learnt without nightly. See fuzz/README.md.

use std::path::{Path, PathBuf};

use appointment_registry::fuzzing;

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8]), at_least: usize) {
    let files = inputs(target);
    assert!(
        files.len() >= at_least,
        "{target}: {} inputs in fuzz/corpus and fuzz/regressions, expected at least {at_least}",
        files.len()
    );
    for path in files {
        let data = std::fs::read(&path).expect("read corpus file");
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{target}: {} panics", path.display());
    }
}

#[test]
fn json_reader_corpus() {
    replay("json_reader", fuzzing::json_reader, 5);
}

#[test]
fn xml_reader_corpus() {
    replay("xml_reader", fuzzing::xml_reader, 5);
}

#[test]
fn validator_corpus() {
    replay("validator", fuzzing::validator, 5);
}

#[test]
fn search_params_corpus() {
    replay("search_params", fuzzing::search_params, 5);
}

#[test]
fn jwt_corpus() {
    replay("jwt", fuzzing::jwt, 5);
}

#[test]
fn paths_corpus() {
    replay("paths", fuzzing::paths, 5);
}
