//! `redis://HOST:PORT/DB?prefix=P`: the seed document's Redis recipe. Key =
//! `P` + run id, value = `json.dumps(safe_serialize(state))` (insertion
//! order); load is `GET`, delete is `DEL`. With the default empty prefix
//! the keys are the recipe's exactly; a prefix keeps a shared Redis safe
//! to test against.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::format::{TypeHints, TypeRegistry};
use crate::json::KeyOrder;
use crate::value::Value;

use super::codec::{state_to_text, text_to_state};
use super::{BackendError, Capabilities, ErrorKind, StateBackend, StoredForm, StoredPart};

/// How long opening a connection may take before the URL counts as
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long one command may take. The client's default (0.5 s) is too
/// short for states of several MB on a busy machine.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(60);

/// Keys asked for per `SCAN` round trip.
const SCAN_COUNT: usize = 1000;

/// The Redis recipe, with an optional key prefix.
pub struct RedisBackend {
    url: String,
    prefix: String,
    registry: Arc<TypeRegistry>,
    conn: MultiplexedConnection,
}

impl RedisBackend {
    /// Connects to `redis://HOST:PORT/DB?prefix=P` (or `rediss://`). The
    /// `prefix` parameter (percent-decoded, default empty) is removed
    /// before the URL goes to the Redis client.
    ///
    /// A malformed URL or a server that does not answer is a
    /// [`ErrorKind::Connection`] error naming the URL (password hidden).
    pub async fn open(url: &str, registry: Arc<TypeRegistry>) -> Result<RedisBackend, BackendError> {
        let shown = redact_url(url);
        let connection_error = |cause: &dyn std::fmt::Display| BackendError::new(ErrorKind::Connection, format!("could not connect to {shown}: {cause}"));
        let (client_url, prefix) = take_query_param(url, "prefix").map_err(|e| connection_error(&e))?;
        let client = redis::Client::open(client_url.as_str()).map_err(|e| connection_error(&e))?;
        let config = AsyncConnectionConfig::new().set_connection_timeout(Some(CONNECT_TIMEOUT)).set_response_timeout(Some(RESPONSE_TIMEOUT));
        let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.map_err(|e| connection_error(&e))?;
        // A server that accepts the connection but refuses commands (auth,
        // a bad DB number) should fail here, not on the first save.
        redis::cmd("PING").query_async::<()>(&mut conn).await.map_err(|e| connection_error(&e))?;
        Ok(RedisBackend { url: shown, prefix: prefix.unwrap_or_default(), registry, conn })
    }

    /// The key prefix (empty for the recipe's own keys).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, run_id: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + run_id.len());
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(run_id.as_bytes());
        key
    }

    /// `GET` of `run_id`'s key.
    async fn get(&self, run_id: &str) -> Result<Option<Vec<u8>>, BackendError> {
        redis::cmd("GET").arg(self.key(run_id)).query_async::<Option<Vec<u8>>>(&mut self.conn.clone()).await.map_err(|e| self.failed("loading", run_id, e))
    }

    fn failed(&self, what: &str, run_id: &str, error: redis::RedisError) -> BackendError {
        let kind = super::faults::redis_kind(&error);
        BackendError::new(kind, format!("{what} run {run_id:?} (key prefix {:?}) on {}: {error}", self.prefix, self.url))
    }
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend").field("url", &self.url).field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// `text` with Redis glob metacharacters (`*?[]\`) escaped, so that it
/// matches itself only.
fn glob_escape(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if matches!(byte, b'*' | b'?' | b'[' | b']' | b'\\') {
            out.push(b'\\');
        }
        out.push(byte);
    }
    out
}

