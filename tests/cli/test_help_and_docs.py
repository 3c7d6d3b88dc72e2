"""What a newcomer meets first: help text with defaults for every option, shell
completion, the README's config snippet and quick start, resetting the demo, and a
malformed sandbox seed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from reconciler.cli.main import cli
from tests.kit.cli import run_cli
from tests.kit.specs import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def _commands(cmd: click.Command, path: str) -> Iterator[tuple[str, click.Command]]:
    yield path, cmd
    if isinstance(cmd, click.Group):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):  # lazy commands are imported here
            sub = cmd.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, f"{path} {name}")


def test_every_command_is_walked() -> None:
    names = {path for path, _ in _commands(cli, "reconcile")}
    assert {"reconcile apply", "reconcile ledger find", "reconcile sandbox"} <= names


def _unset(default: object) -> bool:
    return default is None or "UNSET" in repr(default)


def test_every_option_has_help_and_shows_its_default() -> None:
    missing = []
    for path, cmd in _commands(cli, "reconcile"):
        for p in cmd.params:
            if not isinstance(p, click.Option) or p.hidden or p.name in ("help", "version"):
                continue
            if not p.help:
                missing.append(f"{path} {p.opts[0]}: no help")
            shows = p.show_default or "[default" in (p.help or "")
            if not p.is_flag and not p.multiple and not _unset(p.default) and not shows:
                missing.append(f"{path} {p.opts[0]}: default {p.default!r} not shown")
    assert missing == []


@pytest.mark.parametrize(
    ("args", "shown"),
    [
        (["plan", "--help"], ["--format [text|json|markdown]", "[default: text]", "--show-values"]),
        (["--help"], ["--color [auto|always|never]", "[default: auto]"]),
        (["apply", "--help"], ["--parallelism", "[default: 8;", "--format [text|json]"]),
        (["ledger", "list", "--help"], ["--limit", "--format [text|json]", "[default: text]"]),
    ],
)
def test_help_names_the_defaults(args: list[str], shown: list[str]) -> None:
    result = run_cli(*args)
    assert result.code == 0
    flat = re.sub(r"\s+", " ", result.out)
    for text in shown:
        assert text in flat, text


def test_shell_completion_works_as_the_readme_says() -> None:
    assert 'eval "$(_RECONCILE_COMPLETE=bash_source reconcile)"' in README
    env = {**os.environ, "_RECONCILE_COMPLETE": "bash_source"}
    script = subprocess.run(
        [sys.executable, "-c", "from reconciler.cli.main import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "complete -o nosort -F _reconcile_completion reconcile" in script.stdout
    # and the completion itself answers with the commands
    env = {
        **os.environ,
        "_RECONCILE_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconcile led",
        "COMP_CWORD": "1",
    }
    answer = subprocess.run(
        [sys.executable, "-c", "from reconciler.cli.main import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "plain,ledger" in answer.stdout


def _block_after(marker: str) -> str:
    at = README.index(marker)
    start = README.index("```yaml\n", at) + len("```yaml\n")
    return README[start : README.index("```", start)]


def test_the_readme_config_snippet_is_the_bundled_file() -> None:
    snippet = _block_after("## Config: `reconciler.yaml`")
    assert snippet == (REPO_ROOT / "reconciler.yaml").read_text(encoding="utf-8")


def test_the_quick_start_plan_shows_no_security_warning(tmp_path: Path) -> None:
    quick = README[README.index("## Quick start") : README.index("## Three workflows")]
    match = re.search(r"export (RECONCILE_LEDGER_KEY)=\$\((.+)\)\n", quick)
    assert match, "the quick start exports the ledger key"
    key = subprocess.run(
        match.group(2), shell=True, capture_output=True, text=True, check=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.endswith("_LEDGER_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan"],
        cwd=REPO_ROOT,
        env={**env, match.group(1): key},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Warning" not in result.stderr and result.stderr == ""
    assert result.stdout.rstrip().splitlines()[-1].startswith("Plan: ")


def test_the_demo_reset_is_documented_and_its_state_is_not_committed() -> None:
    section = README[README.index("## Try apply against the sandbox") :]
    assert "rm -rf demo/state demo/plan.json" in section
    ignored = (REPO_ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert "demo/state/" in ignored and "demo/plan.json" in ignored


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("segment: [1, 2\n", "YAML syntax error"),
        ("[]\n", "must be a mapping, got a list"),
        ("segment:\n  spaces: 5\n", "segment.spaces: must be a mapping"),
        ("braze:\n  users:\n    - {external_id: [1]}\n", "braze.users[0].external_id"),
        ("braze:\n  users:\n    - {external_id: x, updated_at: 2026-13-45}\n", "YAML error"),
        ("twilio_memory: {stores: {x: {profiles: 3}}}\n", "twilio_memory.stores.x"),
        ("a: &a [*a]\n", "an alias refers to a node that contains it"),
        ("nobody: {}\n", "nobody"),
    ],
)
def test_a_malformed_sandbox_seed_is_a_one_line_error(tmp_path: Path, text: str, says: str) -> None:
    seed = tmp_path / "seed.yaml"
    seed.write_text(text, encoding="utf-8")
    result = run_cli("sandbox", "--port", "0", "--seed", str(seed))
    assert result.code == 1
    (line,) = result.err.splitlines()
    assert line.startswith(f"Error: {seed}") and says in line
    assert "Traceback" not in result.err and "internal error" not in result.err
