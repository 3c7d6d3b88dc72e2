"""Chain order: which runs continue which, read from their first records, never from
file names or timestamps.

Every run's first record names the record(s) it continues from (format 2: `after`, the
ids of every head the ledger had when the run began; format 1: `prev`, the hash of one
line). Reading only the first and last line of each file gives a graph of runs; a run
that continues from a record in the middle of another (two writers at once, e.g. after
a forced unlock) splits that run there, so each piece ("segment") is continued from its
end. Segments are then folded parents first; segments that do not descend from one
another (two branches merged) are concurrent, and their order among themselves is fixed
by their first record's id, so every machine folds a merged ledger the same way.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.ledger.chain import legacy_id, split
from reconciler.ledger.records import PART, RUN, show
from reconciler.ledger.storage import Storage

END_OF_PART = 1 << 62  # a line number after every real one: "the end of this part"

Pos = tuple[int, int]  # (index of the part in its run, line number)


@dataclass
class Part:
    name: str
    version: int  # 1 or 2; 0: the first line cannot be read
    run: str  # format 2: the run id; format 1: the file name (one file, one run)
    number: int = 1
    first_id: str | None = None
    last_id: str | None = None
    anchors: list[str] = field(default_factory=list)
    problem: str | None = None  # why it is not folded as part of a run


@dataclass
class Unit:
    """One run: its parts in order."""

    key: str
    version: int
    parts: list[Part]
    order_key: str
    splits: list[Pos] = field(default_factory=list)
    anchors: list[tuple[str, Pos | None, int | None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.parts[0].name


@dataclass
class Segment:
    index: int
    unit: Unit
    start: Pos | None  # the position after which it begins (None: the run's start)
    end: Pos | None  # its last position (None: the run's end)
    parents: list[int] = field(default_factory=list)
    children: list[int] = field(default_factory=list)


@dataclass
class Structure:
    parts: list[Part]
    units: list[Unit]
    segments: list[Segment]  # in fold order
    ancestors: list[int]  # per segment (by fold position): a bitset of fold positions
    heads: list[str]
    breaks: dict[str, tuple[int, str]]  # part name -> (line, problem)
    warnings: list[str]
    excluded: list[Part]  # parts not folded (duplicates, unreadable first lines, empty)

    def add_break(self, name: str, line: int, problem: str) -> None:
        known = self.breaks.get(name)
        if known is None or line < known[0]:
            self.breaks[name] = (line, problem)


def _part_of(name: str, first: bytes, last: bytes) -> Part:
    part = _read_first(name, first, last)
    if part.version == 0 and last != first:
        # the first line is unreadable: still fold the rest, as a run of its own
        sealed = split(last)
        if sealed is not None:
            rid = sealed[1].decode("ascii", "replace")
            return Part(name, 2, name, 1, None, rid, [], part.problem)
        try:
            tail = json.loads(last)
        except (ValueError, RecursionError):
            tail = None
        if isinstance(tail, dict) and "prev" in tail:
            return Part(name, 1, name, 1, None, legacy_id(last), [], part.problem)
    return part


def _read_first(name: str, first: bytes, last: bytes) -> Part:
    try:
        rec = json.loads(first)
    except (ValueError, RecursionError):
        return Part(name, 0, name, problem="not valid JSON (edited or corrupted)")
    if not isinstance(rec, dict):
        return Part(name, 0, name, problem="not a record (a JSON object was expected)")
    sealed = split(first)
    if sealed is not None and "m" in rec:
        kind = rec.get("type")
        run = rec.get("run")
        if kind not in (RUN, PART):
            return Part(
                name, 0, name, problem=f"a run file must begin with a run record, not {show(kind)}"
            )
        if type(run) is not str:
            return Part(name, 0, name, problem="a run file whose first record has no run id")
        last_sealed = split(last)
        last_id = last_sealed[1].decode("ascii", "replace") if last_sealed else None
        first_id = sealed[1].decode("ascii", "replace")
        if kind == RUN:
            after = rec.get("after")
            anchors = [a for a in after if type(a) is str] if isinstance(after, list) else []
            return Part(name, 2, run, 1, first_id, last_id, anchors)
        if kind == PART:
            number = rec.get("part")
            after = rec.get("after")
            if type(number) is not int or type(after) is not str:
                return Part(name, 0, name, problem="a part record without its number or 'after'")
            return Part(name, 2, run, number, first_id, last_id, [after])
        return Part(
            name, 0, name, problem=f"a run file must begin with a run record, not {show(kind)}"
        )
    prev = rec.get("prev")
    if "prev" in rec and "m" not in rec:
        anchors = [prev] if type(prev) is str else []
        return Part(name, 1, name, 1, legacy_id(first), legacy_id(last), anchors)
    return Part(name, 0, name, problem="not a ledger record (no id 'm' and no 'prev')")


def read_structure(
    storage: Storage, header_id: str | None, warnings: list[str] | None = None
) -> Structure:
    """The ledger's runs in chain order, their heads, and the breaks found on the way."""
    structure = Structure([], [], [], [], [], {}, warnings if warnings is not None else [], [])
    for name in storage.parts():
        first, last = storage.edge_lines(name)
        if first is None or last is None:
            structure.warnings.append(
                f"{name}: holds no complete record (a run was stopped while starting this "
                "file); ignored"
            )
            structure.excluded.append(Part(name, 0, name, problem="empty"))
            continue
        part = _part_of(name, first, last)
        structure.parts.append(part)
        if part.problem is not None:
            structure.add_break(name, 1, part.problem)
            if part.version == 0:
                structure.excluded.append(part)
    _build_units(structure)
    _resolve(structure, storage, header_id)
    _order(structure)
    return structure


