"""What deadlines, `reconcile status` and `reconcile report` cost at scale: N Segment items
from a CSV against a ledger holding half of them done (the project of plan_scale.py).

    .venv/bin/python benchmarks/report_scale.py              # N = 100,000
    .venv/bin/python benchmarks/report_scale.py --items 20000

Times, in the same run, each as its own process (the ledger key only in the child's
environment), against the baseline `plan --format json` of the same project:

  plan dated   the manifest with requested_at + regulation: the plan then estimates the
               target's finish (the pending items batched as apply would, paced)
  status       every request by due date
  report json / markdown / html   --out FILE, and the file's size
  verify       `ledger verify --report` of the JSON report

Targets: plan dated <= 1.3x plan; report json <= 3x plan; verify <= 3x plan.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plan_scale import KEY, KEY_ENV, generate  # noqa: E402


def timed(root: Path, *args: str) -> tuple[float, int]:
    """(best wall seconds of 2 runs, peak RSS in bytes) of `reconcile ARGS`."""
    env = {**os.environ, KEY_ENV: KEY}
    best, peak = float("inf"), 0
    for _ in range(2):
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert child.stderr is not None
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 2, 4):
            sys.stderr.write(err.decode(errors="replace"))
            raise SystemExit(f"reconcile {' '.join(args)} exited {code}")
        best, peak = min(best, elapsed), max(peak, usage.ru_maxrss * 1024)
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="N (default 100,000)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()
    n = args.items
    root = Path(tempfile.mkdtemp(prefix="report-scale-"))
    try:
        generate(root, n)
        print(f"{n:,} items, {(n + 1) // 2:,} done, in {root}")
        base, base_rss = timed(root, "plan", "--format", "json")
        manifest = root / "specs" / "bulk.yaml"
        text = manifest.read_text().replace(
            "  reason: benchmark of plan at scale\n",
            "  reason: benchmark of plan at scale\n  requested_at: 2026-11-02\n"
            "  regulation: gdpr\n",
        )
        manifest.write_text(text)
        rows = [("plan --format json (baseline)", base, base_rss, None)]
        dated, rss = timed(root, "plan", "--format", "json")
        rows.append(("plan, manifest with a due date", dated, rss, None))
        took, rss = timed(root, "status")
        rows.append(("status", took, rss, None))
        for fmt in ("json", "markdown", "html"):
            out = root / f"report.{fmt}"
            took, rss = timed(root, "report", "--format", fmt, "--out", str(out))
            rows.append((f"report --format {fmt}", took, rss, out.stat().st_size))
        took, rss = timed(root, "ledger", "verify", "--report", str(root / "report.json"))
        rows.append(("ledger verify --report (json)", took, rss, None))
        took, rss = timed(root, "ledger", "verify", "--report", str(root / "report.html"))
        rows.append(("ledger verify --report (html)", took, rss, None))
        print(f"{'command':<34} {'seconds':>8} {'x plan':>7} {'peak RSS':>9} {'size':>10}")
        for name, seconds, peak, size in rows:
            shown = f"{size / 1e6:.1f} MB" if size is not None else "-"
            print(f"{name:<34} {seconds:8.2f} {seconds / base:7.2f} {peak / 1e6:7.0f} MB "
                  f"{shown:>10}")  # fmt: skip
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
