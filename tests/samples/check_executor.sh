#!/usr/bin/env bash
# executor: submit returns at once and each future holds its square; map keeps the input
# order; as_completed yields in completion order; a task's exception reaches get(); after
# shutdown, submit is refused.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --workers 2 --task-ms 20
expect_ok "a normal run"
for n in 1 2 3 4 5 6 7 8; do
  has "^Result of w$n : $((n * n))\$" out
  has "^Counting the result for number $n\$" out
done
hello=$(grep -n '^Hello World!$' <<<"$out" | cut -d: -f1)
first=$(grep -n '^Result of w1 :' <<<"$out" | cut -d: -f1)
((hello < first)) || fail "submit blocked: Hello World! came after the first result"
[[ $(sed -n '/^== map$/,/^== as_completed$/p' <<<"$out" | grep '^Done' | tr '\n' ' ') == \
   "Done with task 1 Done with task 2 Done with task 3 Done with task 4 " ]] || fail "map order"
times=$(sed -nE 's/^Done with task [0-9] \(after ([0-9]+) ms\)$/\1/p' <<<"$out")
[[ $(wc -l <<<"$times") == 4 ]] || fail "as_completed did not yield four results"
sort -n -c <<<"$times" || fail "as_completed did not yield in completion order"
has '^the task failed: no square of a negative number today$' out
has '^sum of the squares of 1\.\.10: 385$' out
has '^after shutdown, submit is refused: ' out
[[ $(tail -n 1 <<<"$out") == "Hello Result!" ]] || fail "did not end with Hello Result!"

run --workers 0
expect_failure "--workers 0"
echo "executor sample: ok"
