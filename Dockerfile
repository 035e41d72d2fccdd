# syntax=docker/dockerfile:1
#
# notification-hub image (SPEC §10): one binary, all roles; `serve` by default.
#
#   docker build -t notification-hub:0.1.0 .
#   docker run --rm -p 8080:8080 notification-hub:0.1.0        # embedded backends, data in /data
#
# Production settings come from NH_* variables (docs/configuration.md); the Helm chart
# (helm/notification-hub) and infrastructure/docker-compose.yml set them.

# ---- build ---------------------------------------------------------------------------------
FROM rust:1-bookworm AS build
WORKDIR /src
# The whole workspace: every member's manifest is needed to resolve Cargo.lock, and config/
# and migrations/ are embedded into the binary at compile time.
COPY . .
# Cache mounts keep the registry and target/ between builds (BuildKit); the binary is copied
# out of the cache so the next stage can take it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release -p notification-hub --locked \
 && install -D -m 755 target/release/notification-hub /out/notification-hub

# ---- runtime -------------------------------------------------------------------------------
# Debian slim, the same release as the builder (glibc), with ca-certificates for vendor TLS
# and curl for the HEALTHCHECK (the binary has no HTTP client of its own to probe with).
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 hub \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin hub \
 && install -d -o 10001 -g 10001 -m 750 /data
COPY --from=build /out/notification-hub /usr/local/bin/notification-hub

# Listen on every interface of the container (the binary's default is 127.0.0.1), keep the
# embedded SQLite data, when used, in /data.
ENV NH_HTTP_ADDR=0.0.0.0:8080 \
    NH_DATA_DIR=/data
EXPOSE 8080
VOLUME ["/data"]
# Numeric user, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001

# Liveness only: readiness (/health/ready) depends on PostgreSQL, Redis and Kafka, and a
# container should not be marked unhealthy because a dependency is down. The port is the one
# of NH_HTTP_ADDR above; change both together.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/health/live"]

# The binary handles SIGTERM itself (drains for NH_SHUTDOWN_GRACE, default 25s): give
# `docker stop` a longer timeout (`-t 30`, compose `stop_grace_period`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["notification-hub"]
CMD ["serve"]
