"""The PostgreSQL ledger against the file ledger, in the same run.

    .venv/bin/python benchmarks/postgres_ledger.py [--records 1000000] [--items 1500]

A throwaway PostgreSQL cluster on 127.0.0.1 (reconciler.testing.postgres, fsync on, as
a real server runs) holds the ledger; the file ledger is a temp folder on the same disk.

  fold    read_ledger of a keyed ledger of N records (N/2 items, each with its own
          intent and result record, as non-idempotent deletes record them), every MAC
          checked and the item table built: from the files, and from PostgreSQL (the same
          bytes, imported with `ledger import`'s code), each in a child process, best of
          --repeat, interleaved. Reported: seconds and the ratio postgres / files.
  apply   `reconcile apply` of --items Segment items against the sandbox in its own
          process with 50 ms latency per answer at Segment's documented 100 requests/s,
          once per backend; the steady request rate (first to last request in the
          sandbox's log) as a fraction of 100/s, best of --apply-repeat, interleaved.
          Target: >= 95% with postgres too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apply_throughput import (  # noqa: E402  (a sibling script)
    LATENCY_MS,
    SECRETS,
    SPACE,
    manifest,
    not_ok,
    reconcile,
    steady_rate,
    throttled,
)

from reconciler.desired import Fingerprinter  # noqa: E402
from reconciler.ledger.files import FileStorage  # noqa: E402
from reconciler.ledger.pg.storage import PgStorage  # noqa: E402
from reconciler.ledger.pg.transfer import import_from  # noqa: E402
from reconciler.ledger.store import RunWriter, create_ledger, result_fields  # noqa: E402
from reconciler.sandbox.context import SandboxOptions  # noqa: E402
from reconciler.sandbox.server import Sandbox  # noqa: E402
from reconciler.testing.postgres import Cluster  # noqa: E402

KEY = b"postgres-ledger-benchmark-key-0123456789"
TARGET = "braze-prod"

CHILD = """
import json, sys, time
from pathlib import Path
from reconciler.ledger.store import read_ledger
backend, where, key = sys.argv[1], sys.argv[2], sys.argv[3].encode()
storage = None
if backend == "postgres":
    from reconciler.ledger.pg.storage import PgStorage
    storage = PgStorage(where)
started = time.perf_counter()
ledger = read_ledger(Path(where if backend == "files" else "ledger"), key, storage=storage)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "ok": ledger.ok, "records": ledger.records,
                  "items": len(ledger.items)}))
