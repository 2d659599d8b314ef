//! Run ids repeated within one source: the first input in source order
//! that has a run id is the one migrated, every later one is a duplicate,
//! however the workers' timing falls.
//!
//! Each input holds a [`Ticket`] and passes it in source order: claiming a
//! run id waits until every earlier input has passed (claimed its own, or
//! ended without one: failed, skipped, another shard's). An input waits
//! only for the few taken before it, and its claim comes before any write.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The run ids claimed so far and whose turn it is.
#[derive(Default)]
pub(crate) struct Claims {
    state: Mutex<Turns>,
    passed: Notify,
}

#[derive(Default)]
struct Turns {
    /// The index of the input whose turn it is.
    next: usize,
    /// Later inputs that ended without a run id, out of turn.
    ended: BTreeSet<usize>,
    /// The run ids claimed.
    seen: HashSet<String>,
}

impl Turns {
    /// The input at `next` has passed: on to the first one still to pass.
    fn advance(&mut self) {
        self.next += 1;
        while self.ended.remove(&self.next) {
            self.next += 1;
        }
    }
}

impl Claims {
    /// The ticket of the input at `index` (each index gets exactly one).
    pub(crate) fn ticket(claims: &Arc<Claims>, index: usize) -> Ticket {
        Ticket { claims: Arc::clone(claims), index, passed: false }
    }

    fn turns(&self) -> MutexGuard<'_, Turns> {
        // Each change is whole before the lock is let go.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One input's place in the source order; dropped unclaimed, it passes
/// without a run id.
pub(crate) struct Ticket {
    claims: Arc<Claims>,
    index: usize,
    passed: bool,
}

impl Ticket {
    /// Waits for the earlier inputs, then claims `run_id`: false when one
    /// of them claimed it.
    pub(crate) async fn claim(mut self, run_id: &str) -> bool {
        loop {
            let passed = self.claims.passed.notified();
            tokio::pin!(passed);
            // Registered before looking, so no pass between the two is missed.
            passed.as_mut().enable();
            {
                let mut turns = self.claims.turns();
                if turns.next == self.index {
                    let first = turns.seen.insert(run_id.to_owned());
                    turns.advance();
                    self.passed = true;
                    drop(turns);
                    self.claims.passed.notify_waiters();
                    return first;
                }
            }
            passed.await;
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.passed {
            return;
        }
        let mut turns = self.claims.turns();
        if turns.next == self.index {
            turns.advance();
        } else {
            turns.ended.insert(self.index);
        }
        drop(turns);
        self.claims.passed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_first_in_source_order_wins_whatever_the_timing() {
        let claims = Arc::new(Claims::default());
        // Input 2 claims first, inputs 0 and 1 come later; 1 has no run id.
        let late = Claims::ticket(&claims, 2);
        let waiting = tokio::spawn(async move { late.claim("a").await });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "input 2 claimed before input 0 passed");
        drop(Claims::ticket(&claims, 1));
        assert!(Claims::ticket(&claims, 0).claim("a").await);
        assert!(!waiting.await.unwrap(), "input 2 repeats input 0's run id");
        assert!(Claims::ticket(&claims, 3).claim("b").await);
    }
}
