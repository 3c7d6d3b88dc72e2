"""`--format json` and saved plans: the plan model as versioned JSON (schemas/plan.schema.json).

A plan can hold millions of actions, so the document is written as a stream: the
summary fields first, then one action a line, each encoded once however many outputs
(stdout and a saved plan) receive it. `plan_json` builds the same document in memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterator, Sequence
from json.encoder import encode_basestring
from typing import Any, TextIO

from reconciler.desired import LINE_BITS, Item, Source, SourceRefs, SourceTable, load_canonical
from reconciler.masking import mask
from reconciler.plan.deadlines import manifest_names
from reconciler.plan.describe import (
    describe_shown,
    keeps_no_ids,
    request_preview_shown,
    shown,
    shown_from_key,
    shown_key,
)
from reconciler.plan.head import plan_head
from reconciler.plan.model import Action, Plan, TargetPlan
from reconciler.vendors.registry import vendor

_encode = json.JSONEncoder(ensure_ascii=False).encode
# `_encode` of a str, without the encoder's per-call overhead (same C function)
_str: Callable[[str], str] = encode_basestring
LINE_MASK = (1 << LINE_BITS) - 1
# actions written per write() call
CHUNK = 2000
# distinct shown items whose previews are kept per target (then the cache starts again)
PREVIEWS = 1 << 16


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


def _late(action: Action, overdue: dict[str, str]) -> list[str]:
    """The overdue manifests an action's item comes from (sorted; empty for most)."""
    if not overdue:
        return []
    return sorted(manifest_names(action) & overdue.keys())


def plan_json(plan: Plan, show_values: bool = False) -> dict[str, Any]:
    out = plan_head(plan, show_values)
    overdue = plan.overdue()
    actions = []
    for tp in plan.targets:
        for a in tp.actions:
            doc = action_json(tp, a, show_values)
            late = _late(a, overdue)
            if late:
                doc["overdue"] = late
            actions.append(doc)
    out["actions"] = actions
    out["warnings"] = plan.warnings
    return out


def _unmasked(value: str) -> str:
    return value


class _ActionEncoder:
    """`_encode(action_json(tp, action, show_values))` for one target's actions, with
    the fields that are the same for every action encoded once.

    The general path, for every vendor: an action's description and request are a
    function of its target and its shown (masked) item alone (`describe_shown`,
    `request_preview_shown`: the vendor's describe and build are pure), and masked
    items repeat (`ex*********01` stands for a hundredth of a million ids), so both are
    computed and encoded once per distinct shown item and kept (up to PREVIEWS of
    them); each action then costs its item, its masking and a lookup. A vendor may also
    offer a fast path (`RequestBuilder.fast_preview`) straight from an item's canonical
    bytes; whatever it declines takes the general path."""

    def __init__(
        self, tp: TargetPlan, show_values: bool, overdue: dict[str, str] | None = None
    ) -> None:
        self.tp = tp
        self.show_values = show_values
        self.overdue = overdue or {}
        mask_fn: Callable[[str], str] = _unmasked if show_values else mask
        self.fast = vendor(tp.target.vendor).requests.fast_preview(tp.target, mask_fn)
        self.source_heads: dict[tuple[str, str], str] = {}
        # a one-source list's head by (table, packed pair index): actions share tables
        self.single_heads: dict[tuple[SourceTable, int], str] = {}
        # fields encoded once per (target, kind) and per state
        self.heads: dict[str, str] = {}
        self.states: dict[tuple[str, str], str] = {}
        # shown item (`shown_key`) -> its action text's pieces (`_pieces`)
        self.previews: dict[Hashable, tuple[str, str]] = {}
        self.vendor = vendor(tp.target.vendor)
        self.vendor_name = tp.target.vendor
        self.no_ids = keeps_no_ids(self.vendor)

    def sources(self, table: SourceTable, refs: SourceRefs) -> str:
        """The `sources` list, encoded."""
        if isinstance(refs, int):
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
        pre, post = self._preview(action)
        state, verb = action.state, action.action
        middle = self.states.get((state, verb))
        if middle is None:
            middle = self.states[(state, verb)] = (
                f', "state": {_str(state)}, "action": {_str(verb)}, '
                f'"irreversible": {"true" if action.irreversible else "false"}, "sources": '
            )
        refs = action.refs
        if type(refs) is int:  # one source: the common case
            key = (action.table, refs >> LINE_BITS)
            head = self.single_heads.get(key)
            if head is None:
                head = self.single_heads[key] = "[" + self._source_head(action.table.split(refs)[0])
            sources = f"{head}{refs & LINE_MASK}}}]"
        else:
            sources = self.sources(action.table, refs)
        text = f'{{"fingerprint": {_str(action.fingerprint)}{pre}{middle}{sources}{post}'
        if self.overdue:  # the items of an overdue manifest say so (as plan_json does)
            late = _late(action, self.overdue)
            if late:
                text = f'{text[:-1]}, "overdue": {_encode(late)}}}'
        return text

    def _preview(self, action: Action) -> tuple[str, str]:
        """The action's text before its state and after its sources: its target, vendor,
        kind and description, then its request."""
        if self.fast is not None:
            preview = self.fast(action.canonical)
            if preview is not None:
                return self._pieces(*preview)
        target, locator, removal = load_canonical(action.canonical)
        item: Item | None = None  # made only when needed: the common case needs none
        if self.show_values:  # raw values do not repeat: nothing worth keeping
            item = Item(target, self.vendor_name, locator, removal)
            return self._pieces(item.kind, *self._describe(item))
        if self.no_ids:
            key = shown_key(locator, removal)
        else:
            item = Item(target, self.vendor_name, locator, removal)
            key = shown_key(locator, removal, self.vendor.vendor_ids(item))
        found = self.previews.get(key)
        if found is None:
            if len(self.previews) >= PREVIEWS:
                self.previews.clear()
            visible = shown_from_key(target, self.vendor_name, key)
            if visible is None:
                if item is None:
                    item = Item(target, self.vendor_name, locator, removal)
                visible = shown(item, False)
            found = self.previews[key] = self._pieces(visible.kind, *self._describe(visible))
        return found

    def _describe(self, visible: Item) -> tuple[str, str]:
        """(description, the request's JSON text) of a shown item, as action_json has them."""
        request = _encode(request_preview_shown(self.tp.target, visible))
        return describe_shown(visible), request

    def _pieces(self, kind: str, description: str, request: str) -> tuple[str, str]:
        """The pieces of an action's JSON around its state and sources, from its kind,
        description and request text: byte-identical to encoding action_json (same
        keys, same order, the encoder's separators)."""
        head = self.heads.get(kind)
        if head is None:
            head = self.heads[kind] = (
                f', "target": {_str(self.tp.target.name)}, '
                f'"vendor": {_str(self.tp.target.vendor)}, "kind": {_str(kind)}, "description": '
            )
        return f"{head}{_str(description)}", f', "request": {request}}}'


def _action_chunks(plan: Plan, show_values: bool) -> Iterator[str]:
    """The `actions` array's content, a chunk of encoded actions at a time."""
    batch: list[str] = []
    first = True
    overdue = plan.overdue()
    for tp in plan.targets:
        encode = _ActionEncoder(tp, show_values, overdue).encode
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
    head = plan_head(plan, show_values)
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
