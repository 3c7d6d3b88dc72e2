"""`apply --format json`: while apply runs, everything it prints goes to stderr; when it
ends (sent, nothing to send, or refused), one JSON document goes to stdout.

apply hands over what it planned and what happened with `record_outcome`; the wrapper
(`machine_output`) does the rest, so the command itself stays as it is for text.
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import click

from reconciler.apply.engine import ApplyReport
from reconciler.errors import ReconcilerError, ValidationFailed
from reconciler.plan.model import Action, Plan
from reconciler.render.applyjson import apply_json


@dataclass
class _Outcome:
    plan: Plan | None = None
    sends: Sequence[Action] = field(default_factory=list)
    report: ApplyReport | None = None
    run_id: str | None = None


_current: ContextVar[_Outcome | None] = ContextVar("apply_outcome", default=None)


def record_outcome(
    plan: Plan,
    sends: Sequence[Action],
    report: ApplyReport | None = None,
    run_id: str | None = None,
) -> None:
    """What apply planned and, once it ran, its report (a no-op for text output)."""
    outcome = _current.get()
    if outcome is not None:
        outcome.plan, outcome.sends, outcome.report, outcome.run_id = plan, sends, report, run_id


FORMAT_OPTION = click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one final document on stdout (schemas/apply.schema.json); the plan, "
    "progress and messages go to stderr.",
)


def machine_output(command: Callable[..., int]) -> Callable[..., int]:
    """Wrap apply's callback: takes the `fmt` option and, for json, sends what apply prints
    to stderr and writes the document when it returns or refuses."""

    @functools.wraps(command)
    def wrapper(*args: Any, fmt: str = "text", **kwargs: Any) -> int:
        if fmt != "json":
            return command(*args, **kwargs)
        outcome = _Outcome()
        token = _current.set(outcome)
        stdout = sys.stdout
        try:
            with contextlib.redirect_stdout(sys.stderr):
                code = command(*args, **kwargs)
        except (ReconcilerError, ValidationFailed) as exc:
            error = str(exc) if isinstance(exc, ReconcilerError) else "the manifests do not load"
            _write(stdout, outcome, 1, error)
            raise
        finally:
            _current.reset(token)
        _write(stdout, outcome, code, None)
        return code

    return wrapper


def _write(stream: Any, outcome: _Outcome, code: int, error: str | None) -> None:
    doc = apply_json(outcome.plan, outcome.sends, outcome.report, outcome.run_id, code, error)
    stream.write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    stream.flush()
