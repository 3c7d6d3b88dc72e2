"""The ledger against what git has committed: what a chain cannot see, git can.

A hash chain or MAC proves that the records present are the ones written; it cannot
prove that nothing is missing after the newest one. In the GitOps flow CI commits the
ledger after every apply, so git knows what existed:

- `committed_problems`: every ledger file committed at HEAD must still be in the working
  tree, and hold at least what was committed (appending is allowed, nothing else):
  a cut tail, a deleted or renamed run file, an edited committed line is an error naming
  the commit that holds the original.
- `history_problems` (`reconcile ledger verify --history`): every commit in history
  that removed a ledger file or changed committed lines of one (anything but an append),
  merges included (compared with each parent).

git runs as a subprocess from the repository; outside a repository (or without git) the
checks are skipped and `note` says so.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

TIMEOUT = 120


@dataclass
class GitReport:
    breaks: list[str] = field(default_factory=list)
    note: str | None = None  # why nothing was compared


def _git(top: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes] | None:
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", *args],
            cwd=top,
            capture_output=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if check and done.returncode != 0:
        return None
    return done


def _where(root: Path, ledger_dir: Path) -> tuple[Path, str] | str:
    """(the repository's top folder, the ledger folder relative to it), or why not."""
    done = _git(root, "rev-parse", "--show-toplevel")
    if done is None:
        return "not in a git repository (or git is not installed)"
    top = Path(done.stdout.decode("utf-8", "replace").strip())
    try:
        rel = ledger_dir.resolve().relative_to(top.resolve())
    except ValueError:
        return "the ledger folder is outside the git repository"
    if _git(top, "rev-parse", "--verify", "--quiet", "HEAD") is None:
        return "the repository has no commit yet"
    return top, rel.as_posix()


NOT_COMPARED = "the ledger was not compared with git: {why}; a cut tail cannot be detected"


def committed_problems(root: Path, ledger_dir: Path) -> GitReport:
    """Ledger files committed at HEAD that are missing or changed in the working tree."""
    report = GitReport()
    where = _where(root, ledger_dir)
    if isinstance(where, str):
        report.note = NOT_COMPARED.format(why=where)
        return report
    top, rel = where
    tracked = _git(top, "ls-tree", "-r", "--name-only", "-z", "HEAD", "--", rel)
    if tracked is None:
        report.note = NOT_COMPARED.format(why="git ls-tree failed")
        return report
    if not tracked.stdout.strip(b"\0"):
        report.note = NOT_COMPARED.format(why="no ledger file is committed")
        return report
    diff = _git(top, "diff", "--no-renames", "--name-status", "-z", "HEAD", "--", rel)
    if diff is None:
        report.note = NOT_COMPARED.format(why="git diff failed")
        return report
    fields = diff.stdout.decode("utf-8", "replace").split("\0")
    for status, path in zip(fields[0::2], fields[1::2], strict=False):
        name = Path(path).name
        if not path.startswith(rel + "/") or name in (".lock", ".gitignore"):
            continue
        commit = _last_commit(top, path)
        if status == "D":
            report.breaks.append(
                f"{name}: committed in {commit} but missing from the working tree (deleted, "
                f"renamed or cut): restore it with `git checkout {commit} -- {path}`"
            )
        elif status == "M":
            if not _is_append(top, f"HEAD:{path}", top / path):
                report.breaks.append(
                    f"{name}: changed since commit {commit}: committed records were edited, "
                    f"cut or reordered (only appending is allowed); compare with "
                    f"`git diff {commit} -- {path}`"
                )
        elif status:
            report.breaks.append(f"{name}: changed type since commit {commit}")
    return report


def _last_commit(top: Path, path: str) -> str:
    done = _git(top, "log", "-1", "--format=%h", "HEAD", "--", path)
    text = done.stdout.decode().strip() if done is not None else ""
    return text or "HEAD"


def _blob(top: Path, spec: str) -> bytes | None:
    done = _git(top, "cat-file", "blob", spec)
    return done.stdout if done is not None else None


def _is_append(top: Path, spec: str, path: Path) -> bool:
    old = _blob(top, spec)
    if old is None:
        return False
    try:
        with path.open("rb") as handle:
            return handle.read(len(old)) == old
    except OSError:
        return False


def history_problems(root: Path, ledger_dir: Path) -> GitReport:
    """Commits that removed ledger files or changed committed ledger lines."""
    report = GitReport()
    where = _where(root, ledger_dir)
    if isinstance(where, str):
        report.note = f"history not checked: {where}"
        return report
    top, rel = where
    log = _git(
        top,
        "log",
        "-m",
        "--full-history",
        "--no-renames",
        "--raw",
        "--format=@@%h %s",
        "HEAD",
        "--",
        rel,
    )
    if log is None:
        report.note = "history not checked: git log failed"
        return report
    commit = ""
    seen: set[tuple[str, str, str]] = set()
    for raw in log.stdout.decode("utf-8", "replace").splitlines():
        if raw.startswith("@@"):
            commit = raw[2:]
            continue
        if not raw.startswith(":"):
            continue
        meta, _, path = raw.partition("\t")
        parts = meta.split()
        if len(parts) < 5:
            continue
        old, new, status = parts[2].rstrip("."), parts[3].rstrip("."), parts[4]
        name = Path(path).name
        if name in (".lock", ".gitignore") or (commit, path, status) in seen:
            continue
        seen.add((commit, path, status))
        if status == "D":
            report.breaks.append(f"commit {commit}: removed {path}")
        elif status == "M":
            before, after = _blob(top, old), _blob(top, new)
            if before is None or after is None or not after.startswith(before):
                report.breaks.append(
                    f"commit {commit}: rewrote committed lines of {path} (not an append)"
                )
        elif status.startswith("T"):
            report.breaks.append(f"commit {commit}: changed the type of {path}")
    return report
