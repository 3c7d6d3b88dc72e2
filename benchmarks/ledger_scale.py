"""How the ledger scales: bytes per applied item, file sizes, fold and verify speed.

    .venv/bin/python benchmarks/ledger_scale.py              # 1,000,000 and 2,500,000 item records
    .venv/bin/python benchmarks/ledger_scale.py --big        # and 5,000,000 (issue 11's size)
    .venv/bin/python benchmarks/ledger_scale.py --records 200000 --repeat 5
    .venv/bin/python benchmarks/ledger_scale.py --legacy 5000000 # a format-1 ledger too

An item record is one item's intent or result (an applied item has two, grouped into
records of up to 64 items by the writer): 5,000,000 item records are 2,500,000 items.

Writes, with the real RunWriter and a keyed ledger, the ledger a Segment apply of N items
leaves (one item a request; intents announced 64 at a time and claimed one by one,
answers grouped as the writer groups them with 8 requests in flight; each answer a 200
with evidence `removed` and Segment's 36-character request id). fsync is skipped while
setting up: it changes no byte. Then, in the same run:

  bytes    run-file bytes per item (intent and result together), the largest file;
  fold     read_ledger (chain order, every MAC checked, the item table's writes logged),
           in a child process, with its peak RSS;
  fold + first lookup
           the same and one item looked up: the item table's index built (what plan and
           apply pay; `ledger verify` never looks an item up);
  verify   verify_ledger (`ledger verify`), the same way;
  floor    the same files read line by line with json.loads, nothing else;
  table    the floor plus a dict of every fingerprint the records name (one insert per
           item: the fold's item table costs at least that; verify needs no table).

Each is the best of --repeat runs, interleaved (the machine is shared), and given as a
ratio to the floor measured in the same run. Targets (issue 11): at most 120 bytes per
item, no file over 50 MB, fold and verify within 2x the floor.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from unittest import mock

from reconciler.desired import Fingerprinter
from reconciler.ledger.store import RunWriter, create_ledger, result_fields, run_files

KEY = b"ledger-scale-benchmark-key-0123456789"
TARGET = "segment-prod"
WINDOW = 64
IN_FLIGHT = 8


def write_format2(ledger_dir: Path, n: int) -> None:
    create_ledger(ledger_dir, Fingerprinter.keyed(KEY))
    fps = (hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(n))
    with mock.patch("os.fsync"):
        writer = RunWriter(ledger_dir, "bench00000001", {"operation": "apply", "items": n}, key=KEY)
        pending: list[str] = []
        window: list[str] = []
        for fp in fps:
            # the engine announces the next 64 requests when one is due
            window.append(fp)
            if len(window) == WINDOW:
                flush_window(writer, window, pending)
                window = []
        if window:
            flush_window(writer, window, pending)
        answer(writer, pending, len(pending))
        writer.close(removed=n)


def flush_window(writer: RunWriter, window: list[str], pending: list[str]) -> None:
    writer.intents_ahead(TARGET, [([fp], "0" * 64) for fp in window])
    for fp in window:
        writer.claim([fp])
        pending.append(fp)
        if len(pending) > IN_FLIGHT:
            answer(writer, pending, 1)


def answer(writer: RunWriter, pending: list[str], count: int) -> None:
    done, pending[:] = pending[:count], pending[count:]
    writer.results(
        [
            result_fields(fp, TARGET, "done", 200, None, str(uuid.uuid4()), None, "removed")
            for fp in done
        ]
    )


def write_format1(ledger_dir: Path, records: int) -> None:
    """A format-1 ledger as 0.1.x wrote it: an intent and a result record per item."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.ledger.legacy import LegacyRunWriter, create_legacy_ledger

    create_legacy_ledger(ledger_dir, Fingerprinter.keyed(KEY), "bench")
    with mock.patch("os.fsync"):
        writer = LegacyRunWriter(ledger_dir, "legacy0001", {"operation": "apply"})
        for i in range(records // 2):
            fp = hashlib.sha256(f"item-{i}".encode()).hexdigest()
            writer.append("intent", fp=fp, target=TARGET, request="0" * 64, attempt=1)
            writer.append(
                "result", fp=fp, target=TARGET, status="done", code=200, request_id="r" * 36
            )
        writer.close()


CHILD = """
import json, sys, time
from pathlib import Path
from reconciler.ledger.store import read_ledger
from reconciler.ledger.verify import verify_ledger
what, folder, key = sys.argv[1], Path(sys.argv[2]), sys.argv[3].encode()
started = time.perf_counter()
if what == "fold":
    ledger = read_ledger(folder, key)
    ok, items = ledger.ok, ledger.records
elif what == "lookup":
    ledger = read_ledger(folder, key)
    ok, items = ledger.ok and ledger.items.get("0" * 32) is None, ledger.records
elif what == "verify":
    report = verify_ledger(folder, key)
    ok, items = report.ok, report.records
elif what == "floor":
    ok, items = True, 0
    for path in sorted((folder / "runs").iterdir()):
        with path.open("rb") as handle:
            for line in handle:
                json.loads(line)
                items += 1
else:  # the floor, plus the table of items it names: one dict insert per fingerprint
    ok, items, table = True, 0, {}
    for path in sorted((folder / "runs").iterdir()):
        with path.open("rb") as handle:
            for line in handle:
                rec = json.loads(line)
                fps = rec.get("fps")
                if fps:
                    table.update(dict.fromkeys(fps, line))
                elif "fp" in rec:
                    table[rec["fp"]] = line
                items += 1
seconds = time.perf_counter() - started
# VmHWM, not ru_maxrss: on Linux ru_maxrss keeps the parent's size across fork and exec
with open("/proc/self/status") as status:
    rss = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) // 1024
print(json.dumps({"seconds": seconds, "ok": ok, "count": items, "rss_mb": rss}))
"""


def timed(what: str, folder: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, what, str(folder), KEY.decode()],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


KINDS = ("floor", "table", "fold", "lookup", "verify")
LABELS = {"fold": "fold", "lookup": "fold + first lookup", "verify": "verify"}


def measure(label: str, folder: Path, items: int, repeat: int) -> dict[str, float]:
    files = run_files(folder)
    total = sum(p.stat().st_size for p in files)
    largest = max(p.stat().st_size for p in files)
    lines = sum(1 for p in files for _ in p.open("rb"))
    print(f"\n{label}: {items:,} items, {lines:,} records in {len(files)} file(s)")
    print(f"  bytes per item: {total / items:.1f} (largest file {largest / 1e6:.1f} MB)")
    best: dict[str, dict[str, float]] = {}
    for _ in range(repeat):  # interleaved, best of each: the machine is shared
        for what in KINDS:
            got = timed(what, folder)
            assert got["ok"], f"{what}: the ledger does not verify"
            if what not in best or got["seconds"] < best[what]["seconds"]:
                best[what] = got
    floor = best["floor"]["seconds"]
    table = best["table"]["seconds"]
    print(f"  floor (json.loads per line): {floor:.2f}s")
    print(f"  floor + a dict of every fingerprint named: {table:.2f}s")
    ratios = {"floor_s": floor}
    for what in ("fold", "lookup", "verify"):
        got = best[what]
        ratios[what] = got["seconds"] / floor
        print(
            f"  {LABELS[what]}: {got['seconds']:.2f}s, ratio {got['seconds'] / floor:.2f} "
            f"(target <= 2; {got['seconds'] / table:.2f} against floor + dict), "
            f"peak RSS {got['rss_mb']:.0f} MB"
        )
    return ratios


def load() -> str:
    try:
        with open("/proc/loadavg") as handle:
            return " ".join(handle.read().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--records",
        type=int,
        action="append",
        help="item records of a format-2 ledger (repeatable; default 1,000,000 and 2,500,000)",
    )
    parser.add_argument("--big", action="store_true", help="5,000,000 item records too")
    parser.add_argument("--legacy", type=int, default=0, help="records of a format-1 ledger")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = args.records or [1_000_000, 2_500_000]
    if args.big:
        sizes.append(5_000_000)
    root = Path(tempfile.mkdtemp(prefix="ledger-scale-"))
    summary: list[tuple[int, dict[str, float]]] = []
    try:
        print(f"load average at start: {load()}")
        for records in sizes:
            items = records // 2
            started = time.perf_counter()
            folder = root / f"format2-{records}"
            write_format2(folder, items)
            took = time.perf_counter() - started
            print(f"\nwrote format 2 ({records:,} item records) in {took:.0f}s")
            summary.append((records, measure("format 2 (written now)", folder, items, args.repeat)))
            shutil.rmtree(folder, ignore_errors=True)
        print(f"\nratios to the json floor of the same run (load average now: {load()}):")
        print(f"  {'item records':>12}  {'floor':>7}  {'fold':>5}  {'fold + lookup':>13}  verify")
        for records, r in summary:
            print(
                f"  {records:>12,}  {r['floor_s']:>6.2f}s  {r['fold']:>5.2f}  "
                f"{r['lookup']:>13.2f}  {r['verify']:>6.2f}"
            )
        if args.legacy:
            legacy = root / "format1"
            write_format1(legacy, args.legacy)
            measure("format 1 (0.1.x)", legacy, args.legacy // 2, args.repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
