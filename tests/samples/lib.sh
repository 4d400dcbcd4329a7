# Helpers shared by the sample checks (sourced, not run). Each check script gets the sample's
# executable as $1 and prints "<name> sample: ok" on success; on failure it says what was
# expected and shows what the sample printed.
set -euo pipefail

sample=$(basename "${1:?usage: check_<name>.sh <sample executable> [helpers...]}")
exe=$1

# A scratch folder removed on exit (background processes started by the check are killed).
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-check-$sample.XXXXXX")
cleanup() {
  local pids
  pids=$(jobs -pr)
  [[ -n $pids ]] && kill $pids 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

out=""  # what the last `run` printed on stdout
err=""  # ... and on stderr
rc=0    # ... and its exit status

# run ARGS...: runs the sample, capturing stdout, stderr and the exit status. Fails only if
# a sanitizer reported something (a run expected to fail must fail for its own reason).
run() {
  rc=0
  "$exe" "$@" >"$work/.out" 2>"$work/.err" || rc=$?
  out=$(cat "$work/.out")
  err=$(cat "$work/.err")
  sanitizer_clean
}

# Fails if the last run's stderr holds a ThreadSanitizer, AddressSanitizer, LeakSanitizer or
# UBSan report.
sanitizer_clean() {
  if grep -Eq 'WARNING: ThreadSanitizer|ERROR: (Address|Leak)Sanitizer|runtime error: ' <<<"$err"; then
    fail "a sanitizer reported a problem"
  fi
}

fail() {
  echo "$sample sample: $*"
  echo "--- stdout"; echo "$out"
  echo "--- stderr"; echo "$err"
  echo "--- exit status $rc"
  exit 1
}

# expect_ok / expect_failure: the exit status of the last run.
expect_ok() { [[ $rc == 0 ]] || fail "expected success ($*)"; }
expect_failure() { [[ $rc != 0 ]] || fail "expected a non-zero exit ($*)"; }

# has TEXT WHERE: WHERE (out or err) contains a line matching the extended regex TEXT.
has() { grep -Eq -- "$1" <<<"${!2}" || fail "expected /$1/ on ${2/out/stdout}"; }
lacks() { ! grep -Eq -- "$1" <<<"${!2}" || fail "did not expect /$1/ on ${2/out/stdout}"; }
# count_of TEXT WHERE: how many lines match.
count_of() { grep -Ec -- "$1" <<<"${!2}" || true; }

# wait_for FILE REGEX [SECONDS]: waits until FILE has a line matching REGEX.
wait_for() {
  local deadline=$((SECONDS + ${3:-20}))
  until grep -Eq -- "$2" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || { out=$(cat "$1" 2>/dev/null || true); fail "timed out waiting for /$2/"; }
    sleep 0.05
  done
}

# --help works and goes to stdout; an unknown option is refused on stderr.
check_cli() {
  run --help
  expect_ok "--help"
  has "Usage:" out
  run --no-such-option
  expect_failure "an unknown option"
  [[ -n $err ]] || fail "an unknown option should be reported on stderr"
}

# start_server NAME ARGS...: starts `fixture_tool serve ARGS...` (the tool is $fixture_tool) in
# the background and sets NAME to its base URL. stop_server NAME prints what it saw.
start_server() {
  local name=$1
  shift
  "$fixture_tool" serve "$@" >"$work/server-$name" 2>&1 &
  eval "pid_$name=\$!"
  wait_for "$work/server-$name" '^http://'
  printf -v "$name" '%s' "$(head -n 1 "$work/server-$name")"
}
stop_server() {
  local pid_var="pid_$1"
  kill -TERM "${!pid_var}"
  # Called as $(stop_server NAME) this runs in a subshell, where `wait` cannot wait for the
  # server (not its child) and returns at once: wait for the server's last line instead.
  wait_for "$work/server-$1" '^requests: '
  wait "${!pid_var}" 2>/dev/null || true
  cat "$work/server-$1"
}

# A port nothing listens on: the port of a server that has just been stopped.
closed_port() {
  start_server gone
  local port=${gone##*:}
  stop_server gone >/dev/null
  echo "$port"
}
