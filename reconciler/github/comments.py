"""The plan comment: one per part, found by its hidden marker and updated in place.

Bodies come from `reconcile plan --format markdown` (each starts with
`<!-- reconcile:plan part=i/n -->`). Part i goes to the comment holding part i's
marker, else a new comment; comments of parts beyond n (an earlier, longer plan) are
deleted, and so is any second comment for the same part. So a pull request never holds
more than one plan comment (one per part of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.github.client import GitHub
from reconciler.render.markdown import GITHUB_LIMIT, MARKER_PREFIX, marker, split_bodies

_PART = re.compile(r"^<!-- reconcile:plan part=(\d+)/\d+ -->")


@dataclass
class CommentResult:
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)


def bodies_of(text: str, limit: int = GITHUB_LIMIT) -> list[str]:
    """The comment bodies in `text`: as marked by the renderer, else the text as one body
    (split at line boundaries into numbered parts when over `limit`)."""
    if text.startswith(MARKER_PREFIX):
        return split_bodies(text)
    room = limit - 200
    chunks: list[list[str]] = [[]]
    size = 0
    for line in text.splitlines(keepends=True):
        while len(line) > room:  # a single line longer than a comment: cut it
            chunks.append([line[:room]])
            line = line[room:]
            size = room
        if size + len(line) > room and chunks[-1]:
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line)
    chunks = [c for c in chunks if c] or [[""]]
    n = len(chunks)
    return [f"{marker(i, n)}\n" + "".join(c) for i, c in enumerate(chunks, 1)]


def post_plan_comment(gh: GitHub, pr: int, bodies: list[str]) -> CommentResult:
    ours: dict[int, list[dict[str, Any]]] = {}
    for comment in gh.paginate(gh.repo_path(f"issues/{pr}/comments")):
        found = _PART.match(comment.get("body") or "")
        if found:
            ours.setdefault(int(found.group(1)), []).append(comment)
    result = CommentResult()
    for part, body in enumerate(bodies, 1):
        existing = sorted(ours.pop(part, []), key=lambda c: c["id"])
        for extra in existing[1:]:
            gh.request("DELETE", gh.repo_path(f"issues/comments/{extra['id']}"))
            result.deleted.append(extra["id"])
        if not existing:
            made = gh.json("POST", gh.repo_path(f"issues/{pr}/comments"), json={"body": body})
            result.created.append(made["id"])
        elif existing[0].get("body") == body:
            result.unchanged.append(existing[0]["id"])
        else:
            comment_id = existing[0]["id"]
            gh.json("PATCH", gh.repo_path(f"issues/comments/{comment_id}"), json={"body": body})
            result.updated.append(comment_id)
    for leftovers in ours.values():
        for comment in leftovers:
            gh.request("DELETE", gh.repo_path(f"issues/comments/{comment['id']}"))
            result.deleted.append(comment["id"])
    return result


def set_label(gh: GitHub, pr: int, name: str, present: bool) -> None:
    """Add or remove one label on a pull request (removing an absent one is fine)."""
    if present:
        gh.json("POST", gh.repo_path(f"issues/{pr}/labels"), json={"labels": [name]})
        return
    labels = gh.json("GET", gh.repo_path(f"issues/{pr}/labels"))
    if any(label.get("name") == name for label in labels or []):
        gh.request("DELETE", gh.repo_path(f"issues/{pr}/labels/{name}"))
