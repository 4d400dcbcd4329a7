"""observed.py - running observed_app under TROUPE_OBSERVE for the observer's tests.

Starts the program with TROUPE_OBSERVE=127.0.0.1:0 (any free port), reads the URL the
observer prints on stderr, and fetches from it with the standard library only.
"""
import os
import re
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


class Observed:
    """observed_app running with an observer; a context manager that ends it."""

    def __init__(self, app, seconds=60, env=None):
        self.log = tempfile.TemporaryFile()
        run_env = dict(os.environ)
        run_env["TROUPE_OBSERVE"] = "127.0.0.1:0"
        run_env.update(env or {})
        self.proc = subprocess.Popen([app, str(seconds)], stderr=self.log, env=run_env)
        self.url = self._wait_for_url()

    def _wait_for_url(self, limit=15.0):
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            text = self.stderr()
            found = re.search(r"observing this system at (http://[^/\s]+)/", text)
            if found:
                return found.group(1)
            if self.proc.poll() is not None:
                raise RuntimeError("observed_app ended before serving: " + text)
            time.sleep(0.05)
        raise RuntimeError("no 'observing ... at http://' line on stderr: " + self.stderr())

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def get(self, path, headers=None):
        """(status, body) of GET path."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
