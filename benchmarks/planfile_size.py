"""Saved plans at scale: bytes per item, and the memory of `apply PLANFILE`, format 2 (the
signed binary file) against format 1 (the verbose JSON document of 0.1.x), same run.

    .venv/bin/python benchmarks/planfile_size.py                      # 100,000 and 1,000,000
    .venv/bin/python benchmarks/planfile_size.py --items 100000

For each N it builds the project of benchmarks/plan_scale.py (N Segment items from a CSV,
a keyed ledger in which half are done), then, each in a child process with its peak RSS:

  plan      `reconcile plan --format json --out reconcile.plan`: the format-2 file, and
            its stdout, which with `"kind"` added is exactly the format-1 file 0.1.x saved
  replan    the plan apply makes again before it sends anything (plan_from_config): the
            floor of any `apply PLANFILE`
  apply v2  `reconcile apply reconcile.plan --max-deletions 0`: everything apply does
            with a saved plan before sending (MAC checked, re-plan, stale checks, the
            item-by-item merge with the file), then the deletion limit refuses, so
            nothing is sent (a dry run)
  apply v1  what 0.1.x's `apply PLANFILE` held before sending: the format-1 document
            loaded whole (json.loads) and its fingerprints set, then the re-plan

Targets: at most 40 bytes per item; apply v2's peak within a few MB of replan (the saved
side streamed, never loaded).
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

from plan_scale import KEY, KEY_ENV, generate

# Both import the CLI first, as `reconcile apply` does, so the floors hold its modules too.
OLD_APPLY = """
import json, sys
import reconciler.cli.main
from pathlib import Path
from reconciler.config.load import load_config
from reconciler.plan.build import plan_from_config
saved = json.loads(Path(sys.argv[1]).read_bytes().decode("utf-8"))
sent = ("remove", "resend", "retry")
allowed = {a["fingerprint"] for a in saved["actions"] if a["action"] in sent}
config = load_config(Path("reconciler.yaml"))
plan, _, _ = plan_from_config(config, sys.argv[2].encode())
sends = [a for tp in plan.targets for a in tp.sends() if a.fingerprint in allowed]
print(len(sends))
"""

REPLAN = """
import sys
import reconciler.cli.main
from pathlib import Path
from reconciler.config.load import load_config
from reconciler.plan.build import plan_from_config
config = load_config(Path("reconciler.yaml"))
plan, _, _ = plan_from_config(config, sys.argv[1].encode())
print(sum(len(tp.sends()) for tp in plan.targets))
"""


def child(
    root: Path, args: list[str], stdout: int | None = subprocess.DEVNULL
) -> tuple[float, int, int, bytes]:
    """(wall seconds, exit code, peak RSS in bytes, stderr) of one child process."""
    env = {**os.environ, KEY_ENV: KEY}
    started = time.perf_counter()
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=stdout, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    return (
        time.perf_counter() - started,
        os.waitstatus_to_exitcode(status),
        usage.ru_maxrss * 1024,  # kilobytes on Linux
        err,
    )


def run(n: int, keep: bool) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="planfile-size-"))
    try:
        started = time.perf_counter()
        generate(root, n)
        print(f"\n{n:,} items (half done) in {root}: generated in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        py = sys.executable
        with (root / "stdout.json").open("wb") as out:
            plan_s, code, plan_rss, err = child(
                root,
                [py, "-m", "reconciler", "plan", "--format", "json", "--out", "reconcile.plan"],
                stdout=out.fileno(),
            )
        assert code == 0, err.decode(errors="replace")
        # the format-1 file: the JSON document with "kind" first, as 0.1.x wrote it
        with (root / "stdout.json").open("rb") as src, (root / "old.json").open("wb") as dst:
            assert src.read(2) == b"{\n"
            dst.write(b'{\n "kind": "reconciler-plan",\n')
            shutil.copyfileobj(src, dst, 1 << 20)
        (root / "stdout.json").unlink()
        new_size = (root / "reconcile.plan").stat().st_size
        old_size = (root / "old.json").stat().st_size

        replan_s, code, replan_rss, err = child(root, [py, "-c", REPLAN, KEY])
        assert code == 0, err.decode(errors="replace")
        cmd = [py, "-m", "reconciler", "apply", "reconcile.plan", "--max-deletions", "0"]
        apply_s, code, apply_rss, err = child(root, cmd)
        assert code == 1 and b"more than the limit of 0" in err, err.decode(errors="replace")
        old_s, code, old_rss, err = child(root, [py, "-c", OLD_APPLY, "old.json", KEY])
        assert code == 0, err.decode(errors="replace")

        mb = 2**20
        print(f"saved plan, format 2: {new_size / mb:8.1f} MB  {new_size / n:6.1f} bytes/item "
              "(target <= 40)")  # fmt: skip
        print(f"saved plan, format 1: {old_size / mb:8.1f} MB  {old_size / n:6.1f} bytes/item "
              f"({old_size / new_size:.0f}x)")  # fmt: skip
        print(f"plan --out:           {plan_s:8.1f} s   peak RSS {plan_rss / mb:6.0f} MB")
        print(f"replan (the floor):   {replan_s:8.1f} s   peak RSS {replan_rss / mb:6.0f} MB")
        print(f"apply v2 (dry):       {apply_s:8.1f} s   peak RSS {apply_rss / mb:6.0f} MB "
              f"(+{(apply_rss - replan_rss) / mb:.0f} MB over the floor)")  # fmt: skip
        print(f"apply v1 (emulated):  {old_s:8.1f} s   peak RSS {old_rss / mb:6.0f} MB "
              f"(+{(old_rss - replan_rss) / mb:.0f} MB over the floor)")  # fmt: skip
        return {
            "bytes_per_item": new_size / n,
            "old_bytes_per_item": old_size / n,
            "apply_rss": apply_rss,
            "old_rss": old_rss,
            "replan_rss": replan_rss,
        }
    finally:
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--items", type=int, action="append", help="N (repeatable; default 100,000 and 1,000,000)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    args = parser.parse_args()
    ok = True
    for n in args.items or [100_000, 1_000_000]:
        figures = run(n, args.keep)
        ok = ok and figures["bytes_per_item"] <= 40
    print("\ntarget met" if ok else "\ntarget MISSED")


if __name__ == "__main__":
    main()
