#!/usr/bin/env python3
"""bench/savina/run.py - the Savina workloads on troupe, CAF, Go, Erlang and Tokio, alternately.

Builds the Go, Erlang and Tokio programs into the build directory when missing or older
than their sources, then for every workload runs each peer once per repetition (the order
of the peers rotates from one repetition to the next), each run a fresh process at the
given worker count, and prints the medians and the ratio best peer / troupe. Any wrong
result or failed run makes the exit status non-zero. Python 3 standard library only.

    bench/savina/run.py --build build/bench --reps 5 --scale 1 --workers 2
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ["counting", "chameneos", "big", "concdict", "philosophers", "barber",
             "bndbuffer", "banking"]
PEERS = ["troupe", "CAF", "Go", "Erlang", "Tokio"]


def stale(target, source):
    return not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(source)


def build_peers(out):
    """Builds savina-go and savina.beam into `out`; returns which peers can run."""
    os.makedirs(out, exist_ok=True)
    have = {}
    go_src = os.path.join(HERE, "savina.go")
    go_bin = os.path.join(out, "savina-go")
    if shutil.which("go"):
        if stale(go_bin, go_src):
            env = dict(os.environ, GO111MODULE="off", GOCACHE=os.path.join(out, "go-cache"))
            subprocess.run(["go", "build", "-o", go_bin, go_src], check=True, env=env)
        have["Go"] = True
    erl_src = os.path.join(HERE, "savina.erl")
    if shutil.which("erlc") and shutil.which("erl"):
        if stale(os.path.join(out, "savina.beam"), erl_src):
            subprocess.run(["erlc", "-o", out, erl_src], check=True)
        have["Erlang"] = True
    tokio = os.path.join(HERE, "tokio")
    tokio_bin = os.path.join(out, "tokio-target", "release", "savina-tokio")
    if shutil.which("cargo") and os.path.isdir("/usr/share/cargo/registry/tokio-1.24.2"):
        sources = [os.path.join(tokio, "Cargo.toml"), os.path.join(tokio, "src", "main.rs")]
        if any(stale(tokio_bin, src) for src in sources):
            # Offline, from Debian's vendored crates: tokio/.cargo/config.toml, read from
            # the working directory, replaces crates.io with /usr/share/cargo/registry.
            env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(out, "tokio-target"))
            subprocess.run(["cargo", "build", "--release", "--offline", "-q"], check=True,
                           cwd=tokio, env=env)
        have["Tokio"] = True
    return have


def command(peer, build, out, workload, scale, workers):
    exe = os.path.join(build, "bench", "savina")
    if peer == "troupe":
        return [os.path.join(exe, "savina-troupe"), workload, str(scale), str(workers)], None
    if peer == "CAF":
        return [os.path.join(exe, "savina-caf"), workload, str(scale), str(workers)], None
    if peer == "Go":
        return [os.path.join(out, "savina-go"), workload, str(scale)], \
            dict(os.environ, GOMAXPROCS=str(workers))
    if peer == "Tokio":
        return [os.path.join(out, "tokio-target", "release", "savina-tokio"), workload,
                str(scale), str(workers)], None
    return ["erl", "+S", str(workers), "-noshell", "-pa", out, "-s", "savina", "main",
            workload, str(scale)], None


def run_once(cmd, env, timeout):
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, "timed out"
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()[-300:]
    try:
        return float(p.stdout.split()[-1]), None
    except (ValueError, IndexError):
        return None, "no time printed: " + p.stdout[-200:]


def fmt(ms):
    return "n/a" if ms is None else f"{ms:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default="build/bench", help="meson build directory")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default="", help="comma-separated workloads")
    ap.add_argument("--peers", default=",".join(PEERS), help="comma-separated peers")
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()

    out = os.path.abspath(os.path.join(args.build, "bench", "savina", "peers"))
    have = build_peers(out)
    have["troupe"] = os.path.exists(os.path.join(args.build, "bench", "savina", "savina-troupe"))
    have["CAF"] = os.path.exists(os.path.join(args.build, "bench", "savina", "savina-caf"))
    peers = [p for p in args.peers.split(",") if p and have.get(p)]
    workloads = [w for w in (args.only.split(",") if args.only else WORKLOADS) if w]

    failed = False
    rows = []
    for w in workloads:
        times = {p: [] for p in peers}
        for rep in range(args.reps):
            order = peers[rep % len(peers):] + peers[:rep % len(peers)]
            for p in order:
                cmd, env = command(p, args.build, out, w, args.scale, args.workers)
                ms, err = run_once(cmd, env, args.timeout)
                if ms is None:
                    failed = True
                    print(f"{w} on {p}: FAILED: {err}", file=sys.stderr)
                else:
                    times[p].append(ms)
                print(f"{w} rep {rep + 1} {p}: {fmt(ms)} ms", file=sys.stderr)
        med = {p: statistics.median(times[p]) if times[p] else None for p in PEERS if p in times}
        others = {p: m for p, m in med.items() if p != "troupe" and m is not None}
        best = min(others, key=others.get) if others else None
        ratio = others[best] / med["troupe"] if best and med.get("troupe") else None
        rows.append((w, med, best, ratio))

    print(f"Savina, {args.workers} workers, scale {args.scale}, medians of {args.reps} reps (ms)")
    print("| workload | " + " | ".join(PEERS) + " | best peer | best peer / troupe |")
    print("|---|" + "---:|" * len(PEERS) + "---|---:|")
    for w, med, best, ratio in rows:
        cells = [fmt(med.get(p)) for p in PEERS]
        print(f"| {w} | " + " | ".join(cells) + f" | {best or 'n/a'} | "
              + ("n/a" if ratio is None else f"{ratio:.2f}") + " |")
    ratios = [r for *_, r in rows if r is not None]
    if ratios:
        print(f"median ratio best peer / troupe over {len(ratios)} workloads: "
              f"{statistics.median(ratios):.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
