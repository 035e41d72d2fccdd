#!/usr/bin/env bash
# Starts the production backends for the tests — PostgreSQL, Redis and a Kafka broker — on free
# loopback ports in one temporary folder, runs the given command with their addresses exported,
# and stops them again when the command ends (also when it fails or is interrupted):
#
#   scripts/test-services.sh cargo nextest run --workspace
#
# Exported to the command:
#   NH_TEST_DATABASE_URL  postgres://postgres@127.0.0.1:PORT/postgres (superuser, trust auth)
#   NH_TEST_REDIS_URL     redis://127.0.0.1:PORT
#   NH_TEST_KAFKA_BROKERS 127.0.0.1:PORT[,…]
#   NH_TEST_KAFKA_KIND    which broker runs: tansu or mock
#   NH_TEST_PG_BIN        the PostgreSQL binaries folder (pgbench, psql) when it started one
#
# A variable that is already set is kept and its service is not started (point the tests at
# servers of your own). Missing server programs are installed with apt-get when running as root
# (redis-server; postgresql when no /usr/lib/postgresql/*/bin/initdb exists). Kafka: a `tansu`
# binary on PATH (the `tansu` crate built with `--features dynostore`) when there is one, else
# librdkafka's mock cluster served by `target/debug/kafka-mock` (built here from e2e-tests).
# Idempotent: every run uses a fresh folder and removes it afterwards.
set -euo pipefail

cd "$(dirname "$0")/.."

if (($# == 0)); then
  echo "usage: $0 <command> [args…]" >&2
  exit 2
fi

CARGO="${CARGO:-cargo}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/nh-services.XXXXXX")
pids=()
pg_ctl=""
pg_data=""

say() { echo "test-services: $*" >&2; }

as_postgres() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  if [[ -n "$pg_ctl" ]]; then
    as_postgres "$pg_ctl" -D "$pg_data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$dir"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until `check` succeeds, for at most $2 seconds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      say "$what did not come up within ${seconds}s"
      return 1
    fi
    sleep 0.2
  done
}

# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

start_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [[ -z "$bin" || ! -x "$bin/initdb" ]]; then
    apt_install postgresql "$dir"
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  fi
  local port
  port=$(free_port)
  pg_data="$dir/pg/data"
  mkdir -p "$dir/pg"
  if [[ $(id -u) == 0 ]]; then
    chown postgres "$dir/pg"
    chmod 755 "$dir"
  fi
  as_postgres "$bin/initdb" -D "$pg_data" -A trust -U postgres --no-sync -E UTF8 >"$dir/pg/initdb.log" 2>&1 || {
    cat "$dir/pg/initdb.log" >&2
    return 1
  }
  # Durability settings are for a throwaway test server; the tests check behaviour, not fsync.
  # NH_SERVICES_DURABLE=1 (make bench) keeps PostgreSQL's durable defaults, so measured commits
  # pay for their fsync as in production.
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [[ "${NH_SERVICES_DURABLE:-0}" == 1 ]] && durability=""
  as_postgres "$bin/pg_ctl" -D "$pg_data" -l "$dir/pg/server.log" -w -t 30 \
    -o "-p $port -k $dir/pg -c listen_addresses=127.0.0.1 $durability -c max_connections=300" \
    start >/dev/null || {
    cat "$dir/pg/server.log" >&2
    return 1
  }
  pg_ctl="$bin/pg_ctl"
  export NH_TEST_PG_BIN="$bin"
  export NH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port"
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server "$dir"
  local port
  port=$(free_port)
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" &
  pids+=($!)
  wait_for "redis-server" 20 redis-cli -p "$port" ping
  export NH_TEST_REDIS_URL="redis://127.0.0.1:$port"
  say "Redis $(redis-server --version | awk '{print $3}' | tr -d 'v=') on port $port"
}

start_kafka() {
  local port
  port=$(free_port)
  if command -v tansu >/dev/null; then
    tansu broker --storage-engine "memory://tansu/" --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" >"$dir/tansu.log" 2>&1 &
    pids+=($!)
    wait_for "tansu" 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
    export NH_TEST_KAFKA_BROKERS="127.0.0.1:$port" NH_TEST_KAFKA_KIND=tansu
    say "Kafka: tansu broker on port $port"
    return
  fi
  # The same selection as `make test`'s build step, so nothing compiles twice.
  "$CARGO" build -q --workspace --all-targets --all-features
  local target
  target=$("$CARGO" metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  "$target/debug/kafka-mock" --out "$dir/kafka.env" >"$dir/kafka-mock.log" 2>&1 &
  pids+=($!)
  wait_for "kafka-mock" 30 test -s "$dir/kafka.env"
  local line
  line=$(cat "$dir/kafka.env")
  export NH_TEST_KAFKA_BROKERS="${line#KAFKA_BROKERS=}" NH_TEST_KAFKA_KIND=mock
  say "Kafka: mock cluster of librdkafka at $NH_TEST_KAFKA_BROKERS"
}

[[ -n "${NH_TEST_DATABASE_URL:-}" ]] && say "PostgreSQL: using the given NH_TEST_DATABASE_URL" || start_postgres
[[ -n "${NH_TEST_REDIS_URL:-}" ]] && say "Redis: using the given NH_TEST_REDIS_URL" || start_redis
if [[ -n "${NH_TEST_KAFKA_BROKERS:-}" ]]; then
  export NH_TEST_KAFKA_KIND="${NH_TEST_KAFKA_KIND:-given}"
  say "Kafka: using the given NH_TEST_KAFKA_BROKERS"
else
  start_kafka
fi

"$@"
