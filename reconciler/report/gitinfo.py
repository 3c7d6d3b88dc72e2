"""The commits that added and changed a manifest file, from git (read-only)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from reconciler.masking import scrub

_SEP = "\x1f"


def file_commits(root: Path, file: Path, limit: int = 20) -> list[dict[str, Any]]:
    """Newest first: sha, date (author date, ISO 8601), author (name), subject (emails and
    phone numbers masked). Empty outside a git repository or for an uncommitted file."""
    try:
        out = subprocess.run(
            [
                "git",
                "log",
                "--follow",
                f"-n{limit}",
                f"--format=%H{_SEP}%aI{_SEP}%an{_SEP}%s",
                "--",
                str(file.resolve()),
            ],
            cwd=root,
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return []
    if out.returncode != 0:
        return []
    commits = []
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split(_SEP)
        if len(parts) != 4:
            continue
        sha, date, author, subject = parts
        commits.append(
            {
                "sha": sha,
                "date": date,
                "author": scrub(author, ids=False),
                "subject": scrub(subject, ids=False),
            }
        )
    return commits
