"""The one HTTP policy (VendorClient): what is retried, how long it waits, when it gives up."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from reconciler.apply.client import RetryPolicy, wait_hint
from tests.apply.wire import FAST, SEGMENT, NoPacer, answer, seg_item, send

ITEM = seg_item("u_1", "email", "a@x.example")
SECRETS = {"token_env": "sgp_client-unit-token-0a1b2c3d"}


def scripted(*replies: httpx.Response | Exception):
    """A responder answering `replies` in order, then repeating the last one."""
    calls: list[httpx.Request] = []

    def responder(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        reply = replies[min(len(calls), len(replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply

    return responder, calls


# -- wait_hint: what the vendor asked for -------------------------------------------------


def test_retry_after_seconds():
    assert wait_hint(answer(429, None, retry_after="7")) == 7.0
    assert wait_hint(answer(503, None, retry_after="1.5")) == 1.5


def test_retry_after_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert wait_hint(answer(429, None, retry_after=later), now=now.timestamp) == pytest.approx(42)


def test_x_ratelimit_reset_epoch_on_a_429():
    hint = wait_hint(answer(429, None, x_ratelimit_reset="1000012"), now=lambda: 1_000_000.0)
    assert hint == pytest.approx(12)


def test_x_ratelimit_reset_is_ignored_on_other_answers():
    # Braze sends X-RateLimit-Reset on every answer: only a 429 means "wait until then"
    assert wait_hint(answer(503, None, x_ratelimit_reset="1000012"), now=lambda: 1e6) is None


def test_retry_after_wins_over_reset_and_never_negative():
    a = answer(429, None, retry_after="3", x_ratelimit_reset="1000050")
    assert wait_hint(a, now=lambda: 1e6) == 3
    assert wait_hint(answer(429, None, x_ratelimit_reset="10"), now=lambda: 1e6) == 0
    assert wait_hint(answer(429, None, retry_after="soon")) is None


def test_backoff_is_exponential_full_jitter_capped():
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (9, 4.0)]:
        waits = [policy.backoff(attempt, rng) for _ in range(300)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8  # jitter spans the range, not a constant
        assert min(waits) < ceiling * 0.2


# -- the client over a mock transport ------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_retryable_statuses_are_retried_until_success(status):
    responder, calls = scripted(
        httpx.Response(status, json={}),
        httpx.Response(status, json={}),
        httpx.Response(200, json={}),
    )
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder)
    assert len(calls) == 3
    assert sent.error is None and sent.attempts == 3
    assert sent.answer is not None and sent.answer.status == 200


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 501])
def test_other_answers_are_returned_at_once(status):
    responder, calls = scripted(httpx.Response(status, json={"error": "no"}))
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder)
    assert len(calls) == 1
    assert sent.attempts == 1 and sent.error is None
    assert sent.answer is not None and sent.answer.status == status


def test_attempt_cap_then_failed_with_the_last_answer():
    responder, calls = scripted(httpx.Response(503, json={"message": "down"}))
    policy = RetryPolicy(max_attempts=3, max_seconds=10, base=0.001, cap=0.001)
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, policy=policy)
    assert len(calls) == 3
    assert sent.attempts == 3
    assert sent.error == "gave up after 3 attempts: HTTP 503"
    assert sent.answer is not None and sent.answer.status == 503


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ReadTimeout("timed out"), "no answer within"),
        (httpx.ConnectTimeout("timed out"), "could not connect (ConnectTimeout)"),
        (httpx.ConnectError("refused"), "could not connect (ConnectError)"),
        (httpx.RemoteProtocolError("reset"), "no usable answer (RemoteProtocolError)"),
        (httpx.DecodingError("bad gzip"), "no usable answer (DecodingError)"),
    ],
)
def test_timeouts_and_dropped_connections_are_retried(exc, reason):
    responder, calls = scripted(exc, exc, httpx.Response(200, json={}))
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder)
    assert len(calls) == 3
    assert sent.error is None and sent.answer is not None and sent.answer.status == 200

    responder, calls = scripted(exc)
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder)
    assert len(calls) == FAST.max_attempts
    assert sent.answer is None
    assert sent.error is not None and reason in sent.error
    assert sent.error.startswith(f"gave up after {FAST.max_attempts} attempts")


def test_a_real_timeout_is_retried():
    """The policy's own timeout, not an exception we raise: a slow first answer."""
    import asyncio

    from reconciler.apply.client import VendorClient
    from tests.vendors._helpers import REQUESTS

    calls = []

    async def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            await asyncio.sleep(1.0)
        return httpx.Response(200, json={})

    policy = RetryPolicy(max_attempts=3, max_seconds=5, base=0.001, cap=0.001, timeout=0.1)

    class SlowTransport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            # honour the client's read timeout the way a network transport does
            timeout = request.extensions["timeout"]["read"]
            try:
                return await asyncio.wait_for(handler(request), timeout)
            except TimeoutError:
                raise httpx.ReadTimeout("slow", request=request) from None

    async def go():
        builder = REQUESTS["segment"]
        client = VendorClient(
            SEGMENT.base_url,
            builder.auth_headers(SEGMENT, SECRETS),
            NoPacer(),
            policy,
            transport=SlowTransport(),
        )
        try:
            return await client.send(builder.build(SEGMENT, [ITEM]))
        finally:
            await client.aclose()

    started = time.monotonic()
    sent = asyncio.run(go())
    assert time.monotonic() - started < 0.9
    assert len(calls) == 2
    assert sent.error is None and sent.answer is not None and sent.answer.status == 200


