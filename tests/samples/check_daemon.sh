#!/usr/bin/env bash
# daemon: a daemon ticker does not keep join() waiting; the same ticker as an ordinary actor
# does, until it is stopped.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --period-ms 50 --run-ms 300
expect_ok "a daemon ticker"
has "^actor 'ticker' alive, daemon: yes$" out
has '^Running in background\.\.\. \(1\)$' out
has '^join\(\) returned after [0-9]+ ms: only a daemon is left running$' out
waited=$(sed -nE 's/^join\(\) returned after ([0-9]+) ms.*/\1/p' <<<"$out")
((waited < 200)) || fail "join() waited $waited ms for a daemon"
lacks 'gave up' out

run --period-ms 50 --run-ms 100 --no-daemon
expect_ok "a non-daemon ticker"
has "^actor 'ticker' alive, daemon: no$" out
has "^join\(\) gave up after [0-9]+ ms: 'ticker' is not a daemon" out
has '^Main thread done' out
echo "daemon sample: ok"
