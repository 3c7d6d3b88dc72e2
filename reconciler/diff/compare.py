"""Comparing the manifests of two revisions: fields by deepdiff, entries as items.

A manifest is matched by its name. Its fields (metadata and spec without the entries)
are compared with deepdiff over the parsed documents, so formatting, key order and
quoting are not changes. Its entries, YAML or CSV, are compared as the desired items
they expand to: a CSV is compared by content (rows added and dropped are items added
and dropped; reordering rows changes nothing).

A dropped item is flagged: dropping an entry stops a pending deletion but restores
nothing already removed. An item dropped from one manifest but still declared by
another says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deepdiff import DeepDiff

from reconciler.desired import DesiredState, Source
from reconciler.manifests import LoadResult, Manifest


@dataclass(frozen=True)
class FieldChange:
    path: str  # e.g. metadata.reason
    change: str  # added, dropped, changed
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class ItemChange:
    canonical: bytes
    vendor: str
    source: Source
    still_declared_by: tuple[str, ...] = ()


@dataclass
class ManifestDiff:
    name: str
    status: str  # added, dropped, modified, unchanged
    file_before: str | None
    file_after: str | None
    fields: list[FieldChange] = field(default_factory=list)
    added: list[ItemChange] = field(default_factory=list)
    dropped: list[ItemChange] = field(default_factory=list)


@dataclass
class SpecDiff:
    base: str
    manifests: list[ManifestDiff]
    base_problems: int = 0

    @property
    def changed(self) -> list[ManifestDiff]:
        return [m for m in self.manifests if m.status != "unchanged"]

    def counts(self) -> dict[str, int]:
        by = {s: sum(1 for m in self.manifests if m.status == s) for s in ("added", "dropped")}
        return {
            "manifests_added": by["added"],
            "manifests_dropped": by["dropped"],
            "manifests_modified": sum(1 for m in self.manifests if m.status == "modified"),
            "items_added": sum(len(m.added) for m in self.manifests),
            "items_dropped": sum(len(m.dropped) for m in self.manifests),
        }


def _by_manifest(desired: DesiredState) -> dict[str, dict[bytes, Source]]:
    """manifest name -> {item's canonical bytes: where that manifest declares it}."""
    out: dict[str, dict[bytes, Source]] = {}
    for canonical, refs in desired.entries.items():
        for ref in [refs] if isinstance(refs, int) else refs:
            source = desired.sources.unpack(ref)
            out.setdefault(source.manifest, {}).setdefault(canonical, source)
    return out


def _path(parts: list[Any]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def field_changes(before: dict[str, Any], after: dict[str, Any]) -> list[FieldChange]:
    diff = DeepDiff(before, after, view="tree", ignore_order=False)
    changes = []
    kinds = {
        "values_changed": "changed",
        "type_changes": "changed",
        "dictionary_item_added": "added",
        "dictionary_item_removed": "dropped",
        "iterable_item_added": "added",
        "iterable_item_removed": "dropped",
    }
    for report, change in kinds.items():
        for level in diff.get(report, []):
            old = None if change == "added" else level.t1
            new = None if change == "dropped" else level.t2
            changes.append(FieldChange(_path(level.path(output_format="list")), change, old, new))
    return sorted(changes, key=lambda c: c.path)


def compare(base: str, before: LoadResult, after: LoadResult) -> SpecDiff:
    old_items, new_items = _by_manifest(before.desired), _by_manifest(after.desired)
    old_manifests = {m.name: m for m in before.manifests}
    new_manifests = {m.name: m for m in after.manifests}
    declared_after: dict[bytes, list[str]] = {}
    for name, items in new_items.items():
        for canonical in items:
            declared_after.setdefault(canonical, []).append(name)
    vendors = {**before.desired.vendors, **after.desired.vendors}

    def vendor_of(canonical: bytes) -> str:
        return vendors[after.desired.target_of(canonical)]

    out: list[ManifestDiff] = []
    for name in sorted(old_manifests.keys() | new_manifests.keys()):
        old: Manifest | None = old_manifests.get(name)
        new: Manifest | None = new_manifests.get(name)
        was, now = old_items.get(name, {}), new_items.get(name, {})
        added = [ItemChange(c, vendor_of(c), s) for c, s in now.items() if c not in was]
        dropped = [
            ItemChange(c, vendor_of(c), s, tuple(declared_after.get(c, ())))
            for c, s in was.items()
            if c not in now
        ]
        fields = field_changes(old.fields, new.fields) if old and new else []
        if old is None:
            status = "added"
        elif new is None:
            status = "dropped"
        elif fields or added or dropped or old.file != new.file:
            status = "modified"
        else:
            status = "unchanged"
        out.append(
            ManifestDiff(
                name,
                status,
                old.file if old else None,
                new.file if new else None,
                fields,
                added,
                dropped,
            )
        )
    return SpecDiff(base, out, len(before.problems))
