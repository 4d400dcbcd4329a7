#!/usr/bin/env bash
# multiprocess: worker processes count the primes, and the coordinator's total is exact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check_cli

run --workers 3 --limit 200000
expect_ok "three workers"
has '^started nats-server at nats://127\.0\.0\.1:[0-9]+$' out
has '^primes below 200000: 17984 \(24 chunks over 3 worker processes, [0-9]+ ms\)$' out

run --workers 1 --limit 1000
expect_ok "one worker"
has '^primes below 1000: 168 ' out

run --workers 0
expect_failure "--workers 0"
echo "multiprocess sample: ok"
