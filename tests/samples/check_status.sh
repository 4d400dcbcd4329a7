#!/usr/bin/env bash
# status: every URL's status is reported in the order given (>= 400 included); a URL with no
# answer (nothing listening, too slow) is reported on stderr and makes the exit non-zero.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fixture_tool=${2:?usage: check_status.sh <status> <fixture_tool>}
check_cli

run
expect_ok "the seed's URLs on the embedded server"
has '^status: no --base-url given: using the embedded server at http://127\.0\.0\.1:[0-9]+$' err
has '^Checking http://127\.0\.0\.1:[0-9]+/status/200\.\.\.$' out
has '^http://127\.0\.0\.1:[0-9]+/status/200: 200 \([0-9]+ ms\)$' out
has '^http://127\.0\.0\.1:[0-9]+/status/400: 400 \([0-9]+ ms\)$' out

run --strict
expect_failure "--strict with a 400"

start_server url --latency /status/204=3000
run "$url/status/200" /status/404 /status/500 /status/503 --base-url "$url/"
expect_ok "statuses from a given server"
lacks 'embedded' err
[[ $(grep -E '^http' <<<"$out" | sed -E 's/ \([0-9]+ ms\)$//' | tr '\n' '|') == \
   "$url/status/200: 200|$url/status/404: 404|$url/status/500: 500|$url/status/503: 503|" ]] ||
  fail "results not in the order given"

run "$url/status/200" "$url/status/204" --timeout-ms 300
expect_failure "a server slower than the timeout"
has "^$url/status/204: no answer$" out
has "^status: GET $url/status/204: timed out after 300 ms$" err
has "^$url/status/200: 200" out

port=$(closed_port)
run "http://127.0.0.1:$port/status/200"
expect_failure "nothing listening"
has "^status: GET http://127\.0\.0\.1:$port/status/200: connection refused$" err
echo "status sample: ok"
