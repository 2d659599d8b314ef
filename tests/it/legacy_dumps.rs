//! Converting flujo's legacy dumps (orjson, Python json with NaN literals,
//! hand-edited JSON5) gives exactly the bytes of the reference conversion
//! made by the real flujo: the corpora in `fixtures/legacy/`, and the shared
//! oracle's 119 dumps where it is present.

use std::path::Path;

use stateharness::format::{TypeRegistry, serialize};
use stateharness::json::{KeyOrder, read_text, to_python_json};

/// Converts every dump in `corpus/legacy`, compares with `corpus/legacy-expected`.
/// Returns (files checked, files that needed JSON5).
fn check_corpus(corpus: &Path) -> (usize, usize) {
    let registry = TypeRegistry::standard();
    let (mut checked, mut json5_files, mut failures) = (0, 0, Vec::new());
    for entry in std::fs::read_dir(corpus.join("legacy")).expect("legacy dir") {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        let source = std::fs::read_to_string(&path).unwrap();
        let expected = std::fs::read_to_string(corpus.join("legacy-expected").join(&name)).unwrap();
        let (value, notes) = read_text(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        json5_files += usize::from(notes.json5);
        let safe = serialize(value, &registry).unwrap();
        if to_python_json(&safe, KeyOrder::Sorted).unwrap() != expected {
            failures.push(name.to_string_lossy().into_owned());
        }
        checked += 1;
    }
    assert!(failures.is_empty(), "{}: differ from legacy-expected: {failures:?}", corpus.display());
    (checked, json5_files)
}

#[test]
fn shared_oracle_legacy_dumps_convert_to_the_expected_bytes() {
    let Some(oracle) = crate::common::shared_oracle("legacy_dumps") else { return };
    let (checked, json5_files) = check_corpus(&oracle);
    assert_eq!(checked, 119);
    assert!(json5_files > 0, "the corpus has hand-edited files that need JSON5");
}

#[test]
fn generated_legacy_corpora_convert_to_the_expected_bytes() {
    let root = crate::common::fixtures_dir().join("legacy");
    let mut corpora = 0;
    for entry in std::fs::read_dir(&root).expect("fixtures/legacy") {
        let (checked, json5_files) = check_corpus(&entry.unwrap().path());
        assert!(checked > 0 && json5_files > 0, "every corpus has hand-edited files that need JSON5");
        corpora += 1;
    }
    assert!(corpora >= 2);
}
