#!/usr/bin/env bash
# Benchmarks restarts by fork (the `fork` capability, docs/protocol.md):
# the default conformance suite on flujo 0.4.35's InMemoryBackend and
# FileBackend through ci/adapters/flujo_adapter.py, with fork announced and
# with --no-fork (every restart starts Python and imports flujo), in one
# script on one machine. Prints each run's wall time, its crash check line
# and the ratio; exit status 1 when the forked FileBackend run (24 crash
# rounds by default) takes 8 s or more, 2 when a run cannot be made.
#
#   bash ci/bench/fork-restarts.sh
#
# BENCH_RUNS (default 1): runs of each, the fastest kept. Needs PyPI once
# (ci/flujo-venv.sh).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo" || exit 2
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$target" || exit 2
export CARGO_TARGET_DIR
CARGO_TARGET_DIR=$(cd "$target" && pwd)
runs=${BENCH_RUNS:-1}
goal=8

cargo build --release --quiet || exit 2
bin="$CARGO_TARGET_DIR/release/stateharness"
py=$(bash ci/flujo-venv.sh | tail -n 1) || exit 2
[ -x "$py" ] || { echo "fork-restarts: no flujo python" >&2; exit 2; }
scratch=$(mktemp -d) || exit 2
trap 'rm -rf "$scratch"' EXIT

# run NAME ARGS...: the fastest of $runs default suites on the adapter with
# ARGS; sets `seconds` and `crash` (the report's crash check line).
run() {
    local name=$1 best="" status out start end took i
    shift
    for ((i = 0; i < runs; i++)); do
        rm -rf "$scratch/files"
        out="$scratch/$name.txt"
        start=$EPOCHREALTIME
        "$bin" conform --backend "exec:$py ci/adapters/flujo_adapter.py $*" >"$out" 2>&1
        status=$?
        end=$EPOCHREALTIME
        if [ "$status" -ge 2 ]; then
            echo "fork-restarts: $name: conform exited $status:" >&2
            tail -n 20 "$out" >&2
            exit 2
        fi
        took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
        if [ -z "$best" ] || awk -v a="$took" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$took; fi
    done
    seconds=$best
    crash=$(grep -m 1 -E '^[A-Z]+ +crash ' "$out" | tr -s ' ')
}

status=0
# Wall times scale with the machine's load: say what it was.
echo "load average $(cut -d ' ' -f 1-3 /proc/loadavg) on $(nproc) CPUs"
printf '%-16s %10s %10s %7s\n' backend fork no-fork ratio
for backend in memory file; do
    case $backend in
        memory) args=(flujo.state.backends.memory:InMemoryBackend --capabilities concurrent) ;;
        file) args=(flujo.state.backends.file:FileBackend "'{\"path\": \"$scratch/files\"}'" --capabilities concurrent,persistent) ;;
    esac
    run "$backend-fork" "${args[@]}"
    forked=$seconds forked_crash=$crash
    run "$backend-no-fork" "${args[@]}" --no-fork
    restarted=$seconds restarted_crash=$crash
    ratio=$(awk -v a="$restarted" -v b="$forked" 'BEGIN { printf "%.1f", a / b }')
    printf '%-16s %9ss %9ss %6sx\n' "$backend" "$forked" "$restarted" "$ratio"
    printf '    fork:    %s\n    no-fork: %s\n' "${forked_crash:-(no crash check)}" "${restarted_crash:-(no crash check)}"
    if [ "$backend" = file ] && awk -v a="$forked" -v g="$goal" 'BEGIN { exit !(a >= g) }'; then
        echo "goal missed: the forked FileBackend run took ${forked} s (goal: under ${goal} s)"
        status=1
    fi
done
exit "$status"
