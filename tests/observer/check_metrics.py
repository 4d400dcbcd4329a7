#!/usr/bin/env python3
"""/metrics read by the Prometheus project's own text parser (python3-prometheus-client):
the names and types troupe promises, counters that never go down between two scrapes, and
a bounded number of per-actor series. observed_app is watched through TROUPE_OBSERVE.

Usage: check_metrics.py OBSERVED_APP
Exit 77 (meson's "skipped") when the parser is not installed.
"""
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from observed import Observed  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    print("SKIPPED: python3-prometheus-client is not installed (scripts/bootstrap installs it)")
    sys.exit(77)

COUNTERS = ["troupe_messages_handled", "troupe_dead_letters", "troupe_spawned",
            "troupe_failures", "troupe_restarts", "troupe_refusals", "troupe_worker_sleeps",
            "troupe_wakeups", "troupe_steals", "troupe_worker_busy_seconds"]
GAUGES = ["troupe_actors", "troupe_workers", "troupe_mailbox_depth", "troupe_mailbox_messages",
          "troupe_timers_pending"]
HISTOGRAMS = ["troupe_ask_latency_seconds"]


def scrape(observed):
    status, text = observed.get("/metrics")
    assert status == 200, f"/metrics answered {status}"
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return families, text


def total(family):
    """The value of a counter family's _total sample (summed over its series)."""
    samples = [s for s in family.samples if s.name.endswith("_total")]
    assert samples, f"{family.name}: no _total sample in {family.samples}"
    return sum(s.value for s in samples)


def series(family):
    """A family's samples by (name, sorted labels): what must not go down in a counter."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for s in family.samples}


def main():
    app = sys.argv[1]
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    with Observed(app) as observed:
        time.sleep(1.0)  # let the producer run a few rounds
        first, text = scrape(observed)
        for name in COUNTERS:
            check(name in first and first[name].type == "counter",
                  f"{name}_total is a counter")
        for name in GAUGES:
            check(name in first and first[name].type == "gauge", f"{name} is a gauge")
        for name in HISTOGRAMS:
            check(name in first and first[name].type == "histogram", f"{name} is a histogram")
        check(all(f"# HELP {n}" in text for n in GAUGES + HISTOGRAMS),
              "every family has a # HELP line")
        busy = [s for s in first["troupe_worker_busy_seconds"].samples if s.name.endswith("_total")]
        check(sorted(s.labels.get("worker") for s in busy) == ["0", "1"],
              f"troupe_worker_busy_seconds_total has one series per worker ({len(busy)})")
        check(first["troupe_timers_pending"].samples[0].value >= 1,
              "the producer's periodic timer is pending")
        buckets = [s for s in first["troupe_ask_latency_seconds"].samples
                   if s.name.endswith("_bucket")]
        values = [s.value for s in buckets]
        check(len(buckets) >= 10 and buckets[-1].labels["le"] == "+Inf" and
              values == sorted(values), "the ask-latency buckets are cumulative, +Inf last")
        depth = first["troupe_mailbox_depth"].samples
        actors = [s.labels.get("actor") for s in depth]
        check("other" in actors, 'troupe_mailbox_depth has an actor="other" series')
        check(len(depth) <= 21, f"troupe_mailbox_depth has at most 20 + 1 series ({len(depth)})")
        check("slow-sink" in actors, "the slow sink's growing mailbox has a series of its own")

        time.sleep(1.5)
        second, _ = scrape(observed)
        for name in COUNTERS + HISTOGRAMS:
            if name in first and name in second:
                a, b = series(first[name]), series(second[name])
                down = [k for k in a if k in b and b[k] < a[k]]
                check(not down and a.keys() <= b.keys(), f"no series of {name} went down {down}")
        count = [s.value for s in second["troupe_ask_latency_seconds"].samples
                 if s.name.endswith("_count")]
        check(count and count[0] > 0, f"the main thread's asks are timed ({count})")
        check(total(second["troupe_worker_busy_seconds"]) > total(first["troupe_worker_busy_seconds"]),
              "the workers' busy time grew")
        check(total(second["troupe_messages_handled"]) > total(first["troupe_messages_handled"]),
              "troupe_messages_handled_total grew while the program ran")
        check(total(second["troupe_failures"]) > 0, "the flaky actor's failures are counted")
        check(total(second["troupe_dead_letters"]) > 0, "dead letters are counted")

    # A library that cannot be found: one clear line on stderr, and the program runs on.
    import subprocess
    import os
    env = dict(os.environ, TROUPE_OBSERVE="127.0.0.1:0", TROUPE_OBSERVER_LIB="/nonexistent/lib.so")
    done = subprocess.run([app, "1"], capture_output=True, env=env, timeout=30)
    lines = [l for l in done.stderr.decode().splitlines() if "TROUPE_OBSERVE" in l]
    check(done.returncode == 0, "without the library the program runs on and exits 0")
    check(len(lines) == 1 and "running unobserved" in lines[0],
          f"without the library one line says so: {lines}")
    # A malformed address: the same.
    env = dict(os.environ, TROUPE_OBSERVE="nowhere")
    done = subprocess.run([app, "1"], capture_output=True, env=env, timeout=30)
    check(done.returncode == 0 and "running unobserved" in done.stderr.decode(),
          "a malformed TROUPE_OBSERVE is reported and the program runs on")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
