"""`reconcile` run in-process through the real entry point (error mapping and exit codes
included), and what a run gave."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def _code(exc: SystemExit) -> int:
    return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)


def run_cli(*args: str, input: str | None = None) -> CliResult:
    """`reconcile ARGS` with stdin, stdout and stderr isolated by click's CliRunner."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = _code(exc)
        else:  # pragma: no cover - main always exits
            raise AssertionError("main() returned instead of exiting")
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


def run_captured(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """`reconcile ARGS` with pytest's capture of stdout and stderr (stdin is not a
    terminal under pytest)."""
    capsys.readouterr()  # drop anything printed before
    try:
        main(list(args))
    except SystemExit as exc:
        code = _code(exc)
    else:  # pragma: no cover - main always exits
        raise AssertionError("reconcile main() returned instead of exiting")
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
