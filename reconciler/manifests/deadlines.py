"""A manifest's request dates: `metadata.requested_at`, `metadata.due`, `metadata.regulation`.

Dates are UTC. A date without a time is a calendar day: `requested_at: 2026-11-02` is the
start of that day, `due: 2026-12-02` its end (the request is on time through that day).
A time may be given with an offset (`2026-11-02T09:30:00+01:00`); without one it is UTC.

With a `regulation` and no `due`, the due date counts from `requested_at`:

- gdpr: one calendar month (Article 12(3) GDPR, counted as EU Regulation 1182/71 counts
  months: the same day of the next month, or that month's last day when it has no such
  day: 2026-01-31 -> 2026-02-28);
- ccpa: 45 calendar days (Cal. Civ. Code 1798.130(a)(2)).

Extensions (GDPR allows two more months, CCPA 45 more days, when the requester is told)
are written as an explicit `due`.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

REGULATIONS = ("gdpr", "ccpa")
CCPA_DAYS = 45
DATE_KEYS = ("requested_at", "due")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class DateProblem(ValueError):
    """A date the manifest gives cannot be read: the message says why, in plain words."""


@dataclass(frozen=True)
class Deadline:
    """When a request was made and when it is due (both aware UTC datetimes)."""

    requested_at: dt.datetime | None
    due: dt.datetime | None
    regulation: str | None
    due_given: bool  # False: due was counted from requested_at by the regulation

    def as_json(self) -> dict[str, Any]:
        return {
            "requested_at": iso(self.requested_at),
            "due": iso(self.due),
            "regulation": self.regulation,
            "due_from": "manifest" if self.due_given else self.regulation,
        }


def iso(moment: dt.datetime | None) -> str | None:
    """`2026-12-02T23:59:59Z`: seconds, UTC."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def normalize(meta: dict[str, Any]) -> None:
    """YAML reads `2026-11-02` as a date: make such values ISO strings, in place, so the
    schema sees what the user wrote (a quoted date and a bare one are the same)."""
    for key in DATE_KEYS:
        value = meta.get(key)
        if isinstance(value, dt.datetime):
            meta[key] = value.isoformat()
        elif isinstance(value, dt.date):
            meta[key] = value.isoformat()


def parse_moment(text: str, end_of_day: bool = False) -> dt.datetime:
    """A date (`2026-11-02`: the day's start, or with `end_of_day` its last second) or an
    ISO 8601 time (UTC unless it gives an offset). Raises DateProblem."""
    text = text.strip()
    if _DATE.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise DateProblem(f"{text!r} is not a date: {exc}") from None
        moment = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        return moment + dt.timedelta(days=1, seconds=-1) if end_of_day else moment
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DateProblem(
            f"{text[:40]!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM:SSZ)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC)


def add_month(moment: dt.datetime) -> dt.datetime:
    """The same day and time of the next calendar month, or that month's last day."""
    year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_from(requested: dt.datetime, regulation: str) -> dt.datetime:
    """The end of the day the regulation's period ends on."""
    if regulation == "gdpr":
        last = add_month(requested)
    else:
        last = requested + dt.timedelta(days=CCPA_DAYS)
    return dt.datetime(last.year, last.month, last.day, 23, 59, 59, tzinfo=dt.UTC)


def deadline_of(meta: dict[str, Any]) -> tuple[Deadline | None, list[tuple[str, str]]]:
    """The manifest's deadline (None when it gives no date), and its problems as (key,
    message). Called after the schema passed: values are strings."""
    problems: list[tuple[str, str]] = []
    requested = due = None
    regulation = meta.get("regulation")
    if "requested_at" in meta:
        try:
            requested = parse_moment(str(meta["requested_at"]))
        except DateProblem as exc:
            problems.append(("requested_at", str(exc)))
    if "due" in meta:
        try:
            due = parse_moment(str(meta["due"]), end_of_day=True)
        except DateProblem as exc:
            problems.append(("due", str(exc)))
    if problems:
        return None, problems
    given = due is not None
    if due is None and regulation is not None:
        if requested is None:
            problems.append(
                (
                    "regulation",
                    f"regulation {regulation} without requested_at: the due date counts from "
                    "the request (give requested_at, or due)",
                )
            )
            return None, problems
        due = due_from(requested, regulation)
    if requested is not None and due is not None and due < requested:
        problems.append(("due", f"is before requested_at ({iso(requested)})"))
        return None, problems
    if requested is None and due is None:
        return None, problems
    return Deadline(requested, due, regulation, given), problems
