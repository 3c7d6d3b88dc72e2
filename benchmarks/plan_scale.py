"""How `reconcile plan` scales, for every built-in vendor and a four-vendor mix.

    .venv/bin/python benchmarks/plan_scale.py                      # N = 1,000,000, every case
    .venv/bin/python benchmarks/plan_scale.py --items 200000 --vendors braze,mix --ledger 50
    .venv/bin/python benchmarks/plan_scale.py --items 10000000 --vendors mix --repeat 1

A case is one vendor alone (segment, braze, twilio_memory, insider: N CSV rows of its
usual bulk shape), `mix` (the four, N/4 rows each, one target each) or, on request,
`opendsr` (the OpenDSR plugin, a vendor from outside the package), with 0% or 50% of
the items already in the ledger. Each case's project is throwaway (a keyed ledger: the
key is set only in the child's environment); the ledger is written with the real
RunWriter (intents announced 64 requests at a time, requests grouped as the vendor's
RequestBuilder.batches groups them, one result per item; fingerprints from the same
Fingerprinter plan uses). Nothing is held in memory per item while generating: rows and
ledger windows are streamed, so `--items 10000000` runs in a fixed amount of memory
(the plan's own memory is what the case measures).

Per case, in the same run:

  plan   `reconcile plan --format json --out FILE` end to end as a subprocess (the JSON
         to /dev/null), with the child's peak RSS;
  floor  reading the same CSV file(s) with csv.reader and, per row, building the item
         the vendor's rules make of it (Item), its canonical bytes and their
         HMAC-SHA256 (Fingerprinter): one keyed hash per row in a bare loop, the least
         any plan must do. Measured just before the plan, so both see the same load.

The pair runs --repeat times (default 3), floor and plan in turn, and the pair with the
median ratio is reported: this machine's speed drifts within minutes, so one pair can
land on either side of the target by load alone (one 1M run's floors took 7.3-13.2 s
for the same work). Each pair is printed as it ends.

It reports the ratio plan/floor (target <= 3), the child's peak RSS (target < 1 GB), the
saved plan's bytes per item and the ledger's bytes per applied item (the run files the
case's ledger holds, divided by the items they record).
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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from unittest import mock

from reconciler.desired import Fingerprinter, Item
from reconciler.ledger.store import RunWriter, create_ledger, result_fields
from reconciler.plan.planfile import peek_plan
from reconciler.vendors.registry import vendor

KEY_ENV = "PLAN_SCALE_LEDGER_KEY"
KEY = "plan-scale-benchmark-key-0123456789"
WINDOW = 64  # requests announced per intent record, as apply does


def profile_id(i: int) -> str:
    """A Twilio Memory profile id (mem_profile_ + 26 base-36 characters)."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    tail, n = "", i
    for _ in range(25):
        tail, n = digits[n % 36] + tail, n // 36
    return f"mem_profile_0{tail}"


@dataclass(frozen=True)
class Shape:
    """One vendor's bulk CSV: its target's settings, the manifest's extra spec lines,
    the header, row i's cells, and the item its rules make of a row (the floor's)."""

    vendor: str
    target: str
    settings: str  # the target's lines in reconciler.yaml, indented four spaces
    spec: str  # extra spec lines, indented two spaces
    header: list[str]
    row: Callable[[int], list[str]]
    item: Callable[[str, list[str]], Item] = field(repr=False)


