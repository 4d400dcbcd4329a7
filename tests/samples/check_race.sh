#!/usr/bin/env bash
# race: the actor's count is exact; the shared counter without a lock never gains updates.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --threads 4 --increments 20000
expect_ok "a normal run"
has '^4 threads, 20000 increments each: the counter should end at 80000$' out
has '^counter owned by an actor: +80000 +\(exact\)' out
racy=$(sed -nE 's/^shared counter, no lock: +([0-9]+) .*/\1/p' <<<"$out")
[[ -n $racy ]] || fail "no line for the shared counter"
((racy > 0 && racy <= 80000)) || fail "the shared counter ended at $racy"

run --threads 1 --increments 1000
expect_ok "one thread"
has '^shared counter, no lock: +1000 +\(0 updates lost\)' out  # one thread cannot race

run --threads 0
expect_failure "--threads 0"
echo "race sample: ok"
