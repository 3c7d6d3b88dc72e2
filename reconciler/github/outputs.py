"""A saved plan's headline numbers as GitHub step outputs (`name=value` lines)."""

from __future__ import annotations

from typing import Any

from reconciler.apply.reviewed import SENT_ACTIONS


def plan_outputs(saved: dict[str, Any]) -> dict[str, str]:
    sends = [a for a in saved["actions"] if a["action"] in SENT_ACTIONS]
    irreversible = sum(1 for a in sends if a.get("irreversible"))
    summary = saved["summary"]
    return {
        "has_changes": "true" if sends else "false",
        "deletions": str(len(sends)),
        "irreversible": str(irreversible),
        "held": str(summary.get("held", 0)),
        "summary": " ".join(str(summary["line"]).split()),  # one line, whatever it holds
    }
