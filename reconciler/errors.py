"""Errors the user can act on, and the located problems that validation reports."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in one file: where it is and what is wrong, in plain words."""

    file: str
    line: int | None
    location: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        if self.location:
            return one_line(f"{where}: {self.location}: {self.message}")
        return one_line(f"{where}: {self.message}")


def one_line(text: str) -> str:
    """One line, whatever a key or value held: control characters are shown escaped."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


class ReconcilerError(Exception):
    """A user-facing error: the CLI prints its message on one line and exits 1."""


class ValidationFailed(ReconcilerError):
    """Config or manifests are invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) found")
