"""`csv_canonical`, the fast path for CSV rows: byte-identical to the general path."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from reconciler.values import CONTROL, item_value_problems, lookalike_problem
from tests.vendors._helpers import RULES

HEADERS = {"segment": ["user_id", "type", "value"]}
CELLS = {
    "user_id": ["u_1", "u_00000001", "user_id", "+15555550100", "jane@example.com"],
    "type": ["email", "phone", "user_id", "group_id", "anonymous_id", "ios.idfa", "Email"],
    "value": ["u_1", "jane@old-domain.example", "+15555550100", "user_id", "email"],
}
ALPHABET = "abcXYZ019_.-+/@%é\"\\\u2028\u00a0ü😀,' "


def random_cell(rng: random.Random, column: str) -> str:
    if rng.random() < 0.5:
        return rng.choice(CELLS[column])
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 24))).strip()
    return text or "x"


def general(vendor: str, target: str, header: list[str], cells: list[str]) -> Any:
    """(canonical bytes of each item, problems) the general path makes of a row."""
    rules = RULES[vendor]
    entry = rules.csv_reader(header)(dict(zip(header, cells, strict=True)))
    problems: list[str] = []
    items = rules.items(target, entry, lambda p, m: problems.append(m))
    # the loader's check of every value (spaces, emails, look-alikes) comes after
    problems += [why for item in items for _, why in item_value_problems(item)]
    return [i.canonical() for i in items], problems


@pytest.mark.parametrize("vendor", sorted(HEADERS))
def test_fast_canonical_matches_the_general_path(vendor: str) -> None:
    rng = random.Random(f"csv-canonical-{vendor}")
    rules = RULES[vendor]
    fast_rows = taken = 0
    for header in itertools.permutations(HEADERS[vendor]):
        columns = list(header)
        canonical_of = rules.csv_canonical("tgt-é", columns)
        assert canonical_of is not None
        for _ in range(4000):
            cells = [random_cell(rng, c) for c in columns]
            assert not CONTROL.search("".join(cells))
            if any(lookalike_problem(c) for c in cells):
                continue  # refused per cell before any path sees the row (csvsource)
            fast = canonical_of(cells)
            canonicals, problems = general(vendor, "tgt-é", columns, cells)
            fast_rows += 1
            if fast is None:
                assert problems, cells  # only rows the general path reports on
            else:
                taken += 1
                assert problems == [], cells
                assert canonicals == [fast], cells
    assert taken > fast_rows // 4  # the random rows exercise both ways


@pytest.mark.parametrize("vendor", sorted(set(RULES) - set(HEADERS)))
def test_vendors_without_a_fast_path(vendor: str) -> None:
    assert RULES[vendor].csv_canonical("t", ["a"]) is None
