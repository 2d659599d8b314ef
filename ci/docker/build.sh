#!/usr/bin/env bash
# Builds the local server image NAME (redis | postgres) from this machine's
# own packages, unless it is already there, and prints its reference.
# No registry is involved: the image is FROM scratch with the binaries and
# the shared libraries `ldd` lists. The tag is a hash of this script, the
# Dockerfile and the binaries, so a changed input builds a new image and an
# unchanged one is reused across runs.
set -euo pipefail
name="${1:?usage: build.sh redis|postgres}"
here="$(cd "$(dirname "$0")" && pwd)"
pg=/usr/lib/postgresql/15

case "$name" in
    redis) binaries=(/usr/bin/redis-server) ;;
    postgres) binaries=("$pg/bin/postgres" "$pg/bin/initdb") ;;
    *) echo "build.sh: unknown image '$name' (redis | postgres)" >&2; exit 2 ;;
esac
for binary in "${binaries[@]}"; do
    [ -x "$binary" ] || { echo "build.sh: $binary not installed" >&2; exit 1; }
done

if ! docker version >/dev/null 2>&1; then
    echo "no Docker engine answers: $(docker version 2>&1 | grep -m1 -i 'cannot\|error')" >&2
    exit 1
fi

tag="$(cat "$0" "$here/$name.Dockerfile" "${binaries[@]}" | sha256sum | cut -c1-16)"
image="stateharness-$name:$tag"
if docker image inspect "$image" >/dev/null 2>&1; then
    echo "$image"
    exit 0
fi

context="$(mktemp -d)"
chmod 755 "$context"
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"

# Copies each file with its directory path, following symlinks (the
# libraries are usually links to versioned names).
add() {
    for file in "$@"; do
        mkdir -p "$root$(dirname "$file")"
        cp -L "$file" "$root$file"
    done
}
# A binary and every library it links, the dynamic loader included.
add_linked() {
    add "$1"
    add $(ldd "$1" | grep -o '/[^ ]*' | sort -u)
}

mkdir -p "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
echo 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' > "$root/etc/passwd"
echo 'nogroup:x:65534:' > "$root/etc/group"

case "$name" in
    redis)
        add_linked /usr/bin/redis-server
        ;;
    postgres)
        add_linked "$pg/bin/postgres"
        for module in "$pg"/lib/*.so; do
            [ "$(basename "$module")" = llvmjit.so ] || add_linked "$module"
        done
        mkdir -p "$root/usr/share/postgresql"
        cp -r /usr/share/postgresql/15 "$root/usr/share/postgresql/"
        add /usr/share/zoneinfo/UTC /usr/share/zoneinfo/Etc/UTC
        echo 'postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/usr/sbin/nologin' >> "$root/etc/passwd"
        echo 'postgres:x:999:' >> "$root/etc/group"
        # The cluster is made here, on the host, by an unprivileged user:
        # initdb refuses root and needs a shell the image does not have.
        data="$context/postgresql/data"
        mkdir -p "$data"
        chown nobody "$data"
        chmod 700 "$data"
        run_as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
        run_as_nobody "$pg/bin/initdb" -D "$data" -U postgres --auth=trust --no-locale -E UTF8 --no-sync >/dev/null
        echo "CREATE DATABASE test;" | run_as_nobody "$pg/bin/postgres" --single -D "$data" -c timezone=UTC postgres >"$context/single.log" 2>&1 || { cat "$context/single.log" >&2; exit 1; }
        printf "timezone = 'UTC'\nlog_timezone = 'UTC'\n" >> "$data/postgresql.conf"
        ;;
esac

cp "$here/$name.Dockerfile" "$context/Dockerfile"
if ! docker build --quiet --tag "$image" "$context" >"$context/build.log" 2>&1; then
    cat "$context/build.log" >&2
    exit 1
fi
# Older builds of this image are superseded: keep only the current tag.
docker image ls --format '{{.Repository}}:{{.Tag}}' "stateharness-$name" | grep -vx "$image" | xargs -r docker rmi >/dev/null || true
echo "$image"