def _build_units(s: Structure) -> None:
    by_run: dict[str, dict[int, Part]] = {}
    first_ids: dict[str, Part] = {}
    for part in s.parts:
        if part.version == 0:
            continue
        if part.first_id is None:  # its first line is unreadable: a run of its own
            s.units.append(Unit(part.name, part.version, [part], part.name))
            continue
        twin = first_ids.get(part.first_id)
        if twin is not None:
            s.add_break(
                part.name,
                1,
                f"a copy of {twin.name} (the same run and records under another name: a bad "
                "merge kept both); remove one of them",
            )
            s.excluded.append(part)
            continue
        first_ids[part.first_id] = part
        if part.version == 1:
            s.units.append(Unit(part.name, 1, [part], part.first_id or part.name))
            continue
        runs = by_run.setdefault(part.run, {})
        if part.number in runs:
            s.add_break(
                part.name,
                1,
                f"part {part.number} of run {part.run} is also in {runs[part.number].name} "
                "(two different files claim it)",
            )
            s.excluded.append(part)
            continue
        runs[part.number] = part
    for run, numbered in by_run.items():
        ordered = [numbered[k] for k in sorted(numbered)]
        expected = 1
        for part in ordered:
            if part.number != expected:
                missing = "is missing" if expected == 1 else f"(part {expected}) is missing"
                s.add_break(
                    part.name,
                    1,
                    f"the run's earlier file {missing}: it was deleted or renamed",
                )
            expected = part.number + 1
        s.units.append(Unit(run, 2, ordered, ordered[0].first_id or run))
    s.units.sort(key=lambda u: u.order_key)


def _resolve(s: Structure, storage: Storage, header_id: str | None) -> None:
    """Where each run begins: the header, the end of a run (or of one of its parts), or,
    found by a scan, a record in the middle of a run."""
    ends: dict[str, tuple[Unit, Pos]] = {}
    for unit in s.units:
        for index, part in enumerate(unit.parts):
            if part.last_id is not None:
                ends.setdefault(part.last_id, (unit, (index, END_OF_PART)))
    wanted: set[str] = set()
    for unit in s.units:
        first = unit.parts[0]
        if first.number != 1:
            continue  # its run record is gone: reported above, folded as a root
        for anchor in first.anchors:
            if anchor == header_id:
                unit.anchors.append((anchor, None, None))
            elif anchor in ends:
                unit.anchors.append((anchor, ends[anchor][1], id(ends[anchor][0])))
            else:
                wanted.add(anchor)
    found: dict[str, tuple[Unit, Pos]] = {}
    if wanted:
        found = _scan(s, storage, wanted)
    unit_by_id = {id(u): u for u in s.units}
    for unit in s.units:
        first = unit.parts[0]
        if first.number != 1:
            continue
        for anchor in first.anchors:
            if anchor in wanted:
                place = found.get(anchor)
                if place is None:
                    s.add_break(
                        first.name,
                        1,
                        "the run's first record points at a record the ledger does not hold "
                        "(a file was removed or edited)",
                    )
                    continue
                unit.anchors.append((anchor, place[1], id(place[0])))
        kept = []
        for anchor, pos, owner in unit.anchors:
            if owner is None or pos is None:
                kept.append((anchor, pos, owner))
                continue
            target = unit_by_id[owner]
            if target is unit:
                line = pos[1] if pos[1] != END_OF_PART else _count_lines(storage, unit, pos[0])
                s.add_break(
                    first.name,
                    1,
                    f"the run's first record points at line {line} of its own file "
                    "(lines were reordered)",
                )
                continue
            kept.append((anchor, pos, owner))
            last = len(target.parts) - 1
            if pos != (last, END_OF_PART):
                target.splits.append(pos)
        unit.anchors = kept


