//! The external backend protocol, version 1 (`docs/protocol.md`):
//! JSON lines over a child's stdin and stdout. Shared by the `exec:`
//! client ([`crate::backends::exec`]) and `stateharness serve`.

use crate::error::BackendError;
#[cfg(feature = "exec")]
use crate::error::ErrorKind;
use crate::format::{TypeHints, TypeRegistry};
use crate::json::{KeyOrder, read_strict, to_python_json};
use crate::typed::{decode, encode};
use crate::value::{Dict, Int, Value};

/// The protocol version spoken here.
pub const PROTOCOL_VERSION: i64 = 1;

/// The capability of a backend that filters `list` by the `prefix` sent.
pub const LIST_PREFIX: &str = "list_prefix";

/// A request the harness sends.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    /// `hello`, first of all.
    Hello {
        /// Sent only to a process the harness starts to fork from (after
        /// a first process of the command announced `fork`): it must not
        /// build its backend.
        fork_source: bool,
    },
    /// `save`: the state as a typed value.
    Save {
        /// The run id.
        run_id: String,
        /// The state.
        state: Value,
    },
    /// `load`, with type hints.
    Load {
        /// The run id.
        run_id: String,
        /// JSON pointer -> type name.
        types: TypeHints,
    },
    /// `delete`.
    Delete {
        /// The run id.
        run_id: String,
    },
    /// `list`: the stored run ids, those starting with `prefix` when one is
    /// sent (only to a backend that declared `list_prefix`: it filters
    /// itself).
    List {
        /// Keep only ids starting with this, compared as text (no
        /// wildcards); `None` for every id.
        prefix: Option<String>,
    },
    /// `shutdown`.
    Shutdown,
    /// `fork`, to a fork source only: fork a copy that serves the protocol
    /// on the Unix socket at `socket`; the answer is `{"pid": N}`.
    Fork {
        /// The path of the socket the harness listens on.
        socket: String,
    },
}

