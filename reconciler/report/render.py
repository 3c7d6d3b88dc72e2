"""A report document as JSON, markdown or HTML. Each form is drawn from the sealed JSON
alone (deterministic), and markdown and HTML carry it, so `ledger verify --report` can
re-draw the file and compare."""

from __future__ import annotations

import json
from typing import Any

from reconciler.report.html import render_html
from reconciler.report.markdown import render_markdown

FORMS = ("json", "markdown", "html")


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def render(document: dict[str, Any], form: str) -> str:
    if form == "markdown":
        return render_markdown(document)
    if form == "html":
        return render_html(document)
    return render_json(document)
