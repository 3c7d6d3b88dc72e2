"""What git committed that the working tree no longer holds (issue 17, anchored head): a
cut tail, a renamed or deleted run file, an edited committed line; and commits in
history that removed or rewrote ledger lines (`ledger verify --history`). Real git."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from reconciler.ledger.gitcheck import committed_problems, history_problems
from reconciler.ledger.store import run_files
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.ledger.sealed import lines_of, write_lines

FPS = [hashlib.sha256(f"item-{i}".encode()).hexdigest() for i in range(8)]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(proj: Proj) -> Proj:
    git(proj.root, "init", "-q", "-b", "main")
    proj.add_all_vendors()
    proj.create_ledger()
    write_run(proj.ledger_dir, [(FPS[0], "seg", "done")], "r1")
    write_run(proj.ledger_dir, [(fp, "seg", "done") for fp in FPS[1:4]], "r2")
    git(proj.root, "add", "-A")
    git(proj.root, "commit", "-q", "-m", "apply r1 r2")
    return proj


def head(root: Path) -> str:
    return git(root, "rev-parse", "--short", "HEAD")


def newest(proj: Proj) -> Path:
    return next(p for p in run_files(proj.ledger_dir) if p.name.endswith("-r2.jsonl"))


def test_a_clean_checkout_has_no_problem(repo: Proj) -> None:
    report = committed_problems(repo.root, repo.ledger_dir)
    assert report.breaks == [] and report.note is None
    # new runs (not committed yet) and appends are what apply does: fine
    write_run(repo.ledger_dir, [(FPS[5], "seg", "done")], "r3")
    with newest(repo).open("ab") as handle:
        handle.write(b"")
    assert committed_problems(repo.root, repo.ledger_dir).breaks == []


def cut_last_records(path: Path) -> None:
    write_lines(path, lines_of(path)[:-2])


def cut_after_first_intent(path: Path) -> None:
    write_lines(path, lines_of(path)[:2])


def rename_bak(path: Path) -> None:
    path.rename(path.with_suffix(".jsonl.bak"))


def delete(path: Path) -> None:
    path.unlink()


@pytest.mark.parametrize(
    ("cut", "what"),
    [
        (cut_last_records, "changed since commit"),
        (cut_after_first_intent, "changed since commit"),
        (rename_bak, "but missing from the working tree"),
        (delete, "but missing from the working tree"),
    ],
)
def test_every_cut_of_the_newest_run_is_found_naming_the_commit(repo: Proj, cut, what) -> None:
    commit = head(repo.root)
    path = newest(repo)
    cut(path)
    report = committed_problems(repo.root, repo.ledger_dir)
    (problem,) = report.breaks
    assert problem.startswith(f"{path.name}: ") and what in problem and commit in problem
    result = run_cli("ledger", "verify")
    assert result.code == 1, result.output
    assert f"{path.name}: " in result.err and commit in result.err
    plan = run_cli("plan")
    assert plan.code == 1 and "the ledger does not verify" in plan.err and commit in plan.err


def test_an_edited_committed_header_is_found(repo: Proj) -> None:
    header = repo.ledger_dir / "header.jsonl"
    header.write_text(header.read_text().replace('"created":"', '"created":"1'))
    (problem,) = committed_problems(repo.root, repo.ledger_dir).breaks
    assert problem.startswith("header.jsonl: changed since commit")


def test_outside_a_repository_nothing_is_compared_and_it_says_so(proj: Proj) -> None:
    proj.create_ledger()
    report = committed_problems(proj.root, proj.ledger_dir)
    assert report.breaks == []
    assert report.note is not None and "not in a git repository" in report.note
    result = run_cli("ledger", "verify")
    assert result.code == 0 and "a cut tail cannot be detected" in result.err


def test_history_reports_commits_that_removed_or_rewrote_lines(repo: Proj) -> None:
    first = head(repo.root)
    path = newest(repo)
    # a commit that appends: fine
    write_run(repo.ledger_dir, [(FPS[6], "seg", "done")], "r3")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "apply r3")
    # a commit that cuts the tail of r2
    cut_last_records(path)
    git(repo.root, "commit", "-qam", "tidy the ledger")
    cutter = head(repo.root)
    # a commit that deletes r1
    r1 = next(p for p in run_files(repo.ledger_dir) if p.name.endswith("-r1.jsonl"))
    git(repo.root, "rm", "-q", str(r1))
    git(repo.root, "commit", "-qm", "drop an old run")
    dropper = head(repo.root)
    report = history_problems(repo.root, repo.ledger_dir)
    rel = path.relative_to(repo.root).as_posix()
    assert report.breaks == [
        f"commit {dropper} drop an old run: removed {r1.relative_to(repo.root).as_posix()}",
        f"commit {cutter} tidy the ledger: rewrote committed lines of {rel} (not an append)",
    ]
    assert first not in " ".join(report.breaks)
    result = run_cli("ledger", "verify", "--history")
    assert result.code == 1
    assert f"history: commit {cutter} tidy the ledger: rewrote" in result.err


def test_history_reports_a_merge_that_dropped_a_branch_run(repo: Proj) -> None:
    git(repo.root, "checkout", "-q", "-b", "side")
    side = write_run(repo.ledger_dir, [(FPS[6], "seg", "done")], "side").path
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "apply on side")
    git(repo.root, "checkout", "-q", "main")
    write_run(repo.ledger_dir, [(FPS[7], "seg", "done")], "mainline")
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-qm", "apply on main")
    # a bad merge resolution: take main's ledger whole, losing side's run
    git(repo.root, "merge", "-q", "--no-commit", "-s", "ours", "side")
    git(repo.root, "commit", "-qm", "merge side (ours)")
    merge = head(repo.root)
    assert not side.exists()
    report = history_problems(repo.root, repo.ledger_dir)
    assert any(
        b.startswith(f"commit {merge} ") and b.endswith(side.name) and "removed" in b
        for b in report.breaks
    ), report.breaks
