"""The desired state spilled to sorted runs on disk reads back as the in-memory one."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.desired import DesiredState, Fingerprinter, Item, Source, SourceTable
from reconciler.plan.model import SpilledActions
from reconciler.spill import Sorter, SpillDir


def _items(seed: int, n: int) -> list[tuple[Item, Source]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        # a small universe: many items are declared again, in other files and lines
        k = rng.randrange(n // 3 + 1)
        target = ("seg", "ins")[k % 2]
        item = Item(
            target,
            "segment",
            {"user_id": f"u_{k}"},
            {"kind": "identifier", "type": "email", "value": f"v{k}@x.example"},
        )
        source = Source(f"m{rng.randrange(3)}", f"specs/f{rng.randrange(2)}.csv", i % 7 + 2)
        out.append((item, source))
    return out


@pytest.mark.parametrize("spill_at", [1, 2, 7, 50])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_spilled_desired_state_merges_to_the_in_memory_one(spill_at: int, seed: int) -> None:
    declared = _items(seed, 400)
    memory, spilled = DesiredState(), DesiredState(spill_at)
    for item, source in declared:
        memory.add(item, source)
        spilled.add(item, source)
    assert spilled.spilled and not memory.spilled
    merged = list(spilled.merged())
    assert [k for k, _, _ in merged] == sorted(memory.entries)  # sorted, each once
    in_order = sorted(merged, key=lambda m: m[1])
    # first-declared order and every source, first declared first, as in memory
    assert [(k, r) for k, _, r in in_order] == list(memory.entries.items())
    key = Fingerprinter.keyed(b"k" * 32)
    assert spilled.digest(key) == memory.digest(key)
    assert len(spilled) == len(memory)
    subset = spilled.for_targets(["ins"])
    assert subset.entries == memory.for_targets(["ins"]).entries
    assert [d.sources for d in spilled] == [d.sources for d in memory]


def test_past_spill_at_the_buffer_is_a_run_not_spill_at(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plan that fits in spill_at items stays in memory (faster); once it spills, it
    holds RUN_ITEMS at a time, not spill_at: memory stays fixed however many follow."""
    monkeypatch.setattr("reconciler.desired.RUN_ITEMS", 4)
    declared = _items(5, 400)
    memory, spilled = DesiredState(), DesiredState(30)
    held = []
    for item, source in declared:
        memory.add(item, source)
        spilled.add(item, source)
        held.append(len(spilled.entries))
    first = next(i for i, n in enumerate(held) if n == 0)  # the first spill
    assert max(held[:first]) == 30 and max(held[first:]) == 3  # past spill_at, not at it
    assert spilled.run_items == 4 and DesiredState(2).run_items == 2
    assert [(k, r) for k, _, r in sorted(spilled.merged(), key=lambda m: m[1])] == list(
        memory.entries.items()
    )


def test_runs_are_sealed_and_removed() -> None:
    spill = SpillDir()
    sorter = Sorter(spill, 3)
    secret = b"jane@old-domain.example"
    for i in range(10):
        sorter.add((b"%03d" % (9 - i), secret))
    sorter.finish()
    assert len(sorter.runs) == 4
    for path in sorter.runs:
        with open(path, "rb") as handle:
            assert secret not in handle.read()  # sealed to this process's key
        assert os.stat(path).st_mode & 0o077 == 0
    assert [r[0] for r in sorter] == [b"%03d" % i for i in range(10)]
    assert [r[0] for r in sorter] == [b"%03d" % i for i in range(10)]  # again
    assert os.stat(spill.path).st_mode & 0o077 == 0
    spill.close()
    assert not os.path.exists(spill.path)


def test_a_sorter_that_never_filled_stays_in_memory() -> None:
    spill = SpillDir()
    sorter = Sorter(spill, 100)
    for i in (3, 1, 2):
        sorter.add((i,))
    assert list(sorter.finish()) == [(1,), (2,), (3,)] and not sorter.runs
    assert os.listdir(spill.path) == []


def _spilled_actions(n: int, dated: bool = False) -> SpilledActions:
    spill = SpillDir()
    records = Sorter(spill, 7)
    rng = random.Random(5)
    for seq in rng.sample(range(n), n):  # added in no order; sorted back by position
        fp = f"{rng.getrandbits(128):032x}"
        records.add((seq, fp, b"[]", seq, "pending", False, None))
    return SpilledActions(records, "segment", SourceTable(), n, 7, dated=dated)


def _runs(actions: SpilledActions) -> set[str]:
    return set(os.listdir(actions.spill.path))


def test_the_sort_by_fingerprint_rides_on_the_next_whole_pass_in_plan_order() -> None:
    actions = _spilled_actions(100)
    by_fp = actions.by_fingerprint()
    assert actions._by_fp is None  # asked for, not yet sorted
    in_order = [a.refs for a in actions]  # the saved plan's layout pass
    assert in_order == list(range(100))
    assert actions._by_fp is not None  # sorted on the way
    passes = []
    actions.records = _Counting(actions.records, passes)
    fps = [a.fingerprint for a in by_fp]
    assert fps == sorted(fps) and len(fps) == 100
    assert passes == []  # the plan-order runs were not read again
    assert [a.fingerprint for a in by_fp] == fps  # iterable again


def test_a_pass_left_early_keeps_no_half_sort() -> None:
    actions = _spilled_actions(100)
    by_fp = actions.by_fingerprint()
    before = _runs(actions)
    assert [a.refs for a in actions[:3]] == [0, 1, 2]  # a head of the plan: left early
    assert actions._by_fp is None and _runs(actions) == before  # its runs were dropped
    fps = [a.fingerprint for a in by_fp]  # then sorted by a pass of its own
    assert fps == sorted(fps) and len(fps) == 100


class _Counting:
    """A sorter's stand-in that records each pass over it."""

    def __init__(self, inner: Sorter, passes: list[int]) -> None:
        self.inner, self.passes = inner, passes

    def __iter__(self) -> Iterator[Any]:
        self.passes.append(1)
        return iter(self.inner)
