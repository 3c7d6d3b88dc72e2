"""Start-up time of `reconcile`: what the pre-commit hook and every CI step pay first.

Run: ``python benchmarks/startup.py [--runs N]``

Times, as whole processes over N runs each (interleaved, median reported): the floor
``python -c pass`` of the same interpreter, ``reconcile --help``, ``reconcile --version``
and ``reconcile validate`` on the bundled example (demo/), ``--help`` with every command
module imported first (how start-up was before commands loaded lazily), plus the import
time of the CLI entry module reported by ``python -X importtime``. Figures are medians in seconds
and ratios to the floor measured in the same run.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo"
ENTRY = "from reconciler.cli.main import main; main()"
# what start-up cost before commands were imported lazily: every command module first
EAGER = (
    "import importlib; from reconciler.cli.main import COMMANDS, main; "
    "[importlib.import_module(c.module) for c in COMMANDS.values()]; main()"
)


def commands() -> dict[str, list[str]]:
    py = sys.executable
    return {
        "python -c pass (floor)": [py, "-c", "pass"],
        "reconcile --help": [py, "-c", ENTRY, "--help"],
        "--help, every command imported": [py, "-c", EAGER, "--help"],
        "reconcile --version": [py, "-c", ENTRY, "--version"],
        "reconcile validate (demo)": [py, "-c", ENTRY, "validate"],
    }


def wall(argv: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=DEMO, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr[-500:]!r}")
    return elapsed


def import_time() -> float:
    """Seconds to import the CLI entry module, cumulative, from -X importtime."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import reconciler.cli.main"],
        capture_output=True,
        text=True,
        check=True,
    )
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| reconciler\.cli\.main$", line)
        if match:
            return int(match.group(1)) / 1e6
    raise SystemExit("reconciler.cli.main not in the import-time report")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    runs = commands()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for argv in runs.values():
        wall(argv)  # warm the page cache and .pyc files
    for _ in range(args.runs):
        for name, argv in runs.items():  # interleaved, so drift hits all alike
            times[name].append(wall(argv))
    floor = statistics.median(times["python -c pass (floor)"])
    print(f"{args.runs} runs each, interleaved; median wall seconds; ratio to the floor")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<32} {median:6.3f} s  {median / floor:5.1f}x")
    print(f"  import reconciler.cli.main       {import_time():6.3f} s (cumulative, -X importtime)")


if __name__ == "__main__":
    main()
