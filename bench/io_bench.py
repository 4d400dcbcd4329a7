#!/usr/bin/env python3
"""The seeds' I/O samples at scale: troupe's downloader and fetcher against the seeds' own
Python programs, on the loopback fixture server, in one run. Started by bench/io.sh, which
builds the programs; see bench/README.md ("I/O: the seeds' samples at scale").

Two fixture servers run for the whole benchmark (`fixture_tool serve`, each its own process
on 127.0.0.1): one answers every request after 50 ms (--latency), one at once. Every program
is a fresh process, timed from start to exit by this script; each peer meets the same server
in the same repetition, peers alternate their order between repetitions, and the table shows
medians.

The Python programs are the seeds' code blocks, cut out of /work/shared/seeds/*.txt (or
--seeds) at run time and run unchanged except for what points them at the loopback server
and sizes them: their URL lists, their thread or permit counts.
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

# -- the seeds' programs -------------------------------------------------------------------------


def seed_text(seeds, prefix):
    for name in sorted(os.listdir(seeds)):
        if name.startswith(prefix) and name.endswith(".txt"):
            with open(os.path.join(seeds, name), encoding="utf-8") as f:
                return f.read()
    raise SystemExit(f"io_bench: no seed {prefix}_*.txt in {seeds}")


def cut(text, start, end, what):
    """The text from the line holding `start` through the line holding `end`."""
    i = text.find(start)
    j = text.find(end, i)
    if i < 0 or j < 0:
        raise SystemExit(f"io_bench: the seed's {what} was not found (looked for {start!r})")
    i = text.rfind("\n", 0, i) + 1
    j = text.find("\n", j)
    return text[i : j if j >= 0 else len(text)] + "\n"


def replace(code, old, new, what):
    if old not in code:
        raise SystemExit(f"io_bench: cannot point the seed's {what} at the server ({old!r})")
    return code.replace(old, new)


def seed_semaphore_downloader(seeds, base, count, in_flight):
    """Seed 002, "Semaphore": a thread per URL, `with semaphore:` around urllib's urlopen."""
    code = cut(seed_text(seeds, "002"), "from threading import Semaphore, Thread",
               "    main()", "Semaphore downloader")
    code = replace(code, "MAX_CONCURRENT_DOWNLOADS = 3", f"MAX_CONCURRENT_DOWNLOADS = {in_flight}",
                   "Semaphore downloader")
    urls = re.search(r"    urls = \[\n(?:        '[^']*',\n)+    \]\n", code)
    if not urls:
        raise SystemExit("io_bench: the seed's Semaphore downloader has no URL list")
    ours = f"    urls = [{base!r} + f'/images/{{n}}.jpg' for n in range(1, {count + 1})]\n"
    return code[: urls.start()] + ours + code[urls.end():]


def seed_queue_downloader(seeds, base, count, in_flight):
    """Seed 004, "Download Images Using Multithreading": N threads, a Queue of links,
    requests.Session, each image written to a file in the current folder."""
    code = cut(seed_text(seeds, "004"), "# Download Images Using Multithreading",
               "print(f'images downloaded in:", "image downloader")
    code = re.sub(r"image_names = \[[^\]]*\]", f"image_names = [str(n) for n in range(1, {count + 1})]",
                  code)
    code = replace(code, "f'https://homepages.cae.wisc.edu/~ece533/images/{name}.png'",
                   f"{base!r} + f'/images/{{name}}.jpg'", "image downloader")
    code = replace(code, "for i in range(6):", f"for i in range({in_flight}):", "image downloader")
    code = code.replace("    print(t.name, 'has joined')\n", "    print(t.name, 'has joined')\n")
    return "import os, queue, threading, time, requests\n" + code


