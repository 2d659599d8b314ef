#!/usr/bin/env bash
# Makes (once) a Python virtual environment with flujo 0.4.35, sqlvalidator
# (flujo imports it) and redis (redis-py, for ci/redis_recipe_backend.py),
# for running flujo backends through ci/adapters/flujo_adapter.py. Prints
# the environment's python as the last line of stdout; everything else goes
# to stderr. Fast when the environment is already complete.
#
#   PY=$(bash ci/flujo-venv.sh)
#   $PY ci/adapters/flujo_adapter.py flujo.state.backends.memory:InMemoryBackend
#
# The environment is ${CARGO_TARGET_DIR:-target}/flujo-venv: the build
# directory, outside the clone in CI (FLUJO_VENV names another, e.g. one per
# Python: ci/unicode-sweep.sh). A relative CARGO_TARGET_DIR is taken
# from the current directory (as cargo does); the default `target` is this
# repository's. PYTHON names the interpreter that makes it (default
# python3; flujo 0.4.35 needs Python >= 3.11). Needs PyPI; pip's download
# is tried twice.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$target" || exit 1
venv=${FLUJO_VENV:-"$(cd "$target" && pwd)/flujo-venv"}
py="$venv/bin/python"
check='import importlib.metadata as m, flujo, redis, sqlvalidator; assert m.version("flujo") == "0.4.35", m.version("flujo")'

if [ -x "$py" ] && "$py" -c "$check" >/dev/null 2>&1; then
    echo "$py"
    exit 0
fi

# Tests run in parallel and may all ask at once: one makes it, the others
# wait and then find it complete.
exec 9>"$venv.lock"
flock 9
if [ -x "$py" ] && "$py" -c "$check" >/dev/null 2>&1; then
    echo "$py"
    exit 0
fi

python=${PYTHON:-python3}
if [ ! -x "$py" ] || ! "$py" -m pip --version >/dev/null 2>&1; then
    echo "flujo-venv: creating $venv with $python" >&2
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
        echo "flujo-venv: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 1
    fi
fi

install() {
    "$py" -m pip install --quiet --disable-pip-version-check --no-input \
        flujo==0.4.35 sqlvalidator redis >&2
}
echo "flujo-venv: installing flujo==0.4.35 sqlvalidator redis" >&2
if ! install; then
    echo "flujo-venv: pip install failed; retrying once" >&2
    sleep 5
    install || { echo "flujo-venv: pip install failed twice" >&2; exit 1; }
fi
if ! "$py" -c "$check" >&2; then
    echo "flujo-venv: $venv is installed but cannot import flujo, redis and sqlvalidator" >&2
    exit 1
fi
echo "$py"
