#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis and ends with ONE line:
#   api-fuzz: OK — 31 operations, 0 failures
#   api-fuzz: FAILED — schemathesis exited with 1 (its report is above)
#
# It starts the built binary (target/debug/notification-hub) with the embedded set — SQLite in a
# temporary folder, in-process queues and limits — on a free loopback port, with an admin token,
# a vendor callback secret and rate limits too high to bind; waits for /health/ready; runs
# schemathesis over every operation of /api/v1/openapi.json; and stops the binary again (trap),
# pass or fail. The binary sees no NH_* variable of the caller's environment.
#
# What is checked (docs/adr/0024-api-fuzzing.md):
#   scripts/api-fuzz/schemathesis.toml  every built-in check; positive_data_acceptance is off for
#                                       the operations whose rules JSON Schema cannot state
#                                       (each named there with its rules)
#   scripts/api-fuzz/hooks.py           signs vendor callbacks, so their bodies get fuzzed
#                                       instead of all stopping at 401
# Budget: MAX_EXAMPLES test cases per operation and phase, with one fixed SEED and one worker,
# so a run is reproducible; about half a minute on two cores.
#
# Knobs: MAX_EXAMPLES, SEED (another seed explores other inputs), WORKERS, NH_BIN (another
# binary), ST_EXTRA (more schemathesis arguments, e.g. `--continue-on-failure` to collect every
# failure instead of the first of each operation).
#
# Tools are installed once into the git-ignored .tools/ and reused (idempotent):
#   .tools/schemathesis/   a python3 venv with $SCHEMATHESIS_SPEC from PyPI
# Needs bash, python3 (with venv) and the built binary (`cargo build -p notification-hub`);
# no Docker, no services, no root (as root a missing python3-venv is installed with apt-get).
set -euo pipefail

cd "$(dirname "$0")/.."
repo=$PWD

