//! `migrate --check-upgrade`: what flujo 0.6.11 would break or change in a
//! flujo 0.4 store. `fixtures/upgrade/` holds a directory store and a
//! SQLite store (as SQL) with the findings expected of each, run by run;
//! where `../shared/oracle-0.6` exists the check is also held against all
//! it shows 0.6 doing: its legacy dumps and database, and the plain-JSON
//! cases of its values stored as flujo 0.4 stores them.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{fixtures_dir, run_stateharness, scratch_dir};
use stateharness::format::{TypeRegistry, serialize};
use stateharness::json::{KeyOrder, read_strict, read_text, to_python_json};
use stateharness::migration::Source;
use stateharness::migration::upgrade::{CheckOptions, Effect, Kind, RunCheck, UpgradeCheck, UpgradeHead, UpgradeTotals, Verdict};
use stateharness::typed;
use stateharness::value::{Dict, Value};

/// Checks the store at `path`: the head, every input's entry, the counts.
fn check(path: &Path) -> (UpgradeHead, Vec<RunCheck>, UpgradeTotals) {
    let source = Source::detect(path).expect("a source");
    let check = UpgradeCheck::open(&source, &CheckOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let head = check.head().clone();
    let mut runs = Vec::new();
    let totals = check.run(&mut |run| runs.push(run.clone())).expect("the check runs");
    (head, runs, totals)
}

/// The fixture SQLite store, made from its SQL in a scratch directory.
fn sqlite_store(test: &str) -> PathBuf {
    let db = scratch_dir(test, "store").join("legacy-0.4.sqlite");
    let sql = fs::read_to_string(fixtures_dir().join("upgrade/legacy-0.4.sql")).unwrap();
    rusqlite::Connection::open(&db).unwrap().execute_batch(&sql).unwrap();
    db
}

/// (path, kind, effect) of each finding.
fn triples(findings: &[stateharness::migration::upgrade::Finding]) -> Vec<(String, String, String)> {
    findings.iter().map(|f| (f.path.clone(), f.kind.as_str().to_owned(), f.effect.as_str().to_owned())).collect()
}

/// The check of `store` gives exactly the findings `expected` names
/// (fixtures/upgrade/expected-*.json), and verdicts and counts that follow.
fn assert_expected(store: &Path, expected: &str) {
    let expected: serde_json::Value = serde_json::from_str(&fs::read_to_string(fixtures_dir().join("upgrade").join(expected)).unwrap()).unwrap();
    let as_triples = |list: &serde_json::Value| -> Vec<(String, String, String)> {
        list.as_array().unwrap().iter().map(|t| (t[0].as_str().unwrap().into(), t[1].as_str().unwrap().into(), t[2].as_str().unwrap().into())).collect()
    };
    let (head, runs, totals) = check(store);
    assert_eq!(triples(&head.store), as_triples(&expected["store"]), "store findings");
    let skipped: Vec<String> =
        runs.iter().filter(|r| r.verdict == Verdict::Skipped).map(|r| Path::new(&r.source).file_name().unwrap().to_string_lossy().into_owned()).collect();
    let skipped_expected: Vec<String> = expected["skipped"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
    assert_eq!(skipped, skipped_expected);
    let found: BTreeMap<String, Vec<(String, String, String)>> =
        runs.iter().filter(|r| r.verdict != Verdict::Skipped).map(|r| (r.run_id.clone().expect("a run id"), triples(&r.findings))).collect();
    let wanted: BTreeMap<String, Vec<(String, String, String)>> =
        expected["runs"].as_object().unwrap().iter().map(|(id, list)| (id.clone(), as_triples(list))).collect();
    for (run_id, want) in &wanted {
        assert_eq!(found.get(run_id), Some(want), "{run_id}: {:#?}", runs.iter().find(|r| r.run_id.as_deref() == Some(run_id)));
    }
    assert_eq!(found.keys().collect::<Vec<_>>(), wanted.keys().collect::<Vec<_>>(), "the runs");
    for run in &runs {
        let verdict = match run.findings.iter().map(|f| f.effect).min() {
            _ if run.verdict == Verdict::Skipped => Verdict::Skipped,
            Some(Effect::Loss) => Verdict::Lossy,
            Some(Effect::Change) => Verdict::Changed,
            None => Verdict::Unchanged,
        };
        assert_eq!(run.verdict, verdict, "{}", run.source);
    }
    let count = |verdict| runs.iter().filter(|r| r.verdict == verdict).count() as u64;
    assert_eq!(
        (totals.inputs, totals.unchanged, totals.changed, totals.lossy, totals.skipped),
        (runs.len() as u64, count(Verdict::Unchanged), count(Verdict::Changed), count(Verdict::Lossy), count(Verdict::Skipped))
    );
}

#[test]
fn a_directory_store_gives_the_expected_findings() {
    assert_expected(&fixtures_dir().join("upgrade/store"), "expected-store.json");
}

#[test]
fn a_sqlite_store_gives_the_expected_findings() {
    assert_expected(&sqlite_store("upgrade_sqlite_findings"), "expected-sqlite.json");
}

#[test]
fn the_check_writes_nothing_beside_a_database() {
    let db = sqlite_store("upgrade_writes_nothing");
    let listing = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir).unwrap().map(|e| e.unwrap()).map(|e| (e.file_name().into_string().unwrap(), fs::read(e.path()).unwrap())).collect()
    };
    let before = listing(db.parent().unwrap());
    check(&db);
    assert_eq!(listing(db.parent().unwrap()), before);
}

