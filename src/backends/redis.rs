//! `redis://HOST:PORT/DB?prefix=P`: the seed document's Redis recipe. Key =
//! `P` + run id, value = `json.dumps(safe_serialize(state))` (insertion
//! order); load is `GET`, delete is `DEL`. With the default empty prefix
//! the keys are the recipe's exactly; a prefix keeps a shared Redis safe
//! to test against.
//!
//! Every command runs under the operation deadline and on a connection
//! that is made again when it breaks ([`super::link`]).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo, RedisError};

use crate::format::{TypeHints, TypeRegistry};
use crate::json::KeyOrder;
use crate::value::Value;

use super::codec::{state_to_text, text_to_state};
use super::link::{Failure, Link};
use super::url_query::take_query_param;
use super::{BackendError, Capabilities, ErrorKind, NewState, OpenOptions, Raw, RawState, StateBackend, StoredForm, StoredPart};

/// Keys asked for per `SCAN` round trip.
const SCAN_COUNT: usize = 1000;

/// Compare-and-set of one key, atomic as every script: `ARGV[1]` is `1`
/// when a value is expected, `ARGV[2]` that value; `ARGV[3]` is `1` when
/// the new value is `ARGV[4]`, `0` to delete the key. 1 when the key now
/// holds the new value (or is gone, for a delete), 0 when it held another.
const SWAP_SCRIPT: &str = r"
local held = redis.call('GET', KEYS[1])
local new = false
if ARGV[3] == '1' then new = ARGV[4] end
if held == new then return 1 end
local expected = false
if ARGV[1] == '1' then expected = ARGV[2] end
if held ~= expected then return 0 end
if new then redis.call('SET', KEYS[1], new) else redis.call('DEL', KEYS[1]) end
return 1
";

/// The Redis recipe, with an optional key prefix.
pub struct RedisBackend {
    url: String,
    prefix: String,
    registry: Arc<TypeRegistry>,
    link: Link<MultiplexedConnection>,
}

impl RedisBackend {
    /// Connects to `redis://HOST:PORT/DB?prefix=P` (or `rediss://`); every
    /// command, and making a connection, gets `options.op_timeout`. The
    /// `prefix` parameter (percent-decoded, default empty) is removed
    /// before the URL goes to the Redis client.
    ///
    /// A malformed URL or a server that refuses commands is a
    /// [`ErrorKind::Connection`] error naming the URL (password hidden); a
    /// server that does not answer in time, [`ErrorKind::Timeout`].
    pub async fn open_with(url: &str, registry: Arc<TypeRegistry>, options: OpenOptions) -> Result<RedisBackend, BackendError> {
        let shown = crate::redact::redact(url).into_owned();
        let connection_error = |cause: &dyn std::fmt::Display| BackendError::new(ErrorKind::Connection, format!("could not connect to {shown}: {cause}"));
        let (client_url, prefix) = take_query_param(url, "prefix").map_err(|e| connection_error(&e))?;
        let mut info = client_url.as_str().into_connection_info().map_err(|e| connection_error(&e))?;
        // A password kept off the command line: redis-cli's variable.
        if let (None, Ok(password)) = (info.redis_settings().password(), std::env::var("REDISCLI_AUTH")) {
            info = info.clone().set_redis_settings(info.redis_settings().clone().set_password(password));
        }
        let client = redis::Client::open(info).map_err(|e| connection_error(&e))?;
        let config = AsyncConnectionConfig::new().set_connection_timeout(Some(options.op_timeout)).set_response_timeout(Some(options.op_timeout));
        let link = Link::new(options.op_timeout, move || {
            let (client, config) = (client.clone(), config.clone());
            Box::pin(async move {
                let mut conn = client.get_multiplexed_async_connection_with_config(&config).await.map_err(failure)?;
                // A server that accepts the connection but refuses commands
                // (auth, a bad DB number) fails here, not on the first save.
                redis::cmd("PING").query_async::<()>(&mut conn).await.map_err(failure)?;
                Ok(conn)
            })
        });
        let backend = RedisBackend { url: shown.clone(), prefix: prefix.unwrap_or_default(), registry, link };
        backend.link.run(|| format!("could not connect to {shown}"), options.op_timeout, |_| async { Ok(()) }).await.map_err(|e| match e.kind {
            ErrorKind::Timeout => e,
            _ => BackendError::new(ErrorKind::Connection, e.message),
        })?;
        Ok(backend)
    }

    fn key(&self, run_id: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(self.prefix.len() + run_id.len());
        key.extend_from_slice(self.prefix.as_bytes());
        key.extend_from_slice(run_id.as_bytes());
        key
    }

    /// `GET` of `run_id`'s key.
    async fn get(&self, run_id: &str) -> Result<Option<Vec<u8>>, BackendError> {
        let key = self.key(run_id);
        self.command(|| self.context("loading", run_id), self.link.op_timeout(), redis::cmd("GET").arg(key)).await
    }

    /// Runs `cmd` under `deadline`, reconnecting and retrying as [`Link`] does.
    async fn command<T: redis::FromRedisValue>(&self, context: impl Fn() -> String, deadline: Duration, cmd: &redis::Cmd) -> Result<T, BackendError> {
        self.link.run(context, deadline, |conn| async move { cmd.query_async::<T>(&mut (*conn).clone()).await.map_err(failure) }).await
    }

