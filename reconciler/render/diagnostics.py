"""Validation problems for machines: a versioned JSON document and GitHub annotations.

`--format json` follows schemas/validate.schema.json. `--format github` prints one
workflow command per problem (`::error file=F,line=N,title=T::message`), which GitHub
shows on the pull request's lines; data and properties are escaped as the runner
expects, so no problem can end its line early or start a command of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler import __version__
from reconciler.errors import Problem, one_line

FORMAT_VERSION = "1"
KIND = "reconciler-validate"
TITLE = "reconcile validate"


def diagnostic_json(problem: Problem, severity: str = "error") -> dict[str, Any]:
    return {
        "file": problem.file or None,
        "line": problem.line,
        "location": problem.location,
        "message": problem.message,
        "severity": severity,
    }


def validate_json(
    problems: Sequence[Problem],
    summary: dict[str, int] | None,
    notices: Sequence[Problem] = (),
) -> dict[str, Any]:
    """The whole document: `valid`, counts when the manifests could be read, diagnostics
    (errors, then notices, which leave it valid)."""
    return {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "tool_version": __version__,
        "valid": not problems,
        "summary": summary,
        "diagnostics": [diagnostic_json(p) for p in problems]
        + [diagnostic_json(p, "notice") for p in notices],
    }


def escape_data(text: str) -> str:
    """A workflow command's message: `%`, CR and LF escaped (the runner's own rules)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also `:` and `,`, which end a property."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(problem: Problem, level: str = "error") -> str:
    props = []
    if problem.file:
        props.append(f"file={escape_property(problem.file)}")
        if problem.line:
            props.append(f"line={problem.line}")
    props.append(f"title={escape_property(TITLE)}")
    message = f"{problem.location}: {problem.message}" if problem.location else problem.message
    # one line whatever the message holds: control characters shown escaped
    return f"::{level} {','.join(props)}::{escape_data(one_line(message))}"
