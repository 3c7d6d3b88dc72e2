"""Deadlines: manifest dates, the plan's estimate per target, warnings and exit code 4."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from reconciler.manifests.deadlines import add_month, deadline_of, due_from, parse_moment
from reconciler.plan.build import plan_from_config
from reconciler.render.jsonplan import plan_json
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, make_proj, write_run
from tests.kit.specs import HEAD

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return parse_moment(text)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-01-15", "2026-02-15"),
        ("2026-01-31", "2026-02-28"),
        ("2028-01-31", "2028-02-29"),
        ("2026-12-31", "2027-01-31"),
        ("2026-03-31", "2026-04-30"),
    ],
)
def test_one_calendar_month(start: str, expected: str) -> None:
    assert add_month(at(start)).date().isoformat() == expected
    assert due_from(at(start), "gdpr") == at(expected) + dt.timedelta(days=1, seconds=-1)


def test_ccpa_is_45_days_and_a_given_due_wins() -> None:
    deadline, problems = deadline_of({"requested_at": "2026-01-01", "regulation": "ccpa"})
    assert problems == [] and deadline is not None
    assert deadline.due == at("2026-02-15") + dt.timedelta(days=1, seconds=-1)
    given, _ = deadline_of(
        {"requested_at": "2026-01-01", "due": "2026-01-10T12:00:00+02:00", "regulation": "gdpr"}
    )
    assert given is not None and given.due == dt.datetime(2026, 1, 10, 10, tzinfo=UTC)
    assert given.due_given


def dated(name: str, target: str, body: str, **meta: str) -> str:
    head = HEAD.format(name=name, target=target)
    extra = "".join(f"  {k}: {v}\n" for k, v in meta.items())
    head = head.replace("  reason: a test\n", "  reason: a test\n" + extra)
    return head + body


SEG_BODY = """\
  absent:
    - profile: {user_id: u_1}
      identifiers:
        - {type: email, value: a1@old-domain.example}
        - {type: email, value: a2@old-domain.example}
        - {type: email, value: a3@old-domain.example}
"""
BRAZE_BODY = """\
  delete_profiles: true
  absent:
    - profile: {external_id: ext-1}