def test_429_retry_after_is_honoured_and_pauses_the_pacer():
    responder, calls = scripted(
        httpx.Response(429, headers={"Retry-After": "0.3"}, json={}), httpx.Response(200, json={})
    )
    pacer = NoPacer()
    started = time.monotonic()
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, pacer=pacer)
    elapsed = time.monotonic() - started
    assert sent.answer is not None and sent.answer.status == 200
    # FAST's backoff is at most 10 ms: only the header explains a 0.3 s wait
    assert elapsed >= 0.29
    assert pacer.pauses == [pytest.approx(0.3)]
    assert pacer.acquired == 2  # every attempt goes through the pacer


def test_429_x_ratelimit_reset_is_honoured():
    reset = f"{time.time() + 0.4:.3f}"
    responder, calls = scripted(
        httpx.Response(429, headers={"X-RateLimit-Reset": reset}, json={}),
        httpx.Response(201, json={"deleted": 1}),
    )
    pacer = NoPacer()
    started = time.monotonic()
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, pacer=pacer)
    assert time.monotonic() - started >= 0.3
    assert sent.answer is not None and sent.answer.status == 201
    assert len(pacer.pauses) == 1 and 0.2 < pacer.pauses[0] <= 0.4


def test_503_retry_after_is_honoured_without_pausing_the_scope():
    responder, _ = scripted(
        httpx.Response(503, headers={"Retry-After": "0.25"}, json={}), httpx.Response(200, json={})
    )
    pacer = NoPacer()
    started = time.monotonic()
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, pacer=pacer)
    assert time.monotonic() - started >= 0.24
    assert sent.answer is not None and sent.answer.status == 200
    assert pacer.pauses == []


def test_total_time_cap_gives_up_instead_of_waiting_past_it():
    responder, calls = scripted(httpx.Response(429, headers={"Retry-After": "120"}, json={}))
    policy = RetryPolicy(max_attempts=8, max_seconds=2.0, base=0.001, cap=0.001)
    started = time.monotonic()
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, policy=policy)
    assert time.monotonic() - started < 1.0
    assert len(calls) == 1
    assert sent.error is not None and "HTTP 429" in sent.error
    # the vendor did answer: its status and words are kept for the report
    assert sent.answer is not None and sent.answer.status == 429


