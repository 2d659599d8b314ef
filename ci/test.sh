#!/usr/bin/env bash
# The project's test command: starts the local servers the tests need
# (Redis, PostgreSQL) when they are not answering, then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/ensure-services.sh
cargo test --release "$@"
