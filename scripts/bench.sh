#!/usr/bin/env bash
# `make bench`: the performance matrix of docs/performance.md, on this machine, in one run.
#
#   scripts/bench.sh              embedded stack, then PostgreSQL + Redis + Kafka (started by
#                                 scripts/test-services.sh with durable PostgreSQL settings)
#   BENCH_STACKS=embedded scripts/bench.sh     one stack only (embedded | production)
#   BENCH_SCALE=0.25 scripts/bench.sh          shorter runs (a quick look, not for the report)
#   BENCH_NO_BUILD=1 scripts/bench.sh          use the release binaries already in target/release
#
# Builds the release binaries (notification-hub, hub-load), runs each scenario against a fresh
# hub, keeps every result as JSON under target/bench/<run>/, and writes the tables into
# docs/performance.md between the `bench:results` markers, with the commands that produced them.
# Not part of `make test`: it takes about ten minutes and wants an otherwise idle machine.
set -euo pipefail

cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
SCALE="${BENCH_SCALE:-1}"
STACKS="${BENCH_STACKS:-embedded production}"
# The build's target folder (CARGO_TARGET_DIR when set, as cargo does).
TARGET="${CARGO_TARGET_DIR:-target}"
HUB="$TARGET/release/notification-hub"
LOAD="$TARGET/release/hub-load"
OUT="${BENCH_OUT:-$TARGET/bench/$(date -u +%Y%m%dT%H%M%SZ)}"
# Rate limits out of the way: the runs measure throughput, not the token buckets.
UNLIMITED="PUSH=100000000/1s,EMAIL=100000000/1s,SMS=100000000/1s,KAKAO_ALIMTALK=100000000/1s,SLACK=100000000/1s,IN_APP=100000000/1s"

say() { echo "bench: $*" >&2; }

