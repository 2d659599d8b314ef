#!/usr/bin/env bash
# Makes (once) a Python virtual environment with a pinned flujo, for running
# flujo backends through ci/adapters/flujo_adapter.py:
#
#   bash ci/flujo-venv.sh [VERSION]     VERSION: 0.4.35 (default) or 0.6.11
#
# The environment is exactly ci/envs/flujo-VERSION.txt (installed with
# --no-deps: every package pinned, redis-py and sqlvalidator included).
# Prints the environment's python as the last line of stdout; everything else
# goes to stderr. Fast when the environment is already complete.
#
#   PY=$(bash ci/flujo-venv.sh)
#   $PY ci/adapters/flujo_adapter.py flujo.state.backends.memory:InMemoryBackend
#
# The environment is ${CARGO_TARGET_DIR:-target}/flujo-venv-VERSION: the
# build directory, outside the clone in CI. A relative CARGO_TARGET_DIR is
# taken from the current directory (as cargo does). FLUJO_VENV names
# another place (ci/unicode-sweep.sh makes one per Python). PYTHON names the
# interpreter that makes it; by default python3 for 0.4.35 (needs >= 3.11)
# and python3.13 (or pyenv's 3.13) for 0.6.11. Needs PyPI; pip is tried twice.
set -uo pipefail

version=${1:-0.4.35}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pins="$repo/ci/envs/flujo-$version.txt"
[ -f "$pins" ] || { echo "flujo-venv: no pinned environment for flujo $version (ci/envs/flujo-$version.txt)" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$target" || exit 1
venv=${FLUJO_VENV:-"$(cd "$target" && pwd)/flujo-venv-$version"}
py="$venv/bin/python"
check="import importlib.metadata as m, flujo, redis; assert m.version('flujo') == '$version', m.version('flujo')"

complete() { [ -x "$py" ] && "$py" -c "$check" >/dev/null 2>&1 && cmp -s "$pins" "$venv/pins.txt"; }
if complete; then
    echo "$py"
    exit 0
fi

# Tests run in parallel and may all ask at once: one makes it, the others
# wait and then find it complete.
exec 9>"$venv.lock"
flock 9
if complete; then
    echo "$py"
    exit 0
fi

default_python() {
    case $version in
        0.4.*) echo python3 ;;
        *) for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python python3.13; do
               if "$candidate" --version >/dev/null 2>&1; then echo "$candidate"; return; fi
           done ;;
    esac
}
python=${PYTHON:-$(default_python)}
[ -n "$python" ] || { echo "flujo-venv: flujo $version needs Python 3.13: set PYTHON" >&2; exit 1; }
echo "flujo-venv: creating $venv with $python" >&2
rm -rf "$venv"
if ! "$python" -m venv "$venv" >&2; then
    echo "flujo-venv: '$python -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
fi

install() {
    "$py" -m pip install --quiet --disable-pip-version-check --no-input --no-deps -r "$pins" >&2
}
echo "flujo-venv: installing ci/envs/flujo-$version.txt" >&2
if ! install; then
    echo "flujo-venv: pip install failed; retrying once" >&2
    sleep 5
    install || { echo "flujo-venv: pip install failed twice" >&2; exit 1; }
fi
if ! "$py" -c "$check" >&2; then
    echo "flujo-venv: $venv is installed but cannot import flujo $version and redis" >&2
    exit 1
fi
cp "$pins" "$venv/pins.txt"
echo "$py"
