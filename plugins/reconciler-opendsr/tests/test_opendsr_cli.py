"""End to end: validate, plan and apply through the real CLI (a fresh `python -m
reconciler` each time) against the plugin's emulator on loopback. No mocks."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from pathlib import Path

from conftest import CREDENTIALS_ENV, DELAY, KEY, SECRET, TOKEN, Project
from reconciler_opendsr.emulator import Emulator, EmulatorOptions

SUBJECTS = """\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: dsr-2024-05
  owner: privacy-team
  reason: data subject requests of May 2024
spec:
  target: processor
  delete_profiles: true
  absent:
    - identities: {email: jane@old-domain.example, controller_customer_id: c-1001}
      submitted_time: 2024-05-01T10:00:00Z
    - identities:
        email: omar@old-domain.example
      submitted_time: "2024-05-02T09:30:00+02:00"
  absent_csv: [subjects.csv]
"""
CSV = "submitted_time,email\n2024-05-03T08:00:00Z,lee@old-domain.example\n"
VALUES = [
    "jane@old-domain.example",
    "c-1001",
    "omar@old-domain.example",
    "lee@old-domain.example",
]
SECRETS = [SECRET, f"{KEY}:{SECRET}", base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()]
APPLIED = re.compile(r"Items: (\d+) removed, (\d+) accepted \(asynchronous\), (\d+) already absent")


def write_subjects(project: Project) -> None:
    project.write("specs/subjects.yaml", SUBJECTS)
    project.write("specs/subjects.csv", CSV)


def applied(result: object) -> tuple[int, int, int]:
    match = APPLIED.search(result.out)  # type: ignore[attr-defined]
    assert match, result
    removed, accepted, absent = (int(g) for g in match.groups())
    return removed, accepted, absent


def creates(emulator: Emulator) -> list[dict[str, object]]:
    return [e for e in emulator.state()["log"] if e["method"] == "POST"]


def test_vendors_lists_the_plugin_from_its_entry_point(project: Project) -> None:
    result = project.cli("vendors", "--format", "json")
    assert result.code == 0, result.output
    by_name = {v["name"]: v for v in json.loads(result.out)["vendors"]}
    opendsr = by_name["opendsr"]
    assert opendsr["package"] == "reconciler-opendsr 0.1.0"
    assert opendsr["capabilities"] == {
        "asynchronous": True,
        "batch_size": 1,
        "idempotent": True,
        "irreversible": True,
        "preflight": True,
        "read": True,
        "resolve": False,
    }
    assert opendsr["secrets"] == ["credentials_env"]
    assert {"segment", "braze", "twilio_memory", "insider"} <= set(by_name)
    table = project.cli("vendors")
    line = next(x for x in table.out.splitlines() if x.startswith("opendsr"))
    assert "reconciler-opendsr 0.1.0" in line and "irreversible, preflight, read" in line


def test_the_editors_schemas_hold_the_plugin_once_installed(project: Project) -> None:
    """`reconcile schema` is made from the installed vendors: the plugin's settings,
    entry fields and spec setting are in it, described; the built-in files are not."""
    config = project.cli("schema", "config")
    assert config.code == 0, config.output
    target = json.loads(config.out)["properties"]["targets"]["additionalProperties"]
    for key in ("auth", "credentials_env", "requests_path", "identity_types"):
        assert target["properties"][key]["description"].startswith("OpenDSR"), key
    assert "opendsr" in target["properties"]["vendor"]["examples"]
    assert any(e["vendor"] == "opendsr" for e in target["examples"])
    manifest = project.cli("schema", "manifest")
    assert manifest.code == 0, manifest.output
    document = json.loads(manifest.out)
    assert "$id" not in document  # not the file in reconciler's repository
    spec = document["properties"]["spec"]
    fields = spec["properties"]["absent"]["items"]["properties"]
    assert fields["identities"]["examples"] and fields["submitted_time"]["examples"]
    assert "OpenDSR targets" in spec["properties"]["delete_profiles"]["description"]
    assert "processor-prod" in spec["properties"]["target"]["examples"]
    builtin = project.cli("schema", "manifest", "--built-in-only")
    assert builtin.code == 0 and "identities" not in builtin.out and '"$id"' in builtin.out
    # what editors see is what validate checks: the project's own manifest passes both
    write_subjects(project)
    assert project.cli("validate").code == 0


def test_validate_plan_apply_then_nothing_left(project: Project, emulator: Emulator) -> None:
    write_subjects(project)
    validate = project.cli("validate")
    assert validate.code == 0, validate.output

    plan = project.cli("plan")
    assert plan.code == 0, plan.output
    assert "erasure of the data subject with controller_customer_id c-**01, email j***@old" in (
        plan.out
    )
    assert plan.out.count("  ! erasure of the data subject") == 3
    document = project.plan_json()
    assert document["summary"]["to_remove"] == 3
    bodies = [a["request"]["body"] for a in document["actions"]]
    assert {b["subject_request_type"] for b in bodies} == {"erasure"}
    assert all(b["submitted_time"].endswith("Z") for b in bodies)

    apply = project.cli("apply", "--auto-approve")
    assert apply.code == 0, apply.output
    assert applied(apply) == (0, 3, 0)  # asynchronous: received, not yet proven
    state = emulator.state()
    assert len(creates(emulator)) == 3 and len(state["requests"]) == 3
    assert all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in state["requests"])
    assert sorted(r["identity_types"] for r in state["requests"].values()) == [
        ["controller_customer_id", "email"],
        ["email"],
        ["email"],
    ]

    again = project.cli("plan")
    assert again.code == 0 and "No changes" in again.out, again.output
    second = project.cli("apply", "--auto-approve")
    assert second.code == 0 and "Nothing to send" in second.out
    assert len(creates(emulator)) == 3  # nothing sent twice

    everything = project.everything()
    for value in VALUES:
        assert value not in everything, "a value reached the ledger or the output"
    for secret in SECRETS:
        assert secret not in everything, "a secret reached the ledger or the output"
    assert "encoded_request" not in project.written()
    assert project.cli("ledger", "verify").code == 0


def test_a_lost_answer_is_sent_again_as_the_same_request(tmp_path: Path) -> None:
    """The processor acts on the first send and answers 503: the client sends it again
    (idempotent), the processor refuses the duplicate, and its status read proves the
    first send landed (still pending: this processor takes a minute to act)."""
    options = EmulatorOptions(key=KEY, secret=SECRET, delay=60)
    with Emulator(options) as emulator:
        project = Project(tmp_path, emulator)
        project.write_config()
        project.write(
            "specs/one.yaml",
            SUBJECTS.split("  absent:")[0]
            + "  absent:\n    - identities: {email: jane@old-domain.example}\n"
            + '      submitted_time: "2024-05-01T10:00:00Z"\n',
        )
        emulator.faults(act_then_fail=1, status=503)
        apply = project.cli("apply", "--auto-approve")
        assert apply.code == 0, apply.output
        assert applied(apply) == (0, 1, 0)
        log = emulator.state()["log"]
        assert [e["status"] for e in log if e["method"] == "POST"] == [503, 400]  # a duplicate
        assert len(emulator.state()["requests"]) == 1  # one request at the processor
        reads = [e for e in log if e["method"] == "GET" and "_requests/" in str(e["path"])]
        assert len(reads) == 1  # the status read that settled the 400
        ledger = project.written()
        assert "the processor refused a duplicate: it holds the earlier request" in ledger


def test_a_completed_duplicate_is_recorded_removed(project: Project, emulator: Emulator) -> None:
    write_subjects(project)
    assert project.cli("apply", "--auto-approve").code == 0
    time.sleep(2 * DELAY + 0.1)  # the processor completes them
    # a new ledger (a lost one): the same items make the same ids, already done
    shutil.rmtree(project.root / "state")
    again = project.cli("apply", "--auto-approve")
    assert again.code == 0, again.output
    assert applied(again) == (3, 0, 0)  # "already exists", and its status: completed
    assert len(emulator.state()["requests"]) == 3


def test_validate_refuses_what_the_rules_refuse(project: Project) -> None:
    project.write(
        "specs/bad.yaml",
        """\