# Seconds scaled by BENCH_SCALE (at least 5).
secs() { python3 -c "import sys; print(max(5, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

hub_pid=""
worker_pid=""
stop_hub() {
  local pid
  for pid in "$hub_pid" "$worker_pid"; do
    if [[ -n "$pid" ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  hub_pid=""
  worker_pid=""
}
trap stop_hub EXIT

# launch <name> <process> [NAME=value …]: a hub process on a free port with the stack's
# environment plus the given settings, logged to $OUT/<name>/<process>.log; waits until it is
# ready and sets $launched_url and $launched_pid.
launch() {
  local name=$1 process=$2
  shift 2
  local port
  port=$(free_port)
  launched_url="http://127.0.0.1:$port"
  mkdir -p "$OUT/$name"
  echo "$name: $process: ${STACK_ENV[*]} $* $HUB serve (plus NH_RATE_LIMITS with every channel at 100000000/1s)" \
    | sed -E 's#(postgres|redis)://[^ ]*#<\1 url>#g' >>"$OUT/commands.txt"
  env NH_HTTP_ADDR="127.0.0.1:$port" NH_DATA_DIR="$OUT/$name/$process-data" NH_RATE_LIMITS="$UNLIMITED" \
    NH_LOG_FORMAT=json RUST_LOG=warn "${STACK_ENV[@]}" "$@" "$HUB" serve >"$OUT/$name/$process.log" 2>&1 &
  launched_pid=$!
  local deadline=$((SECONDS + 60))
  until curl -fsS "$launched_url/health/ready" >/dev/null 2>&1; do
    if ((SECONDS > deadline)) || ! kill -0 "$launched_pid" 2>/dev/null; then
      say "$process of $name did not become ready; log:"
      tail -20 "$OUT/$name/$process.log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# start_hub <name> [NAME=value …]: the hub the load goes to; sets $url and $hub_pid.
start_hub() {
  launch "$1" hub "${@:2}"
  url=$launched_url
  hub_pid=$launched_pid
}

# start_workers <name> [NAME=value …]: a second process with the relay and worker roles beside
# an API-only hub, as the Helm chart deploys them (two Deployments); sets $worker_pid.
start_workers() {
  launch "$1" workers NH_ROLES=relay,worker "${@:2}"
  worker_pid=$launched_pid
}

# run <name> <command…>: runs a hub-load command, logs it to commands.txt and its output.
run() {
  local name=$1
  shift
  echo "$name: $*" >>"$OUT/commands.txt"
  "$@" | tee -a "$OUT/$name/report.txt"
}

# Transactions committed on the whole PostgreSQL server so far (for commits/s of a run).
pg_commits() {
  psql "$NH_TEST_DATABASE_URL" -qAt -c "SELECT sum(xact_commit) FROM pg_stat_database"
}

# Writes out every dirty page now, so that a checkpoint made due by earlier writes does not land
# in the run that follows.
checkpoint() {
  psql "$NH_TEST_DATABASE_URL" -qAt -c CHECKPOINT >/dev/null
}

# run_pg <name> <command…>: `run`, plus the PostgreSQL commits per second during it, into
# $OUT/<name>-pg.json.
run_pg() {
  local name=$1 before after started=$EPOCHREALTIME
  before=$(pg_commits)
  run "$@"
  after=$(pg_commits)
  python3 -c "import json; s = float('$EPOCHREALTIME') - float('$started'); print(json.dumps({'commits': $after - $before, 'seconds': s, 'commitsPerSecond': ($after - $before) / s}))" \
    | tee "$OUT/$name-pg.json" >&2
}

# A fresh database per hub on the production stack (same server, same settings).
fresh_database() {
  local name="bench_$1_$RANDOM"
  psql "$NH_TEST_DATABASE_URL" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name" >/dev/null
  echo "${NH_TEST_DATABASE_URL%/*}/$name"
}

embedded() {
  STACK_ENV=()
  say "embedded: start → ready (fresh data folder, migrations included)"
  mkdir -p "$OUT/embedded-startup"
  local port
  port=$(free_port)
  echo "embedded-startup: $LOAD startup --url http://127.0.0.1:$port -- $HUB serve" >>"$OUT/commands.txt"
  NH_HTTP_ADDR="127.0.0.1:$port" NH_DATA_DIR="$OUT/embedded-startup/data" RUST_LOG=warn \
    "$LOAD" startup --url "http://127.0.0.1:$port" --json "$OUT/embedded-startup.json" -- "$HUB" serve

  # Offered 10 % above the 3,000/s target: the achieved rate counts until the last answer, so a
  # run offered exactly the target always ends a little below it, whatever the capacity.
  say "embedded: throughput at 3,300/s offered"
  start_hub embedded-3300
  "$LOAD" setup --url "$url" --recipients 1000 >/dev/null
  run embedded-3300 "$LOAD" send --url "$url" --label "embedded 3300/s" --rate 3300 --duration "$(secs 20)s" \
    --pid "$hub_pid" --json "$OUT/embedded-3300.json"
  stop_hub

  say "embedded: 1,000/s for 60 s (RSS)"
  start_hub embedded-1000
  "$LOAD" setup --url "$url" --recipients 1000 >/dev/null
  run embedded-1000 "$LOAD" send --url "$url" --label "embedded 1000/s" --rate 1000 --duration "$(secs 60)s" \
    --pid "$hub_pid" --json "$OUT/embedded-1000.json"
  stop_hub
}

# The accept transaction's inserts as a pgbench script: one notification, one delivery and one
# outbox row in one transaction, with the hub's own tables (created by its migrations), the
# same ids and text sizes (no NOTIFY: the hub announces commits after them, ADR 0027).
pgbench_baseline() {
  local db clients=$1 seconds=$2
  db=$(fresh_database pgbench)
  NH_DATABASE_URL="$db" "$HUB" migrate >/dev/null 2>&1
  checkpoint
  cat >"$OUT/accept.pgbench" <<'SQL'
\set n random(1, 9000000000000000000)
BEGIN;
INSERT INTO notifications (id, recipient_id, kind, priority, created_at, metadata, expires_at, skipped, scope, idempotency_key, fingerprint)
  VALUES ('ntf_' || :n, 'load-' || (:n % 1000), 'TRANSACTIONAL', 'NORMAL', now(), NULL, NULL, '[]', 'default', 'load-' || :n, md5(:n::text) || md5(:n::text));
INSERT INTO deliveries (id, notification_id, recipient_id, channel, target_kind, target_address, priority, status, tries, not_before, title, body, lms, created_at, updated_at)
  VALUES ('dlv_' || :n, 'ntf_' || :n, 'load-' || (:n % 1000), 'EMAIL', 'EMAIL', 'load-1@example.com', 'NORMAL', 'PENDING', 0, now(), 'Load test', 'Load test message of run bench.', false, now(), now());
INSERT INTO outbox (id, delivery_id, notification_id, channel, priority, attempt, created_at, next_attempt_at)
  VALUES ('evt_' || :n, 'dlv_' || :n, 'ntf_' || :n, 'EMAIL', 'NORMAL', 1, now(), now());
COMMIT;
SQL
  local pgbench="${NH_TEST_PG_BIN:-/usr/lib/postgresql/15/bin}/pgbench"
  [[ -x "$pgbench" ]] || pgbench=pgbench
  mkdir -p "$OUT/pgbench"
  echo "pgbench: $pgbench -n -c $clients -j 2 -T $seconds -f accept.pgbench <fresh database>" >>"$OUT/commands.txt"
  "$pgbench" -n -c "$clients" -j 2 -T "$seconds" -f "$OUT/accept.pgbench" "$db" | tee "$OUT/pgbench/report.txt" >&2
  # The same transaction at the 500/s of the latency run, every transaction logged: its latency
  # from the scheduled start (pgbench's schedule lag + run time, as hub-load measures POSTs) is
  # what PostgreSQL alone takes at that rate on this disk.
  echo "pgbench-500: $pgbench -n -c $clients -j 2 -R 500 -T $seconds -l -f accept.pgbench <fresh database>" >>"$OUT/commands.txt"
  checkpoint
  local script
  script=$(realpath "$OUT/accept.pgbench")
  (cd "$OUT/pgbench" && "$pgbench" -n -c "$clients" -j 2 -R 500 -T "$seconds" -l --log-prefix=rate500 \
    -f "$script" "$db" >rate500.txt)
  python3 - "$OUT/pgbench" >"$OUT/pgbench-500.json" <<'PY'
import glob, json, os, sys
# Per-transaction log lines: client, transaction, latency µs, script, epoch s, epoch µs, schedule lag µs.
lat = sorted((int(f[2]) + int(f[6])) / 1000 for p in glob.glob(os.path.join(sys.argv[1], "rate500.*"))
             for f in (line.split() for line in open(p)) if len(f) >= 7 and f[2].isdigit())
pick = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 2)
print(json.dumps({"transactions": len(lat), "p50": pick(0.5), "p95": pick(0.95), "p99": pick(0.99), "max": lat[-1]}))
PY
  cat "$OUT/pgbench-500.json" >&2
  python3 - "$OUT/pgbench/report.txt" "$clients" >"$OUT/pgbench.json" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
tps = float(re.search(r"tps = ([0-9.]+)", text).group(1))
lat = re.search(r"latency average = ([0-9.]+) ms", text)
print(json.dumps({"clients": int(sys.argv[2]), "tps": tps, "latencyAverageMs": float(lat.group(1)) if lat else None}))
PY
}

# production_send <name> <label> <rate> <seconds> <readback> [NAME=value …]: a fresh database, key
# prefix and topic prefix, a hub with the given extra settings, 1,000 recipients, one `send` run
# (with PostgreSQL commits counted), and the hub stopped again.
production_send() {
  local name=$1 label=$2 rate=$3 seconds=$4 readback=$5
  shift 5
  STACK_ENV=("${base_env[@]}" NH_DATABASE_URL="$(fresh_database "${name//-/_}")" NH_REDIS_KEY_PREFIX="$name:"
    NH_KAFKA_TOPIC_PREFIX="$name.")
  checkpoint
  if [[ "${WORKERS_APART:-0}" == 1 ]]; then
    start_workers "$name" "$@"
    start_hub "$name" NH_ROLES=api "$@"
  else
    start_hub "$name" "$@"
  fi
  # shellcheck disable=SC2086 # SETUP_FLAGS is a list of flags, or empty
  "$LOAD" setup --url "$url" --recipients 1000 ${SETUP_FLAGS:-} >/dev/null
  run_pg "$name" "$LOAD" send --url "$url" --label "$label" --rate "$rate" --duration "$(secs "$seconds")s" \
    --pid "$hub_pid" --readback "$readback" --json "$OUT/$name.json"
  stop_hub
}

production() {
  : "${NH_TEST_DATABASE_URL:?run under scripts/test-services.sh}"
  say "production: PostgreSQL $NH_TEST_DATABASE_URL, Redis $NH_TEST_REDIS_URL, Kafka $NH_TEST_KAFKA_BROKERS (${NH_TEST_KAFKA_KIND:-?})"
  base_env=(NH_REDIS_URL="$NH_TEST_REDIS_URL" NH_KAFKA_BROKERS="$NH_TEST_KAFKA_BROKERS")

  say "production: throughput at 1,500/s offered, all roles in one process"
  production_send production-1500 "production 1500/s" 1500 20 2000
  say "production: accept capacity of an API-only process at 2,200/s offered"
  # The shape the Helm chart deploys (API and workers as separate Deployments): this process only
  # accepts, so the run measures accepts alone. No warm-up (it waits for SENT, and nothing is
  # dispatched here) and no readback.
  SETUP_FLAGS=--no-warm-up production_send production-api "production API only, 2200/s" 2200 20 0 NH_ROLES=api
  say "production: pgbench accept baseline (16 clients = the hub's pool size)"
  pgbench_baseline 16 "$(secs 20)"
  say "production: latency at 500/s, mock vendor 0 ms, API and relay/workers in two processes"
  # The Helm chart's shape: an API Deployment and a relay/worker Deployment. POST latency and
  # RSS are the API process's; accept → SENT spans both.
  WORKERS_APART=1 production_send production-500 "production 500/s, API + relay/workers" 500 30 3000
  say "production: latency at 500/s, mock vendor 0 ms, every role in one process"
  production_send production-500-one "production 500/s, one process" 500 30 3000
  say "production: 1,000/s for 60 s (RSS)"
  production_send production-1000 "production 1000/s" 1000 60 2000
  say "production: dispatch with NH_MOCK_VENDOR_LATENCY=100ms"
  production_send production-slow-vendor "production 2000/s, vendor 100 ms" 2000 15 3000 \
    NH_MOCK_VENDOR_LATENCY=100ms NH_WORKER_CONCURRENCY=256

  say "production: outbox backlog drain (rows queued while no relay runs)"
  local db backlog
  backlog=$(python3 -c "print(max(5000, round(100000 * float('$SCALE'))))")
  db=$(fresh_database drain)
  STACK_ENV=("${base_env[@]}" NH_DATABASE_URL="$db" NH_REDIS_KEY_PREFIX="drain:" NH_KAFKA_TOPIC_PREFIX="drain.")
  start_hub production-drain-fill NH_ROLES=api
  "$LOAD" setup --url "$url" --recipients 1000 --no-warm-up >/dev/null
  run production-drain-fill "$LOAD" fill --url "$url" --label "outbox fill" --count "$backlog" --connections 64 \
    --json "$OUT/production-drain-fill.json"
  stop_hub
  local queued
  queued=$(psql "$db" -qAt -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")
  start_hub production-drain NH_ROLES=relay
  local started=$EPOCHREALTIME left=$queued
  while ((left > 0)); do
    sleep 0.2
    left=$(psql "$db" -qAt -c "SELECT count(*) FROM outbox WHERE published_at IS NULL")
  done
  local seconds
  seconds=$(python3 -c "print(float('$EPOCHREALTIME') - float('$started'))")
  stop_hub
  echo "production-drain: NH_ROLES=relay $HUB serve, polling SELECT count(*) FROM outbox WHERE published_at IS NULL" >>"$OUT/commands.txt"
  python3 -c "import json; print(json.dumps({'rows': $queued, 'seconds': $seconds, 'eventsPerSecond': $queued / $seconds}))" \
    | tee "$OUT/production-drain.json" >&2
  say "production: dispatch of that backlog by a worker-only process, NH_MOCK_VENDOR_LATENCY=100ms"
  # The drained rows are now queue messages whose deliveries are PENDING: a worker process alone
  # (no API, no relay sharing the box) dispatches them against a vendor answering in 100 ms.
  local pending
  pending=$(psql "$db" -qAt -c "SELECT count(*) FROM deliveries WHERE status = 'PENDING'")
  start_hub production-dispatch NH_ROLES=worker NH_MOCK_VENDOR_LATENCY=100ms NH_WORKER_CONCURRENCY=256
  started=$EPOCHREALTIME
  left=$pending
  while ((left > 0)); do
    sleep 0.2
    left=$(psql "$db" -qAt -c "SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'DISPATCHING')")
  done
  seconds=$(python3 -c "print(float('$EPOCHREALTIME') - float('$started'))")
  stop_hub
  echo "production-dispatch: NH_ROLES=worker NH_MOCK_VENDOR_LATENCY=100ms NH_WORKER_CONCURRENCY=256 $HUB serve, polling SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'DISPATCHING')" >>"$OUT/commands.txt"
  python3 -c "import json; print(json.dumps({'deliveries': $pending, 'seconds': $seconds, 'deliveriesPerSecond': $pending / $seconds}))" \
    | tee "$OUT/production-dispatch.json" >&2
}

if [[ "${BENCH_NO_BUILD:-0}" != 1 ]]; then
  say "building release binaries"
  "$CARGO" build --release -q -p notification-hub -p hub-load
fi
mkdir -p "$OUT"
# The production stack runs in a second invocation of this script (under test-services.sh)
# that adds to the same results folder.
[[ "$STACKS" == production-inner ]] || : >"$OUT/commands.txt"
say "results go to $OUT"
for stack in $STACKS; do
  case "$stack" in
    embedded) embedded ;;
    production)
      if [[ -n "${NH_TEST_DATABASE_URL:-}" ]]; then
        production
      else
        NH_SERVICES_DURABLE=1 BENCH_OUT="$OUT" BENCH_STACKS=production-inner scripts/test-services.sh "$0"
      fi
      ;;
    production-inner) production ;;
    *) say "unknown stack $stack (embedded | production)"; exit 2 ;;
  esac
done
if [[ "$STACKS" != production-inner ]]; then
  python3 scripts/bench_report.py "$OUT" docs/performance.md
  say "docs/performance.md updated from $OUT"
fi
