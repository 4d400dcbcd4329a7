#!/usr/bin/env bash
# logwatch: lines appended to a watched file are reported once complete, in order; what was
# there before is not (unless --from-start); truncation and replacement are followed; Ctrl-C
# ends it cleanly; a missing file is an error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

log=$work/app.log
printf 'old line\n' >"$log"

# start ARGS...: runs the sample in the background; `finish` waits for it.
start() {
  "$exe" "$@" >"$work/out" 2>"$work/err" &
  pid=$!
  wait_for "$work/err" '^logwatch: watching '
}
finish() {
  rc=0
  wait "$pid" || rc=$?
  out=$(cat "$work/out")
  err=$(cat "$work/err")
  sanitizer_clean
}

start "$log" --poll-ms 20
printf 'first\n' >>"$log"
wait_for "$work/out" '^New data: first$'
printf 'sec' >>"$log"
sleep 0.2
printf 'ond\nthird\n' >>"$log"
wait_for "$work/out" '^New data: third$'
printf 'x\n' >"$log.new"              # log rotation: a new file under the old name
mv "$log.new" "$log"
wait_for "$work/out" '^New data: x$'
printf 'after rotation\n' >>"$log"
wait_for "$work/out" '^New data: after rotation$'
kill -INT "$pid"
finish
expect_ok "stopped by SIGINT"
lacks 'old line' out
[[ $(grep '^New data:' <<<"$out" | tr '\n' '|') == \
   "New data: first|New data: second|New data: third|New data: x|New data: after rotation|" ]] ||
  fail "the lines were not reported once each, in order"
has 'was replaced; following the new file' out
has '^logwatch: stopped after 5 new line\(s\)$' out

# --from-start reports what is already there; --duration-ms ends it on its own.
printf 'one\ntwo\n' >"$log"
run "$log" --from-start --poll-ms 20 --duration-ms 300
expect_ok "--from-start"
has '^New data: one$' out
has '^New data: two$' out

run "$work/missing.log"
expect_failure "a missing file"
has '^logwatch: cannot open .*missing\.log: No such file or directory$' err

run "$work"
expect_failure "a folder"
has 'is not a regular file' err

run
expect_failure "no FILE"
has 'give a FILE to watch, or --demo' err

# --demo: another actor writes a temporary log; the tail reports only the new lines.
run --demo --poll-ms 20 --duration-ms 700
expect_ok "--demo"
has '^New data: request 1 served$' out
lacks 'an old line' out
demo=$(sed -nE 's/^logwatch: watching (.*) \(.*$/\1/p' <<<"$err")
[[ -n $demo && ! -e $demo ]] || fail "the demo log was not removed"
echo "logwatch sample: ok"
