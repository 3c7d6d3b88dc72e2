"""The Pacer never lets more than its rate out in any 1-second window, bursts or not.

Simulated on a virtual clock: `acquire` reserves its slot before it sleeps, so the time
a caller is released is the virtual `now` plus the sleep it asked for. Concurrency is a
burst of acquires at one instant; 429 pauses come in between.
"""

from __future__ import annotations

import asyncio
import bisect
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.apply import pacing
from reconciler.apply.pacing import Pacer


class VirtualTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def vt(monkeypatch: pytest.MonkeyPatch) -> VirtualTime:
    v = VirtualTime()
    monkeypatch.setattr(pacing.asyncio, "sleep", v.sleep)
    return v


def release_times(pacer: Pacer, vt: VirtualTime, n: int) -> list[float]:
    """`n` callers acquiring at the same instant: when each is let go."""
    out: list[float] = []

    async def burst() -> None:
        for _ in range(n):
            before = len(vt.slept)
            await pacer.acquire()
            out.append(vt.now + (vt.slept[-1] if len(vt.slept) > before else 0.0))

    asyncio.run(burst())
    return out


def max_in_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    # the busiest window starts at some release
    return max(bisect.bisect_left(times, t + window) - i for i, t in enumerate(times))


# (requests, per seconds): limits as vendors count them, in windows of their period
LIMITS = [(1, 1.0), (2, 1.0), (10, 1.0), (100, 1.0), (1_000, 60.0), (20_000, 60.0)]


@pytest.mark.parametrize(("requests", "period"), LIMITS)
def test_a_burst_is_spread_never_more_than_the_limit_in_any_window(vt, requests, period):
    rate = requests / period
    pacer = Pacer(rate, clock=vt.clock)
    times = release_times(pacer, vt, 2 * requests + 3)
    assert max_in_window(times, period) <= requests
    assert max_in_window(times, 1.0) <= max(1, int(rate) + 1)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1 / rate  # smooth: evenly spaced, no two closer than 1/rate
    assert times[0] == vt.now  # the first one goes at once


def test_idle_time_is_not_banked_into_a_later_burst(vt):
    pacer = Pacer(10, clock=vt.clock)
    first = release_times(pacer, vt, 3)
    vt.now += 60  # a minute of nothing
    later = release_times(pacer, vt, 30)
    assert max_in_window(first + later) <= 10
    assert later[0] == vt.now


def test_a_pause_holds_everyone_until_it_ends(vt):
    pacer = Pacer(100, clock=vt.clock)
    release_times(pacer, vt, 5)
    vt.now += 0.01
    pacer.pause(2.0)
    held = release_times(pacer, vt, 3)
    assert min(held) >= vt.now + 2.0
    pacer.pause(0.5)  # a shorter pause never shortens a longer one
    more = release_times(pacer, vt, 1)
    assert more[0] >= vt.now + 2.0


@settings(max_examples=120, deadline=None)
@given(
    requests=st.integers(min_value=1, max_value=300),
    period=st.sampled_from([1.0, 60.0]),
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=3),  # time passing
            st.integers(min_value=0, max_value=40),  # callers arriving at once
            st.floats(min_value=0, max_value=2),  # a 429 pause (0: none)
        ),
        min_size=1,
        max_size=25,
    ),
)
def test_property_no_window_ever_exceeds_the_limit(requests, period, steps):
    vt = VirtualTime()
    original = pacing.asyncio.sleep
    pacing.asyncio.sleep = vt.sleep  # hypothesis cannot use function-scoped fixtures
    try:
        pacer = Pacer(requests / period, clock=vt.clock)
        times: list[float] = []
        for advance, callers, pause in steps:
            vt.now += advance
            if pause:
                pacer.pause(pause)
            times += release_times(pacer, vt, callers)
    finally:
        pacing.asyncio.sleep = original
    if times:
        assert max_in_window(times, period) <= requests


def test_refuses_a_rate_that_is_not_positive():
    with pytest.raises(ValueError):
        Pacer(0)


def test_real_run_many_concurrent_callers_keep_the_rate():
    """Over the real clock and event loop: 8 workers, 26 acquires at 20/s."""
    pacer = Pacer(20)
    released: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            await pacer.acquire()
            released.append(time.monotonic())

    async def main() -> None:
        await asyncio.gather(*(worker(n) for n in (4, 4, 3, 3, 3, 3, 3, 3)))

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    assert len(released) == 26
    # 26 evenly spaced releases at <= 20/s span at least 25 intervals of 1/20 s
    assert elapsed >= 25 / 20
    assert max_in_window(released) <= 20
