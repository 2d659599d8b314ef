//! The way to a database server (Redis, PostgreSQL): every operation under
//! a deadline, and a connection that is made again when it breaks.
//!
//! An operation that fails because the connection was refused, reset or
//! dropped is retried on a fresh connection, up to [`TRIES`] times with
//! exponential backoff ([`FIRST_BACKOFF`] doubling up to [`MAX_BACKOFF`]),
//! so that a blip (a reset, a killed server connection, a quick restart)
//! costs nothing. Past the tries it fails as [`ErrorKind::Connection`].
//!
//! Retrying is safe because every operation the backends send is
//! idempotent: a read, a delete, or a write of the same bytes under the
//! same key (Redis `SET`, PostgreSQL's upsert), whose replay leaves the
//! storage as one write would, whether or not the first one landed.
//!
//! An operation with no answer within its deadline fails as
//! [`ErrorKind::Timeout`] and is not retried: a server that stalled for a
//! whole deadline is not a blip, and retrying would multiply the wait. Its
//! connection is dropped (what it would still answer belongs to no one), so
//! the next operation connects afresh.
//!
//! After a fault that outlasted the retries or the deadline, the link
//! holds off for [`Link::hold_off`]: operations in that time fail at once
//! with the same kind instead of each waiting out its own deadline, so that
//! the cleanup after a fault (a delete per run id) is bounded as a whole.
//! The first operation after the hold-off tries the server again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::{BackendError, ErrorKind};

/// Attempts of one operation, the first included.
pub const TRIES: u32 = 5;

/// The wait before the second attempt; it doubles for each later one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The deadline of cleanup (deletes, closing) when the operation deadline
/// is longer: cleanup after a fault must not wait as long as the run did.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one attempt failed: the kind ([`ErrorKind::Connection`] for a
/// broken connection, which is retried) and the cause, as text.
#[derive(Clone, Debug)]
pub struct Failure {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The client library's account of it.
    pub cause: String,
}

impl Failure {
    /// A failure of `kind` caused by `cause`.
    pub fn new(kind: ErrorKind, cause: impl std::fmt::Display) -> Failure {
        Failure { kind, cause: cause.to_string() }
    }
}

/// A future that makes a connection.
pub type Connecting<C> = Pin<Box<dyn Future<Output = Result<C, Failure>> + Send>>;

/// A connection `C` to one server, made on demand and made again after it
/// broke.
pub struct Link<C> {
    connect: Box<dyn Fn() -> Connecting<C> + Send + Sync>,
    /// The connection in use and its generation: a failed operation drops
    /// the connection only if no other one replaced it since.
    current: Mutex<Option<(u64, Arc<C>)>>,
    generations: AtomicU64,
    op_timeout: Duration,
    closed: AtomicBool,
    /// The last fault that outlasted the retries, and when it ended.
    down: std::sync::Mutex<Option<(Instant, Failure)>>,
}

impl<C: Send + Sync + 'static> Link<C> {
    /// A link that connects with `connect` (each attempt under
    /// `op_timeout`); no connection is made yet.
    pub fn new(op_timeout: Duration, connect: impl Fn() -> Connecting<C> + Send + Sync + 'static) -> Link<C> {
        Link {
            connect: Box::new(connect),
            current: Mutex::new(None),
            generations: AtomicU64::new(0),
            op_timeout,
            closed: AtomicBool::new(false),
            down: std::sync::Mutex::new(None),
        }
    }

    /// The deadline of one operation.
    pub fn op_timeout(&self) -> Duration {
        self.op_timeout
    }

    /// The deadline of a cleanup operation: the shorter of the two.
    pub fn cleanup_timeout(&self) -> Duration {
        self.op_timeout.min(CLEANUP_TIMEOUT)
    }

    /// How long operations fail at once after a fault: the cleanup
    /// deadline.
    pub fn hold_off(&self) -> Duration {
        self.cleanup_timeout()
    }

    /// Runs `op` on the connection under `deadline`, connecting first when
    /// needed and retrying on a broken connection (see the module doc).
    /// A failure names `context` (`saving run "r1" on redis://...`).
    pub async fn run<T, F, Fut>(&self, context: impl Fn() -> String, deadline: Duration, op: F) -> Result<T, BackendError>
    where
        F: Fn(Arc<C>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let result = self.attempts(deadline, op).await;
        let mut down = self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &result {
            Ok(_) => *down = None,
            Err(failure) if failure.kind.is_fault() && down.as_ref().is_none_or(|(at, _)| at.elapsed() >= self.hold_off()) => {
                *down = Some((Instant::now(), failure.clone()));
            }
            Err(_) => {}
        }
        result.map_err(|failure| BackendError::new(failure.kind, format!("{}: {}", context(), failure.cause)))
    }

    /// [`Link::run`] without the bookkeeping of faults: the attempts, or
    /// none during a hold-off.
    async fn attempts<T, F, Fut>(&self, deadline: Duration, op: F) -> Result<T, Failure>
    where
        F: Fn(Arc<C>) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let held = self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if let Some((at, failure)) = held.filter(|(at, _)| at.elapsed() < self.hold_off()) {
            return Err(Failure::new(failure.kind, format!("not tried: the server failed {:.1} s ago ({})", at.elapsed().as_secs_f64(), failure.cause)));
        }
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return Err(Failure::new(ErrorKind::Internal, "the backend was closed"));
            }
            let (generation, result) = match self.connection().await {
                Ok((generation, conn)) => match tokio::time::timeout(deadline, op(conn)).await {
                    Ok(result) => (Some(generation), result),
                    Err(_) => (Some(generation), Err(Failure::new(ErrorKind::Timeout, format!("no answer within {} s", seconds(deadline))))),
                },
                Err(failure) => (None, Err(failure)),
            };
            let failure = match result {
                Ok(value) => return Ok(value),
                Err(failure) => failure,
            };
            if failure.kind.is_fault() {
                if let Some(generation) = generation {
                    self.drop_connection(generation).await;
                }
            }
            if failure.kind != ErrorKind::Connection {
                return Err(failure);
            }
            if attempt == TRIES {
                return Err(Failure::new(failure.kind, format!("{} (gave up after {TRIES} tries)", failure.cause)));
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }

    /// Drops the connection; later operations fail.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        *self.current.lock().await = None;
    }

    /// The connection in use, made now if there is none (under the
    /// operation deadline: a server that accepts and never answers the
    /// handshake cannot hang it).
    async fn connection(&self) -> Result<(u64, Arc<C>), Failure> {
        let mut current = self.current.lock().await;
        if let Some((generation, conn)) = current.as_ref() {
            return Ok((*generation, Arc::clone(conn)));
        }
        let conn = match tokio::time::timeout(self.op_timeout, (self.connect)()).await {
            Ok(made) => Arc::new(made?),
            Err(_) => return Err(Failure::new(ErrorKind::Timeout, format!("no answer while connecting within {} s", seconds(self.op_timeout)))),
        };
        let generation = self.generations.fetch_add(1, Ordering::SeqCst);
        *current = Some((generation, Arc::clone(&conn)));
        Ok((generation, conn))
    }

    /// Forgets the connection of `generation`, if it is still the one in use.
    async fn drop_connection(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|(in_use, _)| *in_use == generation) {
            *current = None;
        }
    }
}

