//! Throughput of the format engine on flujo's legacy dumps (every corpus in
//! `fixtures/legacy/`, made by the real flujo): read (strict JSON, JSON5 when needed),
//! serialize, write FileBackend text. The baseline, in the same run and on
//! the same bytes, is plain serde_json: parse into `serde_json::Value` and
//! `to_string`. Only the files serde_json can parse (no NaN literals, no
//! JSON5) are in the head-to-head group; a second group runs every file.
//!
//! Run: `cargo bench --bench format`. Criterion prints MiB/s per function.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use stateharness::format::{TypeRegistry, serialize};
use stateharness::json::{KeyOrder, read_text, to_python_json};

fn legacy_files() -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/legacy");
    let corpora = std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    let mut files: Vec<_> = corpora
        .flat_map(|corpus| std::fs::read_dir(corpus.expect("corpus").path().join("legacy")).expect("corpus/legacy"))
        .map(|entry| std::fs::read_to_string(entry.expect("dir entry").path()).expect("legacy dump"))
        .collect();
    files.sort();
    files
}

fn convert(text: &str, registry: &TypeRegistry) -> String {
    let (value, _) = read_text(text).expect("legacy dump reads");
    let safe = serialize(value, registry).expect("legacy dump serializes");
    to_python_json(&safe, KeyOrder::Sorted).expect("safe value writes")
}

fn bench(c: &mut Criterion) {
    let registry = TypeRegistry::standard();
    let all = legacy_files();
    let strict: Vec<&String> = all.iter().filter(|t| serde_json::from_str::<serde_json::Value>(t).is_ok()).collect();
    let bytes = |files: &[&String]| files.iter().map(|t| t.len() as u64).sum::<u64>();

    let mut group = c.benchmark_group("strict legacy dumps");
    group.throughput(Throughput::Bytes(bytes(&strict)));
    group.bench_function("stateharness read+serialize+write", |b| b.iter(|| strict.iter().map(|t| convert(black_box(t), &registry).len()).sum::<usize>()));
    group.bench_function("serde_json parse+to_string (baseline)", |b| {
        b.iter(|| strict.iter().map(|t| serde_json::to_string(&serde_json::from_str::<serde_json::Value>(black_box(t)).unwrap()).unwrap().len()).sum::<usize>())
    });
    group.finish();

    let every: Vec<&String> = all.iter().collect();
    let mut group = c.benchmark_group("all legacy dumps");
    group.throughput(Throughput::Bytes(bytes(&every)));
    group.bench_function("stateharness read+serialize+write", |b| b.iter(|| every.iter().map(|t| convert(black_box(t), &registry).len()).sum::<usize>()));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
