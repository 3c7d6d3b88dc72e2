"""Render an HTML report to a PNG (and optionally a PDF) in headless Chromium, offline.

    python tools/report_screenshot.py report.html docs/report.png [--pdf report.pdf]

The browser gets no network: a proxy on a closed loopback port and no name resolution
(the same flags as tests/report/browser.py). Needs the Debian package `chromium`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--proxy-server=http://127.0.0.1:9",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--hide-scrollbars",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--pdf", type=Path)
    parser.add_argument("--size", default="1200,1700", help="window WIDTH,HEIGHT")
    args = parser.parse_args()
    browser = shutil.which("chromium")
    if browser is None:
        print("error: chromium not found (apt-get install -y chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as profile:
        base = [browser, *FLAGS, f"--user-data-dir={profile}"]
        page = args.html.resolve().as_uri()
        shots = [[f"--screenshot={args.png.resolve()}", f"--window-size={args.size}"]]
        if args.pdf is not None:
            shots.append([f"--print-to-pdf={args.pdf.resolve()}", "--no-pdf-header-footer"])
        for extra in shots:
            done = subprocess.run([*base, *extra, page], capture_output=True, timeout=120)
            if done.returncode != 0:
                print(done.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
                return 1
    print(f"wrote {args.png}" + (f" and {args.pdf}" if args.pdf else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
