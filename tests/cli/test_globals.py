"""Global options anywhere on the command line, colours as NO_COLOR and TERM=dumb ask,
and a start-up that imports only the command being run."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

import reconciler.cli.commands.validate as validate_command
from reconciler.cli.main import COMMANDS, cli, color_setting, hoist_globals
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj

ANSI = re.compile(r"\x1b\[")


def explode(*args: object, **kwargs: object) -> object:
    raise RuntimeError("boom in the middle of loading")


@pytest.mark.parametrize(
    ("args", "env", "expected", "debug"),
    [
        (["plan", "--debug"], {}, ["--debug", "plan"], True),
        (["plan", "--color", "never", "--full"], {}, ["--color", "never", "plan", "--full"], False),
        (["plan", "--color=always"], {}, ["--color=always", "plan"], False),
        (["validate"], {"RECONCILE_LOG": "DEBUG"}, ["--debug", "validate"], True),
        # after `--` nothing is an option
        (["plan", "--", "--debug"], {}, ["plan", "--", "--debug"], False),
    ],
)
def test_global_options_are_hoisted_from_anywhere(args, env, expected, debug) -> None:
    assert hoist_globals(args, env) == (expected, debug)


@pytest.mark.parametrize(
    ("args", "expected", "debug"),
    [
        # the value of another option stays that option's, whatever it looks like
        (
            ["ledger", "resolve", "abc", "--reason", "--debug", "--as", "done"],
            ["ledger", "resolve", "abc", "--reason", "--debug", "--as", "done"],
            False,
        ),
        (
            ["ledger", "resolve", "abc", "--reason", "--color", "--debug"],
            ["--debug", "ledger", "resolve", "abc", "--reason", "--color"],
            True,
        ),
        # the group's own valued option (--config) before the command
        (["--config", "--debug", "plan"], ["--config", "--debug", "plan"], False),
        # a flag of the command takes no value: --debug after it is still global
        (["plan", "--full", "--debug"], ["--debug", "plan", "--full"], True),
    ],
)
def test_a_global_spelled_as_another_options_value_stays_its_value(
    args: list[str], expected: list[str], debug: bool
) -> None:
    assert hoist_globals(args, {}, cli) == (expected, debug)


def test_debug_after_the_command_lets_the_traceback_through(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_command, "load_specs", explode)
    assert run_cli("validate").code == 3
    with pytest.raises(RuntimeError, match="boom"):
        run_cli("validate", "--debug")


@pytest.mark.parametrize(
    ("mode", "env", "expected"),
    [
        ("auto", {}, None),
        ("auto", {"NO_COLOR": "1"}, False),
        ("auto", {"NO_COLOR": ""}, None),  # no-color.org: only a non-empty value counts
        ("auto", {"TERM": "dumb"}, False),
        ("always", {"NO_COLOR": "1"}, True),  # an explicit flag beats the environment
        ("never", {}, False),
    ],
)
def test_color_setting(mode, env, expected) -> None:
    assert color_setting(mode, env) is expected


def test_color_is_global_and_no_color_is_honoured(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj.add_all_vendors()
    always = run_cli("plan", "--color", "always")
    assert ANSI.search(always.out)
    ledger = run_cli("ledger", "list", "--color", "always")
    assert ledger.code == 0, ledger.output


def on_a_terminal(args: list[str], env: dict[str, str], cwd: Path) -> str:
    """What `reconcile ARGS` prints to a real pseudo-terminal."""
    main_fd, child_fd = os.openpty()
    try:
        subprocess.run(
            [sys.executable, "-c", "from reconciler.cli.main import main; main()", *args],
            stdin=child_fd,
            stdout=child_fd,
            stderr=child_fd,
            cwd=cwd,
            env=env,
            timeout=60,
            check=False,
        )
        os.close(child_fd)
        child_fd = -1
        chunks = []
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: the terminal's other side is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")
    finally:
        os.close(main_fd)
        if child_fd >= 0:
            os.close(child_fd)


def test_on_a_terminal_auto_colours_unless_no_color_or_term_dumb(proj: Proj) -> None:
    proj.add_all_vendors()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    assert ANSI.search(on_a_terminal(["plan"], env, proj.root))  # the control
    assert not ANSI.search(on_a_terminal(["plan"], {**env, "NO_COLOR": "1"}, proj.root))
    assert not ANSI.search(on_a_terminal(["plan"], {**env, "TERM": "dumb"}, proj.root))
    forced = on_a_terminal(["plan", "--color", "always"], {**env, "NO_COLOR": "1"}, proj.root)
    assert ANSI.search(forced)  # an explicit flag wins over the environment


def test_every_command_is_listed_with_its_own_help_without_importing_it() -> None:
    ctx = click.Context(cli)
    for name, entry in COMMANDS.items():
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        assert command.name == name
        assert entry.short_help == command.get_short_help_str(limit=300), name
    assert set(cli.list_commands(ctx)) == set(COMMANDS)


def test_start_up_imports_neither_httpx_nor_aiohttp_nor_a_command() -> None:
    code = (
        "import sys; from reconciler.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('httpx', 'aiohttp')"
        " or m.startswith('reconciler.cli.commands.') or m.startswith('reconciler.sandbox'))\n"
        "print(heavy)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "validate" in done.stdout and "sandbox" in done.stdout  # all listed
