"""Writing one run: records sealed into the chain, durable before anything depends on them.

    writer = RunWriter(ledger_dir, run_id, info, key=key, after=ledger.heads, guard=check)
    writer.intents(fps, target, digest)        # one request: durable on return
    writer.intents_ahead(target, [(fps, digest), ...])  # several requests: one record
    writer.claim(fps)                          # one of those is about to be sent
    writer.results([result_fields(...), ...])  # answers: grouped, see below
    writer.close(**summary)                    # withdrawals, last results, `end`

Durability: an intent record is fsynced before `intents` or `intents_ahead` returns, so
every request's intent is on disk before the request is sent; `guard` (the lock check)
runs before each. Results of requests whose intent came from `intents` (one request,
e.g. Braze by email: not safe to send twice) are fsynced before `results` returns.
Results of requests announced by `intents_ahead` (idempotent ones) are grouped: written
with the next intent record, or once 64 are waiting, or at the latest once the oldest
waited a second, and at close (an answer that follows a request still in flight waits for
it within that second, so stretches have no gaps). A kill loses at most those, and
their items read `unknown`: sent again, which is safe for exactly those requests.

Announced requests that were never claimed (the target stopped, an Insider identity
delete kept back) are withdrawn at close: their items return to the state they had.

A part never grows past `max_file_bytes`: the next record starts a new file, whose first
record (`part`) continues the chain. The new file's folder entry is fsynced before any
record is written to it, so a kill at any instant leaves an empty or torn file at worst,
which the reader ignores with a warning.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import anchor
from reconciler.ledger.files import RUNS_DIR, FileStorage
from reconciler.ledger.header import HEADER_FILE, now, parse_header
from reconciler.ledger.order import read_structure
from reconciler.ledger.records import (
    END,
    EVIDENCE,
    FP_CHARS,
    INTENT,
    NO_RESULT,
    OBSERVED_LETTER,
    PART,
    REFRESH,
    RESOLUTION,
    RESOLUTIONS,
    RESULT,
    RESULT_COLUMNS,
    RESULT_STATES,
    RUN,
    STATE_LETTER,
    UNLOCK,
    WITHDRAW,
    encode_body,
)
from reconciler.ledger.storage import Storage

MAX_FILE_BYTES = 48_000_000  # GitHub warns at 50 MB and refuses 100 MB
RESULT_BATCH = 64
RESULT_DELAY = 1.0  # seconds a grouped result may wait
RESERVED = frozenset({"type", "n", "ts", "run", "after", "m", "v"})


def result_fields(
    fp: str,
    target: str,
    status: str,
    code: int | None,
    message: str | None,
    request_id: str | None = None,
    note: str | None = None,
    evidence: str | None = None,
) -> dict[str, Any]:
    """One item's answer, as `RunWriter.results` takes it."""
    if status not in RESULT_STATES:
        raise ValueError(f"not a result state: {status}")
    if evidence is not None and evidence not in EVIDENCE:
        raise ValueError(f"not an evidence: {evidence}")
    fields: dict[str, Any] = {"fp": fp, "target": target, "status": status, "code": code}
    for name, value in (
        ("message", message),
        ("request_id", request_id),
        ("note", note),
        ("evidence", evidence),
    ):
        if value is not None:
            fields[name] = value
    return fields


def request_digest(digests: Sequence[str]) -> str:
    """What an intent records of its requests: one request's keyed digest, cut to 128
    bits; for several, the SHA-256 of their digests one a line, cut the same way."""
    if len(digests) == 1:
        return digests[0][:32]
    return hashlib.sha256("\n".join(digests).encode("ascii")).hexdigest()[:32]


class _Open:
    """An announced item without a result yet."""

    __slots__ = ("claimed", "n", "pos", "windowed")

    def __init__(self, n: int, pos: int, windowed: bool, claimed: bool) -> None:
        self.n = n
        self.pos = pos
        self.windowed = windowed
        self.claimed = claimed


