//! `migrate`: legacy dumps, databases and JSON Lines into the safe format,
//! checked byte for byte against the reference conversion made by the real
//! flujo and orjson (`fixtures/legacy/seed-2`: `legacy-expected`, `legacy-sqlite-expected`),
//! and for every promise of the command: reruns, conflicts, dry runs,
//! shards, bad inputs, SIGKILL at any point, real Redis and PostgreSQL.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use crate::common::{registry, run_stateharness};
use stateharness::backends::{StateBackend, open_backend};
use stateharness::format::TypeHints;
use stateharness::json::read_strict;
use stateharness::migration::{Entry, Note, Observer, Options, Outcome, Source, Totals, migrate};

/// Keeps every entry.
#[derive(Default)]
struct Collect(Vec<Entry>);

impl Observer for Collect {
    fn start(&mut self, _total: Option<u64>) {}
    fn entry(&mut self, entry: &Entry) {
        self.0.push(entry.clone());
    }
}

/// Migrates `from` into the backend at `to` with `options`.
async fn run(from: &Path, to: &str, options: &Options) -> (Totals, Vec<Entry>) {
    let source = Source::detect(from).expect("a source");
    let target: Arc<dyn StateBackend> = Arc::from(open_backend(to, registry()).await.expect("the target opens"));
    let mut entries = Collect::default();
    let totals = migrate(&source, Arc::clone(&target), registry(), options, &mut entries).await.expect("the migration runs");
    target.close().await.unwrap();
    (totals, entries.0)
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Every file of `dir`, name -> bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = fs::read_dir(dir) else { return BTreeMap::new() };
    entries.map(|e| e.unwrap()).map(|e| (e.file_name().into_string().unwrap(), fs::read(e.path()).unwrap())).collect()
}

/// How many state files `dir` holds (a write in progress also shows a
/// hidden temp file and a lock file, which are not states).
fn states(dir: &Path) -> usize {
    names(dir).iter().filter(|name| !name.starts_with('.')).count()
}

/// The names of the entries of `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