apiVersion: reconciler/v1
kind: Removal
metadata: {name: bad, owner: me, reason: test}
spec:
  target: processor
  absent:
    - identities: {fax_number: "+15555550100"}
      submitted_time: "2024-05-01T10:00:00Z"
    - identities: {email: jane@old-domain.example}
      submitted_time: "May 1st"
    - identities: {email: jane@old-domain.example}
""",
    )
    result = project.cli("validate")
    assert result.code == 1, result.output
    out = result.output
    assert "delete_profiles: true" in out
    assert "specs/bad.yaml:7" in out and "not an OpenDSR identity type" in out
    assert "specs/bad.yaml:10" in out and "is not an RFC 3339 time" in out
    assert "submitted_time is required" in out
    assert "+15555550100" not in out and "jane@old-domain.example" not in out
    assert "Traceback" not in out


def test_an_identity_type_the_processor_does_not_take_is_not_sent(
    project: Project, emulator: Emulator
) -> None:
    project.write(
        "specs/one.yaml",
        SUBJECTS.split("  absent:")[0]
        + "  absent:\n    - identities: {email: jane@old-domain.example, ios_vendor_id: v-77aa}\n"
        + '      submitted_time: "2024-05-01T10:00:00Z"\n'
        + "    - identities: {email: omar@old-domain.example}\n"
        + '      submitted_time: "2024-05-01T10:00:00Z"\n',
    )
    apply = project.cli("apply", "--auto-approve")
    assert apply.code != 0
    assert "does not take identity type ios_vendor_id" in apply.output
    assert applied(apply) == (0, 1, 0)
    assert len(creates(emulator)) == 1


def test_bearer_auth_and_refused_credentials(project: Project, emulator: Emulator) -> None:
    write_subjects(project)
    project.write_config(auth="bearer")
    project.env[CREDENTIALS_ENV] = f"{KEY}:{SECRET}"  # not the token
    refused = project.cli("apply", "--auto-approve")
    assert refused.code != 0
    assert "refused the credentials (HTTP 401)" in refused.output
    assert creates(emulator) == []  # the preflight stopped it: nothing sent


def test_bearer_auth_sends_the_token(tmp_path: Path) -> None:
    with Emulator(EmulatorOptions(auth="bearer", token=TOKEN, delay=DELAY)) as processor:
        project = Project(tmp_path, processor)
        project.write_config(auth="bearer")
        project.env[CREDENTIALS_ENV] = TOKEN
        write_subjects(project)
        result = project.cli("apply", "--auto-approve")
        assert result.code == 0, result.output
        assert applied(result) == (0, 3, 0)
        assert TOKEN not in project.everything()