#[test]
fn the_command_prints_a_summary_writes_a_report_and_exits_by_loss() {
    let out = scratch_dir("upgrade_cli", "out");
    let report = out.join("upgrade.json");
    let store = fixtures_dir().join("upgrade/store");
    let run = run_stateharness(&["migrate", "--check-upgrade", store.to_str().unwrap(), "--report", report.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "something is lost: {stdout}");
    assert!(stdout.contains("for flujo 0.6.11's FileBackend: nothing is written"), "{stdout}");
    assert!(stdout.contains("complex_shaped: 2 losses, 2 changes in 2 runs"), "{stdout}");
    assert!(stdout.contains("  run-complex /pipeline_context/big (loss): "), "{stdout}");
    assert!(stdout.contains("13 inputs: 3 unchanged, 1 changed, 8 lossy, 1 skipped"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!((report["schema_version"].as_u64(), report["check"].as_str(), report["backend"].as_str()), (Some(1), Some("upgrade"), Some("file")));
    assert_eq!(report["entries"].as_array().map(Vec::len), Some(13));
    let deep = report["entries"].as_array().unwrap().iter().find(|e| e["run_id"] == "run-deep").unwrap();
    assert_eq!((deep["verdict"].as_str(), deep["findings"][0]["kind"].as_str()), (Some("lossy"), Some("depth")));
    assert_eq!(report["totals"]["by_kind"]["non_finite"]["change"].as_u64(), Some(4));

    // Only changes: exit 0.
    let changes = scratch_dir("upgrade_cli", "changes");
    fs::copy(store.join("run-000029.json"), changes.join("run-000029.json")).unwrap();
    let run = run_stateharness(&["migrate", "--check-upgrade", changes.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stdout));

    // A fault: no such store, a JSON Lines file, a flag that migrates.
    let jsonl = out.join("states.jsonl");
    fs::write(&jsonl, "{\"run_id\": \"a\"}\n").unwrap();
    for args in [
        vec!["--check-upgrade", "/nonexistent/store"],
        vec!["--check-upgrade", jsonl.to_str().unwrap()],
        vec!["--check-upgrade", store.to_str().unwrap(), "--to", "memory://"],
    ] {
        let run = run_stateharness(&[&["migrate"], args.as_slice()].concat());
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&run.stderr));
    }
}

/// The shared oracle-0.6 set, beside the shared 0.4 oracle.
fn shared_oracle_06(test: &str) -> Option<PathBuf> {
    let dir = crate::common::shared_oracle(test)?.with_file_name("oracle-0.6");
    dir.join("values.jsonl").is_file().then_some(dir)
}

/// The JSON paths where `a` and `b` differ (leaves, or a container whose shape differs).
fn differences(a: &Value, b: &Value, at: &mut Vec<String>, out: &mut BTreeSet<String>) {
    match (a, b) {
        (Value::Dict(x), Value::Dict(y)) if x.len() == y.len() && x.iter().all(|(k, _)| k.as_str().is_some_and(|k| y.get(k).is_some())) => {
            for (key, value) in x.iter() {
                let key = key.as_str().unwrap();
                at.push(key.to_owned());
                differences(value, y.get(key).unwrap(), at, out);
                at.pop();
            }
        }
        (Value::List(x), Value::List(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                at.push(i.to_string());
                differences(p, q, at, out);
                at.pop();
            }
        }
        _ if a == b => {}
        _ => {
            // The RFC 6901 pointer the findings carry.
            out.insert(at.iter().map(|token| format!("/{}", token.replace('~', "~0").replace('/', "~1"))).collect());
        }
    }
}

/// Findings about values (at a path) as opposed to the text or the run.
const VALUE_KINDS: [Kind; 3] = [Kind::NonFinite, Kind::ComplexShaped, Kind::Depth];

#[test]
fn shared_oracle_legacy_dumps_are_flagged_where_0_6_changes_them_only() {
    let Some(oracle) = shared_oracle_06("upgrade_legacy_dumps") else { return };
    let (head, runs, totals) = check(&oracle.join("legacy"));
    assert!(head.store.is_empty());
    assert_eq!(totals.inputs, 93);
    for run in &runs {
        let run_id = run.run_id.as_deref().expect("every dump is a run");
        let text = fs::read_to_string(oracle.join(format!("legacy/{run_id}.json"))).unwrap();
        let (dump, _) = read_text(&text).unwrap();
        let (written, _) = read_strict(&fs::read_to_string(oracle.join(format!("legacy-expected-0.6/{run_id}.json"))).unwrap()).unwrap();
        // What 0.6's FileBackend writes differs from the dump exactly where a value finding is.
        let mut changed = BTreeSet::new();
        differences(&dump, &written, &mut Vec::new(), &mut changed);
        let flagged: BTreeSet<String> = run.findings.iter().filter(|f| VALUE_KINDS.contains(&f.kind)).map(|f| f.path.clone()).collect();
        assert_eq!(flagged, changed, "{run_id}: {:#?}", run.findings);
        // json.loads (which 0.6's FileBackend reads with) refuses exactly the JSON5 dumps.
        let refused = read_strict(&text).is_err();
        let not_json: Vec<_> = run.findings.iter().filter(|f| !VALUE_KINDS.contains(&f.kind)).map(|f| (f.kind, f.effect)).collect();
        assert_eq!(not_json, if refused { vec![(Kind::NotJson, Effect::Loss)] } else { vec![] }, "{run_id}");
    }
    assert_eq!((totals.lossy, totals.changed), (8, 9), "{totals:?}");
}

#[test]
fn shared_oracle_legacy_database_is_flagged_as_0_6_loads_it() {
    let Some(oracle) = shared_oracle_06("upgrade_legacy_database") else { return };
    let db = scratch_dir("upgrade_legacy_database", "db").join("legacy.sqlite");
    fs::copy(oracle.join("legacy.sqlite"), &db).unwrap();
    let (head, runs, _) = check(&db);
    assert_eq!(head.store.iter().map(|f| f.kind).collect::<Vec<_>>(), vec![Kind::StatusCheck]);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let registry = TypeRegistry::standard();
    assert_eq!(runs.len(), 34);
    for run in &runs {
        let run_id = run.run_id.as_deref().unwrap();
        let record = fs::read_to_string(oracle.join(format!("legacy-sqlite-0.6/{run_id}.json"))).unwrap();
        let record = typed::decode(read_strict(&record).unwrap().0, &registry).unwrap();
        let record = record.as_dict().unwrap();
        let (context, output): (String, Option<String>) = conn
            .query_row("SELECT pipeline_context, last_step_output FROM workflow_state WHERE run_id = ?1", [run_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        let stored = |text: Option<String>| text.map_or(Value::None, |t| read_text(&t).unwrap().0);
        let loaded = record.get("loaded").and_then(Value::as_dict);
        // Survives: loads, resaves, reloads equal, and loads what the row holds.
        let survives = record.get("resave").and_then(Value::as_str) == Some("ok")
            && record.get("reload_equal") == Some(&Value::Bool(true))
            && loaded.is_some_and(|l| {
                l.get("pipeline_context") == Some(&stored(Some(context.clone()))) && l.get("last_step_output") == Some(&stored(output.clone()))
            });
        assert_eq!(run.verdict == Verdict::Unchanged, survives, "{run_id}: {:#?}", run.findings);
    }
}

/// What the oracle shows 0.6's backend doing to one plain-JSON case.
fn oracle_kinds(record: &Dict, input: &Value) -> Result<BTreeSet<Kind>, String> {
    if let Some(error) = record.get("save").and_then(Value::as_str).filter(|s| *s != "ok") {
        return Err(error.to_owned());
    }
    let loaded = record.get("loaded").and_then(Value::as_dict).and_then(|s| s.get("pipeline_context")).and_then(Value::as_dict).and_then(|c| c.get("v"));
    let text = to_python_json(loaded.expect("a loaded value"), KeyOrder::Insertion).unwrap();
    let mut kinds = BTreeSet::new();
    if loaded != Some(input) {
        if text.contains("\"$complex\"") {
            kinds.insert(Kind::ComplexShaped);
        }
        if text.contains("<max-depth-exceeded:") {
            kinds.insert(Kind::Depth);
        }
        assert!(!kinds.is_empty(), "an unexplained change: {text}");
    }
    Ok(kinds)
}

/// Whether a typed-JSON value is plain JSON (no `$` tag anywhere, no NaN).
fn plain(value: &Value) -> bool {
    match value {
        Value::Dict(dict) => dict.iter().all(|(k, v)| !k.as_str().is_some_and(|k| k.starts_with('$')) && plain(v)),
        Value::List(items) => items.iter().all(plain),
        Value::Float(x) => x.is_finite(),
        _ => true,
    }
}

#[test]
fn shared_oracle_values_stored_by_0_4_are_flagged_as_0_6_treats_them() {
    let Some(oracle) = shared_oracle_06("upgrade_oracle_values") else { return };
    let registry = TypeRegistry::standard();
    let meta: Value = read_strict(&fs::read_to_string(oracle.join("meta.json")).unwrap()).unwrap().0;
    let template = typed::decode(meta.as_dict().unwrap().get("state_template").unwrap().clone(), &registry).unwrap();
    let dir = scratch_dir("upgrade_oracle_values", "store");
    let db = scratch_dir("upgrade_oracle_values", "db").join("store.sqlite");
    let sql = fs::read_to_string(fixtures_dir().join("upgrade/legacy-0.4.sql")).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(sql.split_inclusive(';').next().unwrap()).unwrap();
    let mut expected = BTreeMap::new();
    for (n, line) in fs::read_to_string(oracle.join("values.jsonl")).unwrap().lines().enumerate() {
        let case = read_strict(line).unwrap().0;
        let case = case.as_dict().unwrap();
        let input = case.get("input").unwrap().clone();
        if !plain(&input) {
            continue;
        }
        let run_id = format!("case-{n:04}");
        let mut state = template.as_dict().unwrap().clone();
        state.insert(Value::from("run_id"), Value::from(run_id.as_str()));
        state.insert(Value::from("pipeline_context"), Value::Dict([(Value::from("v"), input.clone())].into_iter().collect()));
        // As flujo 0.4's FileBackend writes it, and as its SQLiteBackend does.
        let stored = serialize(Value::Dict(state), &registry).unwrap();
        fs::write(dir.join(format!("{run_id}.json")), to_python_json(&stored, KeyOrder::Sorted).unwrap()).unwrap();
        let stored = stored.as_dict().unwrap();
        let json = |key: &str| to_python_json(stored.get(key).unwrap(), KeyOrder::Insertion).unwrap();
        let text = |key: &str| stored.get(key).and_then(Value::as_str).unwrap().to_owned();
        conn.execute(
            "INSERT INTO workflow_state VALUES (?1, ?2, ?3, ?4, 2, ?5, ?6, ?7, ?8, ?9, 0, NULL, NULL, NULL)",
            [
                run_id.clone(),
                text("pipeline_id"),
                text("pipeline_name"),
                text("pipeline_version"),
                json("pipeline_context"),
                json("last_step_output"),
                text("status"),
                text("created_at"),
                text("updated_at"),
            ],
        )
        .unwrap();
        let of = |backend: &str| oracle_kinds(case.get(backend).unwrap().as_dict().unwrap(), &input);
        expected.insert(run_id, (of("file"), of("sqlite")));
    }
    drop(conn);
    assert!(expected.len() > 400, "{} plain cases", expected.len());
    // Per store: runs unchanged, saved by 0.6 but cut past the depth limit
    // or with a complex revived, and runs whose save 0.6 refuses.
    let mut tallies = Vec::new();
    for (store, sqlite) in [(dir.as_path(), false), (db.as_path(), true)] {
        let (_, runs, totals) = check(store);
        let (mut cut, mut revived, mut refusals) = (0, 0, 0);
        assert_eq!(runs.len(), expected.len());
        for run in &runs {
            let run_id = run.run_id.as_deref().unwrap();
            let (file, strict) = &expected[run_id];
            let found: BTreeSet<Kind> = run.findings.iter().map(|f| f.kind).collect();
            match if sqlite { strict } else { file } {
                Ok(kinds) => {
                    assert_eq!(&found, kinds, "{run_id} in {}: {:#?}", store.display(), run.findings);
                    cut += usize::from(kinds.contains(&Kind::Depth));
                    revived += usize::from(kinds.contains(&Kind::ComplexShaped));
                }
                // A save 0.6 refuses: a loss at the value orjson refuses (or
                // at the complex a load makes of a dict holding it).
                Err(error) => {
                    refusals += 1;
                    let kind = if error.contains("Integer exceeds 64-bit range") { Kind::IntRange } else { Kind::LoneSurrogate };
                    assert!(
                        run.findings.iter().any(|f| f.effect == Effect::Loss && (f.kind == kind || f.kind == Kind::ComplexShaped)),
                        "{run_id}: {error}: {:#?}",
                        run.findings
                    );
                }
            }
        }
        tallies.push((totals.unchanged, cut, revived, refusals));
    }
    assert_eq!(tallies, [(482, 22, 6, 0), (409, 19, 5, 77)]);
}
