//! A check's failures as records: where (check, step, operation, run id,
//! JSON path) and what (sent, expected, got), beside the line a person
//! reads. Reports show the line; the JSON report carries every field, so
//! a tool can group or link failures without parsing text.

use std::fmt;

use super::fidelity::Finding;

/// One failure of a check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Failure {
    /// `group: name` of the check (set when the check's result is made).
    pub check: String,
    /// The step of a case or the round of a check, from 1.
    pub step: Option<usize>,
    /// The operation: `save`, `load`, `delete`, `list`, ...
    pub op: Option<&'static str>,
    /// The run id it happened on, in full.
    pub run_id: Option<String>,
    /// Where in the state a value came back changed.
    pub path: Option<String>,
    /// What was sent (typed JSON).
    pub sent: Option<String>,
    /// What flujo's own round trip gives back (typed JSON).
    pub expected: Option<String>,
    /// What came back (typed JSON), or the error.
    pub got: Option<String>,
    /// The failure as a person reads it (run id, path, sent and got included).
    pub message: String,
}

impl Failure {
    /// A failure that is only its message.
    pub(crate) fn new(message: impl Into<String>) -> Failure {
        Failure { message: message.into(), ..Failure::default() }
    }

    /// The same, at step (or round) `step`, from 1.
    pub(crate) fn step(self, step: usize) -> Failure {
        Failure { step: Some(step), ..self }
    }

    /// The same, of operation `op` on `run_id`.
    pub(crate) fn op(self, op: &'static str, run_id: &str) -> Failure {
        Failure { op: Some(op), run_id: Some(run_id.to_owned()), ..self }
    }

    /// The same, with what `finding` saw: path, sent, expected, got.
    pub(crate) fn finding(self, finding: &Finding) -> Failure {
        Failure {
            path: Some(finding.path.to_string()),
            sent: Some(finding.sent.clone()),
            expected: finding.expected.clone(),
            got: Some(finding.got.clone()),
            ..self
        }
    }

    /// The same, with what came back (typed JSON or an error).
    pub(crate) fn got(self, got: impl Into<String>) -> Failure {
        Failure { got: Some(got.into()), ..self }
    }

    /// Every field, for the JSON report.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "check": self.check, "step": self.step, "op": self.op, "run_id": self.run_id, "path": self.path,
            "sent": self.sent, "expected": self.expected, "got": self.got, "message": self.message,
        })
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Failure {
        Failure::new(message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