SHAPES = {
    "segment": Shape(
        "segment",
        "seg",
        "    space_id: spa_bench\n    token_env: SEGMENT_TOKEN\n",
        "",
        ["user_id", "type", "value"],
        lambda i: [f"u_{i:08d}", "email", f"user{i}@old-domain.example"],
        lambda t, c: Item(
            t, "segment", {"user_id": c[0]}, {"kind": "identifier", "type": c[1], "value": c[2]}
        ),
    ),
    "braze": Shape(
        "braze",
        "brz",
        "    base_url: https://rest.iad-01.braze.com\n    api_key_env: BRAZE_KEY\n",
        "  delete_profiles: true\n",
        ["external_id"],
        lambda i: [f"ext-{i:09d}"],
        lambda t, c: Item(t, "braze", {"external_id": c[0]}, {"kind": "profile"}),
    ),
    "twilio_memory": Shape(
        "twilio_memory",
        "mem",
        "    store_id: mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4\n"
        "    account_sid_env: TWILIO_SID\n    auth_token_env: TWILIO_TOKEN\n",
        "",
        ["profile_id", "type"],
        lambda i: [profile_id(i), "phone"],
        lambda t, c: Item(
            t, "twilio_memory", {"profile_id": c[0]}, {"kind": "identifier_type", "type": c[1]}
        ),
    ),
    "insider": Shape(
        "insider",
        "ins",
        "    partner_name: benchbrand\n    token_env: INSIDER_TOKEN\n",
        "",
        ["email", "attribute"],
        lambda i: [f"user{i}@old-domain.example", "name"],
        lambda t, c: Item(
            t, "insider", {"email": c[0]}, {"custom": False, "kind": "attribute", "name": c[1]}
        ),
    ),
}
BUILT_IN = list(SHAPES)
# A vendor from outside: the OpenDSR plugin (plugins/reconciler-opendsr), when installed.
# It has no fast path of its own: what it gets is the general path's speed.
PLUGIN = Shape(
    "opendsr",
    "dsr",
    "    base_url: https://dsr.example.com\n    auth: basic\n"
    "    credentials_env: DSR_CREDENTIALS\n",
    "  delete_profiles: true\n",
    ["submitted_time", "email"],
    lambda i: [f"2024-05-{1 + i % 28:02d}T10:00:00Z", f"user{i}@old-domain.example"],
    lambda t, c: Item(
        t, "opendsr", {"identities": {"email": c[1]}}, {"kind": "profile", "submitted_time": c[0]}
    ),
)
CASES = [*SHAPES, "mix", "opendsr"]
DEFAULT_CASES = [*SHAPES, "mix"]


def shapes_of(case: str) -> list[Shape]:
    if case == "opendsr":
        return [PLUGIN]
    return [SHAPES[v] for v in BUILT_IN] if case == "mix" else [SHAPES[case]]


