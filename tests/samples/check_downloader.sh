#!/usr/bin/env bash
# downloader: downloaded files are byte-identical to what the fixture serves; at most
# --max-concurrent transfers run at once; the word counter counts what the fixture says;
# existing files are kept without --force; each failure (404, 500, a cut connection, too slow,
# nothing listening, an unwritable folder) is reported, leaves no partial file, and makes the
# exit non-zero while the other files are still downloaded intact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
fixture_tool=${2:?usage: check_downloader.sh <downloader> <fixture_tool>}
check_cli

# same FILE KIND N: FILE holds exactly the bytes of the fixture's image or rfc N.
same() {
  "$fixture_tool" "$2" "$3" >"$work/expected" || fail "fixture_tool $2 $3"
  cmp -s "$1" "$work/expected" || fail "$1 differs from the fixture's $2 $3"
}
# only DIR NAMES...: DIR holds exactly these files (so no partial or temporary file).
only() {
  local dir=$1
  shift
  [[ $(cd "$dir" && ls -A | sort | tr '\n' ' ') == "$(printf '%s\n' "$@" | sort | tr '\n' ' ')" ]] ||
    fail "$dir holds: $(ls -A "$dir" | tr '\n' ' '), expected: $*"
}

# The embedded server: an RFC and six images, two at a time, then the word count.
d=$work/embedded
run --out "$d" --max-concurrent 2 --latency-ms 50 /rfc/rfc793.txt /images/{1..6}.jpg
expect_ok "the embedded server"
has '^downloader: no --base-url given: using the embedded server at http://127\.0\.0\.1:[0-9]+$' err
has '^Downloading http://127\.0\.0\.1:[0-9]+/rfc/rfc793\.txt\.\.\.$' out
has '^Finished downloading http://127\.0\.0\.1:[0-9]+/images/6\.jpg \([0-9]+ bytes\)$' out
has '^7 file\(s\), [0-9]+ bytes, [0-9.]+ s, 0 failure\(s\)$' out
has '^the embedded server saw at most 2 request\(s\) at a time \(--max-concurrent 2\)$' out
same "$d/rfc793.txt" rfc 793
for n in 1 2 3 4 5 6; do same "$d/$n.jpg" image "$n"; done
only "$d" rfc793.txt {1..6}.jpg
words=$("$fixture_tool" words 793)
[[ $words == $(wc -w <"$d/rfc793.txt") ]] || fail "wc -w disagrees with the fixture's count"
has '^Waiting for the files to be downloaded\.\.\.$' out
has "^Number of words in rfc793\\.txt: $words\$" out
# The counter waited for the event: it counted after the summary.
summary_line=$(grep -n '^7 file(s)' <<<"$out" | cut -d: -f1)
count_line=$(grep -n '^Number of words' <<<"$out" | cut -d: -f1)
((summary_line < count_line)) || fail "the word count came before the downloads ended"

# Existing files are kept without --force, replaced with it.
printf 'mine\n' >"$d/1.jpg"
run --out "$d" /images/1.jpg /images/2.jpg
expect_failure "existing files without --force"
has "1\.jpg already exists; not overwritten \(--force replaces it\)" err
[[ $(cat "$d/1.jpg") == mine ]] || fail "1.jpg was clobbered"
run --out "$d" --force /images/1.jpg
expect_ok "--force"
same "$d/1.jpg" image 1

# A server of our own with faults; URLs from a file; --max-concurrent checked by the server.
start_server url --fail /images/5.jpg=500 --cut /images/7.jpg=1000 --latency /images/8.jpg=3000
start_server paced --latency /images/=100
d=$work/given
{
  echo "# the seed's semaphore example, and images"
  for n in 791 792 793; do echo "$paced/rfc/rfc$n.txt"; done
  for n in 1 2 3 4 6; do echo "  $paced/images/$n.jpg  "; done
} >"$work/urls"
run --out "$d" --from "$work/urls" --max-concurrent 3 --progress lines
expect_ok "--from FILE"
lacks 'embedded' err
has '^8 file\(s\), ' out
for n in 791 792 793; do same "$d/rfc$n.txt" rfc "$n"; done
for n in 1 2 3 4 6; do same "$d/$n.jpg" image "$n"; done
has '^Number of words in all 3 text files: [0-9]+$' out
seen=$(stop_server paced)
grep -q '^max in flight: 3$' <<<"$seen" || { out=$seen; fail "the server did not see exactly 3 transfers at a time"; }

# Failures: each reported, no partial file, the rest intact.
d=$work/faults
port=$(closed_port)
run --out "$d" --timeout-ms 300 "$url/images/1.jpg" "$url/images/5.jpg" "$url/images/7.jpg" \
    "$url/images/8.jpg" "$url/nothing.jpg" "http://127.0.0.1:$port/images/2.jpg" "$url/images/3.jpg"
expect_failure "faults"
has "^downloader: GET $url/images/5\.jpg: HTTP 500" err
has "^downloader: GET $url/images/7\.jpg: the connection closed before the whole body arrived" err
has "^downloader: GET $url/images/8\.jpg: timed out after 300 ms" err
has "^downloader: GET $url/nothing\.jpg: HTTP 404" err
has "^downloader: GET http://127\.0\.0\.1:$port/images/2\.jpg: connection refused" err
has '^2 file\(s\), [0-9]+ bytes, [0-9.]+ s, 5 failure\(s\)$' out
only "$d" 1.jpg 3.jpg
same "$d/1.jpg" image 1
same "$d/3.jpg" image 3

# Unwritable output folders.
run --out /proc/troupe-no-such-folder "$url/images/1.jpg"
expect_failure "an output folder that cannot be created"
has '^downloader: cannot use /proc/troupe-no-such-folder as the output folder: ' err
printf 'x' >"$work/plain-file"
run --out "$work/plain-file" "$url/images/1.jpg"
expect_failure "an output folder that is a file"
has "^downloader: cannot use $work/plain-file as the output folder" err
if [[ $(id -u) != 0 ]]; then  # root writes into read-only folders anyway
  mkdir "$work/ro" && chmod 555 "$work/ro"
  run --out "$work/ro" "$url/images/1.jpg"
  expect_failure "a read-only output folder"
  has "^downloader: cannot write into $work/ro" err
fi

# The progress bar: one line redrawn with \r.
run --out "$work/bar" --progress bar "$url/images/1.jpg" "$url/images/2.jpg"
expect_ok "--progress bar"
grep -q $'\r\\[#\\{30\\}\\] 2/2 files' <<<"$out" || fail "no full progress bar"
lacks '^Downloading' out

run "$url/a/x.jpg" "$url/b/x.jpg" --out "$work/dup"
expect_failure "two URLs saved under one name"
has 'would both be saved as x\.jpg' err
echo "downloader sample: ok"