"""


def write_files(folder: Path, records: int) -> None:
    """A keyed file ledger of `records` records: an intent and a result per item."""
    create_ledger(folder, Fingerprinter.keyed(KEY))
    with mock.patch("os.fsync"):  # changes no byte; the fold is what is measured
        writer = RunWriter(folder, "bench0000001", {"operation": "apply"}, key=KEY)
        for i in range((records - 2) // 2):
            fp = hashlib.sha256(f"item-{i}".encode()).hexdigest()
            writer.intents([fp], TARGET, "0" * 64)
            writer.results([result_fields(fp, TARGET, "done", 201, None, None, None, "removed")])
        writer.close(removed=records // 2)


def fold(backend: str, where: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, backend, where, KEY.decode()],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def bench_fold(root: Path, cluster: Cluster, records: int, repeat: int) -> dict[str, float]:
    folder = root / "files-ledger"
    started = time.perf_counter()
    write_files(folder, records)
    print(f"wrote {records:,} records to files in {time.perf_counter() - started:.0f}s")
    dsn = cluster.create_database("fold")
    started = time.perf_counter()
    storage = PgStorage(dsn)
    import_from(FileStorage(folder), storage)
    storage.close()
    print(f"imported them into PostgreSQL in {time.perf_counter() - started:.0f}s")
    best: dict[str, dict[str, Any]] = {}
    for _ in range(repeat):  # interleaved, best of each: the machine is shared
        for backend, where in (("files", str(folder)), ("postgres", dsn)):
            got = fold(backend, where)
            assert got["ok"], f"{backend}: the ledger does not verify"
            if backend not in best or got["seconds"] < best[backend]["seconds"]:
                best[backend] = got
    assert best["files"]["records"] == best["postgres"]["records"]
    assert best["files"]["items"] == best["postgres"]["items"]
    files, pg = best["files"]["seconds"], best["postgres"]["seconds"]
    return {
        "records": best["files"]["records"] + 1,
        "files_s": files,
        "postgres_s": pg,
        "ratio_postgres_to_files": pg / files,
    }


def bench_apply(root: Path, cluster: Cluster, items: int, backend: str) -> dict[str, float]:
    profiles = [
        {
            "external_ids": [
                {"type": "user_id", "id": f"u_{i}"},
                {"type": "email", "id": f"u{i}@x.example"},
            ]
        }
        for i in range(items)
    ]
    seed = {"segment": {"spaces": {SPACE: {"profiles": profiles}}}}
    options = SandboxOptions(seed=seed, latency_ms=LATENCY_MS)
    project = root / f"apply-{backend}"
    (project / "specs").mkdir(parents=True)
    env = dict(os.environ, BENCH_KEY="bench-ledger-key", **SECRETS)
    ledger: dict[str, Any] = {"key_env": "BENCH_KEY"}
    if backend == "postgres":
        env["BENCH_LEDGER_DSN"] = cluster.create_database(f"apply_{root.name}")
        ledger.update(backend="postgres", dsn_env="BENCH_LEDGER_DSN")
    with Sandbox(options, in_subprocess=True) as sb:
        target = {
            "vendor": "segment",
            "space_id": SPACE,
            "token_env": "SEG_TOKEN",
            "base_url": sb.urls["segment"],
        }
        config = {"version": 1, "ledger": ledger, "targets": {"bench": target}}
        (project / "reconciler.yaml").write_text(yaml.safe_dump(config))
        absent = [
            {
                "profile": {"user_id": f"u_{i}"},
                "identifiers": [{"type": "email", "value": f"u{i}@x.example"}],
            }
            for i in range(items)
        ]
        docs = [manifest({"target": "bench", "absent": absent})]
        (project / "specs" / "bench.yaml").write_text(yaml.safe_dump_all(docs))
        started = time.perf_counter()
        done = subprocess.run(
            [*reconcile(), "apply", "--auto-approve", "--parallelism", "16"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        log = sb.control.requests("segment")
    rate = steady_rate(log)
    return {
        "items": items,
        "apply_items_per_s": items / elapsed,
        "steady_requests_per_s": rate,
        "fraction_of_limit": rate / 100.0,
        "throttled": throttled(log),
        "non_2xx": not_ok(log),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=1500, help="Segment items to apply")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--apply-repeat", type=int, default=3, help="apply runs per backend")
    parser.add_argument("--skip-fold", action="store_true")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="postgres-ledger-"))
    cluster = Cluster.start(root / "cluster", fsync=True)
    try:
        results: dict[str, Any] = {}
        if not args.skip_fold:
            results["fold"] = bench_fold(root, cluster, args.records, args.repeat)
            print(json.dumps({"fold": results["fold"]}, indent=2))
        for turn in range(args.apply_repeat):  # interleaved, best of each: a shared machine
            for backend in ("files", "postgres"):
                got = bench_apply(root / f"turn{turn}", cluster, args.items, backend)
                print(json.dumps({f"apply_{backend}": got}, indent=2))
                best = results.get(f"apply_{backend}")
                if best is None or got["fraction_of_limit"] > best["fraction_of_limit"]:
                    results[f"apply_{backend}"] = got
        files_apply = results["apply_files"]["fraction_of_limit"]
        print(f"\nfiles apply (best of {args.apply_repeat}): {files_apply:.1%} of Segment's 100/s")
        pg = results["apply_postgres"]["fraction_of_limit"]
        print(
            f"postgres apply (best of {args.apply_repeat}): {pg:.1%} of Segment's 100/s "
            "(target >= 95%)"
        )
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
