#!/usr/bin/env bash
# What watching a system costs: the ping-pong benchmark (troupe only) without an observer,
# with one attached through TROUPE_OBSERVE but never asked, and with one polled as the live
# page polls it (/actors.json once a second) plus a Prometheus scrape (/metrics once a
# second). Rounds alternate between the three, so the host's drift spreads over all of them;
# each round is `troupe-bench --reps 1` (a fresh child process), and the medians are printed.
# With BASE_BUILD_DIR (a build of the runtime before the observer's hooks), each round also
# runs that build's benchmark first ("base"): what the hooks cost a program nobody watches.
#
# Usage: bench/observer_cost.sh BUILD_DIR [ROUNDS] [SCALE] [BASE_BUILD_DIR]
#        (build dirs configured with -Dbench=true; BUILD_DIR also builds troupe-observer)
set -euo pipefail
build=$(realpath "$1")
rounds=${2:-7}
scale=${3:-50}   # 50: some 3 s a run, so the pollers hit it a few times
base=${4:+$(realpath "$4")/bench/troupe-bench}
bench="$build/bench/troupe-bench"
port=9191
[[ -x "$bench" ]] || { echo "no $bench (meson configure -Dbench=true, then build it)" >&2; exit 2; }
[[ -z "$base" || -x "$base" ]] || { echo "no $base" >&2; exit 2; }
modes=(none idle polled)
[[ -n "$base" ]] && modes=(base "${modes[@]}")

run() {  # run MODE -> prints ns/msg of one pingpong run
  local json
  json=$(mktemp)
  case $1 in
    base) "$base" --only pingpong --peer troupe --reps 1 --scale "$scale" --json "$json" >/dev/null 2>&1 ;;
    none) "$bench" --only pingpong --peer troupe --reps 1 --scale "$scale" --json "$json" >/dev/null 2>&1 ;;
    idle) TROUPE_OBSERVE=127.0.0.1:$port "$bench" --only pingpong --peer troupe --reps 1 --scale "$scale" \
            --json "$json" >/dev/null 2>&1 ;;
    polled)
      # One long-lived client on a keep-alive connection, as a browser tab is (a curl
      # process a request would cost this 2-core host more than the observer does).
      python3 - "$port" <<'PY' &
import http.client, sys, time
port = int(sys.argv[1])
conn = None
while True:
    for path in ("/actors.json?sort=depth&order=desc&limit=200", "/metrics"):
        try:
            conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
        except (OSError, http.client.HTTPException):
            conn = None
    time.sleep(1)
PY
      local poller=$!
      TROUPE_OBSERVE=127.0.0.1:$port "$bench" --only pingpong --peer troupe --reps 1 --scale "$scale" \
        --json "$json" >/dev/null 2>&1
      kill "$poller"; wait "$poller" 2>/dev/null || true ;;
  esac
  python3 -c 'import json,sys; print([r for r in json.load(open(sys.argv[1])) if r["workload"] == "pingpong"][0]["troupe"])' "$json"
  rm -f "$json"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A results
for ((i = 0; i < rounds; i++)); do
  for mode in "${modes[@]}"; do
    results[$mode]+="$(run "$mode") "
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
args=()
for mode in "${modes[@]}"; do args+=("$mode=${results[$mode]}"); done
python3 - "${args[@]}" <<'PY'
import statistics, sys
runs = {}
for arg in sys.argv[1:]:
    mode, values = arg.split("=", 1)
    runs[mode] = [float(v) for v in values.split()]
for mode, values in runs.items():
    print(f"{mode:7s} median {statistics.median(values):7.2f} ns/msg  runs: {' '.join(f'{v:.1f}' for v in values)}")
# Each round ran the modes back to back: the ratio within a round cancels most of the
# host's drift between rounds.
for mode, ref in [("none", "base"), ("idle", "none"), ("polled", "none")]:
    if mode in runs and ref in runs:
        ratios = [b / a for a, b in zip(runs[ref], runs[mode])]
        print(f"{mode:7s} / {ref}, median of per-round ratios: {statistics.median(ratios):.3f}")
PY
