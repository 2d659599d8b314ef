//! The `stateharness` command; everything it does lives in the library.
//!
//! It uses the system allocator: mimalloc parsed faster but kept every
//! thread's freed memory, so that a migration of 32 MB of dumps peaked at
//! 150 MB instead of 18 MB, against a budget of four times the largest
//! input plus 64 MB.

fn main() -> std::process::ExitCode {
    stateharness::run_cli()
}