def _count_lines(storage: Storage, unit: Unit, index: int) -> int:
    return sum(1 for _ in storage.lines(unit.parts[index].name, []))


def _scan(s: Structure, storage: Storage, wanted: set[str]) -> dict[str, tuple[Unit, Pos]]:
    found: dict[str, tuple[Unit, Pos]] = {}
    # a format-1 writer (0.1.x) continues from the SHA-256 of the newest line, whatever
    # its format: look for those too
    hashed = any(len(w) == 64 for w in wanted)
    for unit in s.units:
        for index, part in enumerate(unit.parts):
            for number, line in storage.lines(part.name, []):
                ids = []
                if unit.version == 1 or hashed:
                    ids.append(legacy_id(line))
                if unit.version == 2:
                    sealed = split(line)
                    if sealed is not None:
                        ids.append(sealed[1].decode("ascii", "replace"))
                for rid in ids:
                    if rid in wanted and rid not in found:
                        found[rid] = (unit, (index, number))
                        if len(found) == len(wanted):
                            return found
    return found


def _order(s: Structure) -> None:
    segments: list[Segment] = []
    first_of: dict[int, int] = {}
    ending: dict[tuple[int, Pos], int] = {}  # (unit, end position) -> segment
    for unit in s.units:
        cuts = sorted(set(unit.splits))
        start: Pos | None = None
        first_of[id(unit)] = len(segments)
        for cut in [*cuts, None]:
            seg = Segment(len(segments), unit, start, cut)
            if start is not None:
                seg.parents.append(seg.index - 1)
            segments.append(seg)
            key = cut if cut is not None else (len(unit.parts) - 1, END_OF_PART)
            ending[(id(unit), key)] = seg.index
            start = cut
    for unit in s.units:
        seg = segments[first_of[id(unit)]]
        for _, pos, owner in unit.anchors:
            if owner is None or pos is None:
                continue
            parent = ending.get((owner, pos))
            if parent is not None and parent not in seg.parents:
                seg.parents.append(parent)
    for seg in segments:
        for parent in seg.parents:
            segments[parent].children.append(seg.index)
    # Kahn's algorithm; ready segments taken by their run's first id, then position
    waiting = [len(seg.parents) for seg in segments]
    ready = [(segments[i].unit.order_key, i) for i in range(len(segments)) if not waiting[i]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, i = heapq.heappop(ready)
        order.append(i)
        for child in segments[i].children:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, (segments[child].unit.order_key, child))
    if len(order) < len(segments):
        stuck = [i for i in range(len(segments)) if i not in set(order)]
        _report_cycles(s, segments, set(stuck))
        # folded last, each as if it began the ledger
        order += sorted(stuck, key=lambda i: (segments[i].unit.order_key, i))
    position = {seg_index: k for k, seg_index in enumerate(order)}
    s.segments = [segments[i] for i in order]
    ancestors: list[int] = []
    for k, seg in enumerate(s.segments):
        mask = 0
        for parent in seg.parents:
            p = position[parent]
            if p < k:
                mask |= ancestors[p] | (1 << p)
        ancestors.append(mask)
    s.ancestors = ancestors
    for k, seg in enumerate(s.segments):
        seg.index = k
    # renumber parents and children to fold positions
    for seg in s.segments:
        seg.parents = [position[p] for p in seg.parents]
        seg.children = [position[c] for c in seg.children]
    s.heads = sorted(
        {
            seg.unit.parts[-1].last_id or ""
            for seg in s.segments
            if seg.end is None and not seg.children
        }
        - {""}
    )


def _report_cycles(s: Structure, segments: list[Segment], stuck: set[int]) -> None:
    def reaches_itself(start: int) -> int | None:
        """The parent through which `start` leads back to itself, if it does."""
        for first in segments[start].parents:
            if first not in stuck:
                continue
            seen = {first}
            todo = [first]
            while todo:
                at = todo.pop()
                if at == start:
                    return first
                for parent in segments[at].parents:
                    if parent in stuck and parent not in seen:
                        seen.add(parent)
                        todo.append(parent)
        return None

    for i in sorted(stuck):
        seg = segments[i]
        if seg.start is not None:
            continue
        via = reaches_itself(i)
        if via is not None:
            other = segments[via].unit
            s.add_break(
                seg.unit.name,
                1,
                f"the run's first record points into {other.name}, whose run chains back to "
                "this one (a cycle: a file was edited)",
            )


def unit_parts(segments: Iterable[Segment]) -> list[str]:
    return [part.name for seg in segments for part in seg.unit.parts]
