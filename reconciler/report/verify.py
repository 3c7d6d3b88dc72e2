"""`reconcile ledger verify --report FILE`: prove a report from the ledger alone, offline.

1. The file: a JSON report, or a markdown or HTML report carrying its JSON; the markdown
   or HTML must be exactly what that JSON renders (so its visible text was not edited).
2. The seal over the JSON (HMAC under the ledger key, or a digest without one).
3. The ledger verifies (chain, MACs), and the heads the report names are still in it.
4. Every record the report cites is in the ledger, at the place it names, unchanged,
   and says what the report claims of it (item, kind, time, status, evidence, code,
   request id); a record the ledger's verification breaks at, or after, is named.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.ledger.chain import legacy_id, split
from reconciler.ledger.files import FileStorage
from reconciler.ledger.fold import read_ledger
from reconciler.ledger.storage import Storage
from reconciler.ledger.verify import item_events, ledger_problems
from reconciler.report.build import KIND
from reconciler.report.seal import seal_problem

MD_DATA = re.compile(r"<!-- reconcile-report-data\n([A-Za-z0-9+/=\n]+)\n-->")
HTML_DATA = re.compile(
    r'<script type="application/json" id="reconcile-report">(.*?)</script>', re.DOTALL
)
CLAIMS = ("type", "ts", "status", "evidence", "code", "vendor_code", "request_id", "observed", "as")


class ReportUnreadable(ValueError):
    """The file is not a report this version can read."""


@dataclass
class ReportCheck:
    document: dict[str, Any]
    form: str  # json, markdown, html
    problems: list[str] = field(default_factory=list)
    cited: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def read_report(path: Path) -> tuple[dict[str, Any], str, str]:
    """(the JSON document, its form, the file's text). Raises ReportUnreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportUnreadable(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ReportUnreadable(f"{path}: not a report (not UTF-8 text)") from None
    form = "json"
    raw: str = text
    if not text.lstrip().startswith("{"):
        found = HTML_DATA.search(text)
        if found is not None:
            form, raw = "html", found.group(1)
        else:
            found = MD_DATA.search(text)
            if found is None:
                raise ReportUnreadable(
                    f"{path}: not a report (no JSON, and no report data in markdown or HTML)"
                )
            form = "markdown"
            try:
                raw = base64.b64decode(found.group(1).replace("\n", ""), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise ReportUnreadable(f"{path}: its report data is damaged") from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReportUnreadable(f"{path}: its report data is not valid JSON ({exc.msg})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise ReportUnreadable(f"{path}: not a reconcile report")
    if document.get("format_version") != "1":
        raise ReportUnreadable(
            f"{path}: report format {str(document.get('format_version'))[:10]!r} is not one "
            "this version reads (1)"
        )
    return document, form, text


def _record_ids(storage: Storage) -> set[str]:
    """The id of every record in the ledger's runs (format 2: its `m`; format 1: the
    SHA-256 of its line), of any kind: a head is often a run's end record."""
    found: set[str] = set()
    for name in storage.parts():
        for _, line in storage.lines(name, []):
            parts = split(line)
            found.add(parts[1].decode("ascii", "replace") if parts else legacy_id(line))
    return found


def consistency(document: dict[str, Any]) -> list[str]:
    """What the report says that its own cited events (checked against the ledger below)
    do not add up to: an item's evidence, a request's or target's counts, a verdict."""
    from reconciler.report.build import (
        ACCEPTED_KIND,
        counts_of,
        request_verdict,
        verdict,
        walk_kind,
    )

    problems: list[str] = []
    everything: list[dict[str, Any]] = []
    try:
        for r in document["requests"]:
            for item in r["items"]:
                everything.append(item)
                kind, _ = walk_kind(item["events"])
                label = f"item {str(item['fingerprint'])[:16]} of {r['manifest']}"
                if item["state"] == "done" and (
                    kind in (None, ACCEPTED_KIND) or kind != item["evidence"]
                ):
                    problems.append(
                        f"{label} is called done ({item['evidence']}), but its cited records "
                        f"say {kind or 'not removed'}"
                    )
                elif item["state"] == "accepted" and kind != ACCEPTED_KIND:
                    problems.append(f"{label} is called accepted, but its cited records say {kind}")
            counts = counts_of(r["items"])
            if counts != r["counts"]:
                problems.append(f"the counts of {r['manifest']} are not its items'")
            for t in r["targets"]:
                if counts_of(i for i in r["items"] if i["target"] == t["name"]) != t["counts"]:
                    problems.append(
                        f"the counts of {r['manifest']} at {t['name']} are not its items'"
                    )
            due = r["due"] if r["overdue"] else None
            if request_verdict(counts, len(r["targets"]), due) != r["verdict"]:
                problems.append(f"the verdict of {r['manifest']} is not what its items say")
        total = counts_of(everything)
        systems = len({t["name"] for r in document["requests"] for t in r["targets"]})
        summary = document["summary"]
        if total != summary["counts"] or verdict(total, systems) != summary["verdict"]:
            problems.append("the report's verdict is not what its items say")
    except (KeyError, TypeError, AttributeError):
        problems.append("the report is missing parts a report has (damaged, or not one)")
    return problems


def claims(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """What the report says of each ledger record it cites: one claim per item event,
    named as the ledger's own events are (`fp`, `ts`, ...), with `record` and `where`."""
    for request in document.get("requests") or []:
        for item in request.get("items") or []:
            for event in item.get("events") or []:
                claim = {k: v for k, v in event.items() if k in CLAIMS or k in ("record", "where")}
                claim["fp"] = item.get("fingerprint")
                claim["ts"] = event.get("at")
                yield claim


def check_report(
    path: Path, ledger_dir: Path, key: bytes | None, storage: Storage | None = None
) -> ReportCheck:
    """Every check of the module docstring; problems in plain words, never raises on a
    bad report (ReportUnreadable for a file that is not one)."""
    from reconciler.report.render import render

    document, form, text = read_report(path)
    check = ReportCheck(document, form)
    ledger = read_ledger(ledger_dir, key, storage=storage)
    keyed = ledger.header is not None and ledger.header.keyed
    problem = seal_problem(document, key, keyed)
    if problem is not None:
        check.problems.append(problem)
    if form != "json" and render(document, form) != text:
        check.problems.append(
            f"the {form} text is not what the report's sealed data renders: it was edited "
            "after the report was made (or made by another version of reconciler: "
            f"{str(document.get('tool_version'))[:20]})"
        )
    breaks = ledger_problems(ledger)
    broken_at: dict[str, int] = {}
    for text_break in breaks:
        name, _, rest = text_break.partition(":")
        number = rest.split(":", 1)[0]
        if number.isdigit():
            broken_at.setdefault(name, int(number))
    if breaks:
        check.problems.append(f"the ledger does not verify: {breaks[0]}")
    records: dict[tuple[str, str], dict[str, Any]] = {}
    for event in item_events(ledger_dir, cite=True, storage=storage):
        rid = event.get("record")
        if rid is None:
            continue
        records[(rid, event["fp"])] = event
    every = _record_ids(storage or FileStorage(ledger_dir)) if ledger.exists else set()
    for head in (document.get("ledger") or {}).get("heads") or []:
        if head not in every and head not in ledger.heads:
            check.problems.append(
                f"the ledger head the report was made at ({head}) is no longer in the ledger"
            )
    check.problems += consistency(document)
    for claim in claims(document):
        check.cited += 1
        rid, fp, where = str(claim.get("record")), str(claim.get("fp")), str(claim.get("where"))
        name, _, line = where.rpartition(":")
        file = name.rsplit("/", 1)[-1]
        label = f"record {rid} ({where}, item {fp[:16]})"
        at = broken_at.get(file)
        if at is not None and line.isdigit() and int(line) >= at:
            what = "was altered" if int(line) == at else "follows a break in its file"
            check.problems.append(f"{label} {what}: the ledger breaks at {file}:{at}")
            continue
        found_event = records.get((rid, fp))
        if found_event is None:
            check.problems.append(f"{label} is not in the ledger (removed or altered)")
            continue
        event = found_event
        if event.get("where") != where:
            check.problems.append(f"{label} is in the ledger at {event.get('where')}, moved")
        wrong = [c for c in CLAIMS if claim.get(c) != event.get(c)]
        if wrong:
            check.problems.append(
                f"{label} does not say what the report claims ({', '.join(wrong)})"
            )
    return check