#[async_trait]
impl StateBackend for RedisBackend {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { concurrent: true, persistent: true, list: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        redis::cmd("SET").arg(self.key(run_id)).arg(text).query_async::<()>(&mut self.conn.clone()).await.map_err(|e| self.failed("saving", run_id, e))
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let Some(bytes) = self.get(run_id).await? else { return Ok(None) };
        let origin = format!("run {run_id:?} (key prefix {:?}) on {}", self.prefix, self.url);
        let text = String::from_utf8(bytes).map_err(|e| BackendError::internal(format!("loading {origin}"), e))?;
        text_to_state(&text, hints, &self.registry, &origin).map(Some)
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        redis::cmd("DEL").arg(self.key(run_id)).query_async::<()>(&mut self.conn.clone()).await.map_err(|e| self.failed("deleting", run_id, e))
    }

    /// The value string under the key (prefix and run id).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let parts = self.get(run_id).await?.map(StoredPart::blob).into_iter().collect();
        Ok(Some(StoredForm { location: format!("key {:?}", String::from_utf8_lossy(&self.key(run_id))), parts }))
    }

    /// `SCAN MATCH` over the backend's prefix followed by `prefix`, sorted.
    /// With an empty key prefix every key in the database counts as a run
    /// id (that is the recipe's layout). Keys that are not UTF-8 cannot be
    /// run ids and are skipped.
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut pattern = glob_escape(&self.prefix);
        pattern.extend(glob_escape(prefix));
        pattern.push(b'*');
        let mut conn = self.conn.clone();
        let mut ids = BTreeSet::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, keys) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(SCAN_COUNT)
                .query_async::<(u64, Vec<Vec<u8>>)>(&mut conn)
                .await
                .map_err(|e| BackendError::internal(format!("listing keys with prefix {:?} on {}", self.prefix, self.url), e))?;
            for key in keys {
                // SCAN may return a key more than once; the set dedupes.
                let id = key.strip_prefix(self.prefix.as_bytes()).and_then(|id| String::from_utf8(id.to_vec()).ok());
                if let Some(id) = id.filter(|id| id.starts_with(prefix)) {
                    ids.insert(id);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        Ok(ids.into_iter().collect())
    }
}

/// Removes the query parameter `name` from `url`: the URL without it (no
/// `?` left when the query becomes empty) and its percent-decoded value.
/// Used by the Redis (`prefix`) and Postgres (`table`) backends, whose
/// client libraries refuse parameters they do not know.
pub(crate) fn take_query_param(url: &str, name: &str) -> Result<(String, Option<String>), String> {
    let Some((base, query)) = url.split_once('?') else { return Ok((url.to_owned(), None)) };
    let mut value = None;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if key != name {
            kept.push(pair);
        } else if value.is_some() {
            return Err(format!("the parameter {name:?} is given twice"));
        } else {
            value = Some(percent_decode(raw).ok_or_else(|| format!("the parameter {name:?} is not valid percent-encoded UTF-8"))?);
        }
    }
    let stripped = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    Ok((stripped, value))
}

/// `%XX` sequences decoded; `None` for a malformed escape or non-UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `url` with the password of its user info replaced by `***`, for
/// messages and reports.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return url.to_owned() };
    let Some(colon) = rest[..at].find(':') else { return url.to_owned() };
    format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_taken_out() {
        assert_eq!(take_query_param("redis://h:1/0", "prefix"), Ok(("redis://h:1/0".to_owned(), None)));
        assert_eq!(take_query_param("redis://h:1/0?prefix=a%2Fb%3F", "prefix"), Ok(("redis://h:1/0".to_owned(), Some("a/b?".to_owned()))));
        assert_eq!(
            take_query_param("postgres://u@h/d?sslmode=disable&table=t&x=1", "table"),
            Ok(("postgres://u@h/d?sslmode=disable&x=1".to_owned(), Some("t".to_owned())))
        );
        assert!(take_query_param("redis://h/0?prefix=a&prefix=b", "prefix").is_err());
        assert!(take_query_param("redis://h/0?prefix=%zz", "prefix").is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(redact_url("redis://:secret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact_url("postgres://u:p@ss@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact_url("redis://h:6379/0?prefix=a@b"), "redis://h:6379/0?prefix=a@b");
    }

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape(r"a*b?[c]\d"), br"a\*b\?\[c\]\\d".to_vec());
    }
}