def seed_pool_fetcher(seeds, base, bases, in_flight):
    """Seed 000, "Thread Pool": THREAD_POOL_SIZE threads share a Queue of bases, each
    fetching floatrates' JSON with requests and printing a line of rates."""
    text = seed_text(seeds, "000")
    fetch = cut(text, "def fetch_rate(bases,", "    print(f\"{base} = {rates_line}\")",
                "fetch_rate")
    fetch = replace(fetch, '"http://www.floatrates.com/daily/"', repr(base + "/daily/"),
                    "fetch_rate")
    pool = cut(text, "from queue import Queue, Empty", "        threads.pop().join",
               "threaded_pool")
    run = cut(text, "THREAD_POOL_SIZE = 4", "print(\"Number of Threads after running",
              "thread pool run")
    run = replace(run, "THREAD_POOL_SIZE = 4", f"THREAD_POOL_SIZE = {in_flight}", "thread pool run")
    # The one change beyond URLs and sizes: the seed builds its list of THREAD_POOL_SIZE
    # threads inside the loop that fills the queue (an indentation slip; only the last list
    # is started). Unchanged, 10,000 bases at 1,000 threads would construct ten million
    # Thread objects before the first request; dedented, it builds the one list it starts.
    slip = re.search(r"\n        threads = \[\n(            .*\n)+        \]\n", pool)
    if not slip:
        raise SystemExit("io_bench: the seed's threaded_pool has changed shape")
    pool = (pool[: slip.start()] + "\n" +
            "\n".join(line[4:] for line in slip.group(0)[1:].split("\n")) + pool[slip.end():])
    setup = (f"rates = ['eur','jpy','usd','rub','cad']\nbases = {bases!r}\n"
             "base = bases[-1]  # the notebook's earlier cells leave `base` set\n")
    return ("import threading, requests, json, time\n" + fetch + pool + setup + run)


# -- running things ------------------------------------------------------------------------------


