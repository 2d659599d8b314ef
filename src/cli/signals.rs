//! The signals that stop a run (Ctrl-C, CI cancellation, `timeout`, `docker
//! stop`, a closed terminal): each command cleans up, then exits with the
//! shell's status for the signal (128 + its number).

use tokio::signal::unix::{SignalKind, signal};

/// A signal that asks the run to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// SIGHUP: the terminal went away.
    Hangup,
    /// SIGINT: Ctrl-C.
    Interrupt,
    /// SIGTERM: CI cancellation, `timeout`, `docker stop`.
    Terminate,
}

impl Signal {
    /// The exit status a shell gives a process the signal ended: 129, 130, 143.
    pub fn exit_status(self) -> u8 {
        match self {
            Signal::Hangup => 129,
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    /// `SIGHUP`, `SIGINT`, `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Hangup => "SIGHUP",
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// Resolves with the first of SIGINT, SIGTERM and SIGHUP to arrive. The
/// handlers are installed when this is first polled, so call it before the
/// work it races (as `tokio::select!` does). A signal whose handler cannot
/// be installed is not waited for.
pub async fn interruption() -> Signal {
    let wait = |kind: SignalKind, which: Signal| async move {
        match signal(kind) {
            Ok(mut stream) => {
                stream.recv().await;
                which
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        which = wait(SignalKind::interrupt(), Signal::Interrupt) => which,
        which = wait(SignalKind::terminate(), Signal::Terminate) => which,
        which = wait(SignalKind::hangup(), Signal::Hangup) => which,
    }
}
