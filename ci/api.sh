#!/usr/bin/env bash
# The library as a dependency: every Cargo feature builds alone and with no
# default features (no database client in that dependency tree), the docs
# build with warnings denied, an external crate (ci/external-crate: its own
# backend and custom type under the suite, default features off) builds and
# passes with no database client or CLI crate in its tree, and the public
# API is the one in
# ci/public-api.txt (`bash ci/api.sh --bless` rewrites it after a deliberate
# change). The listing comes from rustdoc's JSON output, an unstable format
# the stable toolchain writes under RUSTC_BOOTSTRAP=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/tmp/stateharness-target}"

cargo check --quiet --lib --no-default-features
for feature in sqlite redis postgres exec cli; do
    cargo check --quiet --lib --bins --no-default-features --features "$feature"
done
clients=$(cargo tree --no-default-features -e normal --prefix none | grep -E '^(rusqlite|libsqlite3-sys|redis|tokio-postgres|clap|indicatif) ' || true)
if [ -n "$clients" ]; then
    echo "api: default-features = false still depends on:" >&2
    echo "$clients" >&2
    exit 1
fi
echo "api: no default features: $(cargo tree --no-default-features -e normal --prefix none | sort -u | wc -l) crates, no database client or CLI crate"

RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --lib

# The external crate resolves from this repository's lockfile (the same
# versions, no registry lookup once they are downloaded), in a target
# directory of its own.
external=ci/external-crate
cp Cargo.lock "$external/Cargo.lock"
clients=$(cd "$external" && cargo tree -e normal,dev --prefix none | grep -E '^(rusqlite|libsqlite3-sys|redis|tokio-postgres|clap|indicatif) ' || true)
if [ -n "$clients" ]; then
    echo "api: the external crate (default-features = false) depends on:" >&2
    echo "$clients" >&2
    exit 1
fi
(cd "$external" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/external-crate" cargo test --quiet)
glue=$(grep -cvE '^\s*(//|$)' "$external/tests/suite.rs")
imports=$(grep -cE '^use ' "$external/tests/suite.rs")
echo "api: the external crate's backend and custom type pass the suite (glue: $((glue - imports)) lines of code and $imports imports)"

RUSTC_BOOTSTRAP=1 cargo rustdoc --quiet --lib -- -Z unstable-options --output-format json
listing=$(python3 ci/public_api.py "$CARGO_TARGET_DIR/doc/stateharness.json")
if [ "${1:-}" = "--bless" ]; then
    printf '%s\n' "$listing" > ci/public-api.txt
    echo "api: ci/public-api.txt rewritten ($(wc -l < ci/public-api.txt) items)"
elif ! diff -u ci/public-api.txt - <<< "$listing"; then
    echo "api: the public API changed (above); if that is deliberate, run 'bash ci/api.sh --bless' and commit ci/public-api.txt" >&2
    exit 1
else
    echo "api: public API as in ci/public-api.txt ($(wc -l < ci/public-api.txt) items)"
fi
