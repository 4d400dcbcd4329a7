#!/bin/sh
# Runs the hello sample fast and checks what it printed.
set -eu
out=$("$1" --interval-ms 10)
fail() { echo "hello sample: $1"; echo "$out"; exit 1; }
for i in 0 1 2 3 4; do
  echo "$out" | grep -qx "Number: $i" || fail "missing 'Number: $i'"
  echo "$out" | grep -qx "Thread-$i starting" || fail "missing 'Thread-$i starting'"
  echo "$out" | grep -qx "Thread-$i finished" || fail "missing 'Thread-$i finished'"
done
[ "$(echo "$out" | grep -cx 'Main thread continues to run...')" = 5 ] || fail "main loop count"
echo "$out" | grep -qx "5 workers alive" || fail "count() did not see 5 workers"
[ "$(echo "$out" | tail -n 1)" = "All threads have completed." ] || fail "join did not wait"
"$1" --interval-ms x >/dev/null 2>&1 && fail "bad argument accepted"
echo "hello sample: ok"
