# Sourced by the scripts of `make test` (test-services.sh, helm-check.sh, api-fuzz.sh).
#
# apt_install <package> <log folder>: installs a missing Debian package with apt-get when running
# as root (CI runs as root on a fresh machine); otherwise says what to install and fails. Uses
# the caller's `say` for progress; apt-get's output goes to <log folder>/apt-<package>.log and
# its tail to stderr when the install fails.
apt_install() {
  local package=$1 log="$2/apt-$1.log"
  if [[ $(id -u) != 0 ]]; then
    say "$package is missing; install the Debian package '$package' (needs root)"
    return 1
  fi
  say "installing the Debian package $package with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >"$log" 2>&1 || {
    # A stale package index is the usual cause; refresh once and retry.
    apt-get update -q >>"$log" 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$package" >>"$log" 2>&1
  } || {
    tail -20 "$log" >&2
    return 1
  }
}
