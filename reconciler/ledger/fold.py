"""Reading the ledger: one pass that checks every record's link and folds item states.

Runs are folded in chain order (reconciler.ledger.order), never by file name or
timestamp; each run's records in the order they were written. Every line is checked on
the way: its id (format 2: the MAC or hash over the previous id and its bytes; format 1:
`prev`, the hash of the line before), its number, its fields. What does not hold is a
*break* (file:line: what is wrong); the readable records are folded all the same, and
callers refuse a ledger with breaks unless told to ignore them (`--ignore-ledger-errors`).

Merged branches: two runs that do not descend from one another are concurrent. An item
they both recorded with different outcomes (`done` in one, `failed` or `unknown` in the
other) is a *conflict*: it folds to `unknown` with `ItemStatus.conflict` saying why, and
plan holds it for a person; a later record that descends from both sides (a refresh, a
person's resolution) settles it.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.chain import ID_CLOSE, ID_OPEN, SUFFIX, Chain, anchor, legacy_id, split
from reconciler.ledger.files import FileStorage
from reconciler.ledger.header import (
    HEADER_FILE,
    Header,
    _id_mismatch,
    header_chain_problem,
    parse_header,
)
from reconciler.ledger.lines import intent_line
from reconciler.ledger.order import END_OF_PART, Segment, Structure, Unit, read_structure
from reconciler.ledger.records import (
    END,
    FIELDS,
    FP_CHARS,
    ID_CHARS,
    INTENT,
    LEGACY_FIELDS,
    LETTER_OBSERVED,
    LETTER_STATE,
    NO_RESULT,
    OBSERVED,
    PART,
    REFRESH,
    RESOLUTION,
    RESULT,
    RESULT_COLUMNS,
    RUN,
    UNLOCK,
    WITHDRAW,
    parse_record,
    problem_v2,
    record_problem,
)
from reconciler.ledger.storage import Storage
from reconciler.ledger.table import (
    ItemStatus,
    ItemTable,
    Key,
    Keys,
    count_keys,
    item_key,
    key_at,
    key_of,
    keys_of,
    keys_slice,
    split_keys,
    text_of,
)
from reconciler.states import ACCEPTED, DONE, DRIFTED, UNKNOWN

FUTURE_SLACK = timedelta(minutes=10)
# how a plain intent begins (the writer puts `type` first)
_INTENT_HEAD = b'{"type":"intent",'


@dataclass
class Ledger:
    """What the ledger holds, read once and folded into item states."""

    path: Path
    header: Header | None = None
    items: ItemTable = field(default_factory=ItemTable)
    serial: int = 0
    digest: str = ""
    heads: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    breaks: list[str] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    # target name -> the account (Target.account) its last run reached
    target_accounts: dict[str, str] = field(default_factory=dict)
    unlocks: list[dict[str, Any]] = field(default_factory=list)
    # item key -> when a refresh last read it and saw something (present or absent): an
    # interrupted refresh run again skips what it read within --min-age
    read_at: dict[str, str] = field(default_factory=dict)
    conflicts: int = 0
    files: int = 0
    records: int = 0
    # why record ids were not checked (a keyed ledger read without its key), or None
    unverified: str | None = None
    # every id where a run or part ends: what a plan's head must still be found among
    ends: set[str] = field(default_factory=set)
    storage: Storage | None = field(default=None, repr=False, compare=False)

    @property
    def exists(self) -> bool:
        return self.header is not None

    @property
    def lineage(self) -> str | None:
        return self.header.lineage if self.header else None

    @property
    def head(self) -> str | None:
        """The ids of the newest record of every branch, joined by ',': what a plan was
        made at. None when there is no ledger."""
        return ",".join(self.heads) if self.header is not None else None

    @property
    def ok(self) -> bool:
        return not self.breaks

    def state_of(self, fingerprint: str) -> str | None:
        status = self.items.get(fingerprint)
        return status.state if status else None

    def holds(self, head: str) -> bool:
        """Whether every record named by `head` (Ledger.head of an earlier read) is
        still in this ledger."""
        wanted = set(head.split(",")) - self.ends
        if not wanted:
            return True
        return _find_ids(self.storage or FileStorage(self.path), wanted)


def _find_ids(storage: Storage, wanted: set[str]) -> bool:
    left = set(wanted)
    for name in storage.parts():
        for _, line in storage.lines(name, []):
            sealed = split(line)
            rid = sealed[1].decode("ascii", "replace") if sealed else legacy_id(line)
            left.discard(rid)
            if not left:
                return True
    return False


@dataclass
class _Run:
    """What the fold keeps about one run while folding its segments."""

    unit: Unit
    run: str
    prev: bytes = b""  # the id the next record chains from
    n: int = 0  # the number the next record must carry
    last_line: bytes | None = None  # format 1: the previous line
    # intent number -> [its items' keys (table.Keys), its `unknown` status, what each
    # position got
    # (0: nothing yet, 1: answered or withdrawn, 2: written as unknown), positions open]
    intents: dict[int, list[Any]] = field(default_factory=dict)
    deferred: bool = False  # some intent's items are not written yet
    future_reported: bool = False
    first_ts: str = ""
    last_ts: str = ""


_READABLE_ERRORS = (KeyError, TypeError, IndexError, ValueError, AttributeError)
# (run, file name, part index, line number, record, ts): one kind's fold, format 2
_FoldV2 = Callable[[_Run, str, int, int, dict[str, Any], str], None]
_FoldV1 = Callable[[_Run, dict[str, Any], str], None]  # (run, record, ts): format 1


class _Folder:
    def __init__(self, ledger: Ledger, storage: Storage, chain: Chain | None) -> None:
        self.ledger = ledger
        self.storage = storage
        self.chain = chain
        self.items = ledger.items
        self.frontier: dict[Key, list[ItemStatus]] = {}
        self.breaks: dict[str, tuple[int, str]] = {}
        self.runs: dict[int, _Run] = {}
        self.seg = -1
        self.anc = 0
        self.fast = True
        self.folded = 0  # bitset of folded segments
        self.seen: dict[str, str] = {}  # one copy of each target and run id
        self.seg_last_ts: list[str] = []
        self.horizon = (datetime.now(UTC) + FUTURE_SLACK).isoformat().replace("+00:00", "Z")
        self.v2_units = False
        self.off = False  # checking only: no item table (nothing can conflict)
        # one small fold per record kind, for every kind the field table knows (records.py:
        # FIELDS, LEGACY_FIELDS), which problem_v2 / record_problem checked the record by
        self._v2_kinds: dict[str, _FoldV2] = {
            RUN: self._run,
            PART: self._part,
            INTENT: self._intent,
            RESULT: self._result,
            WITHDRAW: self._withdraw,
            REFRESH: self._refresh,
            RESOLUTION: self._resolution,
            UNLOCK: self._unlock,
            END: self._end,
        }
        self._v1_kinds: dict[str, _FoldV1] = {
            RUN: self._v1_run,
            INTENT: self._v1_intent,
            RESULT: self._v1_result,
            REFRESH: self._v1_refresh,
            END: self._v1_end,
        }
        assert self._v2_kinds.keys() == FIELDS.keys()
        assert self._v1_kinds.keys() == LEGACY_FIELDS.keys()

    # -- breaks -------------------------------------------------------------------
    def brk(self, name: str, number: int, problem: str) -> None:
        known = self.breaks.get(name)
        if known is None or number < known[0]:
            self.breaks[name] = (number, problem)

    def text(self, value: Any) -> str:
        seen = self.seen.get(value) if type(value) is str else None
        if seen is not None:
            return seen
        if type(value) is not str:
            raise TypeError(value)
        self.seen[value] = value
        return value

    # -- setting states -----------------------------------------------------------
    def put_many(self, keys: Keys, status: ItemStatus) -> None:
        if self.off:
            return
        if self.fast:
            self.items.write(keys, status)  # logged: no work per item until a lookup
            if self.frontier:
                pop = self.frontier.pop
                for key in split_keys(keys):
                    pop(key, None)
        else:
            for key in split_keys(keys):
                self.put(key, status)

    def put(self, key: Key, new: ItemStatus | None) -> None:
        """Set one item (None: back to pending), finding conflicts with concurrent runs."""
        if self.off:
            return
        if self.fast:
            self.items.write(key if type(key) is bytes else [key], new)
            if self.frontier:
                self.frontier.pop(key, None)
            return
        items = self.items.index()  # concurrent runs: every write looks at the state
        candidates = self.frontier.get(key)
        if candidates is None:
            old = items.get(key)
            candidates = [old] if old is not None else []
        seg, anc = self.seg, self.anc
        live = [c for c in candidates if c.seg != seg and not (anc >> c.seg) & 1]
        if not live:
            self.frontier.pop(key, None)
            if new is None:
                items.pop(key, None)
            else:
                items[key] = new
            return
        if new is None:
            # a withdrawal or "pending" concurrent with other outcomes: those stand
            self.frontier[key] = live
            items[key] = live[-1] if len(live) == 1 else self._conflict(live)
            return
        together = [*live, new]
        self.frontier[key] = together
        if all(c.state == new.state for c in live):
            items[key] = new
        else:
            items[key] = self._conflict(together)

    def _conflict(self, statuses: list[ItemStatus]) -> ItemStatus:
        last = statuses[-1]
        said = ", ".join(f"{s.state} in run {s.run}" for s in statuses)
        if len({s.state for s in statuses}) == 1:
            return last
        return ItemStatus(
            UNKNOWN,
            last.target,
            last.ts,
            last.run,
            conflict=f"conflicting outcomes in runs of merged branches: {said}",
            seg=last.seg,
            n=last.n,
        )

    # -- the pass -------------------------------------------------------------------
    def fold(self, structure: Structure) -> None:
        header = self.ledger.header
        assert header is not None
        for k, seg in enumerate(structure.segments):
            self.seg = k
            self.anc = structure.ancestors[k]
            self.fast = (self.folded & ~self.anc) == 0
            run = self.runs.get(id(seg.unit))
            if run is None:
                run = self.runs[id(seg.unit)] = _Run(seg.unit, seg.unit.key)
                self._begin(seg, run, structure, header)
            self._segment(seg, run)
            if run.deferred:
                self._write_unknown(run)
            if seg.end is None:
                run.intents.clear()  # the run is folded whole
            self.seg_last_ts.append(run.last_ts)
            self.folded |= 1 << k

    def _begin(self, seg: Segment, run: _Run, structure: Structure, header: Header) -> None:
        """Checks on where a run begins: the kind of record it continues from."""
        unit = seg.unit
        first = unit.parts[0]
        if unit.version == 2:
            self.v2_units = True
            run.prev = anchor(first.anchors)
            return
        run.last_line = None
        if not header.keyed or self.chain is None:
            return
        for parent in seg.parents:
            if structure.segments[parent].unit.version == 2:
                self.brk(
                    first.name,
                    1,
                    "an unkeyed (format 1) run continues keyed records: written by an older "
                    "reconciler after the upgrade, or forged",
                )

    @staticmethod
    def _range(seg: Segment) -> Iterator[tuple[int, int, int]]:
        """(part index, lines to skip, last line) of each part the segment's records are in."""
        start = seg.start or (0, 0)
        end = seg.end or (len(seg.unit.parts) - 1, END_OF_PART)
        first_part = start[0] + 1 if start[1] == END_OF_PART else start[0]
        for index in range(first_part, end[0] + 1):
            skip = start[1] if index == start[0] else 0
            stop = end[1] if index == end[0] else END_OF_PART
            yield index, skip, stop

    def _segment(self, seg: Segment, run: _Run) -> None:
        unit = seg.unit
        handle = self._line_v2 if unit.version == 2 else self._line_v1
        count = 0
        name = unit.parts[0].name
        try:
            for index, skip, stop in self._range(seg):
                name = unit.parts[index].name
                for number, line in self.storage.lines(name, self.ledger.warnings):
                    if number <= skip:
                        continue
                    if number > stop:
                        break
                    count += 1
                    handle(run, name, index, number, line)
        except OSError as exc:
            raise ReconcilerError(f"{name}: the run file cannot be read ({exc.strerror})") from exc
        self.ledger.records += count

    # -- format 1 ------------------------------------------------------------------
    def _line_v1(self, run: _Run, name: str, index: int, number: int, line: bytes) -> None:
        expected = legacy_id(run.last_line) if run.last_line is not None else None
        run.last_line = line
        try:
            rec = parse_record(line)
        except (ValueError, RecursionError):
            self._skip(name, number, "not valid JSON (edited or corrupted)")
            return
        problem = record_problem(rec)
        if problem is not None:
            self._skip(name, number, problem)
            return
        if expected is not None and rec.get("prev") != expected:
            self.brk(name, number, _id_mismatch(Chain(None)))
        ts = rec["ts"]
        self._check_ts(run, name, number, ts)
        self._v1_kinds[rec["type"]](run, rec, ts)

    def _v1_intent(self, run: _Run, rec: dict[str, Any], ts: str) -> None:
        target, run_id = self.text(rec["target"]), self.text(rec["run"])
        status = ItemStatus(UNKNOWN, target, ts, run_id, seg=self.seg)
        self.put(key_of(rec["fp"][:FP_CHARS]), status)

    def _v1_result(self, run: _Run, rec: dict[str, Any], ts: str) -> None:
        evidence = rec.get("evidence")
        status = ItemStatus(
            self.text(rec["status"]),
            self.text(rec["target"]),
            ts,
            self.text(rec["run"]),
            rec.get("code"),
            rec.get("message"),
            evidence if type(evidence) is str else None,
            seg=self.seg,
        )
        self.put(key_of(rec["fp"][:FP_CHARS]), status)

    def _v1_refresh(self, run: _Run, rec: dict[str, Any], ts: str) -> None:
        target, run_id = self.text(rec["target"]), self.text(rec["run"])
        key = key_of(rec["fp"][:FP_CHARS])
        self._refresh_one(key, OBSERVED[rec["observed"]], target, ts, run_id)

    def _v1_run(self, run: _Run, rec: dict[str, Any], ts: str) -> None:
        run.run = rec["run"]
        self.ledger.runs[rec["run"]] = rec
        self.ledger.target_accounts.update(rec.get("targets") or {})

    def _v1_end(self, run: _Run, rec: dict[str, Any], ts: str) -> None:
        known = self.ledger.runs.get(rec["run"])
        if known is not None:
            known["ended"] = ts

    def _skip(self, name: str, number: int, problem: str) -> None:
        self.brk(name, number, problem)
        self.ledger.warnings.append(f"{name}:{number}: {problem}; ignored")

    def _refresh_one(
        self, key: Key, present: bool | None, target: str, ts: str, run_id: str
    ) -> None:
        if present is None:
            return  # unverified: nothing changes on guesswork
        self.ledger.read_at[text_of(key)] = ts
        if present:
            self.put(key, ItemStatus(DRIFTED, target, ts, run_id, seg=self.seg))
            return
        prior = self.items.index().get(key)
        # a read that finds it gone confirms a removal that was queued (accepted), sent
        # again (drifted) or whose answer was lost (unknown: a held item settles so)
        if prior is not None and prior.state in (ACCEPTED, DRIFTED, UNKNOWN):
            self.put(key, ItemStatus(DONE, target, ts, run_id, evidence="confirmed", seg=self.seg))

    def _check_ts(self, run: _Run, name: str, number: int, ts: str) -> None:
        if ts > self.horizon and ts[:1].isdigit() and not run.future_reported:
            run.future_reported = True
            self.ledger.warnings.append(
                f"{name}:{number}: dated {ts}, in the future: a clock was ahead, or the file "
                "was edited (the fold follows the chain, not timestamps)"
            )
        if not run.first_ts:
            run.first_ts = ts
        run.last_ts = ts

    # -- format 2 ------------------------------------------------------------------
    def _line_v2(self, run: _Run, name: str, index: int, number: int, line: bytes) -> None:
        # split() inlined: this runs for every line of the ledger
        sealed = (
            (line[:-SUFFIX], line[-ID_CHARS - 2 : -2])
            if line[-SUFFIX : -SUFFIX + 6] == ID_OPEN and line[-2:] == ID_CLOSE
            else None
        )
        if sealed is None or len(line) <= SUFFIX + 1:
            try:
                parse_record(line)
            except (ValueError, RecursionError):
                self._skip(name, number, "not valid JSON (edited or corrupted)")
            else:
                self._skip(name, number, "not a format-2 record (it does not end with its id 'm')")
            return
        body, rid = sealed
        chain = self.chain
        if chain is not None and chain.id_of(run.prev, body) != rid:
            self.brk(name, number, _id_mismatch(chain))
        run.prev = rid
        # a plain intent without an object per item (lines.py: None when not plain). A
        # result is parsed whole: its request ids are short ASCII strings the C scanner
        # reads faster than lines.result_line checks them (benchmarks/ledger_scale.py)
        rec: Any = None
        if line.startswith(_INTENT_HEAD):
            cut = intent_line(line)
            if cut is not None:
                rec = cut[0]
                rec["fps"] = cut[1]  # the items' keys, one block of 16 bytes each
        if rec is None:
            try:
                rec = parse_record(line)
            except (ValueError, RecursionError):
                self._skip(name, number, "not valid JSON (edited or corrupted)")
                return
            problem = problem_v2(rec)
            if problem is not None:
                self._skip(name, number, problem)
                run.n += 1
                return
        n = rec["n"]
        if n != run.n:
            self.brk(
                name,
                number,
                f"record number {n} where {run.n} was expected (records were removed, "
                "duplicated or reordered)",
            )
        run.n = n + 1
        ts = rec["ts"]
        if ts > self.horizon or not run.first_ts:
            self._check_ts(run, name, number, ts)
        run.last_ts = ts
        kind = rec["type"]
        try:
            if kind == RESULT:  # most records: no lookup of its fold
                self._result(run, name, index, number, rec, ts)
            else:
                self._v2_kinds[kind](run, name, index, number, rec, ts)
        except _READABLE_ERRORS:
            self._skip(name, number, "a record that does not fit its run")

    def _intent(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        # Written when answered, or as `unknown` at the end of the segment when not: one
        # write per item instead of two, and a withdrawal leaves the item as it was. The
        # state after the segment is the same.
        fps = rec["fps"]
        keys = fps if type(fps) is bytes else keys_of(fps)
        size = count_keys(keys)
        n = rec["n"]
        if self.off:  # checking only: what results are checked against
            run.intents[n] = [keys, None, None, size]
            return
        # positional: the dataclass's __init__ takes keywords slower (once per record)
        status = ItemStatus(
            UNKNOWN, self.text(rec["target"]), ts, run.run, None, None, None, None, self.seg, n
        )
        run.intents[n] = [keys, status, bytearray(size), size]
        run.deferred = True

    def _write_unknown(self, run: _Run) -> None:
        """Items of this run's intents with no answer yet are `unknown`, unless a later
        record of this segment set them (a followed redirect's intent, answered)."""
        run.deferred = False
        seg = self.seg
        for entry in run.intents.values():
            got = entry[2]
            if got.count(0) == 0:
                continue
            keys, status = entry[0], entry[1]
            positions = [i for i, v in enumerate(got) if v == 0]
            for pos in positions:
                got[pos] = 2
            if self.fast:
                self.items.write_unknown(keys, positions, status)  # logged, as a write is
                if self.frontier:
                    for pos in positions:
                        self.frontier.pop(key_at(keys, pos), None)
                continue
            get = self.items.index().get
            for pos in positions:
                key = key_at(keys, pos)
                current = get(key)
                if current is not None and current.seg == seg and current.n > status.n:
                    continue
                self.put(key, status)

    def _withdraw(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        entry = run.intents.get(rec["of"])
        if entry is None:
            self.brk(name, number, "a withdrawal of an intent this run does not hold")
            return
        got = entry[2]
        if max(rec["pos"]) >= count_keys(entry[0]):
            raise IndexError("a position the intent does not hold")
        for pos in rec["pos"]:
            if got is None:  # checking only
                continue
            if got[pos] == 2:  # already written as unknown (a later segment)
                self.put(key_at(entry[0], pos), None)
            got[pos] = 1
        self._settle(run, rec["of"], entry, len(rec["pos"]))

    def _refresh(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        if run.deferred:
            self._write_unknown(run)  # it reads the states intents left
        target = self.text(rec["target"])
        for key, letter in zip(split_keys(keys_of(rec["fps"])), rec["s"], strict=True):
            observed = LETTER_OBSERVED[letter]
            self._refresh_one(key, OBSERVED.get(observed), target, ts, run.run)

    def _resolution(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        if run.deferred:
            self._write_unknown(run)  # it reads the states intents left
        key = key_of(rec["fp"])
        decision = rec["as"]
        if decision == "pending":
            self.put(key, None)
            return
        status = ItemStatus(
            DONE,
            self.text(rec["target"]),
            ts,
            run.run,
            message=f"{decision}, resolved by {rec['who']}: {rec['reason']}",
            evidence="resolved",
            seg=self.seg,
            n=rec["n"],
        )
        self.put(key, status)

    def _run(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        if number != 1 or index != 0:
            self.brk(name, number, "a run record in the middle of a run")
            return
        run.run = self.text(rec["run"])
        self.ledger.runs[run.run] = rec
        self.ledger.target_accounts.update(rec.get("targets") or {})

    def _part(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        part = run.unit.parts[index]
        if number != 1 or rec["run"] != run.unit.key or rec["part"] != part.number:
            self.brk(name, number, "a part record that does not begin this part of its run")

    def _unlock(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        self.ledger.unlocks.append({**rec, "run": run.run})

    def _end(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        known = self.ledger.runs.get(run.run)
        if known is not None:
            known["ended"] = ts

    @staticmethod
    def _settle(run: _Run, of: int, entry: list[Any], count: int) -> None:
        """`count` more positions of intent `of` answered or withdrawn; once all are,
        it is dropped (memory stays bounded by what is in flight)."""
        entry[3] -= count
        if entry[3] <= 0:
            del run.intents[of]

    def _result(
        self, run: _Run, name: str, index: int, number: int, rec: dict[str, Any], ts: str
    ) -> None:
        of = rec["of"]
        entry = run.intents.get(of)
        if entry is None:
            self.brk(name, number, f"a result for intent {of}, which this run does not hold")
            return
        keys = entry[0]
        at = rec["at"]
        s = rec["s"]
        size = len(s)
        if at + size > count_keys(keys):
            self.brk(name, number, "a result for more items than its intent names")
            return
        if self.off:  # checking only
            self._settle(run, of, entry, size - s.count(NO_RESULT))
            return
        code = rec.get("code")
        message = rec.get("message")
        evidence = rec.get("evidence")
        first = s[0]
        n = rec["n"]
        target = entry[1].target
        got = entry[2]
        if (
            first != NO_RESULT
            and s.count(first) == size
            and type(code) is not list
            and type(message) is not list
            and type(evidence) is not list
        ):
            got[at : at + size] = _ANSWERED[size] if size <= 64 else b"\x01" * size
            self._settle(run, of, entry, size)
            status = ItemStatus(
                LETTER_STATE[first], target, ts, run.run, code, message, evidence, None, self.seg, n
            )
            self.put_many(keys_slice(keys, at, size), status)
            return
        self._settle(run, of, entry, size - s.count(NO_RESULT))
        shared: dict[tuple[Any, ...], ItemStatus] = {}
        for offset, letter in enumerate(s):
            if letter == NO_RESULT:
                continue
            one_code = code[offset] if isinstance(code, list) else code
            one_message = message[offset] if isinstance(message, list) else message
            one_evidence = evidence[offset] if isinstance(evidence, list) else evidence
            key = (letter, one_code, one_message, one_evidence)
            one = shared.get(key)
            if one is None:
                one = shared[key] = ItemStatus(
                    LETTER_STATE[letter], target, ts, run.run,
                    one_code, one_message, one_evidence, seg=self.seg, n=n,
                )  # fmt: skip
            got[at + offset] = 1
            self.put(key_at(keys, at + offset), one)


def _open(
    ledger_dir: Path, ledger: Ledger, storage: Storage | None
) -> tuple[Storage, bytes | None]:
    storage = storage or FileStorage(ledger_dir)
    ledger.storage = storage
    line = storage.read_header()
    if line is None:
        if storage.parts():
            raise ReconcilerError(f"{ledger_dir}: run files exist but {HEADER_FILE} is missing")
        ledger.digest = hashlib.sha256(b"empty").hexdigest()
        return storage, None
    ledger.header = parse_header(line, str(ledger_dir / HEADER_FILE))
    return storage, line


def read_ledger(
    ledger_dir: Path,
    key: bytes | None = None,
    table: bool = True,
    storage: Storage | None = None,
) -> Ledger:
    """Read, check and fold the whole ledger. A missing folder is an empty ledger.

    `key` is the ledger key (the CLI reads it from ledger.key_env): with it, every
    format-2 record's MAC is checked; without it, a keyed ledger folds unchecked
    (`Ledger.unverified` says so). A header that cannot be used, or a key that is not
    the ledger's, raises ReconcilerError; everything else wrong is in `Ledger.breaks`.

    `table=False` checks without building the item table where nothing can conflict (no
    two runs are concurrent): what `ledger verify` needs. `storage` is the backend
    (reconciler.ledger.storage); the default is the files under `ledger_dir`.
    """
    collecting = gc.isenabled()
    gc.disable()  # millions of objects and no reference cycle: nothing for it to find
    try:
        return _read(ledger_dir, key, table, storage)
    finally:
        if collecting:
            gc.enable()


def _read(ledger_dir: Path, key: bytes | None, table: bool, store: Storage | None) -> Ledger:
    ledger = Ledger(ledger_dir)
    storage, line = _open(ledger_dir, ledger, store)
    header = ledger.header
    if header is None or line is None:
        return ledger
    chain = header.chain(key)
    if chain is None:
        ledger.unverified = (
            "the ledger is keyed and no key was given: its records' MACs were not checked"
        )
    folder = _Folder(ledger, storage, chain)
    problem = header_chain_problem(line, header, chain)
    if problem is not None:
        folder.brk(HEADER_FILE, 1, problem)
    structure = read_structure(storage, header.id, ledger.warnings)
    for name, (number, problem) in structure.breaks.items():
        folder.brk(name, number, problem)
    linear = all(mask == (1 << k) - 1 for k, mask in enumerate(structure.ancestors))
    folder.off = not table and linear
    folder.fold(structure)
    _after_fold(ledger, folder, structure, header)
    return ledger


def _after_fold(ledger: Ledger, folder: _Folder, structure: Structure, header: Header) -> None:
    segments = structure.segments
    if header.keyed and folder.chain is not None and folder.v2_units:
        for seg in segments:
            if seg.unit.version == 1 and seg.end is None and not seg.children:
                folder.brk(
                    seg.unit.parts[0].name,
                    1,
                    "a format-1 (unkeyed) run that no keyed run continues: written by an older "
                    "reconciler after the ledger became keyed, or forged",
                )
    for seg in segments:
        if seg.start is not None:
            continue
        ended = max((folder.seg_last_ts[p] for p in seg.parents), default="")
        begun = folder.runs[id(seg.unit)].first_ts
        if begun and ended and begun < ended:
            ledger.warnings.append(
                f"{seg.unit.name}: its run began at {begun}, before the run it continues "
                f"ended ({ended}): a clock was behind, or the file was edited (the fold "
                "follows the chain, not timestamps)"
            )
    for part in structure.parts:
        if part.problem is None and part.version == 2 and not _named_for(part):
            ledger.warnings.append(
                f"{part.name}: the name does not match the run it holds ({part.run}, part "
                f"{part.number}): renamed (the fold follows the chain, not names)"
            )
    for run in folder.runs.values():
        name = run.unit.name
        named = f"{name[:4]}-{name[4:6]}-{name[6:8]}"
        if run.first_ts[:1].isdigit() and name[:8].isdigit() and run.first_ts[:10] != named:
            ledger.warnings.append(
                f"{name}: named for {named} but its run began at {run.first_ts}: renamed, or "
                "written by a clock that was wrong (the fold follows the chain, not names)"
            )
    # a conflicted item always has concurrent statuses kept for it
    index = ledger.items.index() if folder.frontier else {}
    ledger.conflicts = sum(
        1 for key in folder.frontier if (index.get(key) or _NONE).conflict is not None
    )
    ledger.heads = structure.heads or [header.id]
    ledger.ends = {p.last_id for p in structure.parts if p.last_id} | {header.id}
    ledger.files = len(structure.parts) + len(
        [p for p in structure.excluded if p not in structure.parts]
    )
    ledger.serial = 1 + ledger.records
    digest = hashlib.sha256(f"2\n{header.id}".encode())
    for part in sorted(structure.parts, key=lambda p: p.name):
        digest.update(f"\n{part.name}:{part.last_id}".encode())
    digest.update(f"\n{ledger.records}".encode())
    ledger.digest = digest.hexdigest()
    order = {name: i for i, name in enumerate(sorted(folder.breaks, key=_break_order))}
    ledger.breaks = [
        f"{name}:{number}: {problem}"
        for name, (number, problem) in sorted(folder.breaks.items(), key=lambda kv: order[kv[0]])
    ]


_NONE = ItemStatus(UNKNOWN, "", "", "")
_ANSWERED = [b"\x01" * size for size in range(65)]  # a result's answered positions


def _break_order(name: str) -> tuple[int, str]:
    return (0 if name == HEADER_FILE else 1, name)


def _named_for(part: Any) -> bool:
    suffix = f"-{part.run}.jsonl" if part.number == 1 else f"-{part.run}.p{part.number:04d}.jsonl"
    return bool(part.name.endswith(suffix))


__all__ = [
    "RESULT_COLUMNS",
    "ItemStatus",
    "ItemTable",
    "Ledger",
    "item_key",
    "parse_record",
    "read_ledger",
]
