"""The echo fault: an error answer that repeats the request back, as careless APIs do.

A request hit by ``echo_rate`` gets ``echo_status`` (400 unless set) with a body in the
vendor's own error shape whose message holds, in this order:

- the method, path and query;
- every request header, ``Authorization`` and tokens included;
- the body as sent (at most ``MAX_ECHOED_BODY`` characters);
- every phone number found in the path, query or body (and among the identifiers
  below), rewritten in other formats (``+1 555-555-0100``, ``(555) 555-0100``,
  ``15555550100``, ``555-555-0100`` for a +1 number);
- every identifier the sandbox holds for the profile or user the request names
  (``VendorSpec.related``), so masking of "the profile's other identifiers" is tested.

Nothing else happens: the vendor logic does not run, so nothing is deleted. The answer
depends only on the request and the state, so it repeats under ``--seed-random``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from reconciler.sandbox.context import SandboxContext, VendorSpec
from reconciler.sandbox.replies import json_reply

MAX_ECHOED_BODY = 1_000_000
# E.164 as sent (a "+" and 8 to 15 digits); "%2B" in a path is decoded first.
_E164 = re.compile(r"\+[1-9][0-9]{7,14}")


def phone_formats(e164: str) -> list[str]:
    """Other ways to write ``e164`` (the number itself not included)."""
    digits = e164.lstrip("+")
    if digits.startswith("1") and len(digits) == 11:
        area, exchange, line = digits[1:4], digits[4:7], digits[7:]
        return [
            f"+1 {area}-{exchange}-{line}",
            f"({area}) {exchange}-{line}",
            digits,
            f"{area}-{exchange}-{line}",
        ]
    return [f"+{digits[:2]} {digits[2:]}", digits, f"00{digits}"]


def phone_numbers(*texts: str) -> list[str]:
    """Every E.164 number in ``texts``, once each, in order of appearance."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _E164.finditer(text):
            found.setdefault(match.group(), None)
    return list(found)


def echo_message(request: web.Request, raw_body: bytes, related: list[str]) -> list[str]:
    """The parts of the echo, one string each (see the module docstring)."""
    body = raw_body.decode("utf-8", errors="replace")[:MAX_ECHOED_BODY]
    path = unquote(request.path_qs)
    headers = "; ".join(f"{name}: {value}" for name, value in request.headers.items())
    phones = phone_numbers(path, body, *related)
    rewritten = [form for number in phones for form in phone_formats(number)]
    parts = [
        f"Request: {request.method} {path}",
        f"Headers: {headers}",
        f"Body: {body}",
    ]
    if rewritten:
        parts.append(f"Phone numbers: {', '.join(rewritten)}")
    if related:
        parts.append(f"Profile identifiers: {', '.join(related)}")
    return parts


async def echo_response(
    ctx: SandboxContext, spec: VendorSpec, request: web.Request, status: int
) -> web.Response:
    """The echoing error answer for ``request`` (the vendor logic is not run)."""
    raw = await request.read()
    try:
        parsed: Any = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    related = list(dict.fromkeys(spec.related(ctx.state, request, parsed)))
    parts = echo_message(request, raw, related)
    return json_reply(status, spec.error(status, "Invalid request. " + " | ".join(parts), parts))
