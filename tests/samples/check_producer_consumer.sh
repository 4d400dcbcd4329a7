#!/usr/bin/env bash
# producer_consumer: in every order, bounded or not, with few or many consumers, every item
# is processed exactly once and the throughput line is printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --items 0
expect_ok "no items"
has '^fifo +order of 1 3 4 2: 1 3 4 2$' out
has '^lifo +order of 1 3 4 2: 2 4 3 1$' out
has '^priority order of 1 3 4 2: 1 2 3 4$' out
has '^every item processed exactly once: 0 of 0$' out

# order capacity producers consumers items
while read -r order capacity producers consumers items; do
  run --order "$order" --capacity "$capacity" --producers "$producers" \
      --consumers "$consumers" --items "$items"
  expect_ok "$order, capacity $capacity"
  has "^every item processed exactly once: $items of $items\$" out
  has "^throughput: $items items in [0-9.]+ s = [0-9]+ items/s \($producers producers, $consumers consumers, $order, capacity $capacity\)\$" out
  [[ $(count_of '^consumer-[0-9]+ handled [0-9]+ item' out) == "$consumers" ]] || fail "consumer report"
done <<'CASES'
fifo 64 2 4 5000
lifo 1 3 2 2000
priority 0 1 3 3000
priority 8 4 100 3000
fifo 1 1 1 500
CASES

# The seed's shape, verbose: one producer, one consumer, five items, every one printed.
run --producers 1 --consumers 1 --items 5 --verbose
expect_ok "verbose"
for i in 0 1 2 3 4; do has "^consumer-1: processing item $i " out; done

run --order random
expect_failure "an unknown order"
echo "producer_consumer sample: ok"