TOOLS=.tools
SCHEMATHESIS_SPEC="${SCHEMATHESIS_SPEC:-schemathesis==4.32.5}"
# The build's target folder (honours CARGO_TARGET_DIR and .cargo/config), as test-services.sh does.
if [[ -z "${NH_BIN:-}" ]]; then
  target_dir=$("${CARGO:-cargo}" metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  NH_BIN="$target_dir/debug/notification-hub"
fi
# Test cases per operation in each generating phase (schemathesis' --max-examples); the
# coverage phase adds its boundary cases on top.
MAX_EXAMPLES="${MAX_EXAMPLES:-100}"
# Fixed, so that a failure found here is found again on the next run and in CI.
SEED="${SEED:-20240611}"
# One worker: with two, the stateful phase interleaves differently on every run (it follows the
# ids the server makes), so the same seed no longer gives the same run; nor is it faster.
WORKERS="${WORKERS:-1}"
read -r -a st_extra <<<"${ST_EXTRA:-}"

venv="$TOOLS/schemathesis"
work=$(mktemp -d "${TMPDIR:-/tmp}/nh-api-fuzz.XXXXXX")
server_pid=""

cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    # It drains for NH_SHUTDOWN_GRACE (2 s here); after 10 s it is killed.
    for _ in $(seq 1 100); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say() { echo "api-fuzz: $*"; }

fail() {
  echo "api-fuzz: FAILED — $*"
  exit 1
}

# shellcheck source=lib/apt.sh
source scripts/lib/apt.sh

# ---- tools ---------------------------------------------------------------------------------

install_schemathesis() {
  local stamp="$venv/.source"
  if [[ -x "$venv/bin/st" && "$(cat "$stamp" 2>/dev/null)" == "$SCHEMATHESIS_SPEC" ]] &&
    "$venv/bin/st" --version >/dev/null 2>&1; then
    say "schemathesis: reusing $venv ($("$venv/bin/st" --version))"
    return
  fi
  command -v python3 >/dev/null 2>&1 || fail "python3 is missing"
  say "schemathesis: installing $SCHEMATHESIS_SPEC from PyPI into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv" >"$work/venv.log" 2>&1 || {
    # Debian's python3 needs python3-venv for ensurepip.
    rm -rf "$venv"
    apt_install python3-venv "$work" && python3 -m venv "$venv" >>"$work/venv.log" 2>&1
  } || {
    cat "$work/venv.log" >&2
    fail "python3 -m venv failed (Debian: apt-get install python3-venv)"
  }
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "$SCHEMATHESIS_SPEC" \
    >"$work/pip.log" 2>&1 || {
    cat "$work/pip.log" >&2
    fail "pip install $SCHEMATHESIS_SPEC failed"
  }
  echo "$SCHEMATHESIS_SPEC" >"$stamp"
  say "schemathesis: installed $("$venv/bin/st" --version)"
}

mkdir -p "$TOOLS"
# One installer at a time (make test and make api-fuzz may run side by side).
exec 9>"$TOOLS/.api-fuzz.lock"
if command -v flock >/dev/null 2>&1; then
  flock 9
fi
install_schemathesis
exec 9>&-
python="$repo/$venv/bin/python"

# ---- server --------------------------------------------------------------------------------

[[ -x "$NH_BIN" ]] || fail "no binary at $NH_BIN (run \`cargo build -p notification-hub\` first)"

# A port the kernel just handed out and released; if another process takes it first, the
# server cannot bind and exits, which is reported below.
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
admin_token="fuzz-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
callback_vendor=fuzzvendor
callback_secret="whsec_$(head -c 24 /dev/urandom | base64)"
unbound=1000000/60s

say "server: $NH_BIN serve on $base (data in a temporary folder)"
env -i PATH="$PATH" HOME="${HOME:-/tmp}" RUST_LOG="${RUST_LOG:-warn}" \
  NH_HTTP_ADDR="127.0.0.1:$port" \
  NH_DATA_DIR="$work/data" \
  NH_ADMIN_TOKEN="$admin_token" \
  NH_ADMIN_RATE_LIMIT="$unbound" \
  NH_CALLBACK_SECRETS="$callback_vendor=$callback_secret" \
  NH_RATE_LIMITS="PUSH=$unbound,EMAIL=$unbound,SMS=$unbound,KAKAO_ALIMTALK=$unbound,SLACK=$unbound,IN_APP=$unbound" \
  NH_SHUTDOWN_GRACE=2s \
  "$NH_BIN" serve >"$work/server.log" 2>&1 &
server_pid=$!

ready=""
for _ in $(seq 1 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.log"
    fail "the server exited before it was ready (log above)"
  fi
  if "$python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
    "$base/health/ready" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  sleep 0.1
done
[[ -n "$ready" ]] || {
  cat "$work/server.log"
  fail "the server was not ready within 30 s (log above)"
}

# ---- fuzz ----------------------------------------------------------------------------------

say "schemathesis: every operation, the checks of scripts/api-fuzz/schemathesis.toml, $MAX_EXAMPLES examples each, seed $SEED"
st_args=(
  --config-file "$repo/scripts/api-fuzz/schemathesis.toml"
  run "$base/api/v1/openapi.json"
  --max-examples "$MAX_EXAMPLES"
  --seed "$SEED"
  --workers "$WORKERS"
  --header "X-Admin-Token: $admin_token"
  --generation-database none
  --no-color
  "${st_extra[@]}"
)
# From the temporary folder: schemathesis and hypothesis keep caches in the working directory
# (.schemathesis/, .hypothesis/), which go away with it.
status=0
(
  cd "$work"
  SCHEMATHESIS_HOOKS="$repo/scripts/api-fuzz/hooks.py" \
    API_FUZZ_CALLBACK_VENDOR="$callback_vendor" API_FUZZ_CALLBACK_SECRET="$callback_secret" \
    "$repo/$venv/bin/st" "${st_args[@]}"
) 2>&1 | tee "$work/st.log" || status=$?

if ((status != 0)); then
  if grep -qE 'panicked|ERROR' "$work/server.log"; then
    echo "---- server log (errors) ----"
    grep -E 'panicked|ERROR' "$work/server.log" | tail -40
  fi
  fail "schemathesis exited with $status (its report is above)"
fi

# The summary lists the operations as "Selected: 31/31" and "Tested: 31".
operations=$(sed -nE 's/^ *Tested: ([0-9]+).*/\1/p' "$work/st.log" | tail -n 1)
[[ -n "$operations" ]] || fail "no operation count in schemathesis' summary"
echo
echo "api-fuzz: OK — ${operations} operations, 0 failures"
