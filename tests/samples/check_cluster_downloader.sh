#!/usr/bin/env bash
# cluster_downloader: worker processes download every file byte-identical and exactly once
# (no second copy, no partial or temporary file), also when a worker is SIGKILLed half way
# (its jobs are redelivered to the others); a URL that fails for good is named with its
# error after max_deliver tries, the exit is non-zero and it leaves no file; bad input is
# refused before anything starts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fixture_tool=${2:?usage: check_cluster_downloader.sh <cluster_downloader> <fixture_tool>}
check_cli

# same FILE N: FILE holds exactly the bytes of the fixture's image N.
same() {
  "$fixture_tool" image "$2" >"$work/expected" || fail "fixture_tool image $2"
  cmp -s "$1" "$work/expected" || fail "$1 differs from the fixture's image $2"
}
# only DIR NAMES...: DIR holds exactly these files (so no partial, temporary or second copy).
only() {
  local dir=$1
  shift
  [[ $(cd "$dir" && ls -A | sort | tr '\n' ' ') == "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]] ||
    fail "$dir holds: $(ls -A "$dir" | tr '\n' ' '), expected: $*"
}

# Everything started here (nats-server -js, the embedded server, 3 workers); worker 0 is
# killed after 6 files, holding leases.
d=$work/killed
names=()
for n in $(seq 1 30); do names+=("$n.jpg"); done
run --out "$d" --workers 3 --concurrency 2 --latency-ms 100 --ack-wait-ms 1500 \
    --kill-worker-after 6 $(for n in $(seq 1 30); do echo "/images/$n.jpg"; done)
expect_ok "a worker killed half way"
has '^started nats-server -js at nats://127\.0\.0\.1:[0-9]+$' out
has '^cluster_downloader: no --base-url given: serving the files at http://127\.0\.0\.1:[0-9]+$' err
has '^3 worker process\(es\) ready, 2 download\(s\) at a time each$' out
has '^killed worker 0 \(pid [0-9]+\) after [0-9]+ file\(s\)$' out
has '^30 file\(s\), [0-9]+ bytes, [0-9.]+ s, 0 failure\(s\), [0-9]+ already there$' out
only "$d" "${names[@]}"
for n in $(seq 1 30); do same "$d/$n.jpg" "$n"; done
(( $(count_of ' bytes  worker ' out) == 30 )) || fail "the table does not have 30 rows"

# A URL that fails for good, on a fixture server of the check's own.
start_server url --fail /images/5.jpg=500
d=$work/failing
run --out "$d" --workers 2 --base-url "$url" /images/{1..8}.jpg
expect_failure "a URL failing for good"
has "^cluster_downloader: $url/images/5\\.jpg: failed 3 times, last: .*HTTP 500" err
has '^7 file\(s\), [0-9]+ bytes, [0-9.]+ s, 1 failure\(s\), 0 already there$' out
only "$d" 1.jpg 2.jpg 3.jpg 4.jpg 6.jpg 7.jpg 8.jpg
for n in 1 2 3 4 6 7 8; do same "$d/$n.jpg" "$n"; done

# A rerun into the same folder does not download twice: every file is already there.
run --out "$d" --workers 1 --base-url "$url" /images/1.jpg /images/2.jpg
expect_ok "a rerun"
has '^2 file\(s\), [0-9]+ bytes, [0-9.]+ s, 0 failure\(s\), 2 already there$' out

# Bad input: refused before anything starts, nothing written.
run --out "$work/dup" "$url/a/x.jpg" "$url/b/x.jpg"
expect_failure "two URLs saved under one name"
has 'would both be saved as x\.jpg' err
[[ ! -e $work/dup ]] || fail "a refused run created its output folder"
run --workers 65
expect_failure "--workers 65"
printf 'x' >"$work/plain-file"
run --out "$work/plain-file" "$url/images/1.jpg"
expect_failure "an output folder that is a file"
has "cannot use $work/plain-file as the output folder" err
echo "cluster_downloader sample: ok"
