"""A fake GitHub REST API on loopback (aiohttp, in a thread), for the `reconcile github`
commands: issue comments, labels, issues, commit pulls, artifacts, workflow dispatches.

It keeps state like GitHub does, records every request (method, path, query, whether the
token came with it, JSON body), pages its listings `page_size` at a time with `Link`
headers, and serves artifact archives by a redirect to a second origin, as GitHub sends
downloads to its storage host.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "ghs_fake-token-0123456789abcdefghijklmnop"
REPO = "acme/cleanups"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    authorized: bool
    body: Any


@dataclass
class FakeGitHub:
    page_size: int = 100
    requests: list[Recorded] = field(default_factory=list)
    comments: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> comment
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[int, list[str]] = field(default_factory=dict)
    pulls_of_commit: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    blobs: dict[int, bytes] = field(default_factory=dict)
    dispatches: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(1000)
        self.url = ""
        self.storage_url = ""

    def next_id(self) -> int:
        return next(self._ids)

    def add_comment(self, issue: int, body: str) -> int:
        cid = self.next_id()
        self.comments[cid] = {"id": cid, "issue": issue, "body": body, "user": {"login": "x"}}
        return cid

    def comments_on(self, issue: int) -> list[str]:
        return [c["body"] for c in sorted(self.comments.values(), key=lambda c: c["id"])
                if c["issue"] == issue]  # fmt: skip

    def calls(self, method: str | None = None) -> list[tuple[str, str]]:
        return [(r.method, r.path) for r in self.requests if method in (None, r.method)]

    # -- the app ------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        base = f"/repos/{REPO}"
        app.router.add_get(base + "/issues/{n}/comments", self._list_comments)
        app.router.add_post(base + "/issues/{n}/comments", self._create_comment)
        app.router.add_patch(base + "/issues/comments/{id}", self._edit_comment)
        app.router.add_delete(base + "/issues/comments/{id}", self._delete_comment)
        app.router.add_get(base + "/issues/{n}/labels", self._get_labels)
        app.router.add_post(base + "/issues/{n}/labels", self._add_labels)
        app.router.add_delete(base + "/issues/{n}/labels/{name}", self._remove_label)
        app.router.add_get(base + "/issues", self._list_issues)
        app.router.add_post(base + "/issues", self._create_issue)
        app.router.add_patch(base + "/issues/{n}", self._edit_issue)
        app.router.add_get(base + "/commits/{sha}/pulls", self._pulls)
        app.router.add_get(base + "/actions/artifacts", self._list_artifacts)
        app.router.add_get(base + "/actions/artifacts/{id}/zip", self._artifact_zip)
        app.router.add_post(base + "/actions/workflows/{wf}/dispatches", self._dispatch)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = None
        if request.can_read_body:
            body = json.loads(await request.text() or "null")
        authorized = request.headers.get("Authorization") == f"Bearer {TOKEN}"
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), authorized, body)
        )
        if not authorized:
            return web.json_response({"message": "Bad credentials"}, status=401)
        return await handler(request)

    def _page(self, request: web.Request, items: list[Any]) -> web.Response:
        page = int(request.query.get("page", "1"))
        size = min(self.page_size, int(request.query.get("per_page", "30")))
        chunk = items[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(items):
            query = {**request.query, "page": str(page + 1)}
            nxt = request.url.with_query(query)
            headers["Link"] = f'<{nxt}>; rel="next"'
        return web.json_response(chunk, headers=headers)

    async def _list_comments(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        found = [c for c in sorted(self.comments.values(), key=lambda c: c["id"])
                 if c["issue"] == n]  # fmt: skip
        return self._page(request, found)

    async def _create_comment(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        body = (await request.json())["body"]
        if len(body) > 65_536:
            return web.json_response({"message": "Body is too long"}, status=422)
        cid = self.add_comment(n, body)
        return web.json_response(self.comments[cid], status=201)

    async def _edit_comment(self, request: web.Request) -> web.Response:
        comment = self.comments.get(int(request.match_info["id"]))
        if comment is None:
            return web.json_response({"message": "Not Found"}, status=404)
        body = (await request.json())["body"]
        if len(body) > 65_536:
            return web.json_response({"message": "Body is too long"}, status=422)
        comment["body"] = body
        return web.json_response(comment)

    async def _delete_comment(self, request: web.Request) -> web.Response:
        if self.comments.pop(int(request.match_info["id"]), None) is None:
            return web.json_response({"message": "Not Found"}, status=404)
        return web.Response(status=204)

    async def _get_labels(self, request: web.Request) -> web.Response:
        names = self.labels.get(int(request.match_info["n"]), [])
        return web.json_response([{"name": n} for n in names])

    async def _add_labels(self, request: web.Request) -> web.Response:
        names = self.labels.setdefault(int(request.match_info["n"]), [])
        for name in (await request.json())["labels"]:
            if name not in names:
                names.append(name)
        return web.json_response([{"name": n} for n in names])

    async def _remove_label(self, request: web.Request) -> web.Response:
        names = self.labels.get(int(request.match_info["n"]), [])
        name = request.match_info["name"]
        if name not in names:
            return web.json_response({"message": "Label does not exist"}, status=404)
        names.remove(name)
        return web.json_response([{"name": n} for n in names])

    async def _list_issues(self, request: web.Request) -> web.Response:
        state = request.query.get("state", "open")
        found = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        return self._page(request, sorted(found, key=lambda i: -i["number"]))

    async def _create_issue(self, request: web.Request) -> web.Response:
        data = await request.json()
        number = len(self.issues) + 1
        self.issues[number] = {
            "number": number,
            "state": "open",
            "title": data["title"],
            "body": data.get("body", ""),
            "labels": data.get("labels", []),
        }
        return web.json_response(self.issues[number], status=201)

    async def _edit_issue(self, request: web.Request) -> web.Response:
        issue = self.issues[int(request.match_info["n"])]
        issue.update(await request.json())
        return web.json_response(issue)

    async def _pulls(self, request: web.Request) -> web.Response:
        return web.json_response(self.pulls_of_commit.get(request.match_info["sha"], []))

    async def _list_artifacts(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        found = [a for a in self.artifacts if name in (None, a["name"])]
        page = int(request.query.get("page", "1"))
        size = min(self.page_size, int(request.query.get("per_page", "30")))
        chunk = found[(page - 1) * size : page * size]
        headers = {}
        if page * size < len(found):
            nxt = request.url.with_query({**request.query, "page": str(page + 1)})
            headers["Link"] = f'<{nxt}>; rel="next"'
        return web.json_response({"total_count": len(found), "artifacts": chunk}, headers=headers)

    async def _artifact_zip(self, request: web.Request) -> web.Response:
        aid = int(request.match_info["id"])
        if aid not in self.blobs:
            return web.json_response({"message": "Not Found"}, status=404)
        raise web.HTTPFound(f"{self.storage_url}/blob/{aid}?sig=signed")

    async def _dispatch(self, request: web.Request) -> web.Response:
        self.dispatches.append({"workflow": request.match_info["wf"], **await request.json()})
        return web.Response(status=204)

    # -- the storage host (another origin: the token must not follow the redirect) ------

    def storage_app(self) -> web.Application:
        app = web.Application()

        async def blob(request: web.Request) -> web.Response:
            self.requests.append(
                Recorded(
                    "GET",
                    request.path,
                    dict(request.query),
                    "Authorization" in request.headers,
                    None,
                )  # fmt: skip
            )
            return web.Response(body=self.blobs[int(request.match_info["id"])])

        app.router.add_get("/blob/{id}", blob)
        return app


class FakeServer:
    """Serves a FakeGitHub (and its storage host) on 127.0.0.1 in a background thread."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runners: list[web.AppRunner] = []

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        api = asyncio.run_coroutine_threadsafe(self._serve(self.fake.app()), self._loop).result(10)
        storage = asyncio.run_coroutine_threadsafe(
            self._serve(self.fake.storage_app()), self._loop
        ).result(10)
        self.fake.url, self.fake.storage_url = api, storage
        return self.fake

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in self._runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