def counts(case: str, n: int) -> list[int]:
    """Rows per shape: N for a vendor alone, N split four ways for the mix."""
    parts = len(shapes_of(case))
    return [n // parts + (1 if k < n % parts else 0) for k in range(parts)]


def write_project(root: Path, case: str, n: int) -> list[tuple[Shape, Path, int]]:
    """Config, one manifest and one CSV per shape, an empty keyed ledger."""
    specs = root / "specs"
    specs.mkdir(parents=True)
    targets = "".join(
        f"  {s.target}:\n    vendor: {s.vendor}\n{s.settings}" for s in shapes_of(case)
    )
    config = (
        f"version: 1\nspecs: specs/\nledger:\n  path: state/ledger\n  key_env: {KEY_ENV}\n"
        f"targets:\n{targets}"
    )
    (root / "reconciler.yaml").write_text(config, encoding="utf-8")
    out = []
    for shape, rows in zip(shapes_of(case), counts(case, n), strict=True):
        csv_path = specs / f"{shape.target}.csv"
        with csv_path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(shape.header)
            writer.writerows(shape.row(i) for i in range(rows))  # a generator: streamed
        (specs / f"{shape.target}.yaml").write_text(
            "apiVersion: reconciler/v1\nkind: Removal\nmetadata:\n"
            f"  name: bulk-{shape.target}\n  owner: team-bench\n"
            "  reason: benchmark of plan at scale\n"
            f"spec:\n  target: {shape.target}\n{shape.spec}  absent_csv: [{csv_path.name}]\n",
            encoding="utf-8",
        )
        out.append((shape, csv_path, rows))
    create_ledger(root / "state" / "ledger", Fingerprinter.keyed(KEY.encode()))
    return out


def _windows(shape: Shape, rows: int, fingerprint: Fingerprinter) -> Iterator[list[list[str]]]:
    """Every other row's item, as the vendor batches them into requests, WINDOW
    requests at a time (streamed)."""
    builder = vendor(shape.vendor).requests
    chunk = WINDOW * builder.max_batch
    for start in range(0, rows, 2 * chunk):
        pairs = []
        for i in range(start, min(rows, start + 2 * chunk), 2):
            item = shape.item(shape.target, shape.row(i))
            pairs.append((fingerprint(item), item))
        requests = [[fp for fp, _ in batch] for batch in builder.batches(pairs)]
        for at in range(0, len(requests), WINDOW):
            yield requests[at : at + WINDOW]


def write_ledger_half(root: Path, sources: list[tuple[Shape, Path, int]]) -> int:
    """One apply run in the ledger recording every other row of every CSV removed (or
    accepted, for a vendor that queues deletes); the items it records."""
    fingerprint = Fingerprinter.keyed(KEY.encode())
    ledger_dir = root / "state" / "ledger"
    done = 0
    # Setting up, not measured: the writer's per-record fsync is the same bytes
    # without it, and millions of fsyncs would only slow the setup down.
    with mock.patch("os.fsync"):
        run = RunWriter(
            ledger_dir, "bench0001", {"op": "apply", "commit": "bench"}, key=KEY.encode()
        )
        for shape, _, rows in sources:
            queued = vendor(shape.vendor).capabilities.asynchronous
            state, evidence = ("accepted", None) if queued else ("done", "removed")
            for window in _windows(shape, rows, fingerprint):
                run.intents_ahead(shape.target, [(fps, "0" * 64) for fps in window])
                for fps in window:
                    run.claim(fps)
                    run.results(
                        [
                            result_fields(
                                fp, shape.target, state, 200, None, f"req-{fp[:8]}", None, evidence
                            )
                            for fp in fps
                        ]
                    )
                    done += len(fps)
        run.close(sent=done)
    return done


def ledger_bytes(root: Path) -> int:
    runs = root / "state" / "ledger" / "runs"
    return sum(p.stat().st_size for p in runs.rglob("*") if p.is_file()) if runs.exists() else 0


def floor(sources: list[tuple[Shape, Path, int]]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds) to read the CSVs and fingerprint every row's item, and
    the rows read."""
    fingerprint = Fingerprinter.keyed(KEY.encode())
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    for shape, csv_path, _ in sources:
        make, target = shape.item, shape.target
        with csv_path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            for cells in reader:
                fingerprint(make(target, cells))
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


def check(out: Path, n: int, done: int) -> None:
    """The saved plan's counts, from its header (format 2: reconciler.plan.planframe)."""
    header = peek_plan(out)
    summary = header["plan"]["summary"]
    assert sum(s["count"] for s in header["sections"]) == n, header["sections"]
    assert summary["to_remove"] == n - done, summary
    assert summary["already_removed"] == done, summary


@dataclass
class Result:
    case: str
    ledger: int
    n: int
    plan_s: float
    plan_cpu: float
    floor_s: float
    floor_cpu: float
    rss: int
    plan_bytes: int
    ledger_bytes: int
    done: int

    @property
    def ratio(self) -> float:
        return self.plan_s / self.floor_s

    @property
    def ok(self) -> bool:
        return self.ratio <= 3 and self.rss < 2**30

    def line(self) -> str:
        per_ledger = f"{self.ledger_bytes / self.done:7.1f}" if self.done else "      -"
        return (
            f"{self.case:<14}{self.ledger:>4}% {self.n:>11,} {self.plan_s:8.2f} "
            f"{self.floor_s:7.2f} {self.ratio:6.2f} {self.plan_cpu / self.floor_cpu:6.2f} "
            f"{self.rss / 2**20:7.0f} {self.plan_bytes / self.n:7.1f} {per_ledger}  "
            f"{'ok' if self.ok else 'MISSED'}"
        )


def median_pair(pairs: list[Result]) -> Result:
    """The pair whose ratio is the median (the lower middle one of an even number), with
    the largest peak RSS of them all: one slow or one lucky pair does not move it."""
    middle = sorted(pairs, key=lambda r: r.ratio)[(len(pairs) - 1) // 2]
    return replace(middle, rss=max(r.rss for r in pairs))


HEADING = (
    f"{'case':<14}{'ledger':>5} {'items':>11} {'plan s':>8} {'floor s':>7} {'ratio':>6} "
    f"{'cpu x':>6} {'RSS MB':>7} {'plan B':>7} {'ledger B':>8}"
)


def run_case(
    case: str, fractions: list[int], n: int, keep: bool, verify: bool, repeat: int
) -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix=f"plan-scale-{case}-"))
    results = []
    try:
        started = time.perf_counter()
        sources = write_project(root, case, n)
        print(f"# {case}: {n:,} items in {root} ({time.perf_counter() - started:.1f} s)")
        done = 0
        for fraction in sorted(fractions):
            if fraction == 50 and not done:
                started = time.perf_counter()
                done = write_ledger_half(root, sources)
                print(f"# {case}: ledger of {done:,} items ({time.perf_counter() - started:.1f} s)")
            out = root / "bench.plan"
            pairs = []
            for _ in range(repeat):  # floor, plan, floor, plan ...: each pair sees one load
                floor_s, floor_cpu, rows = floor(sources)
                assert rows == n
                plan_s, plan_cpu, code, rss = plan(root, out)
                if code != 0:
                    raise SystemExit(f"{case}: reconcile plan exited {code}")
                if verify:
                    check(out, n, done)
                sizes = out.stat().st_size, ledger_bytes(root)
                times = plan_s, plan_cpu, floor_s, floor_cpu
                pairs.append(Result(case, fraction, n, *times, rss, *sizes, done))
                if repeat > 1:
                    print(f"#   pair {len(pairs)}: {pairs[-1].line()}", flush=True)
            result = median_pair(pairs)
            results.append(result)
            print(result.line(), flush=True)
    finally:
        if keep:
            print(f"# kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return results


def listed(text: str, allowed: list[str]) -> list[str]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    for name in names:
        if name not in allowed:
            raise SystemExit(f"{name}: not one of {', '.join(allowed)}")
    return names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="N (default 1,000,000)")
    parser.add_argument(
        "--vendors",
        default=",".join(DEFAULT_CASES),
        help=f"cases, comma-separated ({','.join(CASES)}; opendsr: the plugin, if installed)",
    )
    parser.add_argument(
        "--ledger", default="0,50", help="percent already in the ledger: 0, 50 or both (0,50)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="(floor, plan) pairs per case, run in turn; the median pair's ratio is reported "
        "(default 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated projects")
    parser.add_argument(
        "--no-check", action="store_true", help="skip checking the saved plan's counts"
    )
    args = parser.parse_args()
    if args.repeat < 1:
        raise SystemExit("--repeat: at least 1")
    cases = listed(args.vendors, CASES)
    fractions = [int(f) for f in listed(args.ledger, ["0", "50"])]
    print(f"# load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (1 and 5 min averages)")
    print(HEADING, flush=True)
    results = []
    for case in cases:
        results.extend(
            run_case(case, fractions, args.items, args.keep, not args.no_check, args.repeat)
        )
    print()
    print(
        "ratio = plan wall / floor wall (target <= 3); cpu x = the same in CPU seconds; "
        "RSS = the plan's peak (target < 1024 MB); plan B = saved-plan bytes per item; "
        "ledger B = ledger run-file bytes per applied item"
    )
    print(HEADING)
    for result in results:
        print(result.line())
    print(f"# load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    print("target met" if all(r.ok for r in results) else "target MISSED")


if __name__ == "__main__":
    main()