    fn context(&self, what: &str, run_id: &str) -> String {
        format!("{what} run {run_id:?} (key prefix {:?}) on {}", self.prefix, self.url)
    }
}

/// A Redis error as a [`Failure`]: an I/O error (refused, reset, closed)
/// is a broken connection, a timed-out one a timeout.
fn failure(error: RedisError) -> Failure {
    let kind = if error.is_timeout() {
        ErrorKind::Timeout
    } else if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
        ErrorKind::Connection
    } else {
        ErrorKind::Internal
    };
    Failure::new(kind, error)
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
        Capabilities { concurrent: true, persistent: true, list: true, shared: true }
    }

    async fn save_state(&self, run_id: &str, state: &Value) -> Result<(), BackendError> {
        let text = state_to_text(state, KeyOrder::Insertion, &self.registry)?;
        // Retried on a broken connection: a SET of the same bytes is idempotent.
        self.command(|| self.context("saving", run_id), self.link.op_timeout(), redis::cmd("SET").arg(self.key(run_id)).arg(text)).await
    }

    async fn load_state(&self, run_id: &str, hints: &TypeHints) -> Result<Option<Value>, BackendError> {
        let Some(bytes) = self.get(run_id).await? else { return Ok(None) };
        let origin = format!("run {run_id:?} (key prefix {:?}) on {}", self.prefix, self.url);
        let text = String::from_utf8(bytes).map_err(|e| BackendError::internal(format!("loading {origin}"), e))?;
        text_to_state(&text, hints, &self.registry, &origin).map(Some)
    }

    async fn load_raw(&self, run_id: &str) -> Result<Option<RawState>, BackendError> {
        Ok(self.get(run_id).await?.map(|bytes| RawState(Raw::Bytes(bytes))))
    }

    fn decode_raw(&self, run_id: &str, raw: &RawState, hints: &TypeHints) -> Result<Value, BackendError> {
        let origin = format!("run {run_id:?} (key prefix {:?}) on {}", self.prefix, self.url);
        let text =
            raw.bytes().map(std::str::from_utf8).and_then(Result::ok).ok_or_else(|| BackendError::internal(format!("loading {origin}"), "not UTF-8 text"))?;
        text_to_state(text, hints, &self.registry, &origin)
    }

    /// One Lua script per key ([`SWAP_SCRIPT`]): Redis runs it whole.
    async fn swap_state(&self, run_id: &str, expected: Option<&RawState>, new: NewState<'_>) -> Result<bool, BackendError> {
        let not_bytes = || BackendError::internal(self.context("saving", run_id), "a raw state that is not a Redis value");
        let expected = expected.map(|raw| raw.bytes().ok_or_else(not_bytes)).transpose()?;
        let new = match new {
            NewState::State(state) => Some(state_to_text(state, KeyOrder::Insertion, &self.registry)?.into_bytes()),
            NewState::Raw(raw) => Some(raw.bytes().ok_or_else(not_bytes)?.to_vec()),
            NewState::Nothing => None,
        };
        let flag = |present: bool| if present { "1" } else { "0" };
        let mut eval = redis::cmd("EVAL");
        eval.arg(SWAP_SCRIPT).arg(1).arg(self.key(run_id));
        eval.arg(flag(expected.is_some())).arg(expected.unwrap_or_default()).arg(flag(new.is_some())).arg(new.unwrap_or_default());
        let done: i64 = self.command(|| self.context("saving", run_id), self.link.op_timeout(), &eval).await?;
        Ok(done == 1)
    }

    async fn delete_state(&self, run_id: &str) -> Result<(), BackendError> {
        self.command(|| self.context("deleting", run_id), self.link.cleanup_timeout(), redis::cmd("DEL").arg(self.key(run_id))).await
    }

    /// The value string under the key (prefix and run id).
    async fn stored_form(&self, run_id: &str) -> Result<Option<StoredForm>, BackendError> {
        let parts = self.get(run_id).await?.map(StoredPart::blob).into_iter().collect();
        Ok(Some(StoredForm { location: format!("key {:?}", String::from_utf8_lossy(&self.key(run_id))), parts }))
    }

    /// Drops the connection; later operations fail.
    async fn close(&self) -> Result<(), BackendError> {
        self.link.close().await;
        Ok(())
    }

    /// `SCAN MATCH` over the backend's prefix followed by `prefix`, sorted.
    /// With an empty key prefix every key in the database counts as a run
    /// id (that is the recipe's layout). Keys that are not UTF-8 cannot be
    /// run ids and are skipped.
    async fn list_states(&self, prefix: &str) -> Result<Vec<String>, BackendError> {
        let mut pattern = glob_escape(&self.prefix);
        pattern.extend(glob_escape(prefix));
        pattern.push(b'*');
        let mut ids = BTreeSet::new();
        let mut cursor: u64 = 0;
        // Each SCAN round trip is one operation: a retried one repeats the
        // same cursor, and the set absorbs what SCAN returns twice.
        loop {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(SCAN_COUNT);
            let context = || format!("listing keys with prefix {:?} on {}", self.prefix, self.url);
            let (next, keys): (u64, Vec<Vec<u8>>) = self.command(context, self.link.op_timeout(), &scan).await?;
            for key in keys {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_metacharacters_are_escaped() {
        assert_eq!(glob_escape(r"a*b?[c]\d"), br"a\*b\?\[c\]\\d".to_vec());
    }
}
