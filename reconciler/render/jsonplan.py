"""`--format json` and saved plans: the plan model as versioned JSON (schemas/plan.schema.json).

A plan can hold millions of actions, so the document is written as a stream: the
summary fields first, then one action a line, each encoded once however many outputs
(stdout and a saved plan) receive it. `plan_json` builds the same document in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any, TextIO

from reconciler import __version__
from reconciler.adapters.requests import segment_part
from reconciler.desired import LINE_BITS, Source, SourceRefs, SourceTable, load_canonical
from reconciler.masking import mask
from reconciler.plan.model import FORMAT_VERSION, Action, Plan, TargetPlan
from reconciler.render.describe import describe_shown, request_preview_shown, shown

_encode = json.JSONEncoder(ensure_ascii=False).encode
# `_encode` of a str, without the encoder's per-call overhead (same C function)
_str: Callable[[str], str] = encode_basestring
LINE_MASK = (1 << LINE_BITS) - 1
# actions written per write() call
CHUNK = 2000


def source_json(source: Source) -> dict[str, Any]:
    return {"manifest": source.manifest, "file": source.file, "line": source.line}


def action_json(tp: TargetPlan, action: Action, show_values: bool) -> dict[str, Any]:
    item = action.item
    visible = shown(item, show_values)
    return {
        "fingerprint": action.fingerprint,
        "target": item.target,
        "vendor": item.vendor,
        "kind": item.kind,
        "description": describe_shown(visible),
        "state": action.state,
        "action": action.action,
        "irreversible": action.irreversible,
        "sources": [source_json(s) for s in action.sources],
        "request": request_preview_shown(tp.target, visible),
    }


def _head(plan: Plan, show_values: bool) -> dict[str, Any]:
    """Every top-level field before `actions`, in document order."""
    targets = [
        {
            "name": tp.target.name,
            "vendor": tp.target.vendor,
            "summary": tp.summary.as_json(),
            "orphaned": len(tp.orphaned),
        }
        for tp in plan.targets
    ]
    fingerprint: dict[str, Any] = {"scheme": plan.fingerprint_scheme, "key_id": plan.key_id}
    if plan.new_ledger_salt is not None:
        fingerprint["new_ledger_salt"] = plan.new_ledger_salt
    return {
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "summary": {**plan.summary.as_json(), "line": plan.summary.line()},
        "ledger": plan.ledger.as_json(),
        "desired_digest": plan.desired_digest,
        "accounts": plan.accounts,
        "fingerprint": fingerprint,
        "target_filter": plan.target_filter,
        "values_shown": show_values,
        "targets": targets,
    }


def plan_json(plan: Plan, show_values: bool = False) -> dict[str, Any]:
    out = _head(plan, show_values)
    out["actions"] = [action_json(tp, a, show_values) for tp in plan.targets for a in tp.actions]
    out["warnings"] = plan.warnings
    return out


def _unmasked(value: str) -> str:
    return value


class _ActionEncoder:
    """`_encode(action_json(tp, action, show_values))` for one target's actions, with
    the fields that are the same for every action encoded once, and Segment's
    identifier removals (the bulk of large plans) encoded without building the item,
    its masked copy, the request and the dicts. Anything else takes the general path."""

    def __init__(self, tp: TargetPlan, show_values: bool) -> None:
        self.tp = tp
        self.show_values = show_values
        self.mask: Callable[[str], str] = _unmasked if show_values else mask
        self.source_heads: dict[tuple[str, str], str] = {}
        # a one-source list's head by (table, packed pair index): actions share tables
        self.single_heads: dict[tuple[SourceTable, int], str] = {}
        # Segment: fields encoded once per target, per state, and the space's path
        self.segment_heads: dict[str, str] = {}
        self.segment_states: dict[str, str] = {}
        self.segment_path: str | None = None

    def sources(self, table: SourceTable, refs: SourceRefs) -> str:
        """The `sources` list, encoded."""
        if type(refs) is int:
            key = (table, refs >> LINE_BITS)
            head = self.single_heads.get(key)
            if head is None:
                head = self.single_heads[key] = "[" + self._source_head(table.split(refs)[0])
            return f"{head}{refs & LINE_MASK}}}]"
        parts = []
        for ref in refs:
            pair, line = table.split(ref)
            parts.append(f"{self._source_head(pair)}{line}}}")
        return "[" + ", ".join(parts) + "]"

    def _source_head(self, pair: tuple[str, str]) -> str:
        """A source's encoding up to its line number."""
        head = self.source_heads.get(pair)
        if head is None:
            manifest, file = pair
            head = f'{{"manifest": {_str(manifest)}, "file": {_str(file)}, "line": '
            self.source_heads[pair] = head
        return head

    def encode(self, action: Action) -> str:
        if action.vendor == "segment":
            fast = self._segment(action)
            if fast is not None:
                return fast
        return _encode(action_json(self.tp, action, self.show_values))

    def _segment(self, action: Action) -> str | None:
        target, locator, removal = load_canonical(action.canonical)
        user_id = locator.get("user_id")
        kind = removal.get("kind")
        id_type = removal.get("type")
        value = removal.get("value")
        if not (
            len(locator) == 1
            and len(removal) == 3
            and type(target) is str
            and type(user_id) is str
            and kind == "identifier"
            and type(id_type) is str
            and type(value) is str
        ):
            return None
        path = self.segment_path
        if path is None:
            space = segment_part(self.tp.target.settings["space_id"])
            path = self.segment_path = f"/v1/spaces/{space}/collections/users/profiles/user_id:"
        head = self.segment_heads.get(target)
        if head is None:
            head = self.segment_heads[target] = (
                f', "target": {_str(target)}, "vendor": "segment", "kind": "identifier", '
                '"description": '
            )
        state = action.state
        verb = action.action
        middle = self.segment_states.get(state + verb)
        if middle is None:
            # by state and action: an item held for a conflict has its state's action
            middle = self.segment_states[state + verb] = (
                f', "state": {_str(state)}, "action": {_str(verb)}, '
                '"irreversible": false, "sources": '
            )
        mask = self.mask
        shown_user = mask(user_id)
        shown_value = mask(value)
        return (
            f'{{"fingerprint": {_str(action.fingerprint)}{head}'
            f"{_str(f'{id_type} {shown_value} on user_id {shown_user}')}{middle}"
            f'{self.sources(action.table, action.refs)}, "request": {{"method": "POST", '
            f'"path": {_str(f"{path}{segment_part(shown_user)}/external_ids/delete")}, '
            f'"body": {{"delete_external_ids": [{{"id": {_str(shown_value)}, '
            f'"type": {_str(id_type)}}}]}}}}}}'
        )