/// `duration` in seconds, as a person writes it (`2`, `0.5`).
fn seconds(duration: Duration) -> String {
    format!("{}", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// A link whose connections are counted and whose `op` fails as told.
    fn counting() -> (Link<u32>, Arc<AtomicU32>) {
        let made = Arc::new(AtomicU32::new(0));
        let counter = Arc::clone(&made);
        let link = Link::new(Duration::from_millis(100), move || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok(n) })
        });
        (link, made)
    }

    #[tokio::test]
    async fn a_broken_connection_is_made_again_and_the_operation_retried() {
        let (link, made) = counting();
        let attempts = AtomicU32::new(0);
        let got = link
            .run(
                || "op".to_owned(),
                Duration::from_secs(5),
                |conn| {
                    let attempt = attempts.fetch_add(1, Ordering::SeqCst);
                    async move { if attempt < 2 { Err(Failure::new(ErrorKind::Connection, "reset")) } else { Ok(*conn) } }
                },
            )
            .await;
        assert_eq!(got, Ok(2), "the third attempt runs on the third connection");
        assert_eq!(made.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn past_the_tries_a_broken_connection_is_a_connection_error() {
        let (link, made) = counting();
        let got =
            link.run(|| "saving run \"r\"".to_owned(), Duration::from_secs(5), |_| async { Err::<(), _>(Failure::new(ErrorKind::Connection, "reset")) }).await;
        let error = got.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Connection);
        assert!(error.message.starts_with("saving run \"r\": reset"), "{error}");
        assert_eq!(made.load(Ordering::SeqCst), TRIES);
    }

    #[tokio::test]
    async fn after_a_fault_operations_fail_at_once_until_the_hold_off_ends() {
        let link: Link<()> = Link::new(Duration::from_millis(200), || Box::pin(async { Ok(()) }));
        let stalled = link.run(|| "loading".to_owned(), Duration::from_millis(200), |_| std::future::pending::<Result<(), Failure>>()).await;
        assert_eq!(stalled.unwrap_err().kind, ErrorKind::Timeout);
        let ran = AtomicBool::new(false);
        let held = link
            .run(
                || "deleting".to_owned(),
                Duration::from_secs(5),
                |_| {
                    ran.store(true, Ordering::SeqCst);
                    async { Ok(()) }
                },
            )
            .await
            .unwrap_err();
        assert_eq!(held.kind, ErrorKind::Timeout, "{held}");
        assert!(held.message.starts_with("deleting: not tried"), "{held}");
        assert!(!ran.load(Ordering::SeqCst), "the operation was not sent");
        tokio::time::sleep(link.hold_off()).await;
        link.run(|| "loading".to_owned(), Duration::from_secs(5), |_| async { Ok(()) }).await.unwrap();
    }

    #[tokio::test]
    async fn other_failures_and_timeouts_are_not_retried() {
        let (link, made) = counting();
        let got = link.run(|| "op".to_owned(), Duration::from_secs(5), |_| async { Err::<(), _>(Failure::new(ErrorKind::Internal, "bad")) }).await;
        assert_eq!(got.unwrap_err().kind, ErrorKind::Internal);
        assert_eq!(made.load(Ordering::SeqCst), 1, "the connection is kept");
        let stalled = link.run(|| "op".to_owned(), Duration::from_millis(10), |_| std::future::pending::<Result<(), Failure>>()).await;
        assert_eq!(stalled.unwrap_err().kind, ErrorKind::Timeout);
        tokio::time::sleep(link.hold_off()).await;
        link.run(|| "op".to_owned(), Duration::from_secs(5), |_| async { Ok(()) }).await.unwrap();
        assert_eq!(made.load(Ordering::SeqCst), 2, "a timed-out connection is replaced");
    }

    #[tokio::test]
    async fn a_connect_that_never_answers_times_out() {
        let link: Link<()> = Link::new(Duration::from_millis(10), || Box::pin(std::future::pending()));
        let got = link.run(|| "opening".to_owned(), Duration::from_secs(5), |_| async { Ok(()) }).await;
        assert_eq!(got.unwrap_err().kind, ErrorKind::Timeout);
    }
}
