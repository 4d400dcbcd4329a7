#!/usr/bin/env python3
"""/metrics read by the Prometheus project's own text parser (python3-prometheus-client):
the names and types troupe promises, counters that never go down between two scrapes, and
a bounded number of per-actor series. observed_app is watched through TROUPE_OBSERVE.

Usage: check_metrics.py OBSERVED_APP [OBSERVED_CLUSTER_APP]
With the second program (a node with peers and an observed ClusterQueue on a nats-server of
its own), the troupe_remote_* and troupe_cluster_queue_* series are checked the same way.
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
    if len(sys.argv) > 2:
        check_cluster(sys.argv[2], check)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


QUEUE_GAUGES = ["items", "waiting", "leases", "redelivered", "dead_letters", "capacity", "up",
                "reading_age_seconds"]
QUEUE_COUNTERS = ["stored", "done", "deliveries", "redeliveries", "puts", "leased",
                  "leased_again", "settled"]


def check_cluster(app, check):
    """The cluster app's node and queue series, read by the same parser."""
    def queue_value(families, name, **labels):
        family = families.get("troupe_cluster_queue_" + name)
        if family is None:
            return None
        want = dict(labels, queue="observed-jobs")
        for s in family.samples:
            if all(s.labels.get(k) == v for k, v in want.items()) and not s.name.endswith("_created"):
                return s.value
        return None

    with Observed(app, seconds=60) as observed:
        # Wait (bounded) until the queue has done work and dead-lettered an item.
        deadline = time.monotonic() + 30
        while True:
            first, text = scrape(observed)
            dead = queue_value(first, "dead_letters")
            if (dead or 0) >= 1 and (queue_value(first, "done") or 0) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        for name in QUEUE_GAUGES:
            family = first.get("troupe_cluster_queue_" + name)
            check(family is not None and family.type == "gauge",
                  f"troupe_cluster_queue_{name} is a gauge")
        for name in QUEUE_COUNTERS:
            family = first.get("troupe_cluster_queue_" + name)
            check(family is not None and family.type == "counter",
                  f"troupe_cluster_queue_{name}_total is a counter")
        check(queue_value(first, "up") == 1, "the queue's JetStream reading succeeded")
        check(queue_value(first, "capacity") == 400, "the queue reports its capacity")
        check((queue_value(first, "items") or 0) > 0, "the queue has items (the producer is ahead)")
        check((queue_value(first, "leases") or 0) >= 1, "leases are pending (two workers hold one each)")
        check((queue_value(first, "dead_letters") or 0) >= 1, "an item that always fails is a dead letter")
        check((queue_value(first, "redeliveries") or 0) >= 1, "redeliveries are counted")
        check((queue_value(first, "settled", outcome="retry") or 0) >= 1,
              "this process's retries are counted by outcome")
        for name in ["heartbeat_period_seconds", "down_after_seconds"]:
            family = first.get("troupe_remote_" + name)
            check(family is not None and family.type == "gauge" and
                  any(s.labels.get("node") == "hub" for s in family.samples),
                  f"troupe_remote_{name} is a gauge of node hub")
        check(first["troupe_remote_heartbeat_period_seconds"].samples[0].value == 0.25
              if "troupe_remote_heartbeat_period_seconds" in first else False,
              "the heartbeat period is 0.25 s")
        peers = {s.labels.get("peer") for s in first.get("troupe_remote_peer_up", []).samples} \
            if "troupe_remote_peer_up" in first else set()
        check({"peer-busy", "peer-stopped", "peer-left"} <= peers, f"every peer has series ({peers})")
        time.sleep(1.5)
        second, _ = scrape(observed)
        for name in QUEUE_COUNTERS + ["remote_sent", "remote_received"]:
            full = name if name.startswith("remote_") else "cluster_queue_" + name
            full = "troupe_" + full
            if full in first and full in second:
                a, b = series(first[full]), series(second[full])
                down = [k for k in a if k in b and b[k] < a[k]]
                check(not down, f"no series of {full} went down {down}")
        check((queue_value(second, "done") or 0) > (queue_value(first, "done") or 0),
              "the cluster's done count grew between two scrapes")


if __name__ == "__main__":
    sys.exit(main())
