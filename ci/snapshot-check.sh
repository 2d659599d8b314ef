#!/usr/bin/env bash
# Snapshot regression review in a team's pipeline: saves the snapshot
# states through the backend again and compares with the recorded
# snapshots (committed in SNAPDIR). Writes the diff to OUT_DIR/snapshot.diff
# and the pending new versions to OUT_DIR/pending/ (artifacts to publish),
# and appends the diff to GitHub's step summary when there is one. Exit
# status is the check's: 0 nothing changed, 1 a snapshot changed, 2
# configuration or connection error.
#
#   ci/snapshot-check.sh BACKEND_URL SNAPDIR [OUT_DIR] [-- extra check flags]
#
# Examples:
#   ci/snapshot-check.sh "sqlite:///tmp/ci-state.db" snapshots/sqlite snapshot-results
#   ci/snapshot-check.sh "exec:python3 ci/adapters/flujo_adapter.py mypkg.backends:MyBackend" snapshots/mine out -- --states states/
#
# A reviewer then runs `stateharness snapshot check` and
# `stateharness snapshot review --dir SNAPDIR` locally (or copies the
# pending files beside the snapshots) and commits the accepted snapshots.
#
# STATEHARNESS names the stateharness command (default: `stateharness` on
# PATH; in this repository, `cargo run --quiet --release --` works too).
set -uo pipefail

if [ $# -lt 2 ]; then
    sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
backend=$1
snapdir=$2
out=${3:-snapshot-results}
shift $(( $# >= 3 ? 3 : 2 ))
[ "${1:-}" = "--" ] && shift

read -r -a runner <<<"${STATEHARNESS:-stateharness}"

mkdir -p "$out"
"${runner[@]}" snapshot check --backend "$backend" --dir "$snapdir" --color never "$@" >"$out/snapshot.diff"
status=$?
cat "$out/snapshot.diff"
if [ "$status" -eq 1 ]; then
    mkdir -p "$out/pending"
    cp "$snapdir"/*.snap.new "$out/pending/" 2>/dev/null
fi
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ "$status" -ne 2 ]; then
    {
        echo "### stateharness snapshot check: \`$backend\`"
        echo
        echo '```diff'
        cat "$out/snapshot.diff"
        echo '```'
    } >>"$GITHUB_STEP_SUMMARY"
fi
exit $status
