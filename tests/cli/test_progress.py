"""Apply/refresh progress: one combined line on a terminal, ok and failed apart, each
target's rate from its own start."""

from __future__ import annotations

import pytest

from reconciler.cli.progress import ProgressDisplay


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_terminal_shows_one_combined_line_of_every_running_target(capsys) -> None:
    clock = Clock()
    show = ProgressDisplay(interactive=True, clock=clock, width=200)
    show("seg", 0, 100)
    clock.now += 10
    show("brz", 0, 50)  # brz starts 10 s after seg
    clock.now += 5
    show("seg", 60, 100, 2)
    clock.now += 0.5  # the live line is redrawn at most 5 times a second
    show("brz", 10, 50)
    err = capsys.readouterr().err
    last = err.split("\r")[-1]
    assert "\n" not in last  # a live line, rewritten in place
    assert last.startswith("seg: 60/100 (58 ok, 2 failed), 3.9/s, ETA 10s | brz: 10/50 ok")
    assert "brz: 10/50 ok, 1.8/s" in last  # 10 items in the 5.5 s since brz started


def test_when_every_target_is_done_each_keeps_a_final_line(capsys) -> None:
    clock = Clock()
    show = ProgressDisplay(interactive=True, clock=clock, width=200)
    show("seg", 0, 4)
    show("brz", 0, 2)
    clock.now += 2
    show("seg", 4, 4, 4)
    show("brz", 2, 2)
    lines = capsys.readouterr().err.split("\r")[-1].splitlines()
    assert lines == ["seg: 4/4 (0 ok, 4 failed), 2.0/s, done", "brz: 2/2 ok, 1.0/s, done"]


def test_a_long_line_is_cut_to_the_terminal_width(capsys) -> None:
    show = ProgressDisplay(interactive=True, clock=Clock(), width=30)
    clock = Clock()
    show = ProgressDisplay(interactive=True, clock=clock, width=30)
    for name in ("alpha-target", "beta-target", "gamma-target"):
        clock.now += 1
        show(name, 0, 10)
    last = capsys.readouterr().err.split("\r")[-1]
    assert len(last) <= 29 and last.endswith("…")


@pytest.mark.parametrize("label", ["failed", "unverified"])
def test_ci_logs_get_a_line_per_target_every_few_seconds(capsys, label) -> None:
    clock = Clock()
    show = ProgressDisplay(interactive=False, every=5.0, clock=clock, failed_label=label)
    show("seg", 0, 100)
    for i in range(1, 10):
        clock.now += 1
        show("seg", i * 10, 100, 1)
    clock.now += 1
    show("seg", 100, 100, 1)
    lines = capsys.readouterr().err.splitlines()
    # the start prints nothing; then at most one line per 5 s, and the final one
    assert lines[-1] == f"seg: 100/100 (99 ok, 1 {label}), 10.0/s, done"
    assert lines == [f"seg: 50/100 (49 ok, 1 {label}), 10.0/s, ETA 5s", lines[-1]]


def test_a_target_that_stops_early_ends_its_live_line(capsys) -> None:
    """A target stopped before its total (a circuit breaker, Ctrl-C) never reports its
    last item: closing the display still ends the live line, so the next message starts
    on a line of its own, and says which target stopped where."""
    clock = Clock()
    show = ProgressDisplay(interactive=True, clock=clock, width=200)
    show("seg", 0, 100)
    show("brz", 0, 2)
    clock.now += 2
    show("seg", 40, 100)
    show("brz", 2, 2)
    show.close()
    err = capsys.readouterr().err
    assert err.endswith("\n")
    lines = err.split("\r")[-1].splitlines()
    assert lines == ["seg: 40/100 ok, 20.0/s, stopped", "brz: 2/2 ok, 1.0/s, done"]


def test_ci_logs_get_the_final_line_of_a_target_that_stopped(capsys) -> None:
    clock = Clock()
    show = ProgressDisplay(interactive=False, every=5.0, clock=clock)
    show("seg", 0, 100)
    clock.now += 1
    show("seg", 10, 100)  # within 5 s of the last line: not printed
    show.close()
    assert capsys.readouterr().err.splitlines()[-1] == "seg: 10/100 ok, 10.0/s, stopped"
    show.close()  # idempotent
    assert capsys.readouterr().err == ""
