"""Writing format-2 lines by hand, as someone editing a ledger would: sealed with the
ledger's chain (keyed: only with the key), or not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.ledger.chain import Chain, anchor, split
from reconciler.ledger.records import encode_body


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def write_lines(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def record_id(line: bytes) -> bytes:
    sealed = split(line)
    assert sealed is not None, line
    return sealed[1]


def seal(chain: Chain, prev: bytes, record: dict[str, Any]) -> bytes:
    line, _ = chain.seal(prev, encode_body(record))
    return line


def append_sealed(path: Path, record: dict[str, Any], key: bytes | None = None) -> int:
    """Append `record` after the file's last line: `n` and `ts` filled in unless given,
    its id chained from the last line's under `key` (None: unkeyed). Returns its line
    number."""
    lines = lines_of(path)
    last = json.loads(lines[-1])
    record = {"type": record.get("type"), "n": last["n"] + 1, "ts": last["ts"], **record}
    lines.append(seal(Chain(key), record_id(lines[-1]), record))
    write_lines(path, lines)
    return len(lines)


def reseal(lines: list[bytes], key: bytes | None, start: int = 0) -> list[bytes]:
    """Recompute the ids of lines[start:] after an edit (what someone holding the key,
    or anyone for an unkeyed ledger, can do)."""
    chain = Chain(key)
    out = list(lines[:start])
    for i in range(start, len(lines)):
        rec = json.loads(lines[i])
        rec.pop("m")
        if i == 0:
            after = rec["after"]
            prev = anchor(after) if isinstance(after, list) else after.encode()
        else:
            prev = record_id(out[i - 1])
        out.append(seal(chain, prev, rec))
    return out
