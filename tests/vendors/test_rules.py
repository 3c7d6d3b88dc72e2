"""Shared rule pieces: control characters and names."""

from __future__ import annotations

import pytest

from reconciler.values import control_problem, name_problem


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a\x00b", "0000"),
        ("a\nb", "000A"),
        ("\r", "000D"),
        ("x\x1b[0m", "001B"),
        ("\x7f", "007F"),
        ("\x85", "0085"),
        ("\x9f", "009F"),
    ],
)
def test_control_characters_are_named_by_code_point(text, code) -> None:
    assert control_problem(text) == (
        f"contains a control character (U+{code}); only tab is allowed "
        "(a NUL, line break or escape code is almost always a copy-paste accident)"
    )


@pytest.mark.parametrize("text", ["", "a\tb", "jane@example.com", "é ü ☃", "\xa0", "\u200b"])
def test_tab_and_printable_text_pass(text) -> None:
    assert control_problem(text) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "must not be empty or only spaces"),
        ("   ", "must not be empty or only spaces"),
        (" a", "has leading or trailing spaces (names are compared exactly)"),
        ("a\n", "has leading or trailing spaces (names are compared exactly)"),
        ("a\x00b", "contains a control character (U+0000)"),
    ],
)
def test_names_must_be_non_blank_unpadded_and_printable(name, problem) -> None:
    found = name_problem(name)
    assert found is not None and found.startswith(problem)


@pytest.mark.parametrize("name", ["loyalty_id", "list id", "a.b-c", "x"])
def test_ordinary_names_pass(name) -> None:
    assert name_problem(name) is None
