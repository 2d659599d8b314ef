//! The `stateharness` command; everything it does lives in the library.

mod cli;

// Parsing state text allocates a string per value; mimalloc makes that
// markedly cheaper than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::run()
}
