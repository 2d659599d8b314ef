#!/usr/bin/env bash
# The Unicode sweep: runs `stateharness conform` (its property checks draw
# fresh random states every run) against flujo 0.4.35's InMemoryBackend and
# the tutorial's Redis recipe (ci/redis_recipe_backend.py, on the Redis at
# $REDIS_URL, default 127.0.0.1:6379/0; the suite touches only its own run
# ids), through ci/adapters/flujo_adapter.py, on each Python flujo 0.4 runs
# on.
# flujo writes dict keys with Python's repr, whose escaping follows the
# Python's Unicode database; the harness models the Python the adapter
# reports, so no run may fail.
#
#   ci/unicode-sweep.sh [RUNS]     RUNS seeds per Python (default 20);
#                                  CI runs the short version, RUNS=1.
#
# PYTHONS (default "3.11 3.12 3.13") picks the Pythons; each is found as
# pythonX.Y on PATH or under pyenv ($PYENV_ROOT/versions/X.Y.*). Each gets
# its own environment, ${CARGO_TARGET_DIR:-target}/flujo-venv-X.Y, made by
# ci/flujo-venv.sh (needs PyPI once). STATEHARNESS_BIN runs that binary
# instead of building one. Prints one line per run and a summary
# per Python; exits 1 when any run failed, 2 when a Python is missing.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-20}
target=${CARGO_TARGET_DIR:-$repo/target}
cases=${CASES:-48}
cd "$repo" || exit 2
if [ -n "${STATEHARNESS_BIN:-}" ]; then
    bin=$STATEHARNESS_BIN
else
    cargo build --release --quiet --bin stateharness || exit 2
    bin="$target/release/stateharness"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find_python() {
    local v=$1 found
    found=$(command -v "python$v" 2>/dev/null || true)
    if [ -z "$found" ] || ! "$found" -c 'import sys' 2>/dev/null; then
        found=$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v".*/bin/python 2>/dev/null | sort -V | tail -1)
    fi
    [ -n "$found" ] && echo "$found"
}

status=0
summary=()
for v in ${PYTHONS:-3.11 3.12 3.13}; do
    python=$(find_python "$v") || { echo "unicode-sweep: no Python $v (pyenv install $v?)" >&2; exit 2; }
    py=$(PYTHON=$python FLUJO_VENV="$target/flujo-venv-$v" bash ci/flujo-venv.sh | tail -1) || exit 2
    adapter="exec:'$py' '$repo/ci/adapters/flujo_adapter.py'"
    recipe_kwargs="{\"url\": \"${REDIS_URL:-redis://127.0.0.1:6379/0}\"}"
    for name in InMemoryBackend "Redis recipe"; do
    case $name in
        InMemoryBackend) backend="$adapter flujo.state.backends.memory:InMemoryBackend" ;;
        *) backend="$adapter ci.redis_recipe_backend:RedisRecipeBackend '$recipe_kwargs' --capabilities concurrent,persistent" ;;
    esac
    failed=0 property_failed=0
    for i in $(seq 1 "$runs"); do
        seed=$(( $(od -An -N4 -tu4 /dev/urandom) % 1000000000 ))
        "$bin" conform --backend "$backend" --seed "$seed" --cases "$cases" --report "$work/report.json" >"$work/out.txt" 2>&1
        code=$?
        verdict=$(python3 - "$work/report.json" <<'PY'
import json, sys
try:
    report = json.load(open(sys.argv[1]))
except Exception as e:
    print("no-report"); sys.exit()
failed = [c for c in report["checks"] if c.get("status") == "failed"]
props = [c for c in failed if c.get("group") in ("property", "custom type")]
print(f"{(report.get('python') or {}).get('reported') or '-'} {len(failed)} {len(props)}")
PY
)
        rm -f "$work/report.json"
        echo "python $v $name run $i seed $seed: exit $code ($verdict: Python, failed checks, failed property checks)"
        read -r reported nfailed nprops <<<"$verdict"
        if [ "$code" -ne 0 ]; then
            failed=$((failed + 1))
            sed -n '1,40p' "$work/out.txt" | grep -v '^PASS' >&2
        fi
        [ "${nprops:-0}" != "0" ] && property_failed=$((property_failed + 1))
    done
    summary+=("Python $v ($reported), $name: $runs runs, $failed failed, $property_failed with a failed property check")
    [ "$failed" -ne 0 ] && status=1
    done
done
printf '%s\n' "${summary[@]}"
exit $status
