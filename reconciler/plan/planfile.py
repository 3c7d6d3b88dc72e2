"""Saved plans (`plan --out FILE`): written atomically, refused by apply when stale.

A saved plan holds no raw identifier values: apply re-derives items from the manifests
and sends only those whose fingerprints the plan lists, after checking that neither
the manifests nor the ledger moved since the plan was made.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from reconciler.errors import ReconcilerError
from reconciler.inputs import (
    MAX_PLAN_BYTES,
    InputRefused,
    check_output,
    create_exclusive,
    read_bounded,
)
from reconciler.ledger.store import Ledger
from reconciler.plan.model import FORMAT_VERSION, Plan
from reconciler.render.jsonplan import write_plan_json
from reconciler.schemas import schema_errors
from reconciler.yamlsource import format_path

PLAN_KIND = "reconciler-plan"


def save_plan(path: Path, plan: Plan, also: TextIO | None = None) -> None:
    """Write the plan to `path` atomically; `also` (e.g. stdout) receives the same JSON
    without the `kind` field, each action encoded once for both."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        check_output(path, f"--out {path}")
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    try:
        with os.fdopen(create_exclusive(tmp), "w", encoding="utf-8") as handle:
            streams: list[tuple[TextIO, dict[str, Any]]] = [(handle, {"kind": PLAN_KIND})]
            if also is not None:
                streams.append((also, {}))
            write_plan_json(plan, False, streams)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ReconcilerError(f"--out {path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_plan(path: Path) -> dict[str, Any]:
    try:
        raw = read_bounded(path, MAX_PLAN_BYTES, str(path))
    except InputRefused as exc:
        if exc.reason == "no such file":
            raise ReconcilerError(f"{path}: no such plan file") from exc
        raise ReconcilerError(str(exc)) from exc
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReconcilerError(f"{path}: not a saved plan (not valid JSON)") from exc
    if not isinstance(data, dict) or data.get("kind") != PLAN_KIND:
        raise ReconcilerError(f"{path}: not a saved plan (made by `reconcile plan --out`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise ReconcilerError(
            f"{path}: plan format {data.get('format_version')!r} is not {FORMAT_VERSION}: "
            "make the plan again with this version"
        )
    # The schema checks everything but the bulk of the actions (a million actions would
    # take minutes); of those, apply reads only `fingerprint` and `action`, checked here.
    actions = data.get("actions")
    errors = (
        schema_errors("plan", {**data, "actions": actions[:100]})
        if isinstance(actions, list)
        else schema_errors("plan", data)
    )
    if not errors and isinstance(actions, list):
        for i, action in enumerate(actions):
            if not (
                isinstance(action, dict)
                and isinstance(action.get("fingerprint"), str)
                and isinstance(action.get("action"), str)
            ):
                errors = [(("actions", i), "needs a fingerprint and an action")]
                break
    if errors:
        where, message = errors[0]
        raise ReconcilerError(
            f"{path}: {format_path(where) or 'plan'}: {message} (the file was edited or "
            "damaged: make the plan again)"
        )
    return data


def stale_reason(
    saved: dict[str, Any],
    ledger: Ledger,
    desired_digest: str,
    accounts: dict[str, str] | None = None,
    key: tuple[str, str] | None = None,
) -> str | None:
    """Why a saved plan may no longer be applied, or None when it still holds."""
    then = saved["ledger"]
    if not then["exists"] and ledger.exists:
        return "the ledger did not exist when the plan was made and exists now"
    if then["exists"] and not ledger.exists:
        return "the ledger the plan was made from is gone"
    if then["exists"] and then["lineage"] != ledger.lineage:
        return (
            f"the ledger's lineage is {ledger.lineage}, the plan was made from "
            f"{then['lineage']}: a different ledger"
        )
    head = then.get("head")
    if then["exists"] and isinstance(head, str) and not ledger.holds(head):
        return (
            f"the ledger no longer holds the newest record it had when the plan was made "
            f"(head {head}): records were removed or the ledger was replaced"
        )
    if then["exists"] and (then["serial"] != ledger.serial or then["digest"] != ledger.digest):
        return (
            f"the ledger changed since the plan was made (serial {then['serial']} -> "
            f"{ledger.serial}): another apply or refresh ran"
        )
    if key is not None and key != (saved["fingerprint"]["scheme"], saved["fingerprint"]["key_id"]):
        # before the manifests: under another key every keyed digest differs
        return "the fingerprint key changed since the plan was made"
    if saved["desired_digest"] != desired_digest:
        return "the manifests changed since the plan was made"
    if accounts is not None:
        for name, account in saved.get("accounts", {}).items():
            if accounts.get(name) != account:
                return (
                    f"target {name} now reaches a different account (base_url, space, store "
                    "or partner changed) than the plan was made for"
                )
    return None
