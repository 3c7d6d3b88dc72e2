"""`--format json`: versioned, every action with its request, valid against
schemas/plan.schema.json."""

from __future__ import annotations

import copy
import io
import json
import random
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler import __version__
from reconciler.desired import Item, Source, SourceTable
from reconciler.masking import map_values, mask
from reconciler.plan.describe import shown
from reconciler.plan.model import Action, TargetPlan
from reconciler.render.jsonplan import (
    _ActionEncoder,
    _encode,
    action_json,
    plan_json,
    write_plan_json,
)
from reconciler.target import Target
from reconciler.vendors.registry import vendor
from tests.kit.cli import run_cli
from tests.kit.ledger import Proj, write_run

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "plan.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def errors(validator: jsonschema.Draft202012Validator, data: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def every_state(proj: Proj) -> None:
    """Every vendor declared; the ledger holds every state and an orphan."""
    proj.add_all_vendors()
    proj.create_ledger()
    seg = [proj.fp(i) for i in proj.items("seg")]
    braze = [proj.fp(i) for i in proj.items("braze")]
    write_run(
        proj.ledger_dir,
        [
            (seg[0], "seg", "done"),
            (seg[1], "seg", "unknown"),
            (seg[2], "seg", "failed"),
            (seg[3], "seg", "rejected"),
            (braze[0], "braze", "accepted"),
            (braze[1], "braze", "done"),
            ("ee" * 32, "mem", "done"),
        ],
    )
    write_run(proj.ledger_dir, [(braze[1], "braze", "present")])


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--show-values"],
        ["--target", "seg", "--target", "mem"],
        ["--detailed-exitcode"],
    ],
    ids=["masked", "show-values", "targets", "detailed"],
)
def test_json_validates_against_the_schema(
    proj: Proj, validator: jsonschema.Draft202012Validator, args: list[str]
) -> None:
    every_state(proj)
    result = run_cli("plan", "--format", "json", *args)
    assert result.code in (0, 2)
    data = json.loads(result.out)
    assert errors(validator, data) == []
    assert {a["state"] for a in data["actions"]} >= (
        {"done", "unknown", "failed", "rejected", "pending"} if "--target" in args else
        {"done", "unknown", "failed", "rejected", "accepted", "drifted", "pending"}
    )  # fmt: skip


def test_json_without_a_ledger_and_the_saved_plan_validate(
    proj: Proj, validator: jsonschema.Draft202012Validator
) -> None:
    proj.add_all_vendors()
    data = json.loads(run_cli("plan", "--format", "json", "--out", "saved.plan").out)
    assert "new_ledger_salt" in data["fingerprint"]
    assert data["ledger"]["exists"] is False
    assert errors(validator, data) == []
    shown = run_cli("show", "saved.plan", "--format", "json")
    assert shown.code == 0, shown.output
    assert json.loads(shown.out) == data
    assert errors(validator, json.loads(shown.out)) == []


def test_the_schema_catches_what_it_must(
    proj: Proj, validator: jsonschema.Draft202012Validator
) -> None:
    """The schema is strict enough that validating means something."""
    every_state(proj)
    good = json.loads(run_cli("plan", "--format", "json").out)
    broken = []
    for mutate in (
        lambda d: d.pop("summary"),
        lambda d: d.update(format_version="2"),
        lambda d: d.update(surprise=1),
        lambda d: d["actions"][0].update(state="gone"),
        lambda d: d["actions"][0].update(fingerprint="xyz"),
        lambda d: d["actions"][0]["request"].pop("path"),
        lambda d: d["actions"][0].update(sources=[]),
        lambda d: d["ledger"].update(serial=-1),
        lambda d: d["targets"][0].pop("orphaned"),
    ):
        data = copy.deepcopy(good)
        mutate(data)
        broken.append(bool(errors(validator, data)))
    assert all(broken), broken


def test_json_content(proj: Proj) -> None:
    every_state(proj)
    data = json.loads(run_cli("plan", "--format", "json").out)
    plan = proj.plan()
    assert data["format_version"] == "1"
    assert data["tool_version"] == __version__
    assert data["ledger"] == plan.ledger.as_json()
    assert data["ledger"]["serial"] == 1 + (1 + 2 * 7 - 1 + 1) + 3
    assert data["desired_digest"] == plan.desired_digest
    assert data["summary"] == {
        "to_remove": 8,
        "already_removed": 2,
        "unknown": 1,
        "to_retry": 1,
        "rejected": 1,
        "held": 0,
        "line": "Plan: 8 to remove, 2 already removed, 1 unknown, 1 to retry, 0 held.",
    }
    assert [(t["name"], t["vendor"], t["orphaned"]) for t in data["targets"]] == [
        ("seg", "segment", 0),
        ("braze", "braze", 0),
        ("mem", "twilio_memory", 1),
        ("ins", "insider", 0),
    ]
    assert data["values_shown"] is False and data["target_filter"] == []
    assert len(data["actions"]) == 13
    by_desc = {a["description"]: a for a in data["actions"]}
    email = by_desc["email j***@old-domain.example on user_id u_**01"]
    assert email["state"] == "done" and email["action"] == "none"
    assert email["sources"] == [{"manifest": "seg-emails", "file": "specs/seg.yaml", "line": 10}]
    assert email["request"] == {
        "method": "POST",
        "path": "/v1/spaces/spa_test1/collections/users/profiles/user_id:u_%2A%2A01"
        "/external_ids/delete",
        "body": {"delete_external_ids": [{"id": "j***@old-domain.example", "type": "email"}]},
    }
    braze = by_desc["user profile external_id lo*********01"]
    assert braze["irreversible"] is True and braze["kind"] == "profile"
    assert braze["request"]["batched"] == "sent in batches of up to 50"
    assert braze["request"]["body"] == {"external_ids": ["lo*********01"]}
    mem = by_desc["every phone value on profile_id mem_profile_01**********************o5"]
    assert mem["request"]["method"] == "DELETE"
    assert mem["request"]["query"] == {"removeAll": "true"}
    assert mem["request"]["path"].endswith("/Identifiers/phone")
    assert "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5" not in mem["request"]["path"]


