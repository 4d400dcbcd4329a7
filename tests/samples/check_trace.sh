#!/usr/bin/env bash
# The downloader run with TROUPE_TRACE writes a Chrome trace that parses as JSON, with a
# slice per actor turn on each thread's track and send-to-handle arrows.
set -euo pipefail
downloader=${1:?usage: check_trace.sh <downloader>}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
TROUPE_TRACE="$work/trace.json" "$downloader" --out "$work/out" --max-concurrent 3 \
  /rfc/rfc793.txt /images/1.jpg /images/2.jpg /images/3.jpg >"$work/stdout" 2>"$work/stderr" || {
  echo "trace check: the downloader failed"; cat "$work/stderr"; exit 1; }
python3 - "$work/trace.json" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    trace = json.load(f)  # raises on anything that is not valid JSON
events = trace["traceEvents"]
slices = [e for e in events if e["ph"] == "X"]
names = {e["name"] for e in slices}
threads = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
flows = {e["ph"] for e in events if e["ph"] in ("s", "f")}
problems = []
if not slices: problems.append("no actor turns")
if not all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices): problems.append("negative times")
if len(threads) < 2: problems.append("fewer than two thread tracks")
if flows != {"s", "f"}: problems.append("no send arrows")
if problems:
    print("trace check:", ", ".join(problems)); sys.exit(1)
print(f"trace check: ok ({len(events)} events, {len(slices)} turns, {len(names)} actors, "
      f"{len(threads)} threads)")
PY
