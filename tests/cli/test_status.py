"""`reconcile status`: every request by due date, done / in progress / overdue, exit 4."""

from __future__ import annotations

import datetime as dt
import json

from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run
from tests.plan.test_deadlines import BRAZE_BODY, SEG_BODY, dated

MEM_BODY = """\
  absent:
    - profile: {profile_id: mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5}
      identifiers:
        - {type: phone, all_values: true}
"""


def test_status_orders_requests_by_due_date_and_says_where_each_stands(proj: Proj) -> None:
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).date().isoformat()
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=20)).date().isoformat()
    proj.write("specs/a-done.yaml", dated("a-done", "seg", SEG_BODY, due=later))
    proj.write("specs/b-accepted.yaml", dated("b-accepted", "mem", MEM_BODY, due=soon))
    proj.write(
        "specs/c-overdue.yaml",
        dated("c-overdue", "braze", BRAZE_BODY, requested_at="2026-01-01", regulation="gdpr"),
    )
    proj.write(
        "specs/d-undated.yaml",
        dated(
            "d-undated",
            "ins",
            """\
  absent:
    - profile: {email: jane.doe@example.com}
      attributes: [name]
""",
        ),
    )
    proj.create_ledger()
    outcomes = [(proj.fp(i), i.target, "done") for i in proj.items("seg")]
    outcomes += [(proj.fp(i), i.target, "accepted") for i in proj.items("mem")]
    write_run(proj.ledger_dir, outcomes)

    result = run_cli("status")
    assert result.code == 0, result.output
    lines = result.out.splitlines()
    names = [line.split()[0] for line in lines[1:5]]
    # by due date: overdue (Feb), accepted (in 3 days), done (in 20 days); undated last
    assert names == ["c-overdue", "b-accepted", "a-done", "d-undated"]
    assert "OVERDUE, pending" in lines[1]
    assert "in progress" in lines[2] and "0/1" in lines[2]
    assert "done" in lines[3] and "3/3" in lines[3]
    assert "pending" in lines[4]
    assert "4 request(s): 3 open, 1 overdue" in result.out
    assert run_cli("status", "--detailed-exitcode").code == 4

    doc = json.loads(run_cli("status", "--format", "json").out)
    assert doc["format_version"] == "1"
    by_name = {m["manifest"]: m for m in doc["manifests"]}
    assert by_name["b-accepted"]["status"] == "in progress"
    assert by_name["b-accepted"]["items"]["accepted"] == 1
    assert by_name["c-overdue"]["overdue"] is True
    assert by_name["a-done"]["status"] == "done" and not by_name["a-done"]["overdue"]
    assert doc["overdue"] == 1

    # once the overdue request is done, nothing needs a person
    write_run(proj.ledger_dir, [(proj.fp(i), i.target, "done") for i in proj.items("braze")])
    assert run_cli("status", "--detailed-exitcode").code == 0
