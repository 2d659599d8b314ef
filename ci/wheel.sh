#!/usr/bin/env bash
# The Python user's path, end to end: builds the wheel (maturin, bin
# bindings: the binary, its Python helpers and the pytest plugin), installs
# it into a fresh virtual environment beside flujo 0.4.35's pinned packages,
# and with no cargo on PATH runs `stateharness conform --backend py:...` on
# flujo's InMemoryBackend and the pytest plugin on ci/pytest-example/.
#
#   bash ci/wheel.sh        (CI runs it from .ci/run)
#
# Needs PyPI (maturin, pytest, flujo's pins). Linux x86-64 is the platform
# built and tested here.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
mkdir -p "$CARGO_TARGET_DIR"
work="$(cd "$CARGO_TARGET_DIR" && pwd)/wheel-check"
python=${PYTHON:-python3}

echo "wheel: building with maturin"
if [ ! -x "$work/maturin/bin/maturin" ]; then
    "$python" -m venv "$work/maturin"
    "$work/maturin/bin/pip" install --quiet --disable-pip-version-check maturin
fi
rm -rf "$work/dist"
"$work/maturin/bin/maturin" build --release --quiet --out "$work/dist" >&2
wheel=$(ls "$work"/dist/stateharness-*.whl)
echo "wheel: $(basename "$wheel")"

echo "wheel: installing into a fresh venv with flujo 0.4.35"
rm -rf "$work/venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r ci/envs/flujo-0.4.35.txt
"$work/venv/bin/pip" install --quiet --disable-pip-version-check "$wheel" pytest

# From here on, only what the wheel installed: no cargo, no checkout on PATH.
export PATH="$work/venv/bin:/usr/bin:/bin"
export VIRTUAL_ENV="$work/venv"
if command -v cargo >/dev/null; then echo "wheel: cargo is still on PATH" >&2; exit 1; fi
cd "$work"
echo "wheel: stateharness conform --backend py:flujo.state.backends.memory:InMemoryBackend"
stateharness conform --backend py:flujo.state.backends.memory:InMemoryBackend --cases 8 | tail -3
echo "wheel: pytest with the plugin"
python -m pytest -q -p no:cacheprovider "$repo/ci/pytest-example"
echo "wheel: pytest --stateharness, one item per check, -k passed on to the suite"
mkdir -p "$work/per-check" && cd "$work/per-check"
python -m pytest -p no:cacheprovider -q --stateharness flujo.state.backends.memory:InMemoryBackend \
    --stateharness-arg=--cases --stateharness-arg=8 -k "basics" --junitxml "$work/per-check/junit.xml" | tee "$work/per-check/out.txt"
# Every basics check is an item that passed; the rest were deselected, not run.
grep -Eq "^[0-9]+ passed, [0-9]+ deselected" "$work/per-check/out.txt" || { echo "wheel: unexpected pytest summary" >&2; exit 1; }
grep -q 'name="case: basics: save then load gives the state back"' "$work/per-check/junit.xml" || { echo "wheel: check missing from JUnit" >&2; exit 1; }
echo "wheel: ok"
