#!/usr/bin/env bash
# Makes sure the servers the tests talk to answer on loopback: Redis on
# 127.0.0.1:6379 and PostgreSQL on 127.0.0.1:5432 (database `test`). Starts
# them with the machine's own commands when they do not answer; a server
# named by REDIS_URL or DATABASE_URL is left to whoever named it.
set -uo pipefail

answers() { # host port
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_for() { # name host port
    for _ in $(seq 1 50); do
        answers "$2" "$3" && { echo "ensure-services: $1 answers on $2:$3"; return 0; }
        sleep 0.2
    done
    echo "ensure-services: $1 does not answer on $2:$3" >&2
    return 1
}

status=0
if [ -z "${REDIS_URL:-}" ]; then
    if ! answers 127.0.0.1 6379; then
        echo "ensure-services: starting redis-server"
        mkdir -p /var/lib/redis /var/log/redis
        redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
            --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
    fi
    wait_for redis 127.0.0.1 6379 || status=1
fi
if [ -z "${DATABASE_URL:-}" ]; then
    if ! answers 127.0.0.1 5432; then
        echo "ensure-services: starting PostgreSQL"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start || true
    fi
    wait_for postgresql 127.0.0.1 5432 || status=1
fi
exit $status