"""


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    p = make_proj(tmp_path, monkeypatch)
    config = (tmp_path / "reconciler.yaml").read_text()
    # one request a minute at Segment: three identifiers take three minutes
    config = config.replace(
        "    identifier_types: [phone]\n",
        "    identifier_types: [phone]\n    rate_limit: {requests: 1, per: minute}\n",
    )
    p.write("reconciler.yaml", config)
    return p


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_plan_says_which_manifest_meets_its_due_date_and_which_cannot(proj: Proj) -> None:
    now = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    later = iso(now + dt.timedelta(minutes=10))
    proj.write("specs/meets.yaml", dated("meets", "seg", SEG_BODY, due=later))
    # Braze queues deletions: the queue's hour does not fit in 30 minutes
    proj.write(
        "specs/misses.yaml",
        dated("misses", "braze", BRAZE_BODY, due=iso(now + dt.timedelta(minutes=30))),
    )
    plan, _, _ = plan_from_config(proj.config(), None, now=now)
    rows = {r.manifest.name: r for r in plan.deadlines}
    assert [r.manifest.name for r in plan.deadlines] == ["meets", "misses"]  # by due date
    meets, misses = rows["meets"], rows["misses"]
    # three requests at one a minute (times the pacer's headroom): a bit over three minutes
    assert meets.estimate is not None
    assert now + dt.timedelta(minutes=3) < meets.estimate < now + dt.timedelta(minutes=4)
    assert not meets.needs_person and meets.verdict().startswith("on time")
    assert misses.will_miss and misses.verdict().startswith("WILL MISS")
    assert misses.estimate is not None and misses.estimate >= now + dt.timedelta(hours=1)
    assert plan.deadline_missed
    assert any("manifest misses: WILL MISS" in w for w in plan.warnings)
    estimates = {e.target: e for e in plan.estimates}
    assert estimates["seg"].requests == 3 and estimates["braze"].queue_delay.total_seconds() == 3600

    # the rate decides too: due in two minutes, three minutes of requests
    soon = iso(now + dt.timedelta(minutes=2))
    proj.write("specs/meets.yaml", dated("meets", "seg", SEG_BODY, due=soon))
    late, _, _ = plan_from_config(proj.config(), None, now=now)
    assert {r.manifest.name: r.will_miss for r in late.deadlines} == {"misses": True, "meets": True}


def test_exit_code_4_with_detailed_exitcode_when_a_deadline_is_missed(proj: Proj) -> None:
    far = (dt.datetime.now(UTC) + dt.timedelta(days=30)).date().isoformat()
    proj.write("specs/meets.yaml", dated("meets", "seg", SEG_BODY, due=far))
    on_time = run_cli("plan", "--detailed-exitcode")
    assert on_time.code == 2, on_time.output  # changes pending, nothing late
    assert "Deadlines (by due date):" in on_time.out and "meets: on time" in on_time.out
    proj.write(
        "specs/late.yaml",
        dated("late", "braze", BRAZE_BODY, requested_at="2026-01-01", regulation="gdpr"),
    )
    for fmt in ("text", "json", "markdown"):
        result = run_cli("plan", "--detailed-exitcode", "--format", fmt)
        assert result.code == 4, (fmt, result.output)
        assert "manifest late: OVERDUE: due 2026-02-01T23:59:59Z" in result.err
    assert run_cli("plan").code == 0  # without the flag: a warning, exit 0
    text = run_cli("plan").out
    assert "[OVERDUE: late]" in text  # the overdue manifest's items are marked
    doc = json.loads(run_cli("plan", "--format", "json").out)
    late = next(m for m in doc["deadlines"]["manifests"] if m["manifest"] == "late")
    assert late["overdue"] and late["due"] == "2026-02-01T23:59:59Z" and late["due_from"] == "gdpr"
    assert doc["deadlines"]["missed"] is True
    marked = [a for a in doc["actions"] if a.get("overdue")]
    assert marked and all(a["overdue"] == ["late"] for a in marked)
    assert all(a["sources"][0]["manifest"] == "late" for a in marked)
    assert len(marked) == 1 and not any("overdue" in a for a in doc["actions"] if a not in marked)
    schema = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/plan.schema.json").read_text()
    )
    jsonschema.Draft202012Validator(schema).validate(doc)
    # the streamed JSON and the in-memory document agree, overdue marks included
    plan, _, _ = plan_from_config(proj.config(), None)

    # (no ledger yet: each plan draws its own salt, so fingerprints differ)
    def unsalted(actions: list[dict]) -> list[dict]:
        return [{k: v for k, v in a.items() if k != "fingerprint"} for a in actions]

    assert unsalted(plan_json(plan)["actions"]) == unsalted(doc["actions"])
    markdown = run_cli("plan", "--format", "markdown").out
    assert "OVERDUE (late)" in markdown and "🔴 OVERDUE" in markdown


def test_done_manifests_are_not_late_and_plans_without_dates_have_no_deadlines(
    proj: Proj,
) -> None:
    proj.write(
        "specs/late.yaml",
        dated("late", "braze", BRAZE_BODY, requested_at="2026-01-01", regulation="gdpr"),
    )
    proj.create_ledger()
    write_run(proj.ledger_dir, [(proj.fp(i), i.target, "done") for i in proj.items()])
    result = run_cli("plan", "--detailed-exitcode", "--format", "json")
    assert result.code == 0, result.output
    doc = json.loads(result.out)
    assert doc["deadlines"]["manifests"][0]["status"] == "done"
    assert not doc["deadlines"]["missed"]
    proj.write("specs/late.yaml", dated("late", "braze", BRAZE_BODY))
    assert "deadlines" not in json.loads(run_cli("plan", "--format", "json").out)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"due": '"2026-02-30"'}, "metadata.due: '2026-02-30' is not a date"),
        ({"due": "soon"}, "metadata.due: must be a date (YYYY-MM-DD) or an ISO 8601 time"),
        ({"regulation": "gdpr"}, "metadata.regulation: regulation gdpr without requested_at"),
        ({"regulation": "hipaa"}, "metadata.regulation: must be one of gdpr, ccpa"),
        (
            {"requested_at": "2026-03-01", "due": "2026-02-01"},
            "metadata.due: is before requested_at (2026-03-01T00:00:00Z)",
        ),
    ],
)
def test_bad_dates_are_one_line_errors(proj: Proj, meta: dict[str, str], message: str) -> None:
    proj.write("specs/bad.yaml", dated("bad", "braze", BRAZE_BODY, **meta))
    for command in ("validate", "plan"):
        result = run_cli(command)
        assert result.code == 1
        assert message in result.err, result.err
        assert "Traceback" not in result.output
        line = next(x for x in result.err.splitlines() if message in x)
        assert line.startswith("specs/bad.yaml:")


def test_a_large_target_is_estimated_from_a_sample(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.plan import deadlines

    body = "  delete_profiles: true\n  absent:\n" + "".join(
        f"    - profile: {{external_id: ext-{i:04d}}}\n" for i in range(1000)
    )
    proj.write("specs/bulk.yaml", dated("bulk", "braze", body, due="2099-01-01"))
    exact, _, _ = plan_from_config(proj.config(), None)
    monkeypatch.setattr(deadlines, "SAMPLE", 100)
    sampled, _, _ = plan_from_config(proj.config(), None)
    # 1,000 ids, 50 a request: 20 requests either way
    assert [e.requests for e in exact.estimates] == [20]
    assert [e.requests for e in sampled.estimates] == [20]
