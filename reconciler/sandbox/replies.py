"""Small helpers to answer requests and record the rules they broke."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from reconciler.sandbox.requestlog import LoggedRequest, Violation

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_reply(status: int, body: Any, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response with the given status, body and extra headers."""
    return web.Response(
        status=status,
        body=_dumps(body).encode("utf-8"),
        content_type="application/json",
        headers=headers,
    )


# What a web server in front of an API answers for a path no application serves (nginx's
# stock page): a 404 that is not any vendor's documented answer, so a client can tell a
# wrong base URL or path from the vendor's own "not found".
WEB_SERVER_NOT_FOUND = (
    "<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    "<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


def web_server_not_found() -> web.Response:
    """The HTML 404 of a web server: never a vendor's JSON error envelope."""
    return web.Response(
        status=404, text=WEB_SERVER_NOT_FOUND, content_type="text/html", headers={"Server": "nginx"}
    )


class RuleCheck:
    """Collects every rule a request broke; the first one decides the answer."""

    def __init__(self, entry: LoggedRequest) -> None:
        self._entry = entry
        self._first: web.Response | None = None

    def broke(
        self,
        rule: str,
        message: str,
        status: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._entry.violations.append(Violation(rule, message))
        if self._first is None:
            self._first = json_reply(status, body, headers)

    @property
    def failed(self) -> bool:
        return self._first is not None

    @property
    def response(self) -> web.Response:
        if self._first is None:
            raise RuntimeError("no rule was broken")
        return self._first


async def read_json(request: web.Request) -> tuple[bool, Any]:
    """(True, parsed body) or (False, None) when the body is not valid JSON."""
    raw = await request.read()
    try:
        return True, json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return False, None


def is_json_content(request: web.Request) -> bool:
    return request.content_type == "application/json"
