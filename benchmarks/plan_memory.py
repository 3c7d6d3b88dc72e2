"""Peak memory of `reconcile plan` and `apply PLANFILE` at millions of items.

    .venv/bin/python benchmarks/plan_memory.py                       # N = 1,000,000
    .venv/bin/python benchmarks/plan_memory.py --items 10000000      # the README's 10M row
    .venv/bin/python benchmarks/plan_memory.py --items 1000000 --in-memory

Builds a throwaway project (keyed ledger; the key only in the children's environment):
a CSV of N Segment identifier removals and a ledger recording LEDGER items (default
5,000,000) as done, each with its intent and its result, written with the real
RunWriter: every other of the N desired items (up to LEDGER), the rest items no longer
declared (orphaned). Both are generated as streams, so the setup's own memory stays
small at 10M. Then it runs, each as a subprocess, reporting wall time and peak RSS:

  plan    `reconcile plan --out FILE` (the text plan to /dev/null);
  apply   `reconcile apply FILE --max-deletions 0`: the whole of apply up to sending
          (the plan made again and compared with the saved one record by record, the
          sends counted), refused by the limit, so nothing is sent;

and with --in-memory the same two with the spill threshold out of reach (the plan held
wholly in memory, as before spilling existed): the baseline in the same run.

Target: peak RSS < 1 GB at 10M items with a 5M-item ledger, and not growing with N.
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
from unittest import mock

from reconciler.desired import Fingerprinter, Item
from reconciler.ledger.store import RunWriter, create_ledger, result_fields
from reconciler.plan.planfile import peek_plan

KEY_ENV = "PLAN_MEMORY_LEDGER_KEY"
KEY = "plan-memory-benchmark-key-0123456789"
TARGET = "seg"
WINDOW = 64  # intents per record, as apply writes a Segment run

CONFIG = f"""\
version: 1
specs: specs/
ledger:
  path: state/ledger
  key_env: {KEY_ENV}
targets:
  {TARGET}:
    vendor: segment
    space_id: spa_bench
    token_env: SEGMENT_TOKEN
"""

MANIFEST = f"""\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: bulk-bad-emails
  owner: team-bench
  reason: benchmark of plan memory at scale
spec:
  target: {TARGET}
  absent_csv: [bulk.csv]
"""

# the child: the CLI, with the spill threshold given on the command line
CHILD = """\
import sys
import reconciler.plan.build as build
build.SPILL_ITEMS = int(sys.argv[1])
from reconciler.cli.main import main
main(sys.argv[2:])
"""


def row(i: int) -> tuple[str, str, str]:
    return (f"u_{i:08d}", "email", f"user{i}@old-domain.example")


def item_of(user_id: str, id_type: str, value: str) -> Item:
    """The item SegmentRules makes of a CSV row."""
    return Item(
        TARGET,
        "segment",
        {"user_id": user_id},
        {"kind": "identifier", "type": id_type, "value": value},
    )


def recorded(ledger_items: int) -> range:
    """The row numbers the ledger records as done: every other desired row, then rows
    past N (declared no more)."""
    return range(0, 2 * ledger_items, 2)


def generate(root: Path, n: int, ledger_items: int) -> int:
    """The project; returns how many of the N desired items the ledger records."""
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "specs" / "bulk.yaml").write_text(MANIFEST, encoding="utf-8")
    with (root / "specs" / "bulk.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["user_id", "type", "value"])
        for at in range(0, n, 100_000):
            writer.writerows(row(i) for i in range(at, min(n, at + 100_000)))
    fingerprint = Fingerprinter.keyed(KEY.encode())
    ledger_dir = root / "state" / "ledger"
    create_ledger(ledger_dir, fingerprint)
    # Setting up, not measured: the writer's per-record fsync is the same bytes without
    # it, and millions of fsyncs would only slow the setup down.
    with mock.patch("os.fsync"):
        run = RunWriter(
            ledger_dir, "bench0001", {"op": "apply", "commit": "bench"}, key=KEY.encode()
        )
        rows = recorded(ledger_items)
        for at in range(0, len(rows), WINDOW):
            window = [fingerprint(item_of(*row(i))) for i in rows[at : at + WINDOW]]
            run.intents_ahead(TARGET, [([fp], "0" * 64) for fp in window])
            for fp in window:
                run.claim([fp])
            run.results(
                [
                    result_fields(fp, TARGET, "done", 200, None, f"req-{fp[:8]}", None, "removed")
                    for fp in window
                ]
            )
        run.close(sent=len(rows))
    return sum(1 for i in rows if i < n)


def child(root: Path, spill_at: int, *args: str) -> tuple[float, int, int, str]:
    """(wall seconds, exit code, peak RSS in bytes, stderr) of `reconcile ARGS`."""
    env = {**os.environ, KEY_ENV: KEY}
    cmd = [sys.executable, "-c", CHILD, str(spill_at), *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    # ru_maxrss is in kilobytes on Linux
    return elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, err


def measure(root: Path, n: int, done: int, spill_at: int, label: str) -> None:
    out = root / f"{label}.plan"
    plan_s, code, plan_rss, err = child(root, spill_at, "plan", "--out", str(out))
    if code != 0:
        raise SystemExit(f"reconcile plan exited {code}: {err}")
    header = peek_plan(out)
    summary = header["plan"]["summary"]
    assert sum(s["count"] for s in header["sections"]) == n, header["sections"]
    assert summary["already_removed"] == done and summary["to_remove"] == n - done, summary
    apply_s, code, apply_rss, err = child(root, spill_at, "apply", str(out), "--max-deletions", "0")
    if code != 1 or "more than the limit of 0" not in err:
        raise SystemExit(f"reconcile apply exited {code}: {err}")
    print(f"{label:9} plan  {plan_s:8.1f} s  peak RSS {plan_rss / 2**20:6.0f} MB")
    print(f"{label:9} apply {apply_s:8.1f} s  peak RSS {apply_rss / 2**20:6.0f} MB  (refused)")
    out.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument(
        "--ledger-items", type=int, default=5_000_000, help="items the ledger records"
    )
    parser.add_argument(
        "--in-memory", action="store_true", help="also run with spilling out of reach"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    args = parser.parse_args()
    n = args.items
    root = Path(tempfile.mkdtemp(prefix="plan-memory-"))
    try:
        started = time.perf_counter()
        done = generate(root, n, args.ledger_items)
        print(
            f"generated {n:,} items and a ledger of {args.ledger_items:,} done "
            f"({done:,} of them declared) in {root} ({time.perf_counter() - started:.0f} s)"
        )
        from reconciler.plan.build import SPILL_ITEMS

        measure(root, n, done, SPILL_ITEMS, "spilled")
        if args.in_memory:
            measure(root, n, done, 10**12, "in-memory")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
