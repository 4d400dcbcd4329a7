#!/usr/bin/env python3
"""The live page in a real browser: headless Chromium loads `/` from observed_app (watched
through TROUPE_OBSERVE), lets the page poll for a few seconds, and the DOM is checked: the
program's actors are listed, the counters moved between two loads, nothing says "no answer".
A screenshot is saved as a test artifact for a person to look at.

With OBSERVED_CLUSTER_APP (a node with three peers, one SIGSTOPped, one gone, and an observed
ClusterQueue), the cluster panel is checked too: the busy peer up with traffic both ways
drawn, the stopped one "suspected", the one that left "down", the queue's depth, leases, redeliveries and dead letters;
a second screenshot (observer-cluster.png) shows it.

Usage: check_page.py OBSERVED_APP ARTIFACT_DIR [OBSERVED_CLUSTER_APP]
Exit 77 (meson's "skipped") when Chromium is not installed.
"""
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from observed import Observed  # noqa: E402

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium(url, *extra, budget_ms=4000):
    """Runs headless Chromium on url for budget_ms of virtual time; returns its stdout."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [BROWSER, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
               *extra, url]
        done = subprocess.run(cmd, capture_output=True, timeout=90)
        if done.returncode != 0:
            raise RuntimeError("chromium failed: " + done.stderr.decode(errors="replace")[-2000:])
        return done.stdout.decode(errors="replace")


def card(dom, key):
    found = re.search(r'<div class="k">' + re.escape(key) + r'</div><div class="v">([^<]*)</div>', dom)
    return html.unescape(found.group(1)) if found else None


def check_cluster(app, artifacts, check):
    with Observed(app, seconds=120) as observed:
        # Bounded wait until the queue has a dead letter: then every card has a value.
        import json
        import time
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            status, body = observed.get("/actors.json?limit=1")
            queues = json.loads(body)["cluster"]["queues"] if status == 200 else []
            if queues and queues[0].get("dead_letters", 0) >= 1 and queues[0].get("done", 0) > 0:
                break
            time.sleep(0.5)
        dom = chromium(observed.url + "/", "--dump-dom")
        shot = os.path.join(artifacts, "observer-cluster.png")
        chromium(observed.url + "/", f"--screenshot={shot}", "--window-size=1400,2600",
                 budget_ms=6000)
    box = re.search(r'<section class="wide" id="clusterbox"(.*?)</section>', dom, re.S)
    check(box is not None and "hidden" not in box.group(0)[:60], "the cluster panel is shown")
    box = box.group(1) if box else ""
    rows = {m.group(1): m.group(2) for m in
            re.finditer(r'<td class="name"[^>]*>([^<]+)</td>\s*<td><span class="pill (\w+)"', box)}
    check(rows.get("peer-busy") == "up", f"peer-busy is up ({rows})")
    check(rows.get("peer-stopped") == "suspected", f"the SIGSTOPped peer is suspected ({rows})")
    check(rows.get("peer-left") == "down", f"the peer that left is down ({rows})")
    traffic = re.search(r'id="traffic">(.*?)</div>\s*<div id="cluster"', box, re.S)
    traffic = traffic.group(1) if traffic else ""
    check(traffic.count('class="sent"') == 3 and traffic.count('class="received"') == 3,
          "the traffic drawing has a line each way for each peer")
    busy_rates = re.findall(r'class="rate"[^>]*>([^<]*)/s', traffic)
    check(any(r.strip(" →←") not in ("0", "") for r in busy_rates),
          f"a traffic rate above zero is written beside the lines ({busy_rates})")
    check("queue observed-jobs" in box, "the queue observed-jobs has its block")
    for key in ["items (depth)", "leases pending", "redelivered", "dead letters", "done"]:
        value = card(box, key)
        check(value not in (None, "–"), f"the queue's card '{key}' has a value ({value})")
    check(card(box, "dead letters") not in (None, "0", "–"), "the queue's dead letter is counted")
    check(os.path.getsize(shot) > 10_000, f"a screenshot was saved: {shot}")


def main():
    if BROWSER is None:
        print("SKIPPED: chromium is not installed (scripts/bootstrap installs it)")
        return 77
    app, artifacts = sys.argv[1], sys.argv[2]
    os.makedirs(artifacts, exist_ok=True)
    failures = []

    def check(ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            failures.append(what)

    with Observed(app, seconds=120) as observed:
        first = chromium(observed.url + "/", "--dump-dom")
        second = chromium(observed.url + "/", "--dump-dom")
        shot = os.path.join(artifacts, "observer-page.png")
        chromium(observed.url + "/", f"--screenshot={shot}", "--window-size=1400,1800",
                 budget_ms=6000)

    tbody = re.search(r"<tbody>(.*?)</tbody>\s*</table>\s*</section>\s*<footer", second, re.S)
    table = tbody.group(1) if tbody else ""
    for name in ["producer", "worker-1", "worker-4", "slow-sink", "flaky", "supervisor",
                 "supervisor/child-1"]:
        check(f">{name}<" in table, f"the actor table lists {name}")
    check('class="dot"' in second, "the page shows itself live (green dot)")
    check('id="livetext">live' in second, "no request failed")
    check("growing" in table, "the slow sink's growing mailbox is highlighted")
    m1, m2 = card(first, "messages"), card(second, "messages")
    check(m1 is not None and m2 is not None and m1 != m2,
          f"the messages counter moved between two loads ({m1} -> {m2})")
    check("<polyline" in second, "the charts are drawn")
    check("supervisor/child-" in re.search(r'id="tree">(.*?)</section>', second, re.S).group(1)
          or "3 children" in second, "the supervision tree shows the supervisor's children")
    graph = re.search(r'id="graph">(.*?)</section>', second, re.S)
    graph = graph.group(1) if graph else ""
    check('class="edge"' in graph and ">producer<" in graph and ">worker-1<" in graph,
          "the who-sends-to-whom graph draws the producer's sends to the workers")
    workers = re.search(r'id="workers">(.*?)</section>', second, re.S)
    check(workers is not None and "worker 0" in workers.group(1) and "worker 1" in workers.group(1),
          "the workers' utilisation is shown per worker")
    check(card(second, "busy") is not None and card(second, "timers") == "1",
          "the cards show worker busy time and the producer's pending timer")
    check(os.path.getsize(shot) > 10_000, f"a screenshot was saved: {shot}")
    if len(sys.argv) > 3:
        check_cluster(sys.argv[3], artifacts, check)
    if failures:
        print(f"{len(failures)} check(s) failed; DOM of the second load follows")
        print(second[:20000])
        return 1
    print("all checks passed; screenshot:", shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