class RunWriter:
    """Appends one run's records to its own file(s)."""

    def __init__(
        self,
        ledger_dir: Path,
        run_id: str,
        info: dict[str, Any],
        *,
        key: bytes | None = None,
        after: Sequence[str] | None = None,
        guard: Callable[[], None] | None = None,
        max_file_bytes: int = MAX_FILE_BYTES,
        clock: Callable[[], float] = time.monotonic,
        storage: Storage | None = None,
    ) -> None:
        clash = RESERVED & info.keys()
        if clash:
            raise ValueError(f"run info may not set {sorted(clash)}")
        self._ledger_dir = ledger_dir
        self._storage: Storage = storage or FileStorage(ledger_dir)
        line = self._storage.read_header()
        if line is None:
            raise ReconcilerError(f"{ledger_dir}: no ledger here")
        header = parse_header(line, str(ledger_dir / HEADER_FILE))
        chain = header.chain(key)
        if chain is None:
            raise ReconcilerError(
                "the ledger is keyed: writing to it needs its key (ledger.key_env)"
            )
        self._chain = chain
        if after is None:
            after = read_structure(self._storage, header.id).heads or [header.id]
        self.run_id = run_id
        self.guard = guard
        self.max_file_bytes = max_file_bytes
        self._clock = clock
        self._stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._part_no = 1
        self._part = self._storage.create_part(f"{self._stamp}-{run_id}.jsonl")
        self._prev = anchor(list(after))
        self._n = 0
        self._open: dict[str, _Open] = {}
        self._waiting: list[tuple[_Open, dict[str, Any]]] = []
        self._waiting_since = 0.0
        self.closed = False
        self._write(
            [{"type": RUN, "n": 0, "ts": now(), "run": run_id, "after": sorted(after), **info}]
        )

    @property
    def path(self) -> Path:
        """The file being appended to (the file backend's)."""
        return self._ledger_dir / RUNS_DIR / self._part.name

    @property
    def head(self) -> str:
        """The id of the newest record written."""
        return self._prev.decode("ascii")

    # -- the records ----------------------------------------------------------------
    def intents(
        self, fps: Sequence[str], target: str, request_digest_: str, attempt: int = 1
    ) -> None:
        """One request's intent, durable before this returns (the request may then be
        sent: its results are recorded as soon as they come)."""
        self._check()
        self._intent(target, [list(fps)], [request_digest_], windowed=False, attempt=attempt)

    def intent(self, fp: str, target: str, request_digest_: str, attempt: int = 1) -> None:
        self.intents([fp], target, request_digest_, attempt)

    def intents_ahead(self, target: str, requests: Sequence[tuple[Sequence[str], str]]) -> None:
        """Intents for several idempotent requests in one record, durable before this
        returns; each is claimed (`claim`) just before it is sent."""
        self._check()
        self._intent(
            target,
            [list(fps) for fps, _ in requests],
            [d for _, d in requests],
            windowed=True,
        )

    def claim(self, fps: Sequence[str]) -> None:
        """The request for `fps` (announced by `intents_ahead`) is about to be sent."""
        self._check()
        for fp in fps:
            entry = self._open.get(fp[:FP_CHARS])
            if entry is None:
                raise ValueError("claim of an item without an intent")
            entry.claimed = True

    def _check(self) -> None:
        if self.closed:
            raise ReconcilerError("the run is closed: nothing more is sent")
        if self.guard is not None:
            self.guard()

    def _intent(
        self,
        target: str,
        groups: list[list[str]],
        digests: list[str],
        windowed: bool,
        attempt: int = 1,
    ) -> None:
        fps = [fp[:FP_CHARS] for group in groups for fp in group]
        if not fps:
            raise ValueError("an intent names at least one item")
        records = self._take_results()
        record: dict[str, Any] = {
            "type": INTENT,
            "n": 0,
            "ts": now(),
            "target": target,
            "fps": fps,
            "requests": len(groups),
        }
        if len(groups) not in (1, len(fps)):
            record["sizes"] = [len(g) for g in groups]
        record["digest"] = request_digest(digests)
        if attempt != 1:
            record["attempt"] = attempt
        records.append(record)
        self._write(records)
        n = record["n"]
        for pos, fp in enumerate(fps):
            self._open[fp] = _Open(n, pos, windowed, not windowed)

    def results(self, fields: Sequence[dict[str, Any]]) -> None:
        """Answers (see result_fields): durable before this returns when any of them
        answers a request announced by `intents`, else grouped (module docstring)."""
        now_ = self._clock()
        urgent = False
        if not self._waiting:
            self._waiting_since = now_
        for f in fields:
            if f["status"] not in RESULT_STATES:
                raise ValueError(f"not a result state: {f['status']}")
            entry = self._open.pop(f["fp"][:FP_CHARS], None)
            if entry is None:
                raise ValueError("a result for an item without an intent")
            self._waiting.append((entry, f))
            urgent = urgent or not entry.windowed
        late = now_ - self._waiting_since >= RESULT_DELAY
        if urgent:
            self.flush()
        elif late:
            # grouped answers only: a backend may commit them while the run goes on
            # (reconciler.ledger.storage.Appender.append, durable=False)
            self._write_results(hold=False, durable=False)
        elif len(self._waiting) >= RESULT_BATCH:
            self._write_results(hold=True, durable=False)

    def result(
        self,
        fp: str,
        target: str,
        status: str,
        code: int | None,
        message: str | None,
        request_id: str | None = None,
        note: str | None = None,
        evidence: str | None = None,
    ) -> None:
        self.results([result_fields(fp, target, status, code, message, request_id, note, evidence)])

    def flush(self) -> None:
        """Write every waiting result now."""
        self._write_results(hold=False)

    def _write_results(self, hold: bool, durable: bool = True) -> None:
        records = self._take_results(hold)
        if records:
            self._write(records, durable)

    def _take_results(self, hold: bool = True) -> list[dict[str, Any]]:
        """Waiting results as records. With `hold` (not forced, and none waited a
        second), answers that follow a request of the same intent still in flight wait
        for it, so its answer joins their stretch instead of leaving a gap."""
        if not self._waiting:
            return []
        if hold and self._clock() - self._waiting_since >= RESULT_DELAY:
            hold = False
        in_flight: dict[int, int] = {}  # intent -> its first position still in flight
        if hold:
            for entry in self._open.values():
                if entry.windowed and entry.claimed:
                    first = in_flight.get(entry.n)
                    if first is None or entry.pos < first:
                        in_flight[entry.n] = entry.pos
        by_intent: dict[int, dict[int, dict[str, Any]]] = {}
        kept: list[tuple[_Open, dict[str, Any]]] = []
        for entry, f in self._waiting:
            first = in_flight.get(entry.n)
            if first is not None and entry.pos > first:
                kept.append((entry, f))
            else:
                by_intent.setdefault(entry.n, {})[entry.pos] = f
        self._waiting = kept  # (the oldest of them has waited since _waiting_since)
        ts = now()
        records = []
        for n in sorted(by_intent):
            answers = by_intent[n]
            positions = sorted(answers)
            # contiguous stretches; a short gap is cheaper as "." than a new record
            start = positions[0]
            prev = start
            for pos in [*positions[1:], None]:
                if pos is not None and pos - prev <= 4:
                    prev = pos
                    continue
                records.append(_result_record(n, start, prev, answers, ts))
                if pos is not None:
                    start = prev = pos
        return records

    def refresh(self, fp: str, target: str, observed: str) -> None:
        self.refreshes(target, [(fp, observed)])

    def refreshes(self, target: str, observed: Sequence[tuple[str, str]]) -> None:
        """What a refresh saw of each item (present, absent, unverified): durable."""
        letters = "".join(OBSERVED_LETTER[o] for _, o in observed)
        record = {
            "type": REFRESH,
            "n": 0,
            "ts": now(),
            "target": target,
            "fps": [fp[:FP_CHARS] for fp, _ in observed],
            "s": letters,
        }
        self._write([*self._take_results(), record])

    def resolution(self, fp: str, target: str, decision: str, reason: str, who: str) -> None:
        """A person's decision about one item: done, absent or pending; durable."""
        if decision not in RESOLUTIONS:
            raise ValueError(f"not a decision: {decision}")
        record = {
            "type": RESOLUTION,
            "n": 0,
            "ts": now(),
            "target": target,
            "fp": fp[:FP_CHARS],
            "as": decision,
            "reason": reason,
            "who": who,
        }
        self._write([*self._take_results(), record])

    def unlock(self, lock_id: str, who: str, host: str, held_by: dict[str, Any]) -> None:
        """A broken lock: who broke it, where, and the holder it named; durable."""
        record = {
            "type": UNLOCK,
            "n": 0,
            "ts": now(),
            "lock": lock_id,
            "who": who,
            "host": host,
            "held_by": held_by,
        }
        self._write([record])

    def close(self, **summary: Any) -> None:
        """Withdraw what was announced and never sent, write the last results and the
        `end` record (with `summary`), and close the file."""
        if self.closed:
            return
        records = self._take_results(hold=False)
        records += self._withdrawals()
        records.append({"type": END, "n": 0, "ts": now(), **summary})
        try:
            self._write(records)
        finally:
            self.closed = True
            self._part.close()

    def _withdrawals(self) -> list[dict[str, Any]]:
        unsent: dict[int, list[int]] = {}
        for fp, entry in list(self._open.items()):
            if entry.windowed and not entry.claimed:
                unsent.setdefault(entry.n, []).append(entry.pos)
                del self._open[fp]
        ts = now()
        return [
            {"type": WITHDRAW, "n": 0, "ts": ts, "of": n, "pos": sorted(pos)}
            for n, pos in sorted(unsent.items())
        ]

    # -- bytes ----------------------------------------------------------------------
    def _write(self, records: list[dict[str, Any]], durable: bool = True) -> None:
        """Seal records into the chain and append them, rotating to a new part when
        the current one would pass max_file_bytes; durable when this returns."""
        out = bytearray()
        chain = self._chain
        for record in records:
            record["n"] = self._n
            body = encode_body(record)
            if (
                self._part.size + len(out) + len(body) + 31 > self.max_file_bytes
                and self._part.size + len(out) > 0
            ):
                if out:
                    self._part.append(bytes(out))
                    out.clear()
                self._rotate()
                record["n"] = self._n
                body = encode_body(record)
            line, self._prev = chain.seal(self._prev, body)
            out += line
            out += b"\n"
            self._n += 1
        if out:
            self._part.append(bytes(out), durable)

    def _rotate(self) -> None:
        self._part.close()
        self._part_no += 1
        self._part = self._storage.create_part(
            f"{self._stamp}-{self.run_id}.p{self._part_no:04d}.jsonl"
        )
        record = {
            "type": PART,
            "n": self._n,
            "ts": now(),
            "run": self.run_id,
            "part": self._part_no,
            "after": self._prev.decode("ascii"),
        }
        line, self._prev = self._chain.seal(self._prev, encode_body(record))
        self._part.append(line + b"\n")
        self._n += 1


def _result_record(
    n: int, start: int, end: int, answers: dict[int, dict[str, Any]], ts: str
) -> dict[str, Any]:
    span = range(start, end + 1)
    letters = "".join(
        STATE_LETTER[answers[p]["status"]] if p in answers else NO_RESULT for p in span
    )
    record: dict[str, Any] = {
        "type": RESULT,
        "n": 0,
        "ts": ts,
        "of": n,
        "at": start,
        "s": letters,
    }
    for name in RESULT_COLUMNS:
        values = [answers[p].get(name) if p in answers else None for p in span]
        present = [answers[p].get(name) for p in span if p in answers]
        if all(v is None for v in present):
            continue
        if all(v == present[0] for v in present):
            record[name] = present[0]
        else:
            record[name] = values
    return record
