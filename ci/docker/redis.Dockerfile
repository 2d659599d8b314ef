# Redis from the machine's own package: the binary and the shared libraries
# it links (assembled by build.sh), nothing else. The port is the caller's.
FROM scratch
COPY rootfs/ /
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["/usr/bin/redis-server", "--bind", "127.0.0.1", "--protected-mode", "no", "--save", "", "--appendonly", "no"]
CMD ["--port", "6379"]
