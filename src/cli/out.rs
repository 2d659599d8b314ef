//! Standard output that a closed pipe cannot crash: `stateharness conform
//! … | head` must still clean up and exit with its own status. `println!`
//! panics when the reader has gone; these macros stop printing instead.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a write found the reader gone: later output is dropped.
static CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output, unless the reader has gone.
pub fn write(args: std::fmt::Arguments<'_>) {
    if CLOSED.load(Ordering::Relaxed) {
        return;
    }
    if std::io::stdout().lock().write_fmt(args).is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// Flushes standard output, unless the reader has gone.
pub fn flush() {
    if !CLOSED.load(Ordering::Relaxed) && std::io::stdout().flush().is_err() {
        CLOSED.store(true, Ordering::Relaxed);
    }
}

/// `print!` that a closed standard output cannot crash.
macro_rules! out {
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!($($arg)*)) };
}

/// `println!` that a closed standard output cannot crash.
macro_rules! outln {
    () => { $crate::cli::out::write(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::cli::out::write(format_args!("{}\n", format_args!($($arg)*))) };
}
