#!/usr/bin/env bash
# Runs the steps of `make test` in order (format check, clippy, Helm chart check, build, API
# fuzzing, tests, doctests) and ends with ONE summary line:
#   make test: OK — fmt, clippy, helm, fuzz, 123 tests passed in 42s
#   make test: FAILED at clippy — fmt ok (after 17s)
# Exits non-zero when any step fails. Tests run under cargo-nextest when `cargo nextest` is
# installed (doctests then run separately, nextest does not run them), else under `cargo test`.
set -euo pipefail

cd "$(dirname "$0")/.."

CARGO="${CARGO:-cargo}"
started=$SECONDS
passed_steps=()
log=$(mktemp "${TMPDIR:-/tmp}/nh-test.XXXXXX")
trap 'rm -f "$log"' EXIT

elapsed() { echo "$((SECONDS - started))s"; }

fail() {
  local step=$1 done="none"
  if ((${#passed_steps[@]} > 0)); then
    done="$(IFS=,; echo "${passed_steps[*]}" | sed 's/,/, /g') ok"
  fi
  echo
  echo "make test: FAILED at ${step} — ${done} (after $(elapsed))"
  exit 1
}

step() { echo; echo "==> $*"; }

# CARGO_TERM_COLOR=always (common in CI) colours output even through a pipe.
strip_colour() { sed -E $'s/\x1b\\[[0-9;]*[a-zA-Z]//g'; }

step "fmt: $CARGO fmt --all -- --check"
"$CARGO" fmt --all -- --check || fail fmt
passed_steps+=(fmt)

step "clippy: $CARGO clippy --workspace --all-targets --all-features -- -D warnings"
"$CARGO" clippy --workspace --all-targets --all-features -- -D warnings || fail clippy
passed_steps+=(clippy)

# Lints, renders and schema-validates helm/notification-hub; installs helm and
# kubernetes-validate into .tools/ on the first run only.
step "helm: scripts/helm-check.sh"
scripts/helm-check.sh || fail helm
passed_steps+=(helm)

# The black-box tests in e2e-tests start the built binary (target/debug/notification-hub).
# One build of every target with the features the test run uses, so the test step, the
# services script (kafka-mock) and the black-box tests (notification-hub) compile nothing again.
step "build: $CARGO build --workspace --all-targets --all-features"
"$CARGO" build --workspace --all-targets --all-features || fail build
passed_steps+=(build)

# Fuzzes the binary just built against its own OpenAPI document with schemathesis; installs
# schemathesis into .tools/ on the first run only.
step "fuzz: scripts/api-fuzz.sh"
scripts/api-fuzz.sh || fail fuzz
passed_steps+=(fuzz)

# Output is shown live and kept in $log so the passed tests can be counted afterwards.
tests_passed=0
if "$CARGO" nextest --version >/dev/null 2>&1; then
  step "tests: scripts/test-services.sh $CARGO nextest run --workspace --all-features"
  scripts/test-services.sh "$CARGO" nextest run --workspace --all-features --no-tests=warn 2>&1 | tee "$log" || fail tests
  services=$(strip_colour <"$log" | sed -nE 's/^test-services: (PostgreSQL [0-9.]+|Redis [0-9.]+|Kafka: [a-z]+).*/\1/p' | paste -sd, - | sed 's/,/, /g')
  # nextest ends with e.g. "Summary [   1.234s] 42 tests run: 42 passed, 0 skipped".
  n=$(strip_colour <"$log" | sed -nE 's/^ *Summary \[.* ([0-9]+) passed.*/\1/p' | tail -n 1)
  tests_passed=$((tests_passed + ${n:-0}))
  passed_steps+=(tests)

  step "doctests: $CARGO test --workspace --all-features --doc"
  "$CARGO" test --workspace --all-features --doc 2>&1 | tee "$log" || fail doctests
  passed_steps+=(doctests)
else
  step "tests: scripts/test-services.sh $CARGO test --workspace --all-features (cargo-nextest not installed)"
  scripts/test-services.sh "$CARGO" test --workspace --all-features 2>&1 | tee "$log" || fail tests
  services=$(strip_colour <"$log" | sed -nE 's/^test-services: (PostgreSQL [0-9.]+|Redis [0-9.]+|Kafka: [a-z]+).*/\1/p' | paste -sd, - | sed 's/,/, /g')
  passed_steps+=(tests)
fi
# libtest prints one "test result: ok. N passed; …" per test binary and per crate's doctests.
n=$(strip_colour <"$log" | sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed;.*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
tests_passed=$((tests_passed + n))

echo
echo "make test: OK — fmt, clippy, helm, fuzz, ${tests_passed} tests passed (services: ${services:-none}) in $(elapsed)"