class Servers:
    """Two `fixture_tool serve` processes: one with 50 ms latency on every route, one without."""

    def __init__(self, tool, latency_ms):
        self.procs = {}
        self.urls = {}
        for name, args in (("latency", ["--latency", f"/={latency_ms}"]), ("none", [])):
            p = subprocess.Popen([tool, "serve", *args], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
            line = p.stdout.readline().strip()
            if not line.startswith("http://127.0.0.1:"):
                raise SystemExit(f"io_bench: fixture_tool serve said {line!r}")
            self.procs[name] = p
            self.urls[name] = line

    def close(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def hold_check(tool, fetcher, requests_at_once, latency_ms, cwd, timeout):
    """The server's own count of requests waiting at once when troupe's fetcher sends
    `requests_at_once` requests together (an actor per request) to a server that holds each
    for `latency_ms`. Returns (seconds, max in flight, requests seen)."""
    p = subprocess.Popen([tool, "serve", "--latency", f"/={latency_ms}"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    try:
        base = p.stdout.readline().strip()
        bases = ",".join(["usd"] * requests_at_once)
        seconds = timed([fetcher, "--mode", "concurrent", "--bases", bases, "--base-url",
                         base + "/daily/", "--timeout-ms", "600000"], cwd, timeout)
    finally:
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=60)[0]
    held = int(re.search(r"max in flight: (\d+)", out).group(1))
    seen = int(re.search(r"requests: (\d+)", out).group(1))
    return seconds, held, seen


def timed(cmd, cwd, timeout, stdin=None):
    """Runs cmd, returns its wall time in seconds; raises if it fails or times out."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, input=stdin)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {r.returncode}: {r.stderr.strip()[-400:]}")
    return seconds


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(here, "..", "build", "io"),
                    help="a build with samples (release): downloader, fetcher, fixture_tool")
    ap.add_argument("--seeds", default="/work/shared/seeds", help="the seeds' folder")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--in-flight", default="6,100,1000", help="comma-separated")
    ap.add_argument("--rounds", type=int, default=10,
                    help="requests per run = rounds x in flight (10: 10,000 at 1,000)")
    ap.add_argument("--scratch", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where downloads go (a tmpfs keeps the disk out of the figures)")
    ap.add_argument("--only", default="downloader,fetcher")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--hold", type=int, default=10000,
                    help="requests the server must hold at once (0: skip that check)")
    ap.add_argument("--hold-latency-ms", type=int, default=30000,
                    help="how long the server holds each of them (long enough for the client "
                         "to open them all first)")
    args = ap.parse_args()

    build = os.path.abspath(args.build)
    downloader = os.path.join(build, "samples", "downloader")
    fetcher = os.path.join(build, "samples", "fetcher")
    tool = os.path.join(build, "tests", "fixture", "fixture_tool")
    for exe in (downloader, fetcher, tool):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"io_bench: {exe} is missing (bench/io.sh builds it)")
    try:
        import requests  # noqa: F401  (the seeds' downloader 004 and fetcher 000 use it)
        have_requests = True
    except ImportError:
        have_requests = False
        print("io_bench: python3-requests missing: seeds 000 and 004 are skipped", file=sys.stderr)

    levels = [int(x) for x in args.in_flight.split(",")]
    only = set(args.only.split(","))
    servers = Servers(tool, args.latency_ms)
    scratch = tempfile.mkdtemp(prefix="troupe-io-", dir=args.scratch)
    results = {}  # (workload, peer, n, server) -> [seconds]
    currencies = ["aud", "bbd", "bhd", "cad", "chf", "cop", "djf", "egp", "eur", "gbp", "hnl",
                  "jpy", "kes", "krw", "rub", "ugx", "usd"]

    def record(key, seconds):
        results.setdefault(key, []).append(seconds)

    def fresh(name):
        path = os.path.join(scratch, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        return path

    hold = None
    try:
        load0 = os.getloadavg()[0]
        if args.hold > 0:
            print(f"hold: {args.hold} requests at once, {args.hold_latency_ms} ms latency ...",
                  end=" ", file=sys.stderr, flush=True)
            try:
                hold = hold_check(tool, fetcher, args.hold, args.hold_latency_ms, scratch,
                                  args.timeout)
                print(f"{hold[0]:.3f} s, max in flight {hold[1]}", file=sys.stderr, flush=True)
            except Exception as e:
                print(f"FAILED: {e}", file=sys.stderr, flush=True)
                hold = (float("nan"), 0, 0)
        # Warm-up, untimed: each server generates (and caches, up to its budget) the images
        # once, and the page cache and allocators settle, before any run counts.
        if "downloader" in only:
            count = args.rounds * max(levels)
            urls = os.path.join(scratch, "urls-warm.txt")
            with open(urls, "w") as f:
                f.writelines(f"/images/{i}.jpg\n" for i in range(1, count + 1))
            for server in ("none", "latency"):
                print(f"warm-up: {server} ...", end=" ", file=sys.stderr, flush=True)
                s = timed([downloader, "--from", urls, "--base-url", servers.urls[server],
                           "--max-concurrent", str(min(max(levels), 1000)), "--out",
                           fresh("troupe"), "--progress", "lines"], scratch, args.timeout)
                print(f"{s:.3f} s", file=sys.stderr, flush=True)
                shutil.rmtree(os.path.join(scratch, "troupe"), ignore_errors=True)
        for rep in range(args.reps):
            for n in levels:
                count = args.rounds * n
                urls = os.path.join(scratch, f"urls-{count}.txt")
                with open(urls, "w") as f:
                    f.writelines(f"/images/{i}.jpg\n" for i in range(1, count + 1))
                bases = [currencies[i % len(currencies)] for i in range(count)]
                runs = []
                if "downloader" in only:
                    for server in ("latency", "none"):
                        base = servers.urls[server]
                        runs.append((("downloader", "troupe", n, server), lambda base=base, n=n: timed(
                            [downloader, "--from", urls, "--base-url", base, "--max-concurrent",
                             str(n), "--out", fresh("troupe"), "--progress", "lines",
                             "--timeout-ms", "600000"], scratch, args.timeout)))
                    base = servers.urls["latency"]
                    code = seed_semaphore_downloader(args.seeds, base, count, n)
                    runs.append((("downloader", "seed 002 (urllib, Semaphore)", n, "latency"),
                                 lambda code=code: timed([sys.executable, "-"], fresh("py002"),
                                                         args.timeout, stdin=code)))
                    if have_requests:
                        code = seed_queue_downloader(args.seeds, base, count, n)
                        runs.append((("downloader", "seed 004 (requests, Queue)", n, "latency"),
                                     lambda code=code: timed([sys.executable, "-"], fresh("py004"),
                                                             args.timeout, stdin=code)))
                if "fetcher" in only:
                    base = servers.urls["latency"]
                    runs.append((("fetcher", "troupe", n, "latency"), lambda base=base, n=n: timed(
                        [fetcher, "--mode", "pool", "--workers", str(n), "--bases", ",".join(bases),
                         "--base-url", base + "/daily/", "--timeout-ms", "600000"], scratch,
                        args.timeout)))
                    if have_requests:
                        code = seed_pool_fetcher(args.seeds, base, bases, n)
                        runs.append((("fetcher", "seed 000 (requests, Queue)", n, "latency"),
                                     lambda code=code: timed([sys.executable, "-"], scratch,
                                                             args.timeout, stdin=code)))
                if rep % 2 == 1:
                    runs.reverse()
                for key, run in runs:
                    print(f"rep {rep + 1}: {key[0]} {key[1]} {key[2]} in flight, "
                          f"{'latency' if key[3] == 'latency' else 'no latency'} ...",
                          end=" ", file=sys.stderr, flush=True)
                    try:
                        s = run()
                        print(f"{s:.3f} s", file=sys.stderr, flush=True)
                    except Exception as e:  # a failed run shows as FAILED, the rest go on
                        s = float("nan")
                        print(f"FAILED: {e}", file=sys.stderr, flush=True)
                    record(key, s)
                    shutil.rmtree(os.path.join(scratch, "troupe"), ignore_errors=True)
                    for d in ("py002", "py004"):
                        shutil.rmtree(os.path.join(scratch, d), ignore_errors=True)
        load1 = os.getloadavg()[0]
    finally:
        servers.close()
        shutil.rmtree(scratch, ignore_errors=True)

    # -- the table ------------------------------------------------------------------------------
    def med(key):
        xs = [x for x in results.get(key, []) if x == x]
        return statistics.median(xs) if len(xs) == len(results.get(key, [])) and xs else None

    def fmt(x):
        return "FAILED" if x is None else f"{x:.3f}"

    print(f"troupe I/O samples vs the seeds' Python, {args.latency_ms} ms latency, "
          f"requests = {args.rounds} x in flight, medians of {args.reps} reps (wall time of "
          f"each process, s)")
    print(f"load average (1 min) {load0:.2f} at the start, {load1:.2f} at the end; "
          f"{os.cpu_count()} CPUs; Python {sys.version.split()[0]}")
    print()
    print(f"{'workload':<11} {'in flight':>9} {'requests':>8}  {'peer':<30} {'time':>8}  "
          f"{'peer/troupe':>11}")
    for workload in ("downloader", "fetcher"):
        if workload not in only:
            continue
        for n in levels:
            troupe_t = med((workload, "troupe", n, "latency"))
            peers = sorted({k[1] for k in results if k[0] == workload and k[2] == n})
            peers.sort(key=lambda p: p != "troupe")
            for peer in peers:
                t = med((workload, peer, n, "latency"))
                ratio = (f"{t / troupe_t:.2f}x" if t and troupe_t and peer != "troupe" else "")
                print(f"{workload:<11} {n:>9} {args.rounds * n:>8}  {peer:<30} {fmt(t):>8}  "
                      f"{ratio:>11}")
    if "downloader" in only:
        print()
        print("downloader against its floor: rounds x latency + the same run without latency")
        print(f"{'in flight':>9} {'requests':>8} {'no latency':>10} {'floor':>8} "
              f"{'latency':>8} {'over floor':>10}  goal")
        for n in levels:
            zero = med(("downloader", "troupe", n, "none"))
            lat = med(("downloader", "troupe", n, "latency"))
            if zero is None or lat is None:
                print(f"{n:>9} {args.rounds * n:>8} {'FAILED':>10}")
                continue
            floor = args.rounds * args.latency_ms / 1000 + zero
            over = lat / floor - 1
            goal = ("<= 15%  " + ("met" if over <= 0.15 else "missed")) if n == 1000 else ""
            print(f"{n:>9} {args.rounds * n:>8} {zero:>10.3f} {floor:>8.3f} {lat:>8.3f} "
                  f"{over * 100:>9.1f}%  {goal}")
    if hold is not None:
        print()
        print(f"the server holding {args.hold} requests at once ({args.hold_latency_ms} ms "
              f"latency each; troupe's "
              f"fetcher, an actor per request): {hold[2]} requests, at most {hold[1]} in "
              f"flight, {hold[0]:.3f} s")
    failed = any(x != x for xs in results.values() for x in xs) or (
        hold is not None and hold[1] < args.hold)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
