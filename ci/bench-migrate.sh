#!/usr/bin/env bash
# Runs the migration speed benchmark (benches/migrate_speed/): migrate to
# file:// against a durable plain copy and against the same job in Python
# with flujo, on the legacy-7-1500 corpus (made once, several minutes), with
# the peak memory. Exit status 1 when a goal is missed or an output differs.
#
#   ci/bench-migrate.sh [OUT.txt]
#
# Writes the bench's report to OUT.txt too when given, and appends it to the
# GitHub step summary when there is one. BENCH_JOBS, BENCH_ROUNDS,
# BENCH_PYTHON_ROUNDS and BENCH_CORPUS are passed through (see the bench).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 2
# Absolute, so the bench and ci/flujo-venv.sh agree on where the venv and
# the corpus live.
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target" || exit 2
export CARGO_TARGET_DIR
CARGO_TARGET_DIR=$(cd "$target" && pwd)

report=${1:-$(mktemp)}
cargo bench --bench migrate_speed | tee "$report"
status=${PIPESTATUS[0]}

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    {
        echo "### Migration speed"
        echo '```'
        cat "$report"
        echo '```'
    } >>"$GITHUB_STEP_SUMMARY"
fi
[ -n "${1:-}" ] || rm -f "$report"
exit "$status"