/// The names of the files that differ between two directories (or are in one only).
fn differing(got: &Path, expected: &Path) -> Vec<String> {
    let (got, expected) = (files(got), files(expected));
    let mut names: Vec<String> = got.keys().chain(expected.keys()).cloned().collect();
    names.sort();
    names.dedup();
    names.into_iter().filter(|name| got.get(name) != expected.get(name)).collect()
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_dumps_migrate_to_the_reference_bytes_and_a_rerun_is_a_no_op() {
    let out = crate::common::scratch_dir("migrate-legacy", "out");
    let legacy = crate::common::legacy_corpus().join("legacy");
    let n = crate::common::legacy_count("legacy");
    let (totals, entries) = run(&legacy, &file_url(&out), &Options::default()).await;
    assert_eq!((totals.migrated, totals.failed, totals.inputs), (n, 0, n), "{entries:?}");
    assert_eq!(differing(&out, &crate::common::legacy_corpus().join("legacy-expected")), Vec::<String>::new());
    assert!(entries.iter().any(|e| e.notes.contains(&Note::Json5)), "hand-edited dumps need JSON5");
    assert!(entries.iter().any(|e| e.notes.contains(&Note::NonFinite)), "some dumps hold NaN");
    let sources: Vec<&str> = entries.iter().map(|e| e.source.as_str()).collect();
    assert!(sources.is_sorted(), "entries come in input order");

    let before = files(&out);
    let (again, _) = run(&legacy, &file_url(&out), &Options::default()).await;
    assert_eq!((again.unchanged, again.migrated), (n, 0));
    assert_eq!(files(&out), before);
}

/// The corpora generated with other seeds (`fixtures/legacy/seed-N`): their
/// dumps, and their legacy database where there is one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_corpora_migrate_to_their_reference_bytes() {
    let mut databases = 0;
    for corpus in fs::read_dir(crate::common::fixtures_dir().join("legacy")).unwrap() {
        let corpus = corpus.unwrap().path();
        let name = corpus.file_name().unwrap().to_string_lossy().into_owned();
        let before = names(&corpus);
        let out = crate::common::scratch_dir("migrate-seeds", &name);
        let (totals, _) = run(&corpus.join("legacy"), &file_url(&out), &Options { jobs: 3, ..Options::default() }).await;
        assert!(totals.migrated > 0 && totals.failed == 0, "{name}: {totals:?}");
        assert_eq!(differing(&out, &corpus.join("legacy-expected")), Vec::<String>::new(), "{name}");
        let db = corpus.join("legacy.sqlite");
        if db.exists() {
            let out = crate::common::scratch_dir("migrate-seeds", &format!("{name}-sqlite"));
            let (totals, _) = run(&db, &file_url(&out), &Options::default()).await;
            assert!(totals.migrated > 0 && totals.failed == 0, "{name}: {totals:?}");
            assert_eq!(differing(&out, &corpus.join("legacy-sqlite-expected")), Vec::<String>::new(), "{name}");
            databases += 1;
        }
        assert_eq!(names(&corpus), before, "{name}: reading the corpus left files beside it");
    }
    assert!(databases >= 1, "a generated corpus with a legacy database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_database_migrates_to_the_reference_bytes_and_stays_untouched() {
    let dir = crate::common::scratch_dir("migrate-sqlite", "db");
    let db = dir.join("legacy.sqlite");
    fs::copy(crate::common::legacy_corpus().join("legacy.sqlite"), &db).unwrap();
    let before = files(&dir);
    let out = crate::common::scratch_dir("migrate-sqlite", "out");
    let (totals, entries) = run(&db, &file_url(&out), &Options::default()).await;
    assert_eq!((totals.migrated, totals.failed), (crate::common::legacy_count("legacy-sqlite-expected"), 0), "{entries:?}");
    assert_eq!(differing(&out, &crate::common::legacy_corpus().join("legacy-sqlite-expected")), Vec::<String>::new());
    assert_eq!(files(&dir), before, "reading the database changed its directory");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_take_the_run_id_from_each_state() {
    let dir = crate::common::scratch_dir("migrate-jsonl", "src");
    let expected = crate::common::legacy_corpus().join("legacy-expected");
    // The reference files are one line each: a JSON Lines file of them
    // migrates to themselves; a line with NaN, a blank line and a line
    // without a run id show the rest.
    let mut lines: String = files(&expected).values().map(|bytes| format!("{}\n", String::from_utf8_lossy(bytes))).collect();
    lines.push_str("\n{\"run_id\": \"nan-line\", \"x\": NaN}\n{\"no_run_id\": 1}\n");
    let jsonl = dir.join("states.jsonl");
    fs::write(&jsonl, lines).unwrap();
    let out = crate::common::scratch_dir("migrate-jsonl", "out");
    let (totals, entries) = run(&jsonl, &file_url(&out), &Options::default()).await;
    let n = crate::common::legacy_count("legacy-expected");
    assert_eq!((totals.migrated, totals.failed), (n + 1, 1), "{entries:?}");
    let failed = entries.iter().find(|e| e.outcome == Outcome::Failed).unwrap();
    assert!(failed.source.ends_with(&format!("states.jsonl:{}", n + 3)) && failed.error.as_deref().unwrap().contains("no run_id"), "{failed:?}");
    assert_eq!(fs::read_to_string(out.join("nan-line.json")).unwrap(), r#"{"run_id": "nan-line", "x": "nan"}"#);
    fs::remove_file(out.join("nan-line.json")).unwrap();
    assert_eq!(differing(&out, &expected), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_left_alone_unless_overwritten() {
    let src = crate::common::scratch_dir("migrate-conflict", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a", "n": 1}"#).unwrap();
    fs::write(src.join("b.json"), r#"{"run_id": "b", "n": 2}"#).unwrap();
    let out = crate::common::scratch_dir("migrate-conflict", "out");
    fs::write(out.join("a.json"), r#"{"n": 1, "run_id": "a"}"#).unwrap();
    fs::write(out.join("b.json"), r#"{"n": 3, "run_id": "b"}"#).unwrap();

    let (totals, entries) = run(&src, &file_url(&out), &Options::default()).await;
    assert_eq!((totals.unchanged, totals.conflict), (1, 1), "{entries:?}");
    let conflict = entries.iter().find(|e| e.outcome == Outcome::Conflict).unwrap();
    assert!(conflict.detail.as_deref().unwrap().contains("/n differs: converted 2, stored 3"), "{conflict:?}");
    assert_eq!(fs::read_to_string(out.join("b.json")).unwrap(), r#"{"n": 3, "run_id": "b"}"#);

    let (totals, entries) = run(&src, &file_url(&out), &Options { overwrite: true, ..Options::default() }).await;
    assert_eq!((totals.unchanged, totals.migrated), (1, 1));
    assert!(entries.iter().any(|e| e.notes.contains(&Note::Overwrote)));
    assert_eq!(fs::read_to_string(out.join("b.json")).unwrap(), r#"{"n": 2, "run_id": "b"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_the_inputs_between_them() {
    let legacy = crate::common::legacy_corpus().join("legacy");
    let out = crate::common::scratch_dir("migrate-shards", "out");
    let (n, mut taken) = (crate::common::legacy_count("legacy"), 0);
    for k in 1..=3 {
        let shard = format!("{k}/3").parse().unwrap();
        let (totals, _) = run(&legacy, &file_url(&out), &Options { shard: Some(shard), ..Options::default() }).await;
        assert_eq!(totals.inputs + totals.other_shards, n);
        assert!(totals.migrated * 6 >= n, "shard {k} took less than half its share: {totals:?}");
        taken += totals.migrated;
    }
    assert_eq!(taken, n);
    assert_eq!(differing(&out, &crate::common::legacy_corpus().join("legacy-expected")), Vec::<String>::new());
}

/// The bad inputs of every class, each with what its error must say.
fn bad_inputs(dir: &Path) -> Vec<(&'static str, &'static str)> {
    let write = |name: &str, bytes: &[u8]| fs::write(dir.join(name), bytes).unwrap();
    write("empty.json", b"");
    write("binary.json", &[0x00, 0x9f, 0x92, 0x96, 0xff, 0x10, 0x80]);
    write("invalid-utf8.json", b"{\"a\": \"ok\",\n \"b\": \"\xc3\x28\"}");
    let utf16: Vec<u8> = "\u{feff}{\"run_id\": \"x\"}".encode_utf16().flat_map(u16::to_le_bytes).collect();
    write("utf16.json", &utf16);
    write("truncated.json", b"{\"run_id\": \"t\", \"pipeline_context\": {\"a\": [1, 2");
    write("list.json", b"[{\"run_id\": \"l\"}]");
    write("trailing.json", b"{\"run_id\": \"g\"}\n}garbage");
    write("deep.json", format!("{{\"a\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000)).as_bytes());
    vec![
        ("empty.json", "empty"),
        ("binary.json", "line 1, column 2: invalid UTF-8"),
        ("invalid-utf8.json", "line 2, column 8: invalid UTF-8"),
        ("utf16.json", "UTF-16LE"),
        ("truncated.json", "unexpected end of text"),
        ("list.json", "the top level is a list"),
        ("trailing.json", "line 2, column 1: unexpected text after the value"),
        ("deep.json", "nesting deeper than 1024 levels"),
    ]
}

#[test]
fn bad_inputs_fail_alone_with_their_reason_and_the_rest_migrates() {
    let src = crate::common::scratch_dir("migrate-bad", "src");
    let expected = bad_inputs(&src);
    // Good inputs beside them: a 20 MB string, a BOM, JSON5, repeated keys.
    let big = "é".repeat(10 * 1024 * 1024);
    fs::write(src.join("big.json"), format!("{{\"s\": \"{big}\"}}")).unwrap();
    fs::write(src.join("bom.json"), b"\xef\xbb\xbf{\"run_id\": \"bom\"}").unwrap();
    fs::write(src.join("json5.json"), "// hand-edited\n{run_id: 'json5', n: +1, x: .5, h: 0x1F, l: [1, 2,], d: 1, d: 2,}").unwrap();
    fs::write(src.join("README.txt"), "not a dump").unwrap();
    fs::create_dir(src.join("archive")).unwrap();
    let out = crate::common::scratch_dir("migrate-bad", "out");
    let report = out.with_file_name("report.json");
    let output = run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out), "--report", report.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));

    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let entries = report["entries"].as_array().unwrap();
    let entry =
        |name: &str| entries.iter().find(|e| e["source"].as_str().unwrap().ends_with(&format!("/{name}"))).unwrap_or_else(|| panic!("{name} in {report:#}"));
    for (name, reason) in expected {
        let e = entry(name);
        assert_eq!(e["outcome"], "failed", "{name}: {e}");
        assert!(e["error"].as_str().unwrap().contains(reason), "{name}: {e} lacks {reason:?}");
        assert!(!out.join(name).exists(), "{name} got an output");
    }
    for (name, outcome) in [("README.txt", "skipped"), ("archive", "skipped"), ("big.json", "migrated"), ("bom.json", "migrated"), ("json5.json", "migrated")] {
        assert_eq!(entry(name)["outcome"], outcome, "{name}");
    }
    assert_eq!(entry("bom.json")["notes"], serde_json::json!(["byte_order_mark"]));
    assert_eq!(entry("json5.json")["notes"], serde_json::json!(["json5", "duplicate_keys"]));
    assert_eq!(fs::read_to_string(out.join("json5.json")).unwrap(), r#"{"d": 2, "h": 31, "l": [1, 2], "n": 1, "run_id": "json5", "x": 0.5}"#);
    assert_eq!(fs::read(out.join("big.json")).unwrap().len(), "{\"s\": \"\"}".len() + 6 * 10 * 1024 * 1024);
    assert_eq!(report["totals"]["failed"], 8);
    assert_eq!(report["totals"]["migrated"], 3);
}

#[test]
fn a_dry_run_writes_nothing_and_shows_what_would_change() {
    let legacy = crate::common::legacy_corpus().join("legacy");
    let dry_run = |url: &str| run_stateharness(&["migrate", "--from", legacy.to_str().unwrap(), "--to", url, "--dry-run"]);
    // Into a directory that does not exist: it is not even created.
    let absent = crate::common::scratch_dir("migrate-dry", "parent").join("out");
    let output = dry_run(&file_url(&absent));
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(!absent.exists(), "a dry run created the target directory");
    let said = text(&output);
    let n = crate::common::legacy_count("legacy");
    assert!(said.contains(&format!("{n} would be written")) && said.contains("(does not exist yet)"), "{said}");
    assert!(said.contains("(json5, non_finite)") && said.contains("= NaN") && said.contains("= \"nan\""), "{said}");
    // Into one that holds part of the job: those are unchanged.
    let out = crate::common::scratch_dir("migrate-dry", "out");
    let expected = crate::common::legacy_corpus().join("legacy-expected");
    for name in ["run-000000.json", "run-000001.json"] {
        fs::copy(expected.join(name), out.join(name)).unwrap();
    }
    // The temp file of a killed writer: a real run removes it, a dry run leaves it.
    fs::write(out.join(".run-000002.json.tmp-4294967295-0"), b"{").unwrap();
    let before = files(&out);
    let said = text(&dry_run(&file_url(&out)));
    assert!(said.contains(&format!("{} would be written", n - 2)) && said.contains("unchanged 2"), "{said}");
    assert_eq!(files(&out), before, "a dry run changed the target");
}

#[test]
fn an_unwritable_target_directory_exits_2_at_open_naming_it() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // The source is a copy in the scratch directory: the checkout may sit
    // where the unprivileged user below cannot read (a 0700 mktemp dir).
    let legacy = crate::common::scratch_dir("migrate-unwritable", "src");
    for (name, bytes) in files(&crate::common::legacy_corpus().join("legacy")) {
        fs::write(legacy.join(name), bytes).unwrap();
    }
    let out = crate::common::scratch_dir("migrate-unwritable", "out");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o555)).unwrap();
    // Root writes anywhere: the binary runs as nobody then.
    let as_root = fs::metadata(&out).unwrap().uid() == 0;
    for dry_run in [false, true] {
        let mut command = if as_root {
            let mut setpriv = Command::new("setpriv");
            setpriv.args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_stateharness")]);
            setpriv
        } else {
            crate::common::stateharness()
        };
        command.args(["migrate", "--from", legacy.to_str().unwrap(), "--to", &file_url(&out)]);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.output().expect("runs stateharness");
        assert_eq!(output.status.code(), Some(2), "dry run {dry_run}: {}", text(&output));
        let said = text(&output);
        assert!(said.contains(&out.display().to_string()) && said.contains("not writable"), "{said}");
        assert!(!said.contains("inputs in"), "inputs were attempted: {said}");
    }
    assert!(names(&out).is_empty());
}

#[test]
fn unusable_arguments_exit_2_naming_the_problem() {
    let legacy = crate::common::legacy_corpus().join("legacy");
    let legacy = legacy.to_str().unwrap();
    let missing = run_stateharness(&["migrate", "--from", "/nonexistent/dumps", "--to", "memory://"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("/nonexistent/dumps"), "{}", text(&missing));
    let unreachable = run_stateharness(&["migrate", "--from", legacy, "--to", "redis://127.0.0.1:1/0?prefix=x"]);
    assert_eq!(unreachable.status.code(), Some(2), "{}", text(&unreachable));
    for url in [format!("file://{legacy}"), format!("file://localhost{legacy}")] {
        let onto_itself = run_stateharness(&["migrate", "--from", legacy, "--to", &url]);
        assert_eq!(onto_itself.status.code(), Some(2), "{url}");
        assert!(text(&onto_itself).contains("is the source itself"), "{}", text(&onto_itself));
    }
    let bad_shard = run_stateharness(&["migrate", "--from", legacy, "--to", "memory://", "--shard", "4/3"]);
    assert_eq!(bad_shard.status.code(), Some(2), "{}", text(&bad_shard));
}

/// Temp files a killed save may leave (`.RUN_ID.json.tmp-PID-N`).
fn temp_files(dir: &Path) -> Vec<String> {
    files(dir).into_keys().filter(|name| name.contains(".tmp")).collect()
}

#[test]
fn killed_at_any_point_a_rerun_finishes_the_job_exactly() {
    let legacy = crate::common::legacy_corpus().join("legacy");
    let expected = crate::common::legacy_corpus().join("legacy-expected");
    let mut interrupted = 0;
    for delay_ms in [2, 10, 25, 50, 100, 250] {
        let out = crate::common::scratch_dir("migrate-kill", &format!("after-{delay_ms}ms"));
        let reports = crate::common::scratch_dir("migrate-kill", &format!("reports-{delay_ms}ms"));
        let report = reports.join("report.json");
        let mut child = Command::new(env!("CARGO_BIN_EXE_stateharness"))
            .args(["migrate", "--from", legacy.to_str().unwrap(), "--to", &file_url(&out), "--jobs", "2"])
            .args(["--report", report.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let written = files(&out).len();
        if (written as u64) < crate::common::legacy_count("legacy") {
            interrupted += 1;
            assert!(files(&reports).is_empty(), "a killed run left {:?} beside its report", files(&reports).keys());
        }
        let output = run_stateharness(&["migrate", "--from", legacy.to_str().unwrap(), "--to", &file_url(&out)]);
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        assert_eq!(temp_files(&out), Vec::<String>::new(), "killed after {delay_ms} ms");
        assert_eq!(differing(&out, &expected), Vec::<String>::new(), "killed after {delay_ms} ms");
    }
    assert!(interrupted >= 2, "the kills came too late to interrupt anything: the corpus migrates too fast for these delays");
}

/// Loads every reference state from a server the migration wrote to, the
/// way any reader would, and compares it with the reference file's state.
async fn check_loaded(url: &str, expected: &Path) {
    let reader = open_backend(url, registry()).await.unwrap();
    for (name, bytes) in files(expected) {
        let run_id = name.strip_suffix(".json").unwrap();
        let loaded = reader.load_state(run_id, &TypeHints::new()).await.unwrap().unwrap_or_else(|| panic!("{run_id} missing from {url}"));
        let (want, _) = read_strict(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert!(loaded == want, "{run_id}: loaded state differs from the reference");
        reader.delete_state(run_id).await.unwrap();
    }
    reader.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_into_the_real_redis() {
    let prefix = format!("sh-migrate-{}-", std::process::id());
    let Some(server) = crate::common::servers::redis().await else { return };
    let url = format!("{server}?prefix={prefix}");
    let legacy = crate::common::legacy_corpus().join("legacy");
    let (totals, entries) = run(&legacy, &url, &Options::default()).await;
    assert_eq!((totals.migrated, totals.failed), (crate::common::legacy_count("legacy"), 0), "{:?}", entries.iter().find(|e| e.outcome == Outcome::Failed));
    check_loaded(&url, &crate::common::legacy_corpus().join("legacy-expected")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_a_legacy_database_into_the_real_postgres() {
    let table = format!("sh_migrate_{}", std::process::id());
    let Some(server) = crate::common::servers::postgres().await else { return };
    let url = format!("{server}?table={table}");
    let dir = crate::common::scratch_dir("migrate-postgres", "db");
    fs::copy(crate::common::legacy_corpus().join("legacy.sqlite"), dir.join("legacy.sqlite")).unwrap();
    let (totals, _) = run(&dir.join("legacy.sqlite"), &url, &Options::default()).await;
    let n = crate::common::legacy_count("legacy-sqlite-expected");
    assert_eq!((totals.migrated, totals.failed), (n, 0));
    let (again, _) = run(&dir.join("legacy.sqlite"), &url, &Options::default()).await;
    assert_eq!(again.unchanged, n, "a rerun into PostgreSQL is a no-op");
    check_loaded(&url, &crate::common::legacy_corpus().join("legacy-sqlite-expected")).await;
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_into_sqlite_where_the_table_fills_in_columns() {
    let out = crate::common::scratch_dir("migrate-into-sqlite", "out");
    let url = format!("sqlite://{}", out.join("new.sqlite").display());
    let legacy = crate::common::legacy_corpus().join("legacy");
    let (totals, entries) = run(&legacy, &url, &Options::default()).await;
    assert_eq!((totals.migrated, totals.failed), (crate::common::legacy_count("legacy"), 0), "{:?}", entries.iter().find(|e| e.outcome == Outcome::Failed));
    let (again, _) = run(&legacy, &url, &Options::default()).await;
    assert_eq!(again.unchanged, crate::common::legacy_count("legacy"), "a rerun into SQLite is a no-op");

    // flujo's table keeps only its columns: a state with another key cannot
    // go there without loss, and verification says so instead of dropping it.
    let src = crate::common::scratch_dir("migrate-into-sqlite", "extra-key");
    let state = r#"{"run_id": "extra", "pipeline_id": "p", "pipeline_name": "n", "pipeline_version": "1", "current_step_index": 0,
        "pipeline_context": {}, "last_step_output": null, "status": "running", "created_at": "2025-01-01T00:00:00",
        "updated_at": "2025-01-01T00:00:00", "tenant": "acme"}"#;
    fs::write(src.join("extra.json"), state).unwrap();
    let (totals, entries) = run(&src, &url, &Options::default()).await;
    assert_eq!(totals.failed, 1);
    assert_eq!(entries[0].error.as_deref(), Some("verification failed: /tenant is missing (the target holds nothing for it again)"));
    let held = open_backend(&url, registry()).await.unwrap().load_state("extra", &TypeHints::new()).await.unwrap();
    assert!(held.is_none(), "a state that did not verify stayed: {held:?}");
}

#[test]
fn conversion_snapshots_show_a_changed_conversion_for_review() {
    let src = crate::common::scratch_dir("migrate-snapshot", "src");
    for (name, bytes) in files(&crate::common::legacy_corpus().join("legacy")) {
        fs::write(src.join(name), bytes).unwrap();
    }
    let snaps = crate::common::scratch_dir("migrate-snapshot", "snaps");
    let migrate = |out: &str| {
        let out = crate::common::scratch_dir("migrate-snapshot", out);
        run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out), "--snapshot", snaps.to_str().unwrap(), "--color", "never"])
    };
    let first = migrate("out-1");
    assert_eq!(first.status.code(), Some(1), "new snapshots are pending: {}", text(&first));
    let pending: Vec<String> = files(&snaps).into_keys().collect();
    assert_eq!(pending.len(), 7, "the sample of this corpus: {pending:?}");
    assert!(pending.iter().all(|name| name.ends_with(".snap.new")));
    let accepted = run_stateharness(&["snapshot", "review", "--dir", snaps.to_str().unwrap(), "--accept-all"]);
    assert!(accepted.status.success(), "{}", text(&accepted));
    assert_eq!(migrate("out-2").status.code(), Some(0), "nothing changed");

    // A sampled dump now holds another value: its conversion changes.
    let dump = src.join("run-000010.json");
    let edited = fs::read_to_string(&dump).unwrap().replacen("NaN", "-Infinity", 1);
    fs::write(&dump, edited).unwrap();
    let changed = migrate("out-3");
    assert_eq!(changed.status.code(), Some(1));
    let said = text(&changed);
    assert!(said.contains("run migrate-run-000010: changed"), "{said}");
    assert!(said.contains("-inf"), "{said}");
    assert!(snaps.join("migrate-run-000010.snap.new").exists());
    let rejected = run_stateharness(&["snapshot", "review", "--dir", snaps.to_str().unwrap(), "--reject-all"]);
    assert!(rejected.status.success());
    assert!(!snaps.join("migrate-run-000010.snap.new").exists() && snaps.join("migrate-run-000010.snap").exists());
}

#[test]
fn conflicts_exit_1_unless_accepted() {
    let src = crate::common::scratch_dir("migrate-conflict-exit", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a", "n": 1}"#).unwrap();
    let out = crate::common::scratch_dir("migrate-conflict-exit", "out");
    fs::write(out.join("a.json"), r#"{"n": 2, "run_id": "a"}"#).unwrap();
    let migrate = |extra: &[&str]| {
        let mut args = vec!["migrate", "--from", src.to_str().unwrap(), "--to"];
        let url = file_url(&out);
        args.push(&url);
        args.extend_from_slice(extra);
        run_stateharness(&args)
    };
    let plain = migrate(&[]);
    assert_eq!(plain.status.code(), Some(1), "a conflict is not success: {}", text(&plain));
    assert!(text(&plain).contains("conflict  ") && text(&plain).contains("--accept-conflicts"), "{}", text(&plain));
    let accepted = migrate(&["--accept-conflicts"]);
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted));
    assert_eq!(fs::read_to_string(out.join("a.json")).unwrap(), r#"{"n": 2, "run_id": "a"}"#, "a conflict is left alone");
}

#[test]
fn control_characters_in_file_names_cannot_forge_console_lines() {
    let src = crate::common::scratch_dir("migrate-names", "src");
    fs::write(src.join("x\nmigrated  forged.json"), "not json").unwrap();
    fs::write(src.join("y\u{1b}[2K.json"), "not json").unwrap();
    let out = crate::common::scratch_dir("migrate-names", "out");
    let output = run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out)]);
    let said = text(&output);
    assert!(!said.lines().any(|line| line.starts_with("migrated  forged")), "{said}");
    assert!(!said.contains('\u{1b}'), "{said:?}");
    assert!(said.contains(r"x\nmigrated  forged.json") && said.contains(r"y\u{1b}[2K.json"), "{said}");
}

#[test]
fn the_report_has_a_schema_version() {
    let src = crate::common::scratch_dir("migrate-schema", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a"}"#).unwrap();
    let report = src.with_file_name("report.json");
    let out = crate::common::scratch_dir("migrate-schema", "out");
    let output = run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out), "--report", report.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["schema_version"], 2, "{report:#}");
    assert_eq!(report["totals"]["not_attempted"], 0, "{report:#}");
}

/// `n` small dumps `run-0.json`...
fn small_dumps(dir: &Path, n: usize) {
    for i in 0..n {
        fs::write(dir.join(format!("run-{i}.json")), format!(r#"{{"run_id": "run-{i}", "n": {i}}}"#)).unwrap();
    }
}

/// A PostgreSQL target whose session the server ends before the first
/// input: the backend reconnects, so the blip costs nothing: every input is
/// migrated, none is a conflict or a connection failure. (A fault that
/// outlasts the reconnects is `connection_failed` and the rest
/// `not_attempted`: tests/it/faults.rs, through the fault proxy.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_by_the_server_costs_nothing() {
    let table = format!("sh_migrate_drop_{}", std::process::id());
    let Some(server) = crate::common::servers::postgres().await else { return };
    let url = format!("{server}?table={table}");
    let src = crate::common::scratch_dir("migrate-drop", "src");
    small_dumps(&src, 5);
    let source = Source::detect(&src).unwrap();
    let target: Arc<dyn StateBackend> = Arc::from(open_backend(&url, registry()).await.unwrap());
    let (admin, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    // The backend's session is the one whose last statement named the table.
    let ended = admin
        .query(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%{table}%' AND pid <> pg_backend_pid()"), &[])
        .await
        .unwrap();
    assert_eq!(ended.len(), 1, "the backend's session was found");
    let mut entries = Collect::default();
    let options = Options { jobs: 1, ..Options::default() };
    let totals = migrate(&source, Arc::clone(&target), registry(), &options, &mut entries).await.unwrap();
    let outcomes: Vec<Outcome> = entries.0.iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, vec![Outcome::Migrated; 5], "{:?}", entries.0);
    assert_eq!((totals.conflict, totals.connection_failed, totals.not_attempted), (0, 0, 0));
    admin.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).await.unwrap();
}

/// An exec: target that dies midway, and one that stops answering: exit
/// 2, and the report lists the failing input as a connection failure (never
/// a conflict) and the rest as not attempted.
#[test]
fn a_target_that_dies_or_stalls_midway_exits_2_with_a_complete_report() {
    let src = crate::common::scratch_dir("migrate-dies", "src");
    small_dumps(&src, 6);
    let report = src.with_file_name("report.json");
    // The served backend's answers stop after hello and one load (the
    // shell's echo writes each line at once, where head would buffer);
    // then the shell is killed, or it keeps the pipe open and says nothing.
    let relay = |then: &str| format!("{{ IFS= read -r a; echo \"$a\"; IFS= read -r b; echo \"$b\"; {then} }}");
    for (then, kind) in [("kill $$;", "connection: "), ("", "timeout: ")] {
        let target = format!("exec:sh -c '{} serve --backend memory:// | {}'", env!("CARGO_BIN_EXE_stateharness"), relay(then));
        let args = ["--jobs", "1", "--op-timeout", "1", "--report", report.to_str().unwrap()];
        let output = run_stateharness(&[&["migrate", "--from", src.to_str().unwrap(), "--to", &target][..], &args].concat());
        assert_eq!(output.status.code(), Some(2), "{}", text(&output));
        assert!(text(&output).contains("could not be reached"), "{}", text(&output));
        let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
        let totals = &report["totals"];
        assert_eq!(
            (totals["connection_failed"].as_u64(), totals["conflict"].as_u64(), totals["not_attempted"].as_u64()),
            (Some(1), Some(0), Some(5)),
            "{report:#}"
        );
        let failed = report["entries"].as_array().unwrap().iter().find(|e| e["outcome"] == "connection_failed").unwrap();
        assert!(failed["error"].as_str().unwrap().contains(kind), "{failed}");
    }
}

/// JSON Lines from a pipe (`--from <(...)`): every line arrives, the first
/// 16 bytes included.
#[test]
fn json_lines_from_a_pipe_lose_nothing() {
    let out = crate::common::scratch_dir("migrate-pipe", "out");
    let output = crate::common::stateharness()
        .args(["migrate", "--from", "/dev/stdin", "--to", &file_url(&out)])
        .stdin(std::process::Stdio::piped())
        .output_with_stdin(b"{\"run_id\": \"first\", \"n\": 1}\n{\"run_id\": \"second\", \"n\": 2}\n");
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(names(&out), ["first.json", "second.json"], "{}", text(&output));
}

/// Runs a command with `input` on its stdin.
trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> Output;
}

impl OutputWithStdin for Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// SIGTERM: the run stops taking inputs, finishes those in flight and
/// writes a complete report, then exits 143.
#[test]
fn sigterm_stops_taking_inputs_and_writes_a_complete_report() {
    use std::io::{BufRead, BufReader, Write};
    let out = crate::common::scratch_dir("migrate-sigterm", "out");
    let report = out.with_file_name("report.json");
    let mut child = crate::common::stateharness()
        .args(["migrate", "--from", "/dev/stdin", "--to", &file_url(&out), "--jobs", "1", "--report", report.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = child.stdin.take().unwrap();
    writeln!(lines, "{{\"run_id\": \"a\"}}\n{{\"run_id\": \"b\"}}").unwrap();
    lines.flush().unwrap();
    // A hang guard, not a speed check: the first two lines must arrive.
    for _ in 0..600 {
        if states(&out) >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if states(&out) < 2 {
        child.kill().unwrap();
        panic!("the first two lines were never migrated");
    }
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let mut said = String::new();
    while !said.contains("SIGTERM: finishing") {
        assert!(stderr.read_line(&mut said).unwrap() > 0, "stderr ended: {said}");
    }
    writeln!(lines, "{{\"run_id\": \"c\"}}\n{{\"run_id\": \"d\"}}").unwrap();
    drop(lines);
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let report: serde_json::Value = serde_json::from_slice(&fs::read(&report).unwrap()).unwrap();
    let totals = &report["totals"];
    assert_eq!((totals["migrated"].as_u64(), totals["not_attempted"].as_u64()), (Some(2), Some(2)), "{report:#}");
    assert_eq!(names(&out), ["a.json", "b.json"]);
}

#[test]
fn a_report_or_snapshot_inside_the_source_is_refused() {
    let src = crate::common::scratch_dir("migrate-over-inputs", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a"}"#).unwrap();
    let before = files(&src);
    let out = crate::common::scratch_dir("migrate-over-inputs", "out");
    let jsonl = src.with_file_name("states.jsonl");
    fs::write(&jsonl, "{\"run_id\": \"b\"}\n").unwrap();
    let cases = [
        (src.to_str().unwrap(), "--report", src.join("a.json")),
        (src.to_str().unwrap(), "--report", src.join("new-report.json")),
        (src.to_str().unwrap(), "--snapshot", src.join("snaps")),
        (jsonl.to_str().unwrap(), "--report", jsonl.clone()),
    ];
    for (from, flag, path) in cases {
        let output = run_stateharness(&["migrate", "--from", from, "--to", &file_url(&out), flag, path.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{flag} {}: {}", path.display(), text(&output));
        assert!(text(&output).contains("is in the source"), "{}", text(&output));
    }
    assert_eq!(files(&src), before, "the source was written");
    assert_eq!(fs::read_to_string(&jsonl).unwrap(), "{\"run_id\": \"b\"}\n");
}

#[test]
fn a_fifo_in_the_source_is_skipped_not_waited_for() {
    let src = crate::common::scratch_dir("migrate-fifo", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a"}"#).unwrap();
    assert!(Command::new("mkfifo").arg(src.join("pipe.json")).status().unwrap().success());
    let out = crate::common::scratch_dir("migrate-fifo", "out");
    let mut child = crate::common::stateharness()
        .args(["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out)])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A hang guard, not a speed check: reading the FIFO would wait forever.
    for _ in 0..600 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if child.try_wait().unwrap().is_none() {
        child.kill().unwrap();
        panic!("migrate hung on a FIFO in the source");
    }
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("skipped") && text(&output).contains("not a regular file (a FIFO)"), "{}", text(&output));
    assert_eq!(names(&out), ["a.json"]);
}

#[test]
fn an_input_over_the_size_limit_or_without_end_fails_alone() {
    let src = crate::common::scratch_dir("migrate-size", "src");
    fs::write(src.join("a.json"), r#"{"run_id": "a"}"#).unwrap();
    fs::write(src.join("big.json"), format!(r#"{{"run_id": "big", "pad": "{}"}}"#, "x".repeat(200))).unwrap();
    // A device has no size: only a bounded read stops it.
    std::os::unix::fs::symlink("/dev/zero", src.join("zero.json")).unwrap();
    let out = crate::common::scratch_dir("migrate-size", "out");
    let output = run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out), "--max-input-size", "100", "--follow-symlinks"]);
    let said = text(&output);
    assert_eq!(output.status.code(), Some(1), "{said}");
    let big = said.lines().find(|line| line.contains("big.json")).unwrap_or_default();
    assert!(big.starts_with("failed") && big.contains("over --max-input-size (100 bytes)"), "{said}");
    let zero = said.lines().find(|line| line.contains("zero.json")).unwrap_or_default();
    assert!(zero.starts_with("failed") && zero.contains("/dev/zero"), "{said}");
    assert_eq!(names(&out), ["a.json"]);
}

/// A whole flujo state (every column flujo's table requires), so that
/// SQLite takes it too; `pipeline_name` tells the sources apart.
fn flujo_state(run_id: &str, name: &str) -> String {
    format!(
        r#"{{"run_id": "{run_id}", "pipeline_id": "p", "pipeline_name": "{name}", "pipeline_version": "1", "current_step_index": 0,
        "pipeline_context": {{"note": "{name}"}}, "last_step_output": null, "step_history": [], "status": "running",
        "created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00", "total_steps": 0, "error_message": null,
        "execution_time_ms": null, "memory_usage_mb": null}}"#
    )
}

/// `dir` with `RUN_ID.json` dumps of `flujo_state(RUN_ID, name)` for `ids`.
fn flujo_dumps(dir: &Path, ids: impl IntoIterator<Item = String>, name: &str) {
    for id in ids {
        fs::write(dir.join(format!("{id}.json")), flujo_state(&id, name)).unwrap();
    }
}

/// The report's outcome of each run id.
fn report_outcomes(report: &Path) -> BTreeMap<String, String> {
    let report: serde_json::Value = serde_json::from_slice(&fs::read(report).unwrap()).unwrap();
    let entries = report["entries"].as_array().unwrap();
    entries.iter().map(|e| (e["run_id"].as_str().unwrap().to_owned(), e["outcome"].as_str().unwrap().to_owned())).collect()
}

/// Runs `migrate` from each source into `to` at once, with a report each.
fn migrate_at_once(sources: [&Path; 2], to: &str, reports: [&Path; 2], extra: &[&str]) -> [Output; 2] {
    let spawn = |from: &Path, report: &Path| {
        crate::common::stateharness()
            .args(["migrate", "--from", from.to_str().unwrap(), "--to", to, "--jobs", "4", "--report", report.to_str().unwrap()])
            .args(extra)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(sources[0], reports[0]), spawn(sources[1], reports[1]));
    [one.wait_with_output().unwrap(), two.wait_with_output().unwrap()]
}

/// The `pipeline_name` of each run id the target at `url` holds.
async fn names_held(url: &str, ids: &[String]) -> BTreeMap<String, Option<String>> {
    let target = open_backend(url, registry()).await.unwrap();
    let mut held = BTreeMap::new();
    for id in ids {
        let state = target.load_state(id, &TypeHints::new()).await.unwrap();
        let name = state.and_then(|s| s.as_dict().and_then(|d| d.get("pipeline_name")).and_then(|n| n.as_str()).map(str::to_owned));
        held.insert(id.clone(), name);
    }
    target.close().await.unwrap();
    held
}

/// Two migrators with conflicting sources (`one` and `two` for the same
/// run ids) into one target at once: for every run id exactly one of them
/// reports `migrated`, the other a conflict, and the target holds the
/// state of the one that migrated it. Two with the same source both exit 0.
async fn two_migrators_never_both_migrate_a_run_id(test: &str, url: impl Fn(&str) -> String) {
    let ids: Vec<String> = (0..400).map(|i| format!("race-{i:03}")).collect();
    let dir = crate::common::scratch_dir(test, "sources");
    let (one, two, same) = (dir.join("one"), dir.join("two"), dir.join("same"));
    for (src, name) in [(&one, "one"), (&two, "two"), (&same, "one")] {
        fs::create_dir(src).unwrap();
        flujo_dumps(src, ids.iter().cloned(), name);
    }
    let reports = [dir.join("report-1.json"), dir.join("report-2.json")];
    let to = url("conflicting");
    let outputs = migrate_at_once([&one, &two], &to, [&reports[0], &reports[1]], &[]);
    let (first, second) = (report_outcomes(&reports[0]), report_outcomes(&reports[1]));
    let held = names_held(&to, &ids).await;
    for id in &ids {
        let pair = (first[id].as_str(), second[id].as_str());
        let winner = match pair {
            ("migrated", "conflict") => "one",
            ("conflict", "migrated") => "two",
            _ => panic!("{id}: {pair:?}\n{}\n{}", text(&outputs[0]), text(&outputs[1])),
        };
        assert_eq!(held[id].as_deref(), Some(winner), "{id}: {pair:?}");
    }
    for (output, outcomes) in outputs.iter().zip([&first, &second]) {
        let conflicts = outcomes.values().any(|outcome| outcome == "conflict");
        assert_eq!(output.status.code(), Some(if conflicts { 1 } else { 0 }), "a conflict exits 1: {}", text(output));
    }
    // Whether the two runs overlapped (each migrated some run ids) or one
    // finished first, as timing fell: the rule above held either way.
    let both = [&first, &second].map(|outcomes| outcomes.values().filter(|o| *o == "migrated").count());
    eprintln!("{test}: migrated by the first run {}, by the second {}", both[0], both[1]);

    let to = url("identical");
    let outputs = migrate_at_once([&one, &same], &to, [&reports[0], &reports[1]], &[]);
    for output in &outputs {
        assert_eq!(output.status.code(), Some(0), "{}", text(output));
    }
    let (first, second) = (report_outcomes(&reports[0]), report_outcomes(&reports[1]));
    assert!(ids.iter().all(|id| [&first[id], &second[id]].iter().any(|o| *o == "migrated")), "{first:?} {second:?}");
    assert!(names_held(&to, &ids).await.values().all(|name| name.as_deref() == Some("one")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_into_one_directory() {
    let out = crate::common::scratch_root("migrate-race-file");
    two_migrators_never_both_migrate_a_run_id("migrate-race-file", |name| file_url(&out.join(name))).await;
    // The per-run-id locks are gone with their holders.
    assert!(!names(&out.join("conflicting")).iter().any(|name| name.ends_with(".lock")), "{:?}", names(&out.join("conflicting")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_into_one_sqlite_database() {
    let out = crate::common::scratch_dir("migrate-race-sqlite", "out");
    two_migrators_never_both_migrate_a_run_id("migrate-race-sqlite", |name| format!("sqlite://{}", out.join(format!("{name}.sqlite")).display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_into_one_redis() {
    let Some(server) = crate::common::servers::redis().await else { return };
    let prefix = |name: &str| format!("sh-migrate-race-{}-{name}-", std::process::id());
    two_migrators_never_both_migrate_a_run_id("migrate-race-redis", |name| format!("{server}?prefix={}", prefix(name))).await;
    for name in ["conflicting", "identical"] {
        let target = open_backend(&format!("{server}?prefix={}", prefix(name)), registry()).await.unwrap();
        for id in target.list_states("").await.unwrap() {
            target.delete_state(&id).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_migrators_into_one_postgres_table() {
    let Some(server) = crate::common::servers::postgres().await else { return };
    let table = |name: &str| format!("sh_migrate_race_{}_{name}", std::process::id());
    two_migrators_never_both_migrate_a_run_id("migrate-race-postgres", |name| format!("{server}?table={}", table(name))).await;
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    for name in ["conflicting", "identical"] {
        client.batch_execute(&format!("DROP TABLE IF EXISTS {}", table(name))).await.unwrap();
    }
}

/// A second migrator on a `sqlite://` target waits for the first one's
/// locks (opening included: journal mode, table creation) instead of
/// failing with "database is locked".
#[test]
fn two_migrators_into_one_new_sqlite_database_both_finish() {
    let dir = crate::common::scratch_dir("migrate-sqlite-busy", "sources");
    let (one, two) = (dir.join("one"), dir.join("two"));
    for (src, side) in [(&one, "one"), (&two, "two")] {
        fs::create_dir(src).unwrap();
        flujo_dumps(src, (0..150).map(|i| format!("{side}-{i}")), side);
    }
    let reports = [dir.join("report-1.json"), dir.join("report-2.json")];
    for round in 0..3 {
        let db = dir.join(format!("target-{round}.sqlite"));
        let outputs = migrate_at_once([&one, &two], &format!("sqlite://{}", db.display()), [&reports[0], &reports[1]], &[]);
        for output in &outputs {
            assert_eq!(output.status.code(), Some(0), "round {round}: {}", text(output));
        }
    }
}

/// A state that does not verify is taken back out: the target holds what
/// it held before (its previous state, or nothing) and the input fails, so
/// a rerun cannot pass over an unverified state (here with
/// --accept-conflicts, which a state left behind would turn into success).
#[test]
fn a_state_that_does_not_verify_is_taken_back_out() {
    // SQLite stores the row under its run id column: a dump whose run_id
    // names another run loads back with another run_id.
    let src = crate::common::scratch_dir("migrate-unverified", "src");
    fs::write(src.join("a.json"), flujo_state("other", "x")).unwrap();
    fs::write(src.join("b.json"), flujo_state("b", "x")).unwrap();
    let db = crate::common::scratch_dir("migrate-unverified", "db").join("target.sqlite");
    let url = format!("sqlite://{}", db.display());
    for (round, extra) in [(1, None), (2, Some("--accept-conflicts"))] {
        let output = run_stateharness(&[&["migrate", "--from", src.to_str().unwrap(), "--to", &url][..], extra.as_slice()].concat());
        assert_eq!(output.status.code(), Some(1), "run {round}: {}", text(&output));
        let said = text(&output);
        let line = said.lines().find(|line| line.contains("a.json")).unwrap_or_default();
        assert!(line.starts_with("failed") && line.contains("verification failed: /run_id differs") && line.contains("holds nothing for it again"), "{said}");
    }
    let held = tokio::runtime::Runtime::new().unwrap().block_on(names_held(&url, &["a".to_owned(), "b".to_owned()]));
    assert_eq!(held, BTreeMap::from([("a".to_owned(), None), ("b".to_owned(), Some("x".to_owned()))]));

    // A target that alters what it stores (a filter before a served file
    // backend): nothing written stays, and a previous state comes back
    // byte for byte.
    let src = crate::common::scratch_dir("migrate-unverified", "src-2");
    fs::write(src.join("new.json"), r#"{"run_id": "new", "note": "corrupt-me"}"#).unwrap();
    fs::write(src.join("old.json"), r#"{"run_id": "old", "note": "corrupt-me"}"#).unwrap();
    let out = crate::common::scratch_dir("migrate-unverified", "out");
    fs::write(out.join("old.json"), r#"{"note": "before", "run_id": "old"}"#).unwrap();
    let before = files(&out);
    let target = format!("exec:sh -c 'sed -u s/corrupt-me/corrupted/g | {} serve --backend file://{}'", env!("CARGO_BIN_EXE_stateharness"), out.display());
    for round in 1..=2 {
        let output = run_stateharness(&["migrate", "--from", src.to_str().unwrap(), "--to", &target, "--overwrite", "--jobs", "1"]);
        assert_eq!(output.status.code(), Some(1), "run {round}: {}", text(&output));
        let said = text(&output);
        assert_eq!(said.lines().filter(|line| line.starts_with("failed") && line.contains("verification failed: /note differs")).count(), 2, "{said}");
        assert_eq!(files(&out), before, "run {round}: {said}");
    }
}

/// A run id repeated within one JSON Lines source: the first line is
/// migrated, the later ones are duplicates (exit 1), whatever the timing
/// of the jobs. In a directory the file name is the run id, so a dump whose
/// state names another file's run id is no duplicate: it is stored under
/// its own name, with a note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_run_ids_the_first_in_source_order_is_migrated() {
    let dir = crate::common::scratch_dir("migrate-duplicates", "src");
    let jsonl = dir.join("states.jsonl");
    let mut lines = String::new();
    for i in 0..60 {
        // Four run ids, each first on a slow line (a long string), so that
        // a later copy would overtake it if timing decided.
        let pad = if i < 4 { "x".repeat(2_000_000) } else { String::new() };
        lines.push_str(&format!("{{\"run_id\": \"run-{}\", \"copy\": {i}, \"pad\": \"{pad}\"}}\n", i % 4));
    }
    fs::write(&jsonl, lines).unwrap();
    for round in 0..3 {
        let out = crate::common::scratch_dir("migrate-duplicates", &format!("out-{round}"));
        let (totals, entries) = run(&jsonl, &file_url(&out), &Options { jobs: 4, ..Options::default() }).await;
        let mut first = BTreeMap::new();
        for entry in &entries {
            let id = entry.run_id.clone().unwrap();
            let expected = if first.contains_key(&id) { Outcome::Duplicate } else { Outcome::Migrated };
            first.entry(id).or_insert(entry.source.clone());
            assert_eq!(entry.outcome, expected, "round {round}: {entry:?}");
        }
        assert_eq!((totals.migrated, totals.duplicate), (first.len() as u64, 60 - first.len() as u64));
        for id in first.keys() {
            let copy = entries.iter().find(|e| e.run_id.as_ref() == Some(id)).unwrap().source.rsplit(':').next().unwrap().parse::<u64>().unwrap() - 1;
            let stored: serde_json::Value = serde_json::from_slice(&fs::read(out.join(format!("{id}.json"))).unwrap()).unwrap();
            assert_eq!(stored["copy"], copy, "{id}: the first line's state is the one stored");
        }
    }
    let out = crate::common::scratch_dir("migrate-duplicates", "cli");
    let output = run_stateharness(&["migrate", "--from", jsonl.to_str().unwrap(), "--to", &file_url(&out)]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(text(&output).lines().any(|line| line.starts_with("duplicate") && line.contains("states.jsonl:")), "{}", text(&output));

    let src = crate::common::scratch_dir("migrate-duplicates", "dir");
    fs::write(src.join("a.json"), r#"{"run_id": "a"}"#).unwrap();
    fs::write(src.join("b.json"), r#"{"run_id": "a"}"#).unwrap();
    let out = crate::common::scratch_dir("migrate-duplicates", "dir-out");
    let (totals, entries) = run(&src, &file_url(&out), &Options::default()).await;
    assert_eq!((totals.migrated, totals.duplicate), (2, 0), "{entries:?}");
    assert_eq!(entries[1].notes, [Note::RunIdMismatch]);
    assert_eq!(names(&out), ["a.json", "b.json"]);
}

/// Symbolic links leading outside the source directory are skipped with
/// the reason unless --follow-symlinks; links within it are followed.
#[test]
fn symlinks_leading_outside_the_source_are_not_followed_unless_asked() {
    let root = crate::common::scratch_dir("migrate-symlinks", "root");
    let (src, elsewhere) = (root.join("src"), root.join("elsewhere"));
    fs::create_dir_all(src.join("kept")).unwrap();
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(src.join("kept/inner.json"), r#"{"run_id": "inner"}"#).unwrap();
    fs::write(elsewhere.join("secret.json"), r#"{"run_id": "outer"}"#).unwrap();
    std::os::unix::fs::symlink("kept/inner.json", src.join("inner.json")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("secret.json"), src.join("outer.json")).unwrap();
    std::os::unix::fs::symlink("../elsewhere/secret.json", src.join("relative.json")).unwrap();
    let migrate = |out: &str, extra: &[&str]| {
        let out = crate::common::scratch_dir("migrate-symlinks", out);
        let output = run_stateharness(&[&["migrate", "--from", src.to_str().unwrap(), "--to", &file_url(&out)][..], extra].concat());
        (output, names(&out))
    };
    let (output, written) = migrate("out", &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(written, ["inner.json"]);
    let said = text(&output);
    for name in ["outer.json", "relative.json"] {
        let line = said.lines().find(|line| line.contains(name)).unwrap_or_default();
        assert!(line.starts_with("skipped") && line.contains("outside the source directory (--follow-symlinks follows it)"), "{said}");
    }
    let (output, written) = migrate("followed", &["--follow-symlinks"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(written, ["inner.json", "outer.json", "relative.json"]);
}
