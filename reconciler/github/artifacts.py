"""Finding the plan a merged pull request was reviewed with: its saved-plan artifact.

A push to the main branch names a merge commit. GitHub lists the pull requests of a
commit; the merged one whose merge commit is this one was reviewed with the plan that
`plan.yml` uploaded for its head commit, as the artifact `reconcile-plan-<head sha>`.
Only an artifact made by a run on that very head commit is taken. The archive is read
in memory within the saved-plan size bound; only its `reconcile.plan` is written out.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.github.client import GitHub
from reconciler.inputs import MAX_PLAN_BYTES, InputRefused, check_output, create_exclusive

ARTIFACT_PREFIX = "reconcile-plan-"
PLAN_MEMBER = "reconcile.plan"
# what workflows scaffolded before the signed plan format uploaded (a format-1 plan: apply
# refuses it with the way out)
OLD_PLAN_MEMBER = "plan.json"


def artifact_name(head_sha: str) -> str:
    return f"{ARTIFACT_PREFIX}{head_sha}"


def merged_pull(gh: GitHub, sha: str) -> dict[str, Any]:
    """The pull request merged as commit `sha`."""
    pulls = gh.json("GET", gh.repo_path(f"commits/{sha}/pulls")) or []
    for pull in pulls:
        if pull.get("merged_at") and pull.get("merge_commit_sha") == sha:
            return dict(pull)
    raise ReconcilerError(
        f"no pull request was merged as commit {sha[:12]}: there is no reviewed plan for "
        "it, so nothing is applied (push changes to specs/ through pull requests)"
    )


def find_artifact(gh: GitHub, head_sha: str) -> dict[str, Any]:
    name = artifact_name(head_sha)
    found = [
        a
        for a in gh.paginate(gh.repo_path("actions/artifacts"), {"name": name})
        if a.get("name") == name
        and not a.get("expired")
        and (a.get("workflow_run") or {}).get("head_sha") == head_sha
    ]
    if not found:
        raise ReconcilerError(
            f"no artifact {name} (made by a plan run on commit {head_sha[:12]}): the "
            "pull request's last commit was never planned, or its plan expired. Nothing "
            "is applied; re-run the plan workflow on the pull request's last commit"
        )
    return max(found, key=lambda a: (a.get("created_at") or "", a.get("id", 0)))


def _plan_bytes(archive: bytes, name: str) -> bytes:
    try:
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            names = set(zf.namelist())
            found = next((m for m in (PLAN_MEMBER, OLD_PLAN_MEMBER) if m in names), None)
            if found is None:
                raise ReconcilerError(f"artifact {name} holds no {PLAN_MEMBER}")
            info = zf.getinfo(found)
            if info.file_size > MAX_PLAN_BYTES:
                raise ReconcilerError(f"artifact {name}: {PLAN_MEMBER} is over the size limit")
            with zf.open(info) as member:
                data: bytes = member.read(MAX_PLAN_BYTES + 1)
    except zipfile.BadZipFile as exc:
        raise ReconcilerError(f"artifact {name} is not a zip archive") from exc
    if len(data) > MAX_PLAN_BYTES:
        raise ReconcilerError(f"artifact {name}: {PLAN_MEMBER} is over the size limit")
    return data


def download_reviewed_plan(gh: GitHub, sha: str, out: Path) -> tuple[int, str]:
    """Write the reviewed plan of the pull request merged as `sha` to `out`.
    Returns (pull request number, head sha)."""
    pull = merged_pull(gh, sha)
    head = pull["head"]["sha"]
    artifact = find_artifact(gh, head)
    name = artifact["name"]
    archive = gh.download(gh.repo_path(f"actions/artifacts/{artifact['id']}/zip"), MAX_PLAN_BYTES)
    data = _plan_bytes(archive, name)
    write_new(out, data)
    return int(pull["number"]), head


def write_new(path: Path, data: bytes) -> None:
    """Write `path` atomically, never through a link or over a special file."""
    try:
        check_output(path, str(path))
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with os.fdopen(create_exclusive(tmp), "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
