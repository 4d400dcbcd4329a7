#!/usr/bin/env bash
# The seeds' I/O samples at scale: troupe's downloader and fetcher against the seeds' own
# Python programs on the loopback fixture server (bench/io_bench.py; bench/README.md, "I/O").
#
#   bench/io.sh                          # 6, 100 and 1,000 in flight, 3 reps (many minutes)
#   bench/io.sh --in-flight 6 --reps 1   # a quick look
#   bench/io.sh --only downloader
#
# Builds build/io (release; the samples and tests/fixture's fixture_tool only), installs
# python3-requests (which two of the seeds' programs import) when missing, and passes its
# arguments to io_bench.py (see its --help).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/scripts/bootstrap"

if ! python3 -c 'import requests' 2>/dev/null; then
  sudo=()
  if [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1; then sudo=(sudo); fi
  echo "bench/io.sh: installing python3-requests (the seeds' fetcher and image downloader use it)"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends python3-requests >/dev/null ||
    echo "bench/io.sh: could not install python3-requests; seeds 000 and 004 are skipped" >&2
fi

build="$root/build/io"
if [[ ! -f "$build/build.ninja" ]]; then
  meson setup "$build" "$root" --buildtype=release -Dtests=false -Dsamples=true \
    -Dconsumer_test=false >/dev/null
fi
meson compile -C "$build" downloader fetcher fixture_tool >/dev/null

exec python3 "$root/bench/io_bench.py" --build "$build" "$@"