def test_giving_up_after_a_timeout_does_not_report_an_earlier_answer():
    responder, _ = scripted(httpx.Response(503, json={}), httpx.ReadTimeout("slow"))
    policy = RetryPolicy(max_attempts=2, max_seconds=5, base=0.001, cap=0.001)
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, policy=policy)
    assert sent.answer is None
    assert sent.error is not None and "no answer within" in sent.error


def test_without_a_hint_the_client_waits_its_jittered_backoff():
    responder, calls = scripted(httpx.Response(503, json={}))
    policy = RetryPolicy(max_attempts=4, max_seconds=30, base=0.1, cap=0.4)
    replay = random.Random(7)
    expected = sum(policy.backoff(attempt, replay) for attempt in (1, 2, 3))
    started = time.monotonic()
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder, policy=policy, rng=random.Random(7))
    elapsed = time.monotonic() - started
    assert len(calls) == 4 and sent.error is not None
    assert expected - 0.01 <= elapsed <= expected + 0.5


def test_connection_errors_never_carry_the_url_or_secrets():
    secret_url = "https://user:hunter2-secret@profiles.segment.com/x"
    responder, _ = scripted(httpx.ConnectError(f"cannot reach {secret_url}"))
    _, sent = send(SEGMENT, [ITEM], SECRETS, responder)
    assert sent.error is not None
    assert "hunter2" not in sent.error and "segment.com" not in sent.error


def test_over_a_real_socket_a_request_held_past_its_turn_waits_at_the_wire():
    """httpcore's trace calls the pacer's departure gate as the headers are about to be
    written: two requests released one interval apart but reaching the wire together
    (the first held by its intent's fsync) arrive an interval apart, less CATCH_UP."""
    import asyncio

    from reconciler.apply import pacing
    from reconciler.apply.client import VendorClient
    from reconciler.apply.pacing import Pacer
    from tests.vendors._helpers import REQUESTS

    arrivals: list[float] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            arrivals.append(time.monotonic())
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    await reader.readexactly(int(line.split(b":")[1]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: 2\r\n\r\n{}")
            await writer.drain()
        writer.close()

    async def go() -> tuple[float, int]:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        builder = REQUESTS["segment"]
        pacer = Pacer(10)
        client = VendorClient(
            f"http://127.0.0.1:{port}", builder.auth_headers(SEGMENT, SECRETS), pacer, FAST
        )
        request = builder.build(SEGMENT, [ITEM])
        try:
            await pacer.acquire()
            await pacer.acquire()  # the second slot, an interval later
            sent = await asyncio.gather(
                client.send(request, paced=True), client.send(request, paced=True)
            )
            assert all(s.error is None for s in sent)
            return pacer.interval, pacer.held_back
        finally:
            await client.aclose()
            server.close()
            await server.wait_closed()

    interval, held_back = asyncio.run(go())
    assert len(arrivals) == 2
    assert held_back == 1
    assert arrivals[1] - arrivals[0] >= interval - pacing.CATCH_UP - 0.002


def test_the_departure_gate_lets_a_proxy_tunnel_connect_through():
    """Behind an HTTPS proxy httpcore traces the tunnel's CONNECT too (the info of a
    `.started` event carries the request, as httpcore passes it): not a request to the
    vendor, it does not take a departure."""
    import asyncio

    import httpcore

    from reconciler.apply.client import departure_gate
    from reconciler.apply.pacing import Pacer

    async def go() -> tuple[float, float, float]:
        pacer = Pacer(10)
        gate = departure_gate(pacer)
        started = "http11.send_request_headers.started"
        tunnel = httpcore.Request(b"CONNECT", "http://proxy.example:3128/")
        await gate(started, {"request": tunnel})
        after_tunnel = pacer._departure
        await gate(started, {"request": httpcore.Request(b"DELETE", "https://api.example/")})
        after_request = pacer._departure
        await gate("http11.send_request_headers.complete", {"return_value": None})
        return after_tunnel, after_request, pacer._departure

    after_tunnel, after_request, after_complete = asyncio.run(go())
    assert after_tunnel == 0.0  # the CONNECT took no departure
    assert after_request > 0.0  # the request did
    assert after_complete == after_request  # and only once
