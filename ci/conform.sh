#!/usr/bin/env bash
# Validates a backend with the stateharness conformance suite, for a team's
# own pipeline. Writes the JUnit XML, the Markdown summary and the JSON
# report to OUT_DIR, and appends the summary to GitHub's step summary when
# there is one. Exit status is the suite's: 0 passed, 1 a check failed,
# 2 configuration or connection error.
#
#   ci/conform.sh BACKEND_URL [OUT_DIR] [-- extra conform flags]
#
# Examples:
#   ci/conform.sh "redis://127.0.0.1:6379/0?prefix=ci:" conform-results
#   ci/conform.sh "exec:python3 ci/adapters/flujo_adapter.py mypkg.backends:MyBackend" out -- --cases 200
#
# STATEHARNESS names the stateharness binary (default: the one on PATH, else
# `cargo run --release --` in this repository).
set -uo pipefail

if [ $# -lt 1 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
backend=$1
out=${2:-conform-results}
shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = "--" ] && shift

if [ -n "${STATEHARNESS:-}" ]; then
    read -r -a runner <<<"$STATEHARNESS"
elif command -v stateharness >/dev/null 2>&1; then
    runner=(stateharness)
else
    runner=(cargo run --quiet --release --manifest-path "$(dirname "$0")/../Cargo.toml" --)
fi

mkdir -p "$out"
"${runner[@]}" conform --backend "$backend" \
    --junit "$out/junit.xml" --markdown "$out/summary.md" --report "$out/report.json" "$@"
status=$?
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
    cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi
exit $status