def _action_chunks(plan: Plan, show_values: bool) -> Iterator[str]:
    """The `actions` array's content, a chunk of encoded actions at a time."""
    batch: list[str] = []
    first = True
    for tp in plan.targets:
        encode = _ActionEncoder(tp, show_values).encode
        for action in tp.actions:
            batch.append(encode(action))
            if len(batch) >= CHUNK:
                yield ("\n  " if first else ",\n  ") + ",\n  ".join(batch)
                batch, first = [], False
    if batch:
        yield ("\n  " if first else ",\n  ") + ",\n  ".join(batch)


def write_plan_json(
    plan: Plan, show_values: bool, streams: Sequence[tuple[TextIO, dict[str, Any]]]
) -> None:
    """Write the plan's JSON to every (stream, leading fields) at once; each stream gets
    its own leading fields (a saved plan's `kind`) and the same actions."""
    head = _head(plan, show_values)
    for stream, extra in streams:
        fields = {**extra, **head}
        stream.write(
            "{\n"
            + "".join(f" {_encode(k)}: {_encode(v)},\n" for k, v in fields.items())
            + ' "actions": ['
        )
    for chunk in _action_chunks(plan, show_values):
        for stream, _ in streams:
            stream.write(chunk)
    tail = f'\n ],\n "warnings": {_encode(plan.warnings)}\n}}\n'
    for stream, _ in streams:
        stream.write(tail)
        stream.flush()
