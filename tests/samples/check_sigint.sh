#!/usr/bin/env bash
# sigint: a SIGINT (or SIGTERM) sent to the running sample shuts it down gracefully: the
# actor's destructor runs, main's join returns, the exit status is 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

# signal SIG: start the sample, wait for its first tick, send SIG, wait for it to end.
signal() {
  rm -f "$work/out" "$work/err"  # a fresh file: the last run's ticks must not count
  "$exe" --period-ms 50 >"$work/out" 2>"$work/err" &
  local pid=$!
  wait_for "$work/out" '^Logged in for 1 tick'
  kill "-$1" "$pid"
  rc=0
  wait "$pid" || rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
  sanitizer_clean
}

signal INT
expect_ok "after SIGINT"
has '^running; press Ctrl-C to stop$' out
has '^session timer: stopped after [0-9]+ tick\(s\); state saved$' out
[[ $(tail -n 1 <<<"$out") == "SIGINT received: shut down gracefully" ]] || fail "no graceful end"

signal TERM
expect_ok "after SIGTERM"
has '^SIGTERM received: shut down gracefully$' out

run --period-ms 50 --self-signal-ms 200
expect_ok "a self-sent SIGINT"
has '^Logged in for 1 tick' out
has '^SIGINT received: shut down gracefully$' out
echo "sigint sample: ok"
