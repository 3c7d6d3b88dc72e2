"""The entry point's error mapping: internal errors exit 3 with one line, never a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import reconciler.cli.commands.validate as validate_command
from reconciler import __version__
from tests.kit.project import Project

SECRET = "sk_live_0a1b2c3d4e5f6g7h8i9j"  # a token in the environment
EMAIL = "jane.doe@example.com"  # an identifier value


def explode(*args: object, **kwargs: object) -> object:
    raise RuntimeError("boom in the middle of loading")


def explode_with_values(*args: object, **kwargs: object) -> object:
    raise RuntimeError(f"boom with {os.environ['SEGMENT_TOKEN']} and {EMAIL} in it")


def crash_log(line: str) -> Path:
    found = re.search(r"its traceback is in (\S+crash-\S+\.log), for a bug report", line)
    assert found is not None, line
    return Path(found.group(1))


def test_unexpected_exception_exits_3_with_one_line_naming_the_crash_log(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(validate_command, "load_specs", explode)
    result = project.run("validate")
    assert result.code == 3
    assert result.out == ""
    [line] = result.err.splitlines()
    assert "RuntimeError: boom in the middle of loading" in line
    assert "rerun" not in line and "Traceback" not in result.output
    log = crash_log(line)
    assert log.parent == tmp_path / "state" / "reconciler"
    assert log.stat().st_mode & 0o777 == 0o600
    text = log.read_text(encoding="utf-8")
    assert text.count("Traceback (most recent call last)") == 1
    assert "RuntimeError: boom in the middle of loading" in text
    assert "command: reconcile validate" in text and "in explode" in text


def test_the_crash_log_holds_no_secret_and_no_identifier(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("SEGMENT_TOKEN", SECRET)
    monkeypatch.setenv("RECONCILE_LEDGER_KEY", "a-ledger-key-of-some-length")
    monkeypatch.setattr(validate_command, "load_specs", explode_with_values)
    (project.root / "specs" / f"{EMAIL}.yaml").write_text("", encoding="utf-8")
    result = project.run("validate", f"specs/{EMAIL}.yaml")  # the command line holds it too
    assert result.code == 3
    [line] = result.err.splitlines()
    text = crash_log(line).read_text(encoding="utf-8")
    assert "command: reconcile validate s***@example.com.yaml" in text
    for leaked in (SECRET, EMAIL, "a-ledger-key-of-some-length"):
        assert leaked not in text and leaked not in line
    assert "$SEGMENT_TOKEN" in text and "$SEGMENT_TOKEN" in line
    assert "boom with" in text


def test_no_crash_log_when_it_cannot_be_written_says_so_in_the_line(
    project: Project, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("", encoding="utf-8")
    monkeypatch.setenv("XDG_STATE_HOME", str(blocked))  # a file: no directory under it
    monkeypatch.setattr(validate_command, "load_specs", explode)
    result = project.run("validate")
    assert result.code == 3
    [line] = result.err.splitlines()
    assert "no crash log could be written" in line and "--debug" in line


def test_debug_lets_the_traceback_through(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate_command, "load_specs", explode)
    with pytest.raises(RuntimeError, match="boom"):
        project.run("--debug", "validate")


def test_internal_error_in_a_subprocess_prints_no_traceback(
    project: Project, tmp_path: Path
) -> None:
    """The same through a real process: a config loader that crashes is injected."""
    code = (
        "import reconciler.config.load as c\n"
        "def boom(path): raise KeyError('kaboom')\n"
        "c.load_config = boom\n"
        "from reconciler.cli.main import main\n"
        "main(['validate'])\n"
    )
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"), "GITHUB_TOKEN": SECRET}
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert completed.returncode == 3
    assert "Traceback" not in completed.stderr
    [line] = completed.stderr.splitlines()
    assert "KeyError" in line
    text = crash_log(line).read_text(encoding="utf-8")
    assert "KeyError: 'kaboom'" in text and SECRET not in text


def test_keyboard_interrupt_is_one_line_and_an_error(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object, **kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(validate_command, "load_specs", interrupt)
    result = project.run("validate")
    # click turns Ctrl-C into Abort before main() sees it; main() still exits 130
    assert result.code == 130
    assert result.err.strip() == "Interrupted."
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


@pytest.mark.parametrize(("signum", "code"), [(15, 143), (2, 130)])
def test_a_forced_stop_exits_as_the_shell_reports_the_signal(
    project: Project, monkeypatch: pytest.MonkeyPatch, signum: int, code: int
) -> None:
    """click turns the KeyboardInterrupt of a second signal into Abort: still 128 + N."""
    from reconciler.cli.signals import Interrupted

    def interrupted(*args: object, **kwargs: object) -> object:
        raise Interrupted(signum)

    monkeypatch.setattr(validate_command, "load_specs", interrupted)
    result = project.run("validate")
    assert result.code == code
    assert result.err.strip().splitlines()[-1] == "Interrupted."
