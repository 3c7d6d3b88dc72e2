"""The plugin's CSV fast path (`csv_canonical`): byte-identical to the general path
(`csv_reader`, `items`, the loader's value check) over thousands of random rows, and it
declines exactly the rows the general path reports on."""

from __future__ import annotations

import itertools
import random

from opendsr_cases import SETTINGS
from reconciler_opendsr import VENDOR

from reconciler.values import item_value_problems, lookalike_problem

RULES = VENDOR.rules.for_target({"vendor": "opendsr", **SETTINGS, "identity_types": ["mpid"]})
TIMES = [
    "2024-05-01T10:00:00Z",
    "2024-05-01t10:00:00z",
    "2024-05-01T12:00:00+02:00",
    "2024-05-01T10:00:00.250Z",
    "2024-05-01T10:00:00.000001-05:30",
    "2024-13-01T10:00:00Z",  # no month 13
    "2024-05-01 10:00:00Z",  # not RFC 3339's T
    "2024-05-01T10:00:00",  # no zone
    "yesterday",
]
CELLS = {
    "email": ["jane@example.com", "jane", "j@old-domain.example", "ü@é.example", 'a"b\\c@x'],
    "controller_customer_id": ["c-1001", "1001", "jane@example.com"],
    "mpid": ["-8433569318024923117", "m"],
    "ios_advertising_id": ["6D92078A-8246-4BA4-AE5B-76104861E7DC"],
}
HEADERS = [
    ["submitted_time", "email"],
    ["submitted_time", "email", "controller_customer_id"],
    ["submitted_time", "mpid", "ios_advertising_id", "controller_customer_id"],
]
ALPHABET = "abcXYZ019_.-+/@%é\"\\\u2028ü😀,' :"


def cell(rng: random.Random, column: str) -> str:
    choices = TIMES if column == "submitted_time" else CELLS[column]
    if rng.random() < 0.7:
        return rng.choice(choices)
    text = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 20))).strip()
    return text or "x"


def general(header: list[str], cells: list[str]) -> tuple[list[bytes], list[str]]:
    entry = RULES.csv_reader(header)(dict(zip(header, cells, strict=True)))
    problems: list[str] = []
    items = RULES.items("tgt-é", entry, lambda p, m: problems.append(m))
    problems += [why for item in items for _, why in item_value_problems(item)]
    return [i.canonical() for i in items], problems


def test_fast_canonical_matches_the_general_path() -> None:
    rng = random.Random("opendsr-csv-canonical")
    rows = taken = 0
    for shape in HEADERS:
        for header in itertools.permutations(shape):
            columns = list(header)
            canonical_of = RULES.csv_canonical("tgt-é", columns)
            assert canonical_of is not None
            for _ in range(600):
                cells = [cell(rng, c) for c in columns]
                if any(lookalike_problem(c) for c in cells):
                    continue  # refused per cell before either path sees the row
                fast = canonical_of(cells)
                canonicals, problems = general(columns, cells)
                rows += 1
                if fast is None:
                    assert problems, cells
                else:
                    taken += 1
                    assert problems == [] and canonicals == [fast], cells
    assert rows // 10 < taken < rows - rows // 10  # both ways exercised


def test_a_time_seen_again_is_not_parsed_again_yet_stays_right() -> None:
    canonical_of = RULES.csv_canonical("t", ["submitted_time", "email"])
    assert canonical_of is not None
    first = canonical_of(["2024-05-01T12:00:00+02:00", "jane@example.com"])
    again = canonical_of(["2024-05-01T12:00:00+02:00", "jane@example.com"])
    assert first == again and first is not None and b'"2024-05-01T10:00:00Z"' in first
    assert canonical_of(["2024-13-01T10:00:00Z", "jane@example.com"]) is None
    assert canonical_of(["2024-13-01T10:00:00Z", "jane@example.com"]) is None
