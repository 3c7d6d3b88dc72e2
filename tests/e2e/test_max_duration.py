"""`apply --max-duration`: the run stops between requests when the time is up, records every
answer it got, releases the lock and exits 2; the next run sends the rest, none twice."""

from __future__ import annotations

from collections import Counter
from copy import deepcopy

import pytest

from reconciler.apply.deadline import Deadline
from reconciler.durations import parse_duration
from tests.kit.e2e import SEED, SPACE, removal, vendor_requests

USERS = 30


def many_users(project, sandbox, metadata: dict[str, str] | None = None) -> None:
    """30 Segment users, each with one email to delete (seeded: Segment proves removal)."""
    seed = deepcopy(SEED)
    seed["segment"]["spaces"][SPACE]["profiles"] += [
        {
            "external_ids": [
                {"type": "user_id", "id": f"u_dur_{i:03d}"},
                {"type": "email", "id": f"d{i}@x.example"},
            ]
        }
        for i in range(USERS)
    ]
    sandbox.control.reset(seed)
    entries = [
        {
            "profile": {"user_id": f"u_dur_{i:03d}"},
            "identifiers": [{"type": "email", "value": f"d{i}@x.example"}],
        }
        for i in range(USERS)
    ]
    manifest = removal("many", "seg", {"absent": entries})
    manifest["metadata"].update(metadata or {})
    project.write_specs({"many.yaml": manifest})
    for name in ("segment.yaml", "braze.yaml", "memory.yaml", "insider.yaml"):
        (project.root / "specs" / name).unlink()
    project.write_config(rate_limits={"seg": {"requests": 10, "per": "second"}})


def per_user(log) -> Counter:
    return Counter(e["path"].split("user_id:")[1].split("/")[0] for e in log)


def test_stops_between_requests_and_the_next_run_continues(project, sandbox):
    many_users(project, sandbox)
    first = project.cli("apply", "--auto-approve", "--max-duration", "1s", "--parallelism", "2")
    assert first.code == 2, first.output
    assert "Stopped after --max-duration (1s): the rest stays pending." in first.out
    sent = [e for e in vendor_requests(sandbox) if e["method"] == "POST"]  # not the preflight
    assert 3 <= len(sent) < USERS  # about 10 in the second, far from all 30
    assert not (project.ledger_dir / ".lock").exists()  # released
    assert project.cli("ledger", "verify").code == 0
    # every request that left has its answer recorded: none is unknown
    plan = project.plan_json()
    states = Counter(a["state"] for a in plan["actions"])
    assert states == {"done": len(sent), "pending": USERS - len(sent)}
    second = project.cli("apply", "--auto-approve")
    assert second.code == 0, second.output
    counts = per_user(e for e in vendor_requests(sandbox) if e["method"] == "POST")
    assert len(counts) == USERS and set(counts.values()) == {1}  # each item sent once
    assert project.cli("ledger", "verify").code == 0


def test_a_stop_with_a_due_date_missed_exits_4_not_2(project, sandbox):
    """4 wins over 2 in apply as in plan: a wrapper that runs apply again on 2 must not
    take a request past its legal due date for routine pending work."""
    many_users(project, sandbox, {"requested_at": "2020-01-06", "regulation": "gdpr"})
    first = project.cli("apply", "--auto-approve", "--max-duration", "1s", "--parallelism", "2")
    assert first.code == 4, first.output
    assert "Stopped after --max-duration (1s): the rest stays pending." in first.out
    assert "manifest many: " in first.err and "overdue" in first.err.lower()
    second = project.cli("apply", "--auto-approve")
    assert second.code == 0, second.output  # everything sent: nothing is left to decide


def test_a_duration_that_is_not_reached_exits_0(project, sandbox):
    result = project.cli("apply", "--auto-approve", "--max-duration", "5m")
    assert result.code == 0, result.output
    assert "max-duration" not in result.output


def test_a_bad_duration_is_a_usage_error(project, sandbox):
    result = project.cli("apply", "--auto-approve", "--max-duration", "soon")
    assert result.code == 1
    assert "'soon' is not a duration: write e.g. 90s, 45m or 5h30m" in result.err
    assert vendor_requests(sandbox) == []


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("45m", 2700), ("5h30m", 19800), ("1h2m3s", 3723)]
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "5", "1d", "m", "-1s", "1.5h"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_the_deadline_says_when_it_was_reached() -> None:
    now = [100.0]
    deadline = Deadline(5, clock=lambda: now[0])
    assert not deadline() and not deadline.reached
    now[0] = 105.0
    assert deadline() and deadline.reached
