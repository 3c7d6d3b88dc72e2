"""`reconcile diff` as text, JSON (schemas/diff.schema.json) and markdown.

Items are described as the plan describes them, values masked unless --show-values.
Fields are the manifest's own words (names, owners, reasons, targets, CSV paths):
shown, cut to a readable length; any other field's value is masked.
"""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.desired import item_from_canonical
from reconciler.diff.compare import FieldChange, ItemChange, ManifestDiff, SpecDiff
from reconciler.masking import mask
from reconciler.plan.describe import describe

FORMAT_VERSION = "1"
DROP_NOTE = "dropping an entry restores nothing already removed"
SHOWN_FIELDS = ("apiVersion", "kind", "metadata.", "spec.target", "spec.delete_profiles",
                "spec.absent_csv")  # fmt: skip
CAP = 80


def _value(path: str, value: Any, show_values: bool) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else repr(value)
    if not show_values and not path.startswith(SHOWN_FIELDS):
        text = mask(text)
    text = " ".join(text.split())
    return repr(text if len(text) <= CAP else text[: CAP - 3] + "...")


def _field(change: FieldChange, show_values: bool) -> str:
    if change.change == "added":
        return f"+ {change.path}: {_value(change.path, change.new, show_values)}"
    if change.change == "dropped":
        return f"- {change.path}: {_value(change.path, change.old, show_values)}"
    old, new = (
        _value(change.path, change.old, show_values),
        _value(change.path, change.new, show_values),
    )
    return f"~ {change.path}: {old} -> {new}"


def _item(change: ItemChange, show_values: bool) -> str:
    return describe(item_from_canonical(change.canonical, change.vendor), show_values)


def _where(change: ItemChange) -> str:
    return f"{change.source.file}:{change.source.line}"


def _dropped_note(change: ItemChange) -> str:
    if change.still_declared_by:
        return f" (still declared by {', '.join(change.still_declared_by)})"
    return ""


def summary_line(diff: SpecDiff) -> str:
    c = diff.counts()
    if not diff.changed:
        return f"No changes to manifests against {diff.base}."
    return (
        f"Diff against {diff.base}: {c['manifests_added']} manifest(s) added, "
        f"{c['manifests_dropped']} dropped, {c['manifests_modified']} modified; "
        f"{c['items_added']} item(s) added, {c['items_dropped']} dropped."
    )


def _title(m: ManifestDiff) -> str:
    symbol = {"added": "+", "dropped": "-", "modified": "~"}[m.status]
    files = m.file_after or m.file_before
    if m.file_before and m.file_after and m.file_before != m.file_after:
        files = f"{m.file_before} -> {m.file_after}"
    return f"{symbol} manifest {m.name} ({files}): {m.status}"


def _lines(m: ManifestDiff, show_values: bool, limit: int | None) -> list[str]:
    out = [_field(f, show_values) for f in m.fields]
    if m.added:
        out.append(f"+ {len(m.added)} item(s) added:")
        shown = m.added if limit is None else m.added[:limit]
        out += [f"    + {_item(c, show_values)}  # {_where(c)}" for c in shown]
        if len(shown) < len(m.added):
            out.append(f"    ... and {len(m.added) - len(shown)} more (--limit)")
    if m.dropped:
        out.append(f"- {len(m.dropped)} item(s) dropped ({DROP_NOTE}):")
        shown = m.dropped if limit is None else m.dropped[:limit]
        out += [
            f"    - {_item(c, show_values)}  # was {_where(c)}{_dropped_note(c)}" for c in shown
        ]
        if len(shown) < len(m.dropped):
            out.append(f"    ... and {len(m.dropped) - len(shown)} more (--limit)")
    return out


def render_text(diff: SpecDiff, show_values: bool = False, limit: int | None = 50) -> str:
    out = []
    for m in diff.changed:
        out.append(_title(m))
        out += [f"    {line}" for line in _lines(m, show_values, limit)]
        out.append("")
    if diff.base_problems:
        out.append(
            f"Warning: {diff.base_problems} problem(s) in the manifests at {diff.base}: "
            "compared with what could be read there."
        )
    out.append(summary_line(diff))
    return "\n".join(out) + "\n"


def render_markdown(diff: SpecDiff, show_values: bool = False, limit: int | None = 50) -> str:
    out = ["### reconcile diff", "", f"**{summary_line(diff)}**", ""]
    for m in diff.changed:
        out += [f"<details><summary>{_title(m)}</summary>", "", "```diff"]
        out += _lines(m, show_values, limit)
        out += ["```", "", "</details>", ""]
    if any(m.dropped for m in diff.manifests):
        out += [f"> Dropped items: {DROP_NOTE}; it only stops deletions still pending.", ""]
    if not show_values:
        out += ["Identifier values are masked.", ""]
    return "\n".join(out)


def _item_json(change: ItemChange, show_values: bool) -> dict[str, Any]:
    item = item_from_canonical(change.canonical, change.vendor)
    return {
        "target": item.target,
        "vendor": item.vendor,
        "kind": item.kind,
        "description": describe(item, show_values),
        "file": change.source.file,
        "line": change.source.line,
    }


def diff_json(diff: SpecDiff, show_values: bool = False) -> dict[str, Any]:
    manifests = []
    for m in diff.changed:
        manifests.append(
            {
                "name": m.name,
                "status": m.status,
                "file_before": m.file_before,
                "file_after": m.file_after,
                "fields": [
                    {
                        "path": f.path,
                        "change": f.change,
                        "old": None if f.old is None else _value(f.path, f.old, show_values),
                        "new": None if f.new is None else _value(f.path, f.new, show_values),
                    }
                    for f in m.fields
                ],
                "added": [_item_json(c, show_values) for c in m.added],
                "dropped": [
                    {**_item_json(c, show_values), "still_declared_by": list(c.still_declared_by)}
                    for c in m.dropped
                ],
            }
        )
    return {
        "kind": "reconciler-diff",
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "base": diff.base,
        "values_shown": show_values,
        "summary": {**diff.counts(), "line": summary_line(diff)},
        "base_problems": diff.base_problems,
        "manifests": manifests,
    }
