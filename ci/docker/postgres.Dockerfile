# PostgreSQL from the machine's own package: the server binary, its shared
# libraries, its share/ and lib/ trees, and a cluster initialised by
# build.sh (trust auth, user `postgres`, database `test`). The port is the
# caller's; no Unix socket, no JIT, no fsync (a throwaway test server).
FROM scratch
COPY rootfs/ /
COPY --chown=999:999 postgresql/ /var/lib/postgresql/
USER 999:999
ENTRYPOINT ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data", "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=", "-c", "jit=off", "-c", "fsync=off"]
CMD ["-p", "5432"]
