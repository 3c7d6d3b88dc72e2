"""Rate limits respected and faults survived, against the sandbox over loopback."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.kit.e2e import FIRST_APPLY, NO_CHANGES, SPACE, Project, removal, summary

SCALE = 0.1  # Segment: 10 requests/s per space; Braze 2,000/min; Insider identity 100/min
SEGMENT_ITEMS = 36


def segment_heavy_seed() -> dict:
    """SEED plus 12 profiles of 3 emails each in the Segment space."""
    from copy import deepcopy

    from tests.kit.e2e import SEED

    seed = deepcopy(SEED)
    profiles = seed["segment"]["spaces"][SPACE]["profiles"]
    for p in range(12):
        ids = [{"type": "user_id", "id": f"u_rate_{p}"}]
        ids += [{"type": "email", "id": f"r{p}.{i}@rate.example"} for i in range(3)]
        profiles.append({"external_ids": ids})
    return seed


def segment_heavy_manifest() -> dict:
    return removal(
        "seg-rate",
        "seg",
        {
            "absent": [
                {
                    "profile": {"user_id": f"u_rate_{p}"},
                    "identifiers": [
                        {"type": "email", "value": f"r{p}.{i}@rate.example"} for i in range(3)
                    ],
                }
                for p in range(12)
            ]
        },
    )


@pytest.fixture(scope="module")
def scaled_sandbox(credentials_file: Path) -> Iterator[Sandbox]:
    """A sandbox in its own process, every documented limit times SCALE."""
    opts = options(credentials_file, rate_scale=SCALE)
    opts.seed = segment_heavy_seed()
    with Sandbox(opts, in_subprocess=True) as sb:
        yield sb


@pytest.fixture
def scaled_project(tmp_path, scaled_sandbox, capsys, monkeypatch) -> Project:
    scaled_sandbox.control.reset()
    p = Project(tmp_path, scaled_sandbox.urls, capsys, monkeypatch)
    p.write_specs()
    p.write_specs({"segment-rate.yaml": segment_heavy_manifest()})
    return p


def statuses(log: list[dict]) -> Counter:
    return Counter((e["vendor"], e["status"]) for e in log)


def max_per_window(times: list[float], window: float) -> int:
    """The busiest fixed window aligned to the clock, as the sandbox counts."""
    return max(Counter(int(t // window) for t in times).values())


# the sandbox's limits after scaling, as a target's rate_limit
MATCHING = {
    "seg": {"requests": round(100 * SCALE), "per": "second"},
    "brz": {"requests": round(20_000 * SCALE), "per": "minute"},
    "ins": {"requests": round(1_000 * SCALE), "per": "minute"},  # the stricter bucket
    "mem": {"requests": 10, "per": "second"},  # Twilio publishes none
}


def test_with_a_matching_rate_limit_the_sandbox_sees_no_429(scaled_project, scaled_sandbox):
    scaled_project.write_config(rate_limits=MATCHING)
    result = scaled_project.cli("apply", "--auto-approve", "--parallelism", "16")
    assert result.code == 0, result.output
    removed, accepted, absent, failed, rejected = summary(result)
    assert (removed, accepted, absent) == (FIRST_APPLY[0] + SEGMENT_ITEMS, *FIRST_APPLY[1:])
    log = scaled_sandbox.control.requests()
    assert [e for e in log if e["status"] == 429] == []
    segment = [e["time"] for e in log if e["vendor"] == "segment"]
    assert len(segment) == 5 + SEGMENT_ITEMS  # each sent once: no retries
    assert max_per_window(segment, 1.0) <= 10
    # and the pacing used the limit: 41 requests at up to 10/s take about 4 s, not 8
    assert max(segment) - min(segment) < 6.0
    scaled_project.assert_no_secrets()


def test_without_it_the_sandbox_answers_429_and_retries_still_finish(
    scaled_project, scaled_sandbox
):
    """The control case: pacing at the documented 100/s against a sandbox allowing 10/s."""
    scaled_project.write_config()
    result = scaled_project.cli("apply", "--auto-approve", "--parallelism", "16")
    assert result.code == 0, result.output
    log = scaled_sandbox.control.requests()
    assert statuses(log)[("segment", 429)] > 0  # the check above can fail
    assert summary(result)[3:] == (0, 0)
    plan = scaled_project.cli("plan")
    assert plan.out.rstrip().endswith(NO_CHANGES)


def test_20_percent_503s_and_a_429_storm_still_end_done_or_accepted(project, sandbox):
    sandbox.control.set_faults("*", fail_rate=0.2)
    # A storm: every Segment, Twilio and Insider request throttled for the first 0.8 s.
    # (An injected Braze 429 says X-RateLimit-Reset in 60 s and the client honours it;
    # the unit tests cover that, here it would only make the test a minute long.)
    for vendor in ("segment", "twilio_memory", "insider"):
        sandbox.control.set_faults(vendor, throttle_rate=1.0)

    def calm() -> None:
        for vendor in ("segment", "twilio_memory", "insider"):
            sandbox.control.set_faults(vendor, throttle_rate=0.0)

    stop = threading.Event()

    def calm_after_storm() -> None:
        # the storm ends once three requests were throttled (10 s at most), not after a
        # fixed time: a loaded runner can spend a second starting the CLI
        deadline = time.monotonic() + 10.0
        while not stop.is_set() and time.monotonic() < deadline:
            seen = sandbox.control.requests()
            if sum(1 for e in seen if e["fault"] == "throttled") >= 3:
                break
            stop.wait(0.05)
        calm()

    watcher = threading.Thread(target=calm_after_storm)
    watcher.start()
    try:
        result = project.cli("apply", "--auto-approve")
    finally:
        stop.set()
        watcher.join()
        calm()
    assert result.code == 0, result.output
    assert summary(result) == (*FIRST_APPLY, 0, 0)
    faults = Counter(e["fault"] for e in sandbox.control.requests())
    assert faults["throttled"] >= 3 and faults["unavailable"] >= 1, faults

    sandbox.control.set_faults("*", fail_rate=0.0)
    plan = project.cli("plan")
    assert plan.out.rstrip().endswith(NO_CHANGES)
    data = project.plan_json()
    assert {a["state"] for a in data["actions"]} == {"done", "accepted"}
    project.assert_no_secrets()


def test_dropped_connections_are_retried_and_nothing_secret_is_shown(project, sandbox):
    sandbox.control.set_faults("*", reset_rate=0.25)
    result = project.cli("apply", "--auto-approve")
    sandbox.control.set_faults("*", reset_rate=0.0)
    assert result.code == 0, result.output
    assert summary(result) == (*FIRST_APPLY, 0, 0)
    faults = Counter(e["fault"] for e in sandbox.control.requests())
    assert faults["reset"] >= 1, faults
    project.assert_no_secrets()  # httpx's messages name the URL; none is passed on
