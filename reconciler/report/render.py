"""A report document as JSON, markdown or HTML. Each form is drawn from the sealed JSON
alone (deterministic), and markdown and HTML carry it, so `ledger verify --report` can
re-draw the file and compare."""

from __future__ import annotations

import json
from typing import Any

from reconciler.report.html import render_html
from reconciler.report.markdown import render_markdown

FORMS = ("json", "markdown", "html")


_encode = json.JSONEncoder(ensure_ascii=False).encode  # the C encoder: no indent


def render_json(document: dict[str, Any]) -> str:
    """One top-level member a line (an indent would take the pure-Python encoder, which
    costs more than building the report)."""
    members = ",\n".join(f" {_encode(k)}: {_encode(v)}" for k, v in document.items())
    return "{\n" + members + "\n}\n"


def render(document: dict[str, Any], form: str) -> str:
    if form == "markdown":
        return render_markdown(document)
    if form == "html":
        return render_html(document)
    return render_json(document)
