"""Random ledgers for holding the fold to its reference (tests/ledger/reference_fold.py).

`random_ledger` writes, with the real RunWriter (and the 0.1.x writer for format 1), a
ledger of many runs over a pool of items: applies with single and windowed intents,
every result state, codes, messages (some with quotes, backslashes and non-ASCII text, so
lines leave the fast path), request ids, evidence, answers missing (killed runs) and
announced requests withdrawn; refreshes (present, absent, unverified); people's
resolutions; unlocks; runs that branch from the middle of an earlier run (concurrent
runs, conflicts, segments); format-1 runs first when asked.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any
from unittest import mock

from reconciler.desired import Fingerprinter
from reconciler.ledger.store import RunWriter, create_ledger, result_fields
from tests.ledger.legacy import LegacyRunWriter, create_legacy_ledger

KEY = b"random-ledger-key-0123456789abcdef"
TARGETS = ("seg", "braze", "twilio")
STATES = ("accepted", "done", "failed", "rejected")
MESSAGES = (
    None,
    "Service Unavailable",
    'quoted "value" here',
    "back\\slash",
    "naïve café ✓",
    "line\nbreak",
)
CODES = (200, 202, 400, 404, 429, 503, None)


def _fps(rng: random.Random, n: int) -> list[str]:
    return [hashlib.sha256(f"item-{rng.random()}".encode()).hexdigest() for _ in range(n)]


def random_ledger(
    ledger_dir: Path,
    seed: int,
    items: int = 2000,
    runs: int = 12,
    keyed: bool = True,
    legacy_runs: int = 0,
) -> bytes | None:
    """Write a random ledger into `ledger_dir`; returns the key to read it with."""
    rng = random.Random(seed)
    pool = _fps(rng, items)
    key = KEY if keyed else None
    fingerprinter = Fingerprinter.keyed(KEY) if keyed else Fingerprinter.salted(b"s" * 16)
    with mock.patch("os.fsync"):
        if legacy_runs:
            create_legacy_ledger(ledger_dir, fingerprinter, "random")
            for r in range(legacy_runs):
                _legacy_run(ledger_dir, rng, pool, f"legacy{r:03d}")
        else:
            create_ledger(ledger_dir, fingerprinter)
        points: list[list[str] | None] = [None]  # where a run may begin: None = the heads
        for r in range(runs):
            after = rng.choice(points) if rng.random() < 0.3 else None
            kind = rng.choices(("apply", "refresh", "resolve", "unlock"), (6, 2, 1, 0.3))[0]
            writer = RunWriter(ledger_dir, f"run{r:03d}", {"op": kind}, key=key, after=after)
            if kind == "apply":
                _apply(writer, rng, pool, points)
            elif kind == "refresh":
                _refresh(writer, rng, pool)
            elif kind == "resolve":
                for fp in rng.sample(pool, rng.randint(1, 20)):
                    decision = rng.choice(("done", "absent", "pending"))
                    writer.resolution(fp, rng.choice(TARGETS), decision, "checked 'by' hand", "a")
            else:
                writer.unlock("lock-1", "ops@ci", "runner-1", {"who": "ci", "pid": 7})
            if rng.random() < 0.85:
                writer.close(items=items)
            else:
                writer._part.close()  # killed: no end record
            points.append([writer.head])
    return key


def _apply(
    writer: RunWriter, rng: random.Random, pool: list[str], points: list[list[str] | None]
) -> None:
    chosen = rng.sample(pool, rng.randint(1, min(len(pool), 1500)))
    target = rng.choice(TARGETS)
    i = 0
    while i < len(chosen):
        if rng.random() < 0.3:  # one request, not safe to send twice
            group = chosen[i : i + rng.randint(1, 3)]
            i += len(group)
            writer.intents(group, target, "d" * 64)
            _answer(writer, rng, group, target)
            continue
        window = chosen[i : i + rng.randint(1, 64)]
        i += len(window)
        writer.intents_ahead(target, [([fp], "e" * 64) for fp in window])
        for fp in window:
            if rng.random() < 0.05:
                continue  # never claimed: withdrawn at close
            writer.claim([fp])
            _answer(writer, rng, [fp], target)
        if rng.random() < 0.1:
            writer.flush()
            points.append([writer.head])  # a later run branches from here
        if rng.random() < 0.05:
            writer.results([])


def _answer(writer: RunWriter, rng: random.Random, fps: list[str], target: str) -> None:
    roll = rng.random()
    if roll < 0.06:
        return  # no answer: unknown
    uniform = roll < 0.75
    state = rng.choice(STATES)
    fields = []
    for fp in fps:
        if not uniform:
            state = rng.choice(STATES)
        code = 200 if uniform and state == "done" else rng.choice(CODES)
        message = None if uniform else rng.choice(MESSAGES)
        evidence = None
        if state == "done":
            evidence = "removed" if uniform else rng.choice(("removed", "absent", None))
        request_id = f"{rng.getrandbits(64):016x}-req" if rng.random() < 0.8 else None
        note = "retry-after 2" if rng.random() < 0.02 else None
        fields.append(result_fields(fp, target, state, code, message, request_id, note, evidence))
    writer.results(fields)


def _refresh(writer: RunWriter, rng: random.Random, pool: list[str]) -> None:
    target = rng.choice(TARGETS)
    chosen = rng.sample(pool, rng.randint(1, min(len(pool), 800)))
    for start in range(0, len(chosen), 100):
        batch = chosen[start : start + 100]
        if rng.random() < 0.5:
            observed = [(fp, "absent") for fp in batch]
        else:
            observed = [(fp, rng.choice(("present", "absent", "unverified"))) for fp in batch]
        writer.refreshes(target, observed)


def _legacy_run(ledger_dir: Path, rng: random.Random, pool: list[str], run_id: str) -> None:
    writer = LegacyRunWriter(ledger_dir, run_id, {"op": "apply", "commit": "c0ffee1"})
    for fp in rng.sample(pool, rng.randint(1, min(len(pool), 300))):
        target = rng.choice(TARGETS)
        roll = rng.random()
        if roll < 0.15:
            observed = rng.choice(("present", "absent"))
            writer.append("refresh", fp=fp, target=target, observed=observed)
            continue
        writer.append("intent", fp=fp, target=target, request="d" * 64, attempt=1)
        if roll < 0.2:
            continue
        state = rng.choice(STATES)
        fields: dict[str, Any] = {"fp": fp, "target": target, "status": state}
        fields["code"] = rng.choice(CODES)
        message = rng.choice(MESSAGES)
        if message is not None:
            fields["message"] = message
        if state == "done" and rng.random() < 0.5:
            fields["evidence"] = "removed"
        writer.append("result", **fields)
    writer.close(sent=1)


def table_of(ledger: Any) -> dict[str, tuple[Any, ...]]:
    """Everything the item table says of each item."""
    return {
        fp: (s.state, s.target, s.ts, s.run, s.code, s.message, s.evidence, s.conflict, s.held)
        for fp, s in ledger.items.items()
    }


def summary_of(ledger: Any) -> dict[str, Any]:
    """Everything else a read ledger says."""
    return {
        "read_at": dict(ledger.read_at),
        "breaks": list(ledger.breaks),
        "warnings": list(ledger.warnings),
        "runs": json.dumps(ledger.runs, sort_keys=True),
        "accounts": dict(ledger.target_accounts),
        "unlocks": json.dumps(ledger.unlocks, sort_keys=True),
        "conflicts": ledger.conflicts,
        "files": ledger.files,
        "records": ledger.records,
        "serial": ledger.serial,
        "digest": ledger.digest,
        "heads": list(ledger.heads),
        "ends": sorted(ledger.ends),
        "unverified": ledger.unverified,
        "len": len(ledger.items),
    }
