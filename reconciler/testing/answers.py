"""Answers the kit feeds every vendor: pages and bodies that are nobody's API, and
answers that echo the request back (headers, body, path) the way misbehaving vendors
and proxies do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import httpx

from reconciler.evidence import Answer

NOT_FOUND_PAGE = (
    "<html><head><title>404 Not Found</title></head><body><center><h1>404 Not Found</h1>"
    "</center><hr><center>nginx</center></body></html>"
)
WELCOME_PAGE = "<html><head><title>Welcome</title></head><body>It works!</body></html>"


def json_answer(status: int, body: object = None, **headers: str) -> Answer:
    """A JSON answer (an empty one when body is None); header names in `_` spelling."""
    shown = {k.lower().replace("_", "-"): v for k, v in headers.items()}
    if body is not None:
        shown.setdefault("content-type", "application/json")
    return Answer(status, shown, body, json=body is not None)


def page(status: int, text: str = NOT_FOUND_PAGE) -> Answer:
    """An HTML page: what a wrong base URL, a proxy or a web server's default answers."""
    return Answer(status, {"content-type": "text/html"}, text, json=False)


# Answers that are no vendor's API: never evidence of anything.
FOREIGN = (
    page(404),
    page(200, WELCOME_PAGE),
    page(403, "<html><body>Forbidden</body></html>"),
)
# A 404 from something other than the vendor's API: a gateway's JSON, an empty body.
GENERIC_404 = (
    page(404),
    json_answer(404, {"message": "Not Found"}),
    json_answer(404, {"error": "Not Found"}),
    json_answer(404, {}),
    Answer(404, {}, None, json=False),
)
# A read that got no usable answer is None; these are the answers that prove nothing.
NO_EVIDENCE: tuple[Answer | None, ...] = (None, *FOREIGN, *GENERIC_404[1:])


def response(answer: Answer) -> httpx.Response:
    """An Answer as the httpx response a MockTransport returns."""
    headers = dict(answer.headers)
    if answer.json:
        content = json.dumps(answer.body).encode("utf-8")
        headers.setdefault("content-type", "application/json")
    elif answer.body is None:
        content = b""
    else:
        content = str(answer.body).encode("utf-8")
    headers.pop("content-length", None)
    return httpx.Response(answer.status, headers=headers, content=content)


def _request_text(request: httpx.Request) -> str:
    """Everything a request carried, as an echo repeats it: method, path and query (also
    percent-decoded), every header (credentials included), the body."""
    parts = [
        request.method,
        str(request.url),
        unquote(str(request.url)),
        *(f"{k}: {v}" for k, v in request.headers.items()),
        request.content.decode("utf-8", errors="replace"),
    ]
    return " | ".join(parts)


ECHO_STATUSES = (200, 400, 404, 409, 422)


def echo_bodies(request: httpx.Request) -> list[tuple[Mapping[str, str], Any, bool]]:
    """(headers, body, is JSON) of answers that repeat the request: the common error
    envelopes, and a plain text body."""
    text = _request_text(request)
    try:
        sent: Any = json.loads(request.content) if request.content else None
    except ValueError:
        sent = None
    return [
        (
            {"content-type": "application/json"},
            {
                "message": text,
                "error": {"code": "echo", "message": text},
                "errors": [{"message": text, "input": sent}],
                "code": 400,
                "detail": text,
            },
            True,
        ),
        ({"content-type": "application/json"}, {"error": text, "message": text}, True),
        ({"content-type": "text/plain"}, text, False),
    ]


def echo(request: httpx.Request, status: int, shape: int) -> httpx.Response:
    headers, body, is_json = echo_bodies(request)[shape]
    return response(Answer(status, dict(headers), body, json=is_json))


ECHO_SHAPES = range(3)
