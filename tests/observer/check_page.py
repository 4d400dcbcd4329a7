#!/usr/bin/env python3
"""The live page in a real browser: headless Chromium loads `/` from observed_app (watched
through TROUPE_OBSERVE), lets the page poll for a few seconds, and the DOM is checked: the
program's actors are listed, the counters moved between two loads, nothing says "no answer".
A screenshot is saved as a test artifact for a person to look at.

Usage: check_page.py OBSERVED_APP ARTIFACT_DIR
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
    if failures:
        print(f"{len(failures)} check(s) failed; DOM of the second load follows")
        print(second[:20000])
        return 1
    print("all checks passed; screenshot:", shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
