"""Peak memory of a real apply at a million items: every deletion sent to the sandbox.

    .venv/bin/python benchmarks/apply_memory.py                      # N = 1,000,000
    .venv/bin/python benchmarks/apply_memory.py --items 10000000     # 10M (hours of CPU)
    .venv/bin/python benchmarks/apply_memory.py --code /tmp/before   # another checkout's code

Builds a throwaway project (keyed ledger, a new one: the ledger's own size is
plan_memory.py's concern): a CSV of N Insider attribute removals (one user each), the
vendor that packs the most items into a request (1,000 users), so a million items are
1,000 requests at Insider's documented 25,000 a minute. The sandbox (reconciler/sandbox,
the stand-in for every vendor) runs in its own process on loopback. Then, each as a
subprocess, reporting wall time and peak RSS:

  plan    `reconcile plan --out FILE`;
  apply   `reconcile apply FILE`: the plan made again and compared with the saved one,
          then every item sent, its intent fsynced before its request, its result
          recorded; checked: N accepted, at least N / 1,000 requests answered 200.

`--code DIR` runs the children with DIR first on PYTHONPATH (e.g. `git archive` of an
earlier commit unpacked there): the before/after comparison in one setup.

Target: peak RSS flat in N (the plan spilled past SPILL_ITEMS, apply streaming it).
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox

KEY_ENV = "APPLY_MEMORY_LEDGER_KEY"
KEY = "apply-memory-benchmark-key-0123456789"
TOKEN_ENV = "APPLY_MEMORY_INSIDER_TOKEN"
TARGET = "ins"
USERS_PER_REQUEST = 1_000

MANIFEST = f"""\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: bulk-attributes
  owner: team-bench
  reason: benchmark of apply memory at scale
spec:
  target: {TARGET}
  absent_csv: [bulk.csv]
"""


def config(base_url: str) -> str:
    return f"""\
version: 1
specs: specs/
ledger:
  path: state/ledger
  key_env: {KEY_ENV}
targets:
  {TARGET}:
    vendor: insider
    partner_name: bench
    token_env: {TOKEN_ENV}
    base_url: {base_url}
"""


def generate(root: Path, n: int, base_url: str) -> None:
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(config(base_url), encoding="utf-8")
    (root / "specs" / "bulk.yaml").write_text(MANIFEST, encoding="utf-8")
    with (root / "specs" / "bulk.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["email", "attribute"])
        for at in range(0, n, 100_000):
            writer.writerows(
                (f"user{i}@bench.example", "name") for i in range(at, min(n, at + 100_000))
            )


def child(root: Path, code: Path | None, *args: str) -> tuple[float, int, int, str, str]:
    """(wall seconds, exit code, peak RSS in bytes, stdout, stderr) of `reconcile ARGS`."""
    env = {**os.environ, KEY_ENV: KEY, TOKEN_ENV: "bench-insider-token"}
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    cmd = [sys.executable, "-c", "from reconciler.cli.main import main; main()", *args]
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        texts = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    # ru_maxrss is in kilobytes on Linux
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, *texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--code", type=Path, help="run the children with this code first")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()
    n = args.items
    root = Path(tempfile.mkdtemp(prefix="apply-memory-"))
    options = SandboxOptions(max_logged_requests=n // USERS_PER_REQUEST + 1_000)
    try:
        with Sandbox(options, in_subprocess=True) as sb:
            started = time.perf_counter()
            generate(root, n, sb.urls["insider"])
            print(f"generated {n:,} items in {root} ({time.perf_counter() - started:.0f} s)")
            planfile = root / "bench.plan"
            plan_s, code, plan_rss, _, err = child(root, args.code, "plan", "--out", str(planfile))
            if code not in (0, 2):  # 2: changes to make
                raise SystemExit(f"reconcile plan exited {code}: {err}")
            print(f"plan  {plan_s:8.1f} s  peak RSS {plan_rss / 2**20:6.0f} MB")
            apply_s, code, apply_rss, out, err = child(root, args.code, "apply", str(planfile))
            expected = f"Apply complete! Items: 0 removed, {n} accepted (asynchronous)"
            if code != 0 or expected not in out:
                raise SystemExit(f"reconcile apply exited {code}:\n{out[-2000:]}\n{err[-2000:]}")
            log = sb.control.requests("insider")
            deletes = [e for e in log if e["path"].endswith("/attribute/delete")]
            print(
                f"apply {apply_s:8.1f} s  peak RSS {apply_rss / 2**20:6.0f} MB  "
                f"({n:,} accepted, {len(deletes):,} requests)"
            )
            # a request retried (a timeout on a loaded machine) reaches the sandbox twice
            assert len(deletes) >= -(-n // USERS_PER_REQUEST), len(deletes)
            assert sum(e["status"] == 200 for e in deletes) >= -(-n // USERS_PER_REQUEST)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
