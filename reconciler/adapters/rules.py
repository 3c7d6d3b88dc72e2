"""What every vendor's validation rules look like, and the pieces they share.

A vendor's rules turn one manifest entry (a mapping already checked against the
manifest schema) into items, reporting every vendor rule it breaks. CSV rows are
turned into entries of the same shape first, so a row is checked exactly like YAML.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from reconciler.desired import Item
from reconciler.yamlsource import Path

Report = Callable[[Path, str], None]
"""Records a problem at a path relative to the entry (or spec) being checked."""

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class CsvFormatError(ValueError):
    """The CSV header does not fit the target's vendor."""


RowToEntry = Callable[[Mapping[str, str]], dict[str, Any]]


class VendorRules(Protocol):
    vendor: str

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        """Spec-level rules (for example Braze's `delete_profiles: true`)."""

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        """The entry's items; every broken rule is reported (items may then be partial)."""
        ...

    def csv_reader(self, header: list[str]) -> RowToEntry:
        """How to turn a row under `header` into an entry; CsvFormatError if it does not fit."""
        ...


def allowed_keys(
    entry: Mapping[str, Any], allowed: set[str], vendor: str, report: Report, where: Path = ()
) -> None:
    for key in entry:
        if key not in allowed:
            report(
                (*where, key),
                f"not supported for {vendor} targets (allowed here: {', '.join(sorted(allowed))})",
            )


def one_locator(
    profile: Mapping[str, Any], allowed: tuple[str, ...], vendor: str, report: Report
) -> str | None:
    """The single locator key of `profile`, reporting unknown or several."""
    keys = [k for k in profile if k in allowed]
    for key in profile:
        if key not in allowed and key != "prioritization":
            report(
                ("profile", key),
                f"'{key}' cannot locate a {vendor} profile (use one of: {', '.join(allowed)})",
            )
    if len(keys) > 1:
        report(("profile",), f"give exactly one of {', '.join(allowed)}, not {' and '.join(keys)}")
        return None
    if not keys:
        report(("profile",), f"one of {', '.join(allowed)} is required for {vendor} targets")
        return None
    return keys[0]


def require_header(header: list[str], allowed: list[list[str]], vendor: str) -> list[str]:
    """Match a CSV header (in any column order) to one of the vendor's allowed shapes."""
    seen = set(header)
    if len(seen) != len(header):
        raise CsvFormatError("header repeats a column")
    for shape in allowed:
        if seen == set(shape):
            return shape
    shapes = "; ".join(",".join(s) for s in allowed)
    raise CsvFormatError(
        f"header {','.join(header)!s} does not fit a {vendor} target (expected columns: {shapes})"
    )
