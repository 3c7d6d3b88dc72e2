"""One issue per title (e.g. drift), opened once and updated in place after that."""

from __future__ import annotations

import hashlib

from reconciler.github.client import GitHub


def issue_marker(title: str) -> str:
    key = hashlib.sha256(title.encode("utf-8")).hexdigest()[:16]
    return f"<!-- reconcile:issue {key} -->"


def upsert_issue(
    gh: GitHub, title: str, body: str, labels: list[str] | None = None
) -> tuple[int, bool]:
    """(issue number, whether it was created). The open issue carrying this title's
    marker (or exactly this title) is updated; else one is opened."""
    mark = issue_marker(title)
    text = f"{mark}\n{body}"
    for issue in gh.paginate(gh.repo_path("issues"), {"state": "open"}):
        if "pull_request" in issue:
            continue
        if mark in (issue.get("body") or "") or issue.get("title") == title:
            number = int(issue["number"])
            if issue.get("body") != text:
                gh.json("PATCH", gh.repo_path(f"issues/{number}"), json={"body": text})
            return number, False
    made = gh.json(
        "POST", gh.repo_path("issues"), json={"title": title, "body": text, "labels": labels or []}
    )
    return int(made["number"]), True