impl Request {
    /// The op's name.
    #[cfg(feature = "exec")]
    pub fn op(&self) -> &'static str {
        match self {
            Request::Hello { .. } => "hello",
            Request::Save { .. } => "save",
            Request::Load { .. } => "load",
            Request::Delete { .. } => "delete",
            Request::List { .. } => "list",
            Request::Shutdown => "shutdown",
            Request::Fork { .. } => "fork",
        }
    }

    /// The run id the request is about, if any.
    #[cfg(feature = "exec")]
    pub fn run_id(&self) -> Option<&str> {
        match self {
            Request::Save { run_id, .. } | Request::Load { run_id, .. } | Request::Delete { run_id } => Some(run_id),
            _ => None,
        }
    }

    /// The request as one JSON line (no newline).
    #[cfg(feature = "exec")]
    pub fn to_line(&self, id: u64) -> String {
        let mut message = vec![(Value::from("id"), Value::Int(Int::Small(id as i64))), (Value::from("op"), Value::from(self.op()))];
        match self {
            Request::Hello { fork_source } => {
                message.push((Value::from("protocol"), Value::from(PROTOCOL_VERSION)));
                if *fork_source {
                    message.push((Value::from("fork_source"), Value::Bool(true)));
                }
            }
            Request::Save { run_id, state } => {
                message.push((Value::from("run_id"), Value::from(run_id.as_str())));
                message.push((Value::from("state"), encode(state)));
            }
            Request::Load { run_id, types } => {
                message.push((Value::from("run_id"), Value::from(run_id.as_str())));
                if !types.is_empty() {
                    let types = types.iter().map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str()))).collect();
                    message.push((Value::from("types"), Value::Dict(Dict::from_distinct(types))));
                }
            }
            Request::Delete { run_id } => message.push((Value::from("run_id"), Value::from(run_id.as_str()))),
            Request::List { prefix } => {
                if let Some(prefix) = prefix {
                    message.push((Value::from("prefix"), Value::from(prefix.as_str())));
                }
            }
            Request::Shutdown => {}
            Request::Fork { socket } => message.push((Value::from("socket"), Value::from(socket.as_str()))),
        }
        json_line(Value::Dict(Dict::from_distinct(message)))
    }

    /// Reads a request line: its id (when one can be read) and the request.
    pub fn from_line(line: &str, registry: &TypeRegistry) -> (Option<u64>, Result<Request, String>) {
        let message = match read_strict(line) {
            Ok((Value::Dict(message), _)) => message,
            Ok(_) => return (None, Err("a request must be a JSON object".into())),
            Err(e) => return (None, Err(format!("not JSON: {e}"))),
        };
        let id = match message.get("id") {
            Some(Value::Int(n)) => n.as_i64().and_then(|n| u64::try_from(n).ok()),
            _ => None,
        };
        let Some(id) = id else { return (None, Err("a request needs an integer `id`".into())) };
        let run_id = || message.get("run_id").and_then(Value::as_str).map(str::to_owned).ok_or("needs a string `run_id`");
        let request = match message.get("op").and_then(Value::as_str) {
            Some("hello") => Ok(Request::Hello { fork_source: message.get("fork_source") == Some(&Value::Bool(true)) }),
            Some("save") => run_id().map_err(String::from).and_then(|run_id| {
                let state = message.get("state").cloned().ok_or("save needs `state`")?;
                let state = decode(state, registry).map_err(|e| format!("`state`: {e}"))?;
                Ok(Request::Save { run_id, state })
            }),
            Some("load") => run_id().map_err(String::from).and_then(|run_id| {
                let mut types = TypeHints::new();
                if let Some(hints) = message.get("types") {
                    let hints = hints.as_dict().ok_or("`types` must be an object")?;
                    for (path, type_name) in hints.iter() {
                        let (Some(path), Some(type_name)) = (path.as_str(), type_name.as_str()) else {
                            return Err("`types` maps JSON pointers to type names".to_owned());
                        };
                        types.insert(path.to_owned(), type_name.to_owned());
                    }
                }
                Ok(Request::Load { run_id, types })
            }),
            Some("delete") => run_id().map(|run_id| Request::Delete { run_id }).map_err(String::from),
            Some("list") => match message.get("prefix") {
                None | Some(Value::None) => Ok(Request::List { prefix: None }),
                Some(Value::Str(prefix)) => Ok(Request::List { prefix: Some(prefix.clone()) }),
                Some(_) => Err("`prefix` must be a string".to_owned()),
            },
            Some("shutdown") => Ok(Request::Shutdown),
            Some("fork") => match message.get("socket") {
                Some(Value::Str(socket)) => Ok(Request::Fork { socket: socket.clone() }),
                _ => Err("fork needs a string `socket`".to_owned()),
            },
            other => Err(format!("unknown op {other:?}")),
        };
        (Some(id), request)
    }
}

/// A response: the request id and a result or an error.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// The id of the request answered.
    pub id: Option<u64>,
    /// The result (typed JSON) or the error.
    pub outcome: Result<Value, BackendError>,
}

impl Response {
    /// The response as one JSON line (no newline).
    pub fn to_line(&self) -> String {
        let id = self.id.map_or(Value::None, |id| Value::Int(Int::Small(id as i64)));
        let message = match &self.outcome {
            Ok(result) => vec![(Value::from("id"), id), (Value::from("ok"), Value::Bool(true)), (Value::from("result"), encode(result))],
            Err(e) => vec![
                (Value::from("id"), id),
                (Value::from("ok"), Value::Bool(false)),
                (
                    Value::from("error"),
                    Value::Dict(Dict::from_distinct(vec![
                        (Value::from("kind"), Value::from(e.kind.as_str())),
                        (Value::from("message"), Value::from(e.message.as_str())),
                    ])),
                ),
            ],
        };
        json_line(Value::Dict(Dict::from_distinct(message)))
    }

