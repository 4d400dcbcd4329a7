#!/usr/bin/env bash
# stop: setting the Event stops the repeating task before its last round; without it, the
# task runs every round and says it stopped maturely.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --period-ms 100 --stop-after-ms 250
expect_ok "stopped early"
has '^Running #1$' out
has '^main: setting the stop event$' out
has '^The task was stopped prematurely$' out
lacks 'maturely\.$' out
rounds=$(count_of '^Running #' out)
((rounds >= 1 && rounds < 6)) || fail "$rounds rounds ran before the stop"
[[ $(tail -n 1 <<<"$out") == "main: the task has ended" ]] || fail "join did not wait for the task"

run --period-ms 20 --runs 6 --no-stop
expect_ok "not stopped"
[[ $(count_of '^Running #' out) == 6 ]] || fail "expected 6 rounds"
has '^Running #6$' out
has '^The task was stopped maturely\.$' out
lacks 'prematurely' out
lacks 'setting the stop event' out

run --no-stop --stop-after-ms 10
expect_failure "--no-stop with --stop-after-ms"
echo "stop sample: ok"
