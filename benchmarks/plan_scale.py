"""How `reconcile plan` scales: N segment items from a CSV against a ledger holding half.

    .venv/bin/python benchmarks/plan_scale.py              # N = 1,000,000
    .venv/bin/python benchmarks/plan_scale.py --items 100000

Builds a throwaway project (keyed ledger: the key is set only in the child's
environment), a CSV of N identifier removals and a ledger in which half of them are
done (intent + result records written with the real RunWriter, fingerprints from the
same Fingerprinter plan uses). Then it times, in the same run:

  plan   `reconcile plan --format json --out FILE` end to end as a subprocess
         (stdout to /dev/null), with the child's peak RSS;
  floor  reading the same CSV with csv.reader and fingerprinting each row's item
         (Item + Fingerprinter) in a bare loop: the least any plan must do.

Target: plan/floor <= 3 and peak RSS < 1 GB.
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

KEY_ENV = "PLAN_SCALE_LEDGER_KEY"
KEY = "plan-scale-benchmark-key-0123456789"
TARGET = "seg"

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
  reason: benchmark of plan at scale
spec:
  target: {TARGET}
  absent_csv: [bulk.csv]
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


def generate(root: Path, n: int) -> Path:
    """The project: config, manifest, CSV of n rows, ledger with every other row done."""
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    (root / "specs" / "bulk.yaml").write_text(MANIFEST, encoding="utf-8")
    csv_path = root / "specs" / "bulk.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["user_id", "type", "value"])
        writer.writerows(row(i) for i in range(n))
    fingerprint = Fingerprinter.keyed(KEY.encode())
    ledger_dir = root / "state" / "ledger"
    create_ledger(ledger_dir, fingerprint)
    # Setting up, not measured: the writer's per-record fsync is the same bytes
    # without it, and 1,000,000 fsyncs would only slow the setup down.
    with mock.patch("os.fsync"):
        run = RunWriter(
            ledger_dir, "bench0001", {"op": "apply", "commit": "bench"}, key=KEY.encode()
        )
        done = [fingerprint(item_of(*row(i))) for i in range(0, n, 2)]
        # as apply writes a Segment run: one intent record per 64 requests, answers grouped
        for at in range(0, len(done), 64):
            window = done[at : at + 64]
            run.intents_ahead(TARGET, [([fp], "0" * 64) for fp in window])
            for fp in window:
                run.claim([fp])
            run.results(
                [
                    result_fields(fp, TARGET, "done", 200, None, f"req-{fp[:8]}", None, "removed")
                    for fp in window
                ]
            )
        run.close(sent=len(done))
    return csv_path


def floor(csv_path: Path, fingerprint: Fingerprinter) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds) to read the CSV and fingerprint every row's item, and
    the rows read."""
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for user_id, id_type, value in reader:
            fingerprint(item_of(user_id, id_type, value))
            count += 1
    return time.perf_counter() - started, time.process_time() - cpu, count


def plan(root: Path, out: Path) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, exit code, peak RSS in bytes) of
    `reconcile plan --format json --out FILE`."""
    env = {**os.environ, KEY_ENV: KEY}
    cmd = [sys.executable, "-m", "reconciler", "plan", "--format", "json", "--out", str(out)]
    started = time.perf_counter()
    child = subprocess.Popen(
        cmd, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert child.stderr is not None
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss is in kilobytes on Linux
    return elapsed, cpu, child.returncode, usage.ru_maxrss * 1024


def check(out: Path, n: int) -> None:
    """The saved plan's counts, from its header (format 2: reconciler.plan.planframe)."""
    header = peek_plan(out)
    summary = header["plan"]["summary"]
    assert sum(s["count"] for s in header["sections"]) == n, header["sections"]
    assert summary["to_remove"] == n // 2, summary
    assert summary["already_removed"] == (n + 1) // 2, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    parser.add_argument(
        "--no-check", action="store_true", help="skip checking the saved plan's counts"
    )
    args = parser.parse_args()
    n = args.items
    root = Path(tempfile.mkdtemp(prefix="plan-scale-"))
    try:
        started = time.perf_counter()
        csv_path = generate(root, n)
        print(f"generated {n:,} items and a ledger of {(n + 1) // 2:,} done in {root} "
              f"({time.perf_counter() - started:.1f} s)")  # fmt: skip

        floor_s, floor_cpu, rows = floor(csv_path, Fingerprinter.keyed(KEY.encode()))
        assert rows == n
        out = root / "bench.plan"
        plan_s, plan_cpu, code, rss = plan(root, out)
        if code != 0:
            raise SystemExit(f"reconcile plan exited {code}")
        if not args.no_check:
            check(out, n)

        ratio = plan_s / floor_s
        cpu_ratio = plan_cpu / floor_cpu
        print(f"items:  {n:,}")
        print(f"plan:   {plan_s:8.2f} s {n / plan_s:10,.0f} items/s  (CPU {plan_cpu:.2f} s)")
        print(f"floor:  {floor_s:8.2f} s {n / floor_s:10,.0f} items/s  (CPU {floor_cpu:.2f} s)")
        print(f"ratio:  {ratio:8.2f}   plan/floor (target <= 3); CPU time ratio {cpu_ratio:.2f}")
        print(f"peak RSS: {rss / 2**20:6.0f} MB (target < 1024 MB)")
        size = out.stat().st_size
        print(f"saved plan: {size / 2**20:.1f} MB, {size / n:.1f} bytes per item (target <= 40)")
        ok = ratio <= 3 and rss < 2**30
        print("target met" if ok else "target MISSED")
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
