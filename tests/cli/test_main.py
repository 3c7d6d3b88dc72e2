"""The entry point's error mapping: internal errors exit 3 with one line, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest

import reconciler.cli.commands.validate as validate_command
from reconciler import __version__
from tests.conftest import Project


def explode(*args: object, **kwargs: object) -> object:
    raise RuntimeError("boom in the middle of loading")


def test_unexpected_exception_exits_3_with_one_line_and_a_debug_hint(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_command, "load_specs", explode)
    result = project.run("validate")
    assert result.code == 3
    assert result.out == ""
    [line] = result.err.splitlines()
    assert "--debug" in line
    assert "RuntimeError: boom in the middle of loading" in line
    assert "Traceback" not in result.output


def test_debug_lets_the_traceback_through(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_command, "load_specs", explode)
    with pytest.raises(RuntimeError, match="boom"):
        project.run("--debug", "validate")


def test_internal_error_in_a_subprocess_prints_no_traceback(project: Project) -> None:
    """The same through a real process: a config loader that crashes is injected."""
    code = (
        "import reconciler.config.load as c\n"
        "def boom(path): raise KeyError('kaboom')\n"
        "c.load_config = boom\n"
        "from reconciler.cli.main import main\n"
        "main(['validate'])\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=project.root, capture_output=True, text=True, timeout=60
    )
    assert completed.returncode == 3
    assert "Traceback" not in completed.stderr
    [line] = completed.stderr.splitlines()
    assert "KeyError" in line and "--debug" in line


def test_keyboard_interrupt_is_one_line_and_an_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate_command, "load_specs", interrupt)
    result = project.run("validate")
    # click turns Ctrl-C into Abort before main() sees it, so this is exit 1, not 130
    assert result.code == 1
    assert result.err.strip() == "Aborted."
    assert "Traceback" not in result.output


def test_version_and_help_exit_0(project: Project) -> None:
    version = project.run("--version")
    assert version.code == 0
    assert __version__ in version.out
    help_ = project.run("validate", "--help")
    assert help_.code == 0
    assert "No\n  network" in help_.out


def test_unknown_command_is_a_usage_error_exit_1(project: Project) -> None:
    result = project.run("valdiate")
    assert result.code == 1
    assert "No such command 'valdiate'" in result.err
