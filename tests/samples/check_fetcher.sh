#!/usr/bin/env bash
# fetcher: the rates fetched in every mode are exactly the fixture's; each failing base (404,
# 500, malformed JSON, slower than the timeout, nothing listening) gives a clear error row and
# a non-zero exit while the other bases still print.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fixture_tool=${2:?usage: check_fetcher.sh <fetcher> <fixture_tool>}
check_cli

seed14=eur,gbp,aud,chf,cad,kes,bhd,egp,krw,cop,bbd,djf,hnl,ugx

# The embedded server, all three modes, the seed's fourteen bases.
run --bases "$seed14" --json "$work/rates.json"
expect_ok "the embedded server"
has '^fetcher: no --base-url given: using the embedded server at http://127\.0\.0\.1:[0-9]+/daily/$' err
has '^eur = eur +1\.000, jpy +[0-9.]+, usd +[0-9.]+, rub +[0-9.]+, cad +[0-9.]+$' out
has '^ugx = eur +0\.000[0-9]+, jpy ' out
for mode in sequential concurrent pool; do has "^Total time \($mode\): [0-9.]+ s\$" out; done
has '^timings: sequential [0-9.]+ s, concurrent [0-9.]+ s \([0-9.]+x faster\), pool [0-9.]+ s' out
[[ $(count_of ' = eur ' out) == 42 ]] || fail "expected 14 rows in each of 3 modes"
"$fixture_tool" check-rates "$work/rates.json" >"$work/check" 2>&1 || { out=$(cat "$work/check"); fail "rates differ"; }
grep -q '^check-rates: 210 rates compared, 0 wrong$' "$work/check" || { out=$(cat "$work/check"); fail "not every rate compared"; }

# A server of our own, with faults: gbp answers 500, jpy serves broken JSON, chf is slow.
start_server url --fail /daily/gbp=500 --malformed /daily/jpy --latency /daily/chf=3000
daily=$url/daily/

run --base-url "$daily" --bases eur,usd,cad --mode concurrent --json "$work/given.json"
expect_ok "--base-url"
lacks 'embedded' err
"$fixture_tool" check-rates "$work/given.json" >/dev/null || fail "rates from --base-url differ"

run --base-url "$daily" --bases eur,xyz,usd --mode sequential
expect_failure "an unknown base (404)"
has '^eur = eur +1\.000' out
has '^usd = eur ' out
has "^xyz = error: GET ${daily}xyz\.json: HTTP 404" out
has '^fetcher: xyz \(sequential\): .*HTTP 404' err

run --base-url "$daily" --bases gbp,eur --mode pool --workers 2
expect_failure "HTTP 500"
has "^gbp = error: GET ${daily}gbp\.json: HTTP 500" out
has '^eur = eur +1\.000' out

run --base-url "$daily" --bases jpy,eur --mode concurrent
expect_failure "malformed JSON"
has "^jpy = error: malformed JSON from ${daily}jpy\.json" out
has '^eur = eur +1\.000' out

run --base-url "$daily" --bases chf,eur --mode concurrent --timeout-ms 300
expect_failure "a server slower than the timeout"
has "^chf = error: GET ${daily}chf\.json: timed out after 300 ms" out
has '^eur = eur +1\.000' out

run --base-url "$daily" --bases eur --symbols eur,zzz --mode sequential
expect_failure "an unknown symbol"
has "^eur = error: no rate for 'zzz' in ${daily}eur\.json" out

port=$(closed_port)
run --base-url "http://127.0.0.1:$port/daily/" --bases eur,usd --mode concurrent
expect_failure "nothing listening"
has "^eur = error: GET http://127\.0\.0\.1:$port/daily/eur\.json: connection refused" out
has "^usd = error: .*connection refused" out

run --mode parallel
expect_failure "an unknown mode"
run --base-url "$daily" --latency-ms 10
expect_failure "--latency-ms with --base-url"
has 'applies to the embedded server' err
echo "fetcher sample: ok"