    /// Reads a response line. The result stays plain JSON (typed JSON is
    /// decoded by the caller, which knows what it asked for).
    #[cfg(feature = "exec")]
    pub fn from_line(line: &str) -> Result<Response, String> {
        let message = match read_strict(line) {
            Ok((Value::Dict(message), _)) => message,
            Ok(_) => return Err("a response must be a JSON object".into()),
            Err(e) => return Err(format!("not JSON: {e}")),
        };
        let id = match message.get("id") {
            Some(Value::Int(n)) => Some(n.as_i64().and_then(|n| u64::try_from(n).ok()).ok_or("`id` out of range")?),
            Some(Value::None) => None,
            _ => return Err("a response needs an integer `id`".into()),
        };
        let outcome = match message.get("ok") {
            Some(Value::Bool(true)) => Ok(message.get("result").cloned().unwrap_or(Value::None)),
            Some(Value::Bool(false)) => {
                let error = message.get("error").and_then(Value::as_dict).ok_or("a failure needs an `error` object")?;
                let kind = ErrorKind::from_protocol(error.get("kind").and_then(Value::as_str).unwrap_or("internal"));
                let text = error.get("message").and_then(Value::as_str).unwrap_or("(no message)");
                Err(BackendError::new(kind, text))
            }
            _ => return Err("a response needs `ok: true` or `ok: false`".into()),
        };
        Ok(Response { id, outcome })
    }
}

/// Writes a JSON value as a line. Protocol messages hold only JSON kinds
/// (typed JSON encodes everything else), so writing cannot fail; if it
/// ever did, the line says so as a protocol error.
fn json_line(value: Value) -> String {
    to_python_json(&value, KeyOrder::Insertion)
        .unwrap_or_else(|e| serde_json::json!({"id": null, "ok": false, "error": {"kind": "internal", "message": e.to_string()}}).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(line: &str) -> Result<Request, String> {
        Request::from_line(line, &TypeRegistry::standard()).1
    }

    #[test]
    fn list_carries_its_prefix_only_when_there_is_one() {
        assert_eq!(Request::List { prefix: None }.to_line(4), r#"{"id": 4, "op": "list"}"#);
        let line = Request::List { prefix: Some("sh-_%é".into()) }.to_line(5);
        assert_eq!(line, r#"{"id": 5, "op": "list", "prefix": "sh-_%\u00e9"}"#);
        assert_eq!(request(&line), Ok(Request::List { prefix: Some("sh-_%é".into()) }));
        assert_eq!(request(r#"{"id": 6, "op": "list"}"#), Ok(Request::List { prefix: None }));
        assert_eq!(request(r#"{"id": 7, "op": "list", "prefix": null}"#), Ok(Request::List { prefix: None }));
        assert_eq!(request(r#"{"id": 8, "op": "list", "prefix": 3}"#), Err("`prefix` must be a string".into()));
    }

    #[test]
    fn only_a_fork_source_is_told_so_in_hello_and_fork_carries_its_socket() {
        assert_eq!(Request::Hello { fork_source: false }.to_line(1), r#"{"id": 1, "op": "hello", "protocol": 1}"#);
        let line = Request::Hello { fork_source: true }.to_line(2);
        assert_eq!(line, r#"{"id": 2, "op": "hello", "protocol": 1, "fork_source": true}"#);
        assert_eq!(request(&line), Ok(Request::Hello { fork_source: true }));
        let line = Request::Fork { socket: "/tmp/s/1.sock".into() }.to_line(3);
        assert_eq!(line, r#"{"id": 3, "op": "fork", "socket": "/tmp/s/1.sock"}"#);
        assert_eq!(request(&line), Ok(Request::Fork { socket: "/tmp/s/1.sock".into() }));
        assert_eq!(request(r#"{"id": 4, "op": "fork"}"#), Err("fork needs a string `socket`".into()));
    }
}
