"""Every input path confined to the repository, every input a bounded regular file, and
no file content quoted in a message (issue: path confinement; hostile input).

The leak this guards against: a manifest whose CSV is a link to /proc/self/environ made
`validate` and `plan` print the environment (in CI: the ledger key and every vendor
token). These tests run the real CLI as a subprocess, with recognisable secrets in its
environment, and grep everything it prints.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.ledger.lock import acquire, release
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML, manifest

SECRETS = {
    "RECONCILE_LEDGER_KEY": "ledger-key-LEAKCHECK-5c1f0e7d9a2b4c6e",
    "SEGMENT_TOKEN": "sgp_LEAKCHECK_segment_token_8d7c6b5a",
    "BRAZE_API_KEY": "braze-LEAKCHECK-key-0f9e8d7c6b5a4938",
    "GITHUB_TOKEN": "ghp_LEAKCHECKgithubtoken1234567890abcd",
}
GIT_CREDENTIAL = "https://x-access-token:ghs_LEAKCHECKgitcredential00@github.com"


def _run(root: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SECRETS}
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _leaks(text: str) -> list[str]:
    found = [name for name, value in SECRETS.items() if value in text]
    for marker in ("LEAKCHECK", "root:x:0:0", "ghs_", "x-access-token"):
        if marker in text:
            found.append(marker)
    return found


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A repository whose manifests point at files outside it, hidden files, and a
    file inside it whose first line is a secret."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    outside = tmp_path / "outside.csv"
    outside.write_text(f"user_id,type,value\nu1,email,{SECRETS['GITHUB_TOKEN']}\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text(f'[remote "origin"]\n\turl = {GIT_CREDENTIAL}\n')
    # a file in the tree whose "header" is a secret (a credentials file linked as a CSV)
    (root / "creds.txt").write_text(
        f"token={SECRETS['GITHUB_TOKEN']},key={SECRETS['BRAZE_API_KEY']}\nsecond line\n"
    )
    links = {
        "env.csv": "/proc/self/environ",
        "passwd.csv": "/etc/passwd",
        "gitconfig.csv": "../.git/config",
        "creds.csv": "../creds.txt",
    }
    for name, target in links.items():
        (root / "specs" / name).symlink_to(target)
    sources = [*links, "../../outside.csv", str(outside)]
    for i, source in enumerate(sources):
        (root / "specs" / f"m{i}.yaml").write_text(
            manifest(f"absent_csv: ['{source}']", name=f"m{i}"), encoding="utf-8"
        )
    # a manifest that is itself a link to the environment
    (root / "specs" / "environ.yaml").symlink_to("/proc/self/environ")
    return root


def test_validate_and_plan_never_print_a_file_outside_or_hidden(hostile: Path) -> None:
    for args in (
        ["validate"],
        ["plan"],
        ["plan", "--format", "json"],
        ["plan", "--format", "markdown", "--show-values", "--i-know-this-posts-pii"],
    ):
        result = _run(hostile, *args)
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output and "internal error" not in output
        assert _leaks(output) == [], output
    result = _run(hostile, "validate")
    lines = result.stderr.splitlines()

    def problem(fragment: str) -> str:
        [line] = [t for t in lines if fragment in t]
        return line

    assert "outside the repository" in problem("specs/env.csv")
    assert "symbolic link" in problem("specs/env.csv")
    assert "outside the repository" in problem("specs/passwd.csv")
    assert "hidden '.git'" in problem("specs/gitconfig.csv")
    assert "leads outside the repository" in problem("specs/../../outside.csv")
    assert "an absolute path is refused" in problem(str(hostile.parent / "outside.csv"))
    assert "outside the repository" in problem("specs/environ.yaml:")
    # a file inside the tree is read, but its first line is quoted only masked and cut
    creds = problem("specs/creds.csv")
    assert "does not fit a segment target" in creds
    assert "['to" in creds and "***" in creds
    assert not (hostile / "state").exists()


def test_a_config_that_is_a_link_out_of_its_folder_is_not_read(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "reconciler.yaml").symlink_to("/proc/self/environ")
    result = _run(root, "validate")
    assert result.returncode == 1
    assert "reconciler.yaml" in result.stderr and "outside the repository" in result.stderr
    assert _leaks(result.stdout + result.stderr) == []


def test_config_folders_must_stay_inside_the_repository(project: Project) -> None:
    project.write(
        "reconciler.yaml",
        CONFIG_YAML.replace("specs: specs/", "specs: ../elsewhere").replace(
            "path: state/ledger", "path: /var/tmp/ledger"
        ),
    )
    result = project.run("validate")
    assert result.code == 1
    assert result.err.splitlines() == [
        "reconciler.yaml:2: specs: leads outside the repository "
        f"({project.root.name}/): a folder must be inside it",
        "reconciler.yaml:4: ledger.path: an absolute path is refused: give the folder "
        "relative to the file that names it, inside the repository",
        "Error: 2 problem(s) found.",
    ]


# -- special files: each refused within seconds, never read -----------------------------------


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def test_a_fifo_as_csv_config_or_plan_is_refused_at_once(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    _fifo(root / "specs" / "rows.csv")
    (root / "specs" / "m.yaml").write_text(manifest("absent_csv: [rows.csv]"))
    started = time.monotonic()
    result = _run(root, "validate", timeout=20)
    assert result.returncode == 1
    assert "specs/rows.csv: is a FIFO (named pipe), not a regular file" in result.stderr
    fifo_config = _fifo(tmp_path / "config.yaml")
    result = _run(root, "--config", str(fifo_config), "validate", timeout=20)
    assert result.returncode == 1
    assert "is a FIFO (named pipe), not a regular file" in result.stderr
    (root / "specs" / "m.yaml").unlink()
    result = _run(root, "apply", str(_fifo(root / "plan.json")), timeout=20)
    assert result.returncode == 1
    assert "plan.json: is a FIFO (named pipe), not a regular file" in result.stderr
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("args", [["--config", "/dev/zero", "validate"], ["apply", "/dev/zero"]])
def test_dev_zero_is_refused_not_read(project: Project, args: list[str]) -> None:
    result = project.run(*args)
    assert result.code == 1
    assert "/dev/zero: is a device, not a regular file" in result.err


def test_an_oversized_manifest_is_refused_without_parsing(project: Project) -> None:
    path = project.write("specs/huge.yaml", "")
    with path.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)
    result = project.run("validate")
    assert result.code == 1
    assert "specs/huge.yaml: is 17 MiB, over the limit of 16 MiB" in result.err


# -- hostile YAML: bounded time, a located line -----------------------------------------------


def test_aliases_of_a_long_string_are_refused_quickly(project: Project) -> None:
    text = manifest("absent: []") + 'x-big: &b "' + "x" * 1_000_000 + '"\n'
    text += "x-list: [" + ", ".join(["*b"] * 2000) + "]\n"
    project.write("specs/bomb.yaml", text)
    started = time.monotonic()
    result = project.run("validate")
    assert time.monotonic() - started < 10
    assert result.code == 1
    assert result.err.startswith("specs/bomb.yaml:10: YAML error: the document expands to more")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.Inf"])
def test_nan_and_infinity_are_refused(project: Project, value: str) -> None:
    body = "absent:\n  - profile: {email: a@b.example}\n    attribute_values: {list_id: [X]}"
    project.write("specs/n.yaml", manifest(body.replace("X", value), target="ins"))
    result = project.run("plan", "--format", "json", "--show-values")
    assert result.code == 1
    assert result.out == ""
    assert "specs/n.yaml:11: YAML error: NaN and infinity are not values" in result.err


def test_a_lone_surrogate_escape_is_refused(project: Project) -> None:
    body = 'absent:\n  - profile: {user_id: "u\\ud800"}\n    identifiers: [{type: email, value: x}]'
    project.write("specs/s.yaml", manifest(body))
    result = project.run("plan", "--format", "json")
    assert result.code == 1
    assert "specs/s.yaml:10: YAML error: a lone surrogate escape (\\ud800)" in result.err


@pytest.mark.parametrize("depth", [70, 5000])
def test_deep_nesting_is_a_located_error(project: Project, depth: int) -> None:
    text = manifest("absent: []") + "x:\n  - " + "[" * depth + "]" * depth + "\n"
    project.write("specs/deep.yaml", text)
    result = project.run("validate")
    assert result.code == 1
    [first, _] = result.err.splitlines()
    assert first.startswith("specs/deep.yaml:11: YAML error: nested")


# -- outputs: regular files only, never through a link ----------------------------------------


def _plan_project(project: Project) -> None:
    project.write("specs/a.yaml", manifest("absent_csv: [r.csv]"))
    project.write("specs/r.csv", "user_id,type,value\nu1,email,a@b.example\n")


def test_plan_out_never_replaces_a_link_a_fifo_or_a_device(
    project: Project, tmp_path: Path
) -> None:
    _plan_project(project)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (project.root / "link.plan").symlink_to(victim)
    result = project.run("plan", "--out", "link.plan")
    assert result.code == 1
    assert "--out link.plan: is a symbolic link: refusing to replace it" in result.err
    assert (project.root / "link.plan").is_symlink() and victim.read_text() == "keep me"
    _fifo(project.root / "fifo.plan")
    result = project.run("plan", "--out", "fifo.plan")
    assert result.code == 1 and "is a FIFO (named pipe): refusing to write over it" in result.err
    result = project.run("plan", "--out", "/dev/null")
    assert result.code == 1 and "/dev/null: is a device: refusing to write over it" in result.err
    result = project.run("plan", "--out", "/proc/nope/plan.json")
    assert result.code == 1 and "internal error" not in result.err
    assert "--out /proc/nope/plan.json: no such folder" in result.err


def test_a_dangling_gitignore_link_in_the_ledger_is_never_written_through(tmp_path: Path) -> None:
    ledger = tmp_path / "repo" / "state" / "ledger"
    ledger.mkdir(parents=True)
    outside = tmp_path / "written-outside"
    (ledger / ".gitignore").symlink_to(outside)
    info = acquire(ledger, "apply", "tester")
    release(ledger, info)
    assert not outside.exists()
    assert (ledger / ".gitignore").is_symlink()


def test_braze_phones_must_be_e164(project: Project) -> None:
    body = (
        "delete_profiles: true\nabsent:\n"
        "  - profile: {phone: '(555) 555-0100', prioritization: [most_recently_updated]}"
    )
    project.write("specs/b.yaml", manifest(body, target="braze"))
    result = project.run("validate")
    assert result.code == 1
    assert "specs/b.yaml:11: spec.absent[0].profile.phone: '(5**********00' is not an E.164" in (
        result.err
    )


@pytest.mark.parametrize(
    "url", ["https://user:pass@rest.iad-01.braze.com", "https://token@rest.iad-01.braze.com"]
)
def test_credentials_inside_base_url_are_refused(project: Project, url: str) -> None:
    project.write(
        "reconciler.yaml",
        CONFIG_YAML.replace("base_url: https://rest.iad-01.braze.com", f"base_url: {url}"),
    )
    result = project.run("validate")
    assert result.code == 1
    assert "targets.braze.base_url: credentials inside base_url are refused" in result.err
    assert "pass" not in result.err.replace("passed", "") and "token@" not in result.err
