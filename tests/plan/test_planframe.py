"""The saved plan's bytes (format 2): what is written is read back, any change is refused,
and reading holds one chunk, not the file."""

from __future__ import annotations

import io
import os
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.errors import ReconcilerError
from reconciler.plan.planfile import STATES
from reconciler.plan.planframe import (
    CONFLICTED_FLAG,
    HELD_FLAG,
    SINCE_FLAG,
    FrameReader,
    Record,
    pack,
    write_frame,
)
from reconciler.plan.savedjoin import action_of, conflicted, state_of
from reconciler.plan.seal import Seal

fingerprints = st.binary(min_size=32, max_size=32).map(bytes.hex)
records = st.tuples(
    fingerprints,
    st.integers(0, len(STATES) - 1),
    st.booleans(),
    st.booleans(),
    st.one_of(st.none(), st.integers(0, 5)),
)
sections = st.lists(st.lists(records, max_size=30), max_size=4)
keys = st.one_of(st.none(), st.binary(min_size=1, max_size=40))


def write(path: Path, plan: list[list[tuple]], key: bytes | None) -> list[list[bytes]]:
    header = {"sections": [len(s) for s in plan]}
    packed = []
    for section in plan:
        out = []
        for fp, state, held, conflict, since in section:
            flags = state | (HELD_FLAG if held else 0) | (CONFLICTED_FLAG if conflict else 0)
            flags |= SINCE_FLAG if since is not None else 0
            out.append(pack(fp, flags, -1 if since is None else since))
        packed.append(out)
    with path.open("wb") as handle:
        write_frame(handle, header, (b"".join(s) for s in packed), Seal(key).hasher())
    return packed


def read(path: Path, counts: list[int], key: bytes | None) -> list[tuple[int, Record]]:
    reader = FrameReader(path)
    reader.verify(Seal(key).hasher(), "MAC")
    return list(reader.records(counts, Seal(key).hasher(), "MAC"))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=sections, key=keys)
def test_what_is_written_is_read_back(tmp_path: Path, plan: list[list[tuple]], key) -> None:
    path = tmp_path / "p.plan"
    write(path, plan, key)
    got = read(path, [len(s) for s in plan], key)
    expected = [(i, rec) for i, section in enumerate(plan) for rec in section]
    assert len(got) == len(expected)
    for (section, record), (want_section, (fp, state, held, conflict, since)) in zip(
        got, expected, strict=True
    ):
        assert section == want_section
        assert record.fp.hex() == fp[:32]
        assert state_of(record) == STATES[state]
        assert conflicted(record) is conflict
        assert (action_of(record) == "hold") is held
        assert record.since == (-1 if since is None else since)
    assert FrameReader(path).header() == {"sections": [len(s) for s in plan]}


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=sections, key=keys, where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_any_changed_bit_is_refused(
    tmp_path: Path, plan: list[list[tuple]], key, where: float, bit: int
) -> None:
    path = tmp_path / "p.plan"
    write(path, plan, key)
    data = bytearray(path.read_bytes())
    at = int(where * len(data))
    data[at] ^= 1 << bit
    path.write_bytes(bytes(data))
    with pytest.raises(ReconcilerError) as refused:
        read(path, [len(s) for s in plan], key)
    message = str(refused.value)
    assert (
        "the plan file was modified" in message
        or "not a saved plan" in message  # the magic
        or "plan file format" in message  # the version
    ), message


def test_another_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    write(path, [[("ab" * 32, 0, False, False, None)]], b"key-one")
    with pytest.raises(ReconcilerError, match="the plan file was modified"):
        read(path, [1], b"key-two")
    with pytest.raises(ReconcilerError, match="the plan file was modified"):
        read(path, [1], None)


def test_a_file_changed_between_the_check_and_the_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    write(path, [[("ab" * 32, 0, False, False, None)] * 3], b"k")
    reader = FrameReader(path)
    reader.verify(Seal(b"k").hasher(), "MAC")
    data = bytearray(path.read_bytes())
    data[-40] ^= 1
    path.write_bytes(bytes(data))  # after the check, before the items are read
    with pytest.raises(ReconcilerError, match="the plan file was modified"):
        list(reader.records([3], Seal(b"k").hasher(), "MAC"))


def test_reading_a_large_plan_holds_one_chunk_not_the_file(tmp_path: Path) -> None:
    """500,000 items (8.5 MB): checking and streaming them stays under 4 MB of Python
    allocations, whatever the file's size (apply PLANFILE's saved side)."""
    n = 500_000
    path = tmp_path / "big.plan"
    rows = b"".join(os.urandom(16) + b"\x00" for _ in range(1000))
    with path.open("wb") as handle:
        chunks = (rows for _ in range(n // 1000))
        write_frame(handle, {"sections": [n]}, chunks, Seal(b"k").hasher())
    assert path.stat().st_size > 8_000_000
    reader = FrameReader(path)
    tracemalloc.start()
    try:
        reader.verify(Seal(b"k").hasher(), "MAC")
        count = sum(1 for _ in reader.records([n], Seal(b"k").hasher(), "MAC"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == n
    assert peak < 4_000_000, peak


def test_the_header_is_compact_json(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    size = write_frame(buffer, {"a": [1, 2]}, [], Seal(None).hasher())
    data = buffer.getvalue()
    assert size == len(data) and b'{"a":[1,2]}' in data
