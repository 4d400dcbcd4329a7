#!/usr/bin/env python3
"""bench/scaling.py - every workload at 1 and 2 workers (or any list), and the issue-14
peers (Python's queue.Queue and threading, Go's channels) in the same run.

    bench/scaling.py --bench build/bench/bench/troupe-bench [--reps 5] [--scale 0.3]
                     [--workers 1,2] [--only wq11_64,askco] [--no-caf] [--no-peers]
    bench/scaling.py --bench before=/tmp/old/troupe-bench --bench after=build/bench/bench/troupe-bench

With several --bench LABEL=PATH (each with its libtroupe*.so beside it or in its build
tree), the troupe columns repeat per build, and the builds alternate too: a before/after
comparison in one run. CAF and the peers run once per repetition, with the first build.

For every repetition and workload the worker counts run in alternating order (1 then 2,
then 2 then 1), each one `troupe-bench --only W --workers N --reps 1` (troupe, then CAF
where CAF has the workload; the two alternate inside troupe-bench). The Python peer runs once
per repetition (its threads are the OS's; no worker count applies); the Go peer once per
worker count with GOMAXPROCS=N. Each is a fresh process. The table shows medians, the
2-worker/1-worker ratio of troupe (goal <= 1.1), CAF/troupe, Python/troupe and troupe/Go at
the largest worker count, and the load average before and after.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUITE = ["pingpong", "fanin", "ring", "skynet", "spawn", "ask", "fjthrput", "floor"]
QUEUES = ["wq11_64", "wq11_inf", "wq44_64", "wq44_inf", "semaphore", "event", "askco"]
PY_PEER = {"wq11_64", "wq11_inf", "wq44_64", "wq44_inf", "semaphore", "event"}
GO_PEER = set(QUEUES)
# Sizes at --scale 1 (bench/harness.hpp): the peers run the same sizes.
SIZES = {w: 200_000 for w in QUEUES}


def load():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_troupe(bench, workload, workers, scale, caf):
    env = dict(os.environ)
    libdir = os.path.dirname(os.path.abspath(bench))
    if any(f.startswith("libtroupe") for f in os.listdir(libdir)):  # a copied build
        env["LD_LIBRARY_PATH"] = libdir
    with tempfile.NamedTemporaryFile(suffix=".json") as tmp:
        cmd = [bench, "--only", workload, "--workers", str(workers), "--reps", "1",
               "--scale", str(scale), "--json", tmp.name]
        if not caf:
            cmd += ["--peer", "troupe"]
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           env=env)
        if r.returncode != 0:
            sys.stderr.write(r.stderr)
            return []
        return json.load(open(tmp.name))


def run_peer(cmd, env=None):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.stderr.write(f"peer failed: {' '.join(cmd)}\n{r.stderr}")
        return None
    return float(r.stdout.strip())


def build_go(out_dir):
    exe = os.path.join(out_dir, "queue-peer")
    src = os.path.join(HERE, "peers", "queue_peer.go")
    env = dict(os.environ, GOCACHE=os.path.join(out_dir, "gocache"), GO111MODULE="off")
    try:
        r = subprocess.run(["go", "build", "-o", exe, src], capture_output=True, text=True, env=env)
    except FileNotFoundError:
        sys.stderr.write("scaling.py: no go in PATH (apt-get install golang-go); no Go column\n")
        return None
    if r.returncode != 0:
        sys.stderr.write("scaling.py: go build failed; no Go column\n" + r.stderr)
        return None
    return exe


def fmt(v):
    if v is None:
        return "n/a"
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 100 else f"{v:.2f}" if a >= 10 else f"{v:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", action="append",
                    help="PATH or LABEL=PATH; repeat to compare builds (default build/bench)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--only", default="")
    ap.add_argument("--no-caf", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    a = ap.parse_args()
    benches = []
    for b in a.bench or [os.path.join(HERE, "..", "build", "bench", "bench", "troupe-bench")]:
        label, _, path = b.rpartition("=")
        benches.append((label or "troupe", path))
    workers = [int(x) for x in a.workers.split(",")]
    todo = [w for w in (a.only.split(",") if a.only else SUITE + QUEUES) if w]
    tmpdir = tempfile.mkdtemp(prefix="troupe-scaling-")
    go = None if a.no_peers else build_go(tmpdir)
    # samples[(row, peer, workers)] -> list
    samples = {}
    units = {}
    order = []

    def add(row, peer, w, v):
        if v is None:
            return
        samples.setdefault((row, peer, w), []).append(v)

    load0 = load()
    for rep in range(a.reps):
        for workload in todo:
            ws = workers if rep % 2 == 0 else list(reversed(workers))
            bs = benches if rep % 2 == 0 else list(reversed(benches))
            for w in ws:
                for label, path in bs:
                    first = label == benches[0][0]
                    for obj in run_troupe(path, workload, w, a.scale, first and not a.no_caf):
                        row = obj["workload"]
                        if row not in units:
                            units[row] = obj["unit"]
                            order.append((row, workload))
                        add(row, label, w, obj["troupe"])
                        if first:
                            add(row, "CAF", w, obj["caf"])
                if go and workload in GO_PEER:
                    n = max(1, int(SIZES[workload] * a.scale))
                    add(workload, "Go", w, run_peer([go, workload, str(n)],
                                                    dict(os.environ, GOMAXPROCS=str(w))))
            if not a.no_peers and workload in PY_PEER:
                n = max(4, int(SIZES[workload] * a.scale))
                add(workload, "Python", 0, run_peer([sys.executable, os.path.join(HERE, "peers", "queue_peer.py"), workload, str(n)]))
        sys.stderr.write(f"scaling.py: rep {rep + 1}/{a.reps} done (load {load():.2f})\n")
    load1 = load()

    def med(row, peer, w):
        v = samples.get((row, peer, w))
        return statistics.median(v) if v else None

    wmax, wmin = max(workers), min(workers)
    print(f"\ntroupe at {', '.join(map(str, workers))} workers, scale {a.scale}, medians of {a.reps} reps "
          f"(worker counts alternating); load average {load0:.2f} before, {load1:.2f} after; {os.cpu_count()} CPUs")
    last = benches[-1][0]  # the ratios are the last build's
    cols = []
    for label, _ in benches:
        cols += [f"{label} {w}w"[-11:] for w in workers] + [f"{wmax}w/{wmin}w"]
    cols += [f"CAF {wmax}w", "CAF/tr", "Python", "Py/tr", f"Go {wmax}w", "tr/Go"]
    print(f"{'workload':<12} {'unit':<11}" + "".join(f"{c:>11}" for c in cols))
    for row, workload in order:
        vals = []
        for label, _ in benches:
            t = [med(row, label, w) for w in workers]
            tmax, tmin = med(row, label, wmax), med(row, label, wmin)
            vals += t + [tmax / tmin if tmax and tmin else None]
        tmax = med(row, last, wmax)
        caf = med(row, "CAF", wmax)
        py = med(row, "Python", 0)
        gov = med(row, "Go", wmax)
        vals += [caf, caf / tmax if caf and tmax else None, py,
                 py / tmax if py and tmax else None, gov, tmax / gov if gov and tmax else None]
        print(f"{row:<12} {units[row]:<11}" + "".join(f"{fmt(v):>11}" for v in vals))
    print(f"\nRatios against peers use '{last}' at {wmax} workers. Nx/1w: troupe's time at the most workers over its time at 1 (goal <= 1.1; for spawn_bytes, "
          "ask and skynet lower is better too). CAF/tr and Py/tr above 1: troupe faster; tr/Go: "
          "troupe's time over Go's (goal <= 3 for the work queues).")


if __name__ == "__main__":
    main()
