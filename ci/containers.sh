#!/usr/bin/env bash
# The container path of the tests, once per CI run: the tests that talk to
# Redis or PostgreSQL, against containers of local images built from this
# machine's own packages (ci/docker/build.sh) instead of the local servers.
#
# Starts dockerd when it is installed but not running (host networking
# only: no bridge, no iptables rules) and stops it again at the end. On a
# machine without Docker it says "containers: not run: WHY" and exits 0
# (1 with STATEHARNESS_REQUIRE_SERVERS=1, as in CI).
# Once Docker answers, a test that falls back to the local servers fails
# this script: the point is to exercise the containers.
set -uo pipefail
cd "$(dirname "$0")/.."

not_run() {
    echo "containers: not run: $1"
    [ "${STATEHARNESS_REQUIRE_SERVERS:-}" = 1 ] && exit 1
    exit 0
}

if ! command -v docker >/dev/null || ! command -v dockerd >/dev/null; then
    not_run "docker not installed"
fi

started_dockerd=""
stop_dockerd() {
    if [ -n "$started_dockerd" ]; then
        kill "$started_dockerd" 2>/dev/null
        wait "$started_dockerd" 2>/dev/null
    fi
}
trap stop_dockerd EXIT

if ! docker version >/dev/null 2>&1; then
    log="${TMPDIR:-/tmp}/stateharness-dockerd.log"
    dockerd --bridge=none --iptables=false >"$log" 2>&1 &
    started_dockerd=$!
    for _ in $(seq 1 60); do
        docker version >/dev/null 2>&1 && break
        kill -0 "$started_dockerd" 2>/dev/null || break
        sleep 0.5
    done
    docker version >/dev/null 2>&1 || not_run "dockerd did not start: $(tail -n 1 "$log")"
fi

# Milliseconds since the epoch, and the seconds elapsed since such a time.
now() { echo $((${EPOCHREALTIME/./} / 1000)); }
elapsed() { printf '%d.%03d' $((($(now) - $1) / 1000)) $((($(now) - $1) % 1000)); }

begin=$(now)
for image in redis postgres; do
    bash ci/docker/build.sh "$image" || exit 1
done
echo "containers: images ready in $(elapsed "$begin") s"

begin=$(now)
output="$(mktemp)"
STATEHARNESS_SERVERS=containers cargo test --release --test it -- redis postgres 2>&1 | tee "$output"
status=${PIPESTATUS[0]}
echo "containers: tests ran in $(elapsed "$begin") s"

grep -q '^servers: containers (redis ' "$output" || { echo "containers: Redis did not run in a container" >&2; status=1; }
grep -q '^servers: containers (postgres ' "$output" || { echo "containers: PostgreSQL did not run in a container" >&2; status=1; }
grep '^containers: not run' "$output" >&2 && status=1
rm -f "$output"

# The tests' watchdogs remove their containers once the test process ends.
for _ in $(seq 1 20); do
    [ -z "$(docker ps -aq --filter label=stateharness.servers)" ] && break
    sleep 0.5
done
left="$(docker ps -a --filter label=stateharness.servers --format '{{.ID}} {{.Image}}')"
[ -z "$left" ] || { echo "containers: left behind: $left" >&2; status=1; }
exit "$status"
