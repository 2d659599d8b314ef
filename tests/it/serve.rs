//! `stateharness serve`: a bad line gets an error answer for that line and
//! serving goes on; the answers due are all written.

use std::io::Write as _;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::common::stateharness;

/// Runs `serve --backend memory://` with `extra` arguments on `input`, and
/// returns its exit code and its answers, one JSON value a line.
fn serve(extra: &[&str], input: &[u8]) -> (Option<i32>, Vec<Value>) {
    let mut child = stateharness()
        .args(["serve", "--backend", "memory://"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts stateharness serve");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().expect("serve reads all its input");
    let stdout = String::from_utf8(output.stdout).expect("answers are UTF-8");
    let answers = stdout.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"))).collect();
    (output.status.code(), answers)
}

fn lines(requests: &[&[u8]]) -> Vec<u8> {
    requests.iter().flat_map(|request| request.iter().copied().chain([b'\n'])).collect()
}

/// The answer to request `id` (`Value::Null` for a line without an id).
fn answer(answers: &[Value], id: Value) -> &Value {
    answers.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("no answer for id {id} in {answers:?}"))
}

#[test]
fn a_line_of_invalid_utf8_gets_an_error_and_serving_goes_on() {
    let input = lines(&[
        br#"{"id": 1, "op": "save", "run_id": "r", "state": {"run_id": "r", "n": 1}}"#,
        b"\xff\xfe not UTF-8",
        // memory:// is concurrent: a load could overtake the save.
        br#"{"id": 2, "op": "hello", "protocol": 1}"#,
        br#"{"id": 3, "op": "shutdown"}"#,
    ]);
    let (code, answers) = serve(&[], &input);
    assert_eq!(code, Some(0), "{answers:?}");
    assert_eq!(answers.len(), 4, "{answers:?}");
    assert_eq!(answer(&answers, json!(1))["ok"], true);
    let bad = answer(&answers, Value::Null);
    assert_eq!(bad["ok"], false);
    assert!(bad["error"]["message"].as_str().unwrap().contains("not UTF-8"), "{bad}");
    assert_eq!(answer(&answers, json!(2))["result"]["protocol"], 1);
    assert_eq!(answer(&answers, json!(3))["ok"], true);
}

#[test]
fn a_line_over_the_limit_is_refused_and_serving_goes_on() {
    let list = br#"{"id": 2, "op": "list"}"#;
    // Padded inside the object to exactly the limit: still served.
    let at_limit = format!(r#"{{"id": 3, "op": "list"{}}}"#, " ".repeat(64 - 23));
    assert_eq!(at_limit.len(), 64);
    let long_state = format!(r#"{{"id": 1, "op": "save", "run_id": "r", "state": {{"run_id": "r", "pad": "{}"}}}}"#, "x".repeat(200));
    let input = lines(&[long_state.as_bytes(), list, at_limit.as_bytes()]);
    let (code, answers) = serve(&["--max-line-bytes", "64"], &input);
    assert_eq!(code, Some(0), "{answers:?}");
    assert_eq!(answers.len(), 3, "{answers:?}");
    let refused = answer(&answers, Value::Null);
    assert!(refused["error"]["message"].as_str().unwrap().contains("longer than 64 bytes"), "{refused}");
    assert_eq!(answer(&answers, json!(2))["result"], json!([]), "the long save was not applied");
    assert_eq!(answer(&answers, json!(3))["ok"], true);
}

#[test]
fn an_unknown_op_answers_not_supported_op() {
    let input = lines(&[br#"{"id": 1, "op": "compact"}"#, br#"{"id": 2, "op": "list"}"#]);
    let (code, answers) = serve(&[], &input);
    assert_eq!(code, Some(0));
    assert_eq!(answer(&answers, json!(1))["error"]["kind"], "not_supported_op", "{answers:?}");
    assert_eq!(answer(&answers, json!(2))["ok"], true);
}

#[test]
fn a_state_that_is_not_an_object_is_refused() {
    let input = lines(&[
        br#"{"id": 1, "op": "save", "run_id": "r", "state": [1, 2]}"#,
        br#"{"id": 2, "op": "save", "run_id": "s", "state": "text"}"#,
        br#"{"id": 3, "op": "list"}"#,
    ]);
    let (code, answers) = serve(&[], &input);
    assert_eq!(code, Some(0));
    for id in [1, 2] {
        let refused = answer(&answers, json!(id));
        assert_eq!(refused["error"]["kind"], "unsupported", "{refused}");
    }
    assert_eq!(answer(&answers, json!(3))["result"], json!([]), "nothing was stored");
}

/// `serve` filters `list` by the prefix itself and says so (`list_prefix`);
/// a prefix that is not a string is refused.
#[test]
fn serve_declares_list_prefix_and_refuses_a_prefix_that_is_not_a_string() {
    let input = lines(&[br#"{"id": 1, "op": "hello", "protocol": 1}"#, br#"{"id": 2, "op": "list", "prefix": 7}"#]);
    let (code, answers) = serve(&[], &input);
    assert_eq!(code, Some(0));
    let capabilities = &answer(&answers, json!(1))["result"]["capabilities"];
    assert_eq!(capabilities, &json!(["concurrent", "list", "list_prefix"]), "{answers:?}");
    let refused = answer(&answers, json!(2));
    assert_eq!(refused["error"]["kind"], "internal", "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("`prefix` must be a string"), "{refused}");
}
