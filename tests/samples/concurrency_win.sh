#!/usr/bin/env bash
# The concurrency win, measured (a benchmark, not a test: meson does not run it).
#
# Runs the fetcher (14 bases, the seed's list) and the downloader (14 images, seed 004's
# count) against the embedded fixture server with 50 ms of injected latency per request,
# sequentially and concurrently, 5 times each, and prints the medians and their ratio.
#
#   tests/samples/concurrency_win.sh [BUILD_DIR]   (default: build/release, else build/dev)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-}
if [[ -z $build ]]; then
  build=$root/build/release
  [[ -x $build/samples/fetcher ]] || build=$root/build/dev
fi
fetcher=$build/samples/fetcher
downloader=$build/samples/downloader
for exe in "$fetcher" "$downloader"; do
  [[ -x $exe ]] || { echo "concurrency_win: $exe is not built" >&2; exit 1; }
done

runs=5
latency=50
bases=eur,gbp,aud,chf,cad,kes,bhd,egp,krw,cop,bbd,djf,hnl,ugx
images=()
for n in $(seq 1 14); do images+=("/images/$n.jpg"); done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

fetch_seq=()
fetch_con=()
fetch_pool=()
down_seq=()
down_con=()
for ((i = 1; i <= runs; i++)); do
  out=$("$fetcher" --bases "$bases" --mode all --workers 4 --latency-ms "$latency" 2>/dev/null)
  fetch_seq+=("$(sed -nE 's/^Total time \(sequential\): ([0-9.]+) s$/\1/p' <<<"$out")")
  fetch_con+=("$(sed -nE 's/^Total time \(concurrent\): ([0-9.]+) s$/\1/p' <<<"$out")")
  fetch_pool+=("$(sed -nE 's/^Total time \(pool\): ([0-9.]+) s$/\1/p' <<<"$out")")

  for mode in seq con; do
    n=1
    [[ $mode == con ]] && n=14
    out=$("$downloader" --out "$work/$mode$i" --max-concurrent "$n" --latency-ms "$latency" \
          --progress lines "${images[@]}" 2>/dev/null)
    secs=$(sed -nE 's/^14 file\(s\), [0-9]+ bytes, ([0-9.]+) s, 0 failure\(s\)$/\1/p' <<<"$out")
    [[ -n $secs ]] || { echo "concurrency_win: the downloader failed:" >&2; echo "$out" >&2; exit 1; }
    if [[ $mode == seq ]]; then down_seq+=("$secs"); else down_con+=("$secs"); fi
  done
  echo "run $i: fetcher ${fetch_seq[-1]} s / ${fetch_con[-1]} s, downloader ${down_seq[-1]} s / ${down_con[-1]} s"
done

report() {  # NAME SEQ_MEDIAN CON_MEDIAN
  awk -v name="$1" -v s="$2" -v c="$3" -v what="$4" \
    'BEGIN { printf "%-11s sequential %6.3f s   %-20s %6.3f s   %5.1fx\n", name, s, what, c, s / c }'
}
echo
echo "medians of $runs runs, $latency ms latency per request, 14 bases / 14 files:"
fs=$(printf '%s\n' "${fetch_seq[@]}" | median)
fc=$(printf '%s\n' "${fetch_con[@]}" | median)
fp=$(printf '%s\n' "${fetch_pool[@]}" | median)
ds=$(printf '%s\n' "${down_seq[@]}" | median)
dc=$(printf '%s\n' "${down_con[@]}" | median)
report fetcher "$fs" "$fc" "concurrent"
report fetcher "$fs" "$fp" "pool of 4"
report downloader "$ds" "$dc" "--max-concurrent 14"
