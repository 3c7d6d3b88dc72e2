"""A saved plan's headline numbers as GitHub step outputs (`name=value` lines)."""

from __future__ import annotations

from typing import Any


def plan_outputs(header: dict[str, Any]) -> dict[str, str]:
    """From a saved plan's header (planfile.peek_plan): the step that wrote it reads it."""
    summary = header["plan"]["summary"]
    sends = int(header["sends"])
    return {
        "has_changes": "true" if sends else "false",
        "deletions": str(sends),
        "irreversible": str(int(header["irreversible"])),
        "held": str(summary.get("held", 0)),
        "summary": " ".join(str(summary["line"]).split()),  # one line, whatever it holds
    }
