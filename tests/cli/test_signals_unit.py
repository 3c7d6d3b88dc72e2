"""StopRequest: a first signal asks, a second interrupts, and once the run is closing its
records nothing interrupts it any more (a lost result would come back as unknown)."""

from __future__ import annotations

import signal

import pytest

from reconciler.cli.signals import Interrupted, StopRequest


def test_first_asks_second_interrupts_with_the_shells_code() -> None:
    with StopRequest(grace=60) as stop:
        signal.raise_signal(signal.SIGTERM)
        assert stop() and stop.exit_code == 143
        with pytest.raises(Interrupted) as caught:
            signal.raise_signal(signal.SIGTERM)
    assert caught.value.code == 143


def test_while_finishing_a_signal_never_interrupts_and_the_timer_is_disarmed() -> None:
    with StopRequest(grace=0.05) as stop:
        signal.raise_signal(signal.SIGINT)  # arms the grace timer
        stop.finishing()
        signal.raise_signal(signal.SIGINT)  # would have interrupted before
        import time

        time.sleep(0.2)  # the timer's moment passes without a raise
        assert stop() and stop.exit_code == 130
    # handlers are back: Python's own Ctrl-C handling
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