def test_json_lists_every_action_however_long(proj: Proj) -> None:
    """Unlike text, JSON is never cut."""
    rows = "".join(f"u_{i:04d},email,b{i}@old-domain.example\n" for i in range(450))
    proj.write("specs/bulk.csv", "user_id,type,value\n" + rows)
    proj.write(
        "specs/bulk.yaml",
        "apiVersion: reconciler/v1\nkind: Removal\nmetadata:\n  name: bulk\n  owner: o\n"
        "  reason: r\nspec:\n  target: seg\n  absent_csv: [bulk.csv]\n",
    )
    data = json.loads(run_cli("plan", "--format", "json").out)
    assert len(data["actions"]) == 450
    assert len({a["fingerprint"] for a in data["actions"]}) == 450


def test_streamed_json_is_the_plan_model_document(proj: Proj) -> None:
    """stdout, the saved plan (through `reconcile show`) and plan_json() are one document,
    byte for byte, whether written together or apart."""
    every_state(proj)
    plan = proj.plan()
    expected = plan_json(plan)
    together = run_cli("plan", "--format", "json", "--out", "a.plan")
    apart = run_cli("plan", "--format", "json", "--out", "b.plan", "--show-values")
    assert json.loads(together.out) == expected
    for name in ("a.plan", "b.plan"):
        shown_saved = run_cli("show", name, "--format", "json")
        assert shown_saved.code == 0, shown_saved.output
        assert shown_saved.out == together.out  # the same bytes, masked either way
    shown = json.loads(apart.out)
    assert shown == plan_json(plan, show_values=True) and shown != expected
    buffer = io.StringIO()
    write_plan_json(plan, False, [(buffer, {})])
    assert json.loads(buffer.getvalue()) == expected
    # one action a line: greppable, and no line holds the whole plan
    lines = together.out.splitlines()
    assert sum(line.startswith('  {"fingerprint": ') for line in lines) == len(expected["actions"])


def test_empty_plan_json_is_valid(proj: Proj, validator: jsonschema.Draft202012Validator) -> None:
    data = json.loads(run_cli("plan", "--format", "json").out)
    assert data["actions"] == []
    assert errors(validator, data) == []


def test_masked_item_matches_the_general_masking(proj: Proj) -> None:
    """The renderers' fast masking of flat items equals masking.map_values on every
    item of every vendor (Insider's numeric attribute values take the general path)."""
    proj.add_all_vendors()
    proj.write(
        "specs/ins-values.yaml",
        "apiVersion: reconciler/v1\nkind: Removal\nmetadata:\n  name: ins-values\n"
        "  owner: o\n  reason: r\nspec:\n  target: ins\n  absent:\n"
        "    - profile: {email: x@example.com}\n      attribute_values: {list_id: [12, 14]}\n",
    )
    items = proj.items()
    assert any(not isinstance(v, str) for i in items for v in i.removal.values())
    kept = 0
    for item in items:
        expected = map_values(item, mask)
        keep = vendor(item.vendor).vendor_ids(item)  # the vendor's own ids stay readable
        if keep:
            kept += 1
            removal = {k: item.removal[k] if k in keep else v for k, v in expected.removal.items()}
            expected = Item(item.target, item.vendor, expected.locator, removal)
        assert shown(item, False) == expected
        assert shown(item, True) is item
    assert kept == 2  # the two list ids


def _random_text(rng: random.Random, longest: int) -> str:
    alphabet = "abcXYZ019_.-+/@%é\"\\\u2028\u00a0ü😀,' \t"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, longest)))


@pytest.mark.parametrize("show_values", [False, True])
def test_fast_segment_action_encoding_matches_the_general_path(show_values: bool) -> None:
    """Segment's fast encoding of an action is byte-identical to encoding action_json."""
    rng = random.Random(20261122)
    target = Target("seg", "segment", "https://api.segmentapis.com", {"space_id": "spa_x/+ é"})
    tp = TargetPlan(target)
    table = SourceTable()
    encoder = _ActionEncoder(tp, show_values)
    for i in range(3000):
        user_id = rng.choice([_random_text(rng, 20), f"u_{i:08d}", "+15555550100"])
        value = rng.choice(
            [_random_text(rng, 30), f"user{i}@old-domain.example", "+4915112345678", "mem_x_1"]
        )
        id_type = rng.choice(["email", "phone", "anonymous_id", "ios.idfa"])
        removal = {"kind": "identifier", "type": id_type, "value": value}
        item = Item("seg", "segment", {"user_id": user_id}, removal)
        sources = [
            Source(rng.choice(["m1", 'm"2']), rng.choice(["a.csv", "b é.yaml"]), rng.randint(1, 99))
            for _ in range(rng.randint(1, 3))
        ]
        refs: int | list[int] = [table.pack(s) for s in sources]
        if len(sources) == 1:
            refs = refs[0]
        state = rng.choice(["pending", "done", "unknown", "failed", "rejected", "accepted"])
        action = Action("f" * 64, item.canonical(), "segment", refs, table, state)
        expected = _encode(action_json(tp, action, show_values))
        assert encoder.encode(action) == expected
