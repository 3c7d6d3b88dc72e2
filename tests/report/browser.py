"""A real headless Chromium (Debian package `chromium`) for the HTML report tests.

Nothing it does may leave the machine: every request goes through a proxy on a closed
loopback port and every host name fails to resolve, except loopback (the canary server
of the CSP test). Its own background requests (time, sign-in) then fail on loopback; a
request the page makes is told apart by its initiator in the net log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_PATHS = ("chromium", "/usr/bin/chromium", "chromium-browser")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-features=NetworkTimeServiceQuerying,MediaRouter,OptimizationHints",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars",
)
BROWSER_OWN = "not an origin"  # the net log's initiator of the browser's own requests


def chromium() -> str:
    """The browser; a failure, never a skip, on CI (CI=true), where .ci/run installs it."""
    for name in CHROMIUM_PATHS:
        found = shutil.which(name)
        if found:
            return found
    message = "headless Chromium not found (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + ": CI must run the browser tests")
    pytest.skip(message)
    raise AssertionError  # pragma: no cover


def run(
    page: Path, profile: Path, *extra: str, timeout: float = 90
) -> subprocess.CompletedProcess[bytes]:
    args = [chromium(), *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()]
    return subprocess.run(args, capture_output=True, timeout=timeout, check=False)


def dump_dom(page: Path, profile: Path, net_log: Path | None = None) -> tuple[str, str]:
    """(the DOM after load, the page's console: CSP violations are logged there)."""
    extra = ["--dump-dom", "--virtual-time-budget=3000", "--enable-logging=stderr", "--v=0"]
    if net_log is not None:
        extra += [f"--log-net-log={net_log}", "--net-log-capture-mode=Everything"]
    done = run(page, profile, *extra)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    console = [
        line for line in done.stderr.decode(errors="replace").splitlines() if ":CONSOLE" in line
    ]
    return done.stdout.decode(), "\n".join(console)


def page_requests(net_log: Path) -> list[str]:
    """The URLs of every request the page (not the browser itself) started."""
    log = json.loads(net_log.read_text())
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params:
            if params.get("initiator") != BROWSER_OWN:
                urls.append(params["url"])
    return urls
