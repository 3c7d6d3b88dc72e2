"""The control endpoint, below ``/_sandbox`` (not a vendor API; for tests and demos).

- ``GET    /_sandbox/requests[?vendor=V&since=SEQ]`` the request log, each entry with
  every rule the request broke: ``{"requests": [{seq, vendor, method, path, status,
  fault, violations: [{rule, message}]}]}``
- ``DELETE /_sandbox/requests``                  empty the log
- ``GET    /_sandbox/faults``                    every vendor's fault profile
- ``POST   /_sandbox/faults/{vendor}``           change some fields of a vendor's profile
  (``*`` for all): ``{"latency_ms", "fail_rate", "throttle_rate", "slow_rate", "slow_ms",
  "reset_rate"}``
- ``POST   /_sandbox/reintroduce``               put data back (see ``replay.py``)
- ``POST   /_sandbox/settle``                    apply queued Braze deletions and pending
  Twilio removals now: ``{"applied": n, "braze": b, "twilio_memory": t}``
- ``GET    /_sandbox/pending``                   what is queued and when it applies
- ``GET    /_sandbox/state``                     the state, seed-shaped
- ``POST   /_sandbox/reset``                     back to the seed (or to a seed in the body)
"""

from __future__ import annotations

import math

from aiohttp import web

from reconciler.sandbox.context import context_of
from reconciler.sandbox.replay import reintroduce
from reconciler.sandbox.replies import json_reply, read_json
from reconciler.sandbox.seed import SeedError

PREFIX = "/_sandbox"


async def get_requests(request: web.Request) -> web.Response:
    ctx = context_of(request)
    vendor = request.query.get("vendor") or None
    try:
        since = int(request.query.get("since", "0"))
    except ValueError:
        return json_reply(400, {"error": "since must be an integer"})
    return json_reply(200, {"requests": [e.as_dict() for e in ctx.log.entries(vendor, since)]})


async def clear_requests(request: web.Request) -> web.Response:
    context_of(request).log.clear()
    return json_reply(200, {"cleared": True})


async def get_faults(request: web.Request) -> web.Response:
    return json_reply(200, {"faults": context_of(request).faults.snapshot()})


async def set_faults(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ok, body = await read_json(request)
    if not ok or not isinstance(body, dict):
        return json_reply(400, {"error": "the body must be a JSON object of fault fields"})
    try:
        ctx.faults.update(request.match_info["vendor"], body)
    except ValueError as exc:
        return json_reply(400, {"error": str(exc)})
    return json_reply(200, {"faults": ctx.faults.snapshot()})


async def post_reintroduce(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ok, body = await read_json(request)
    if not ok or not isinstance(body, dict):
        return json_reply(400, {"error": "the body must be a JSON object"})
    try:
        reintroduce(ctx.state, body)
    except SeedError as exc:
        return json_reply(400, {"error": str(exc)})
    return json_reply(200, {"reintroduced": True})


async def post_settle(request: web.Request) -> web.Response:
    state = context_of(request).state
    braze, twilio = state.settle_braze(math.inf), state.settle_twilio(math.inf)
    return json_reply(200, {"applied": braze + twilio, "braze": braze, "twilio_memory": twilio})


async def get_pending(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.state.settle(ctx.clock())
    return json_reply(200, ctx.state.pending())


async def get_state(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ctx.state.settle(ctx.clock())
    return json_reply(200, ctx.state.snapshot())


async def post_reset(request: web.Request) -> web.Response:
    ctx = context_of(request)
    ok, body = await read_json(request)
    if not ok or (body is not None and not isinstance(body, dict)):
        return json_reply(400, {"error": "the body, if any, must be a seed object"})
    try:
        ctx.reseed(body)
    except SeedError as exc:
        return json_reply(400, {"error": f"bad seed: {exc}"})
    return json_reply(200, {"reset": True})


ROUTES = [
    ("GET", "/requests", get_requests),
    ("DELETE", "/requests", clear_requests),
    ("GET", "/faults", get_faults),
    ("POST", "/faults/{vendor}", set_faults),
    ("POST", "/reintroduce", post_reintroduce),
    ("POST", "/settle", post_settle),
    ("GET", "/pending", get_pending),
    ("GET", "/state", get_state),
    ("POST", "/reset", post_reset),
]
