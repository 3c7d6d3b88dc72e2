"""Seed and credentials files: a malformed one is a one-line error naming the file, the
line, the place and what is wrong, exit 1 from `reconcile sandbox`; never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from reconciler.cli.main import main
from reconciler.sandbox import Sandbox, SandboxOptions

from .conftest import SEED

BRAZE_KEYS = "external_id, braze_id, email, phone, user_aliases, updated_at, attributes"
STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"

MALFORMED = [
    # (file name, content, the message after "Error: <file>")
    ("seed.yaml", "braze:\n\tusers: []\n", ":2: YAML syntax error"),
    ("seed.yaml", "- braze\n", ":1: must be a mapping, got a list"),
    (
        "seed.yaml",
        "salesforce: {}\n",
        ":1: salesforce: unknown key (allowed: segment, braze, twilio_memory, insider)",
    ),
    ("seed.yaml", "braze:\n  users: {a: 1}\n", ":2: braze.users: must be a list, got a mapping"),
    (
        "seed.yaml",
        "braze:\n  users:\n    - external_id: e1\n      emial: jane@example.com\n",
        f":4: braze.users[0].emial: unknown key (allowed: {BRAZE_KEYS})",
    ),
    (
        "seed.yaml",
        "braze:\n  users:\n    - jane@example.com: x\n",
        f":3: braze.users[0].'j***@example.com': unknown key (allowed: {BRAZE_KEYS})",
    ),
    (
        "seed.yaml",
        "braze:\n  users:\n    - {braze_id: b1}\n    - {braze_id: b1}\n",
        ":4: braze.users[1].braze_id: braze_id given to two users",
    ),
    (
        "seed.yaml",
        "segment:\n  spaces:\n    spa_x:\n      profiles:\n        - external_ids:\n"
        "            - {type: email, id: a@example.com}\n",
        ":5: segment.spaces.spa_x.profiles[0]: a profile needs a user_id among its external_ids",
    ),
    (
        "seed.yaml",
        "segment:\n  spaces:\n    spa_x:\n      delete_enabled: nope\n",
        ":4: segment.spaces.spa_x.delete_enabled: must be true or false, got a string",
    ),
    (
        "seed.yaml",
        "twilio_memory:\n  stores:\n    mem_store_bad: {}\n",
        ":3: twilio_memory.stores.mem_store_bad: a store id matches",
    ),
    (
        "seed.yaml",
        f"twilio_memory:\n  stores:\n    {STORE}:\n      profiles:\n"
        f"        {PROFILE}: {{merged_into: mem_profile_01h8x3k9q2w7e5r4t6y8u0i2zz}}\n",
        f":5: twilio_memory.stores.{STORE}.profiles.{PROFILE}.merged_into: merged_into must "
        "name a profile of the same store",
    ),
    (
        "seed.yaml",
        "insider:\n  users:\n    - identifiers: {emial: a@example.com}\n",
        ":3: insider.users[0].identifiers.emial: unknown key (allowed: email, phone_number, "
        "uuid, custom)",
    ),
    ("seed.yaml", "braze: {}\n---\nbraze: {}\n", ":3: one YAML document expected"),
    ("seed.yaml", "braze: {}\nbraze: {}\n", ":2: braze: key given twice"),
    ("seed.json", '{"braze": {"users": [}', ":1: JSON syntax error: Expecting value"),
    ("seed.json", '{"braze": {"users": 3}}', ": braze.users: must be a list, got a number"),
]


@pytest.mark.parametrize(("name", "content", "expected"), MALFORMED)
def test_a_malformed_seed_is_one_clean_line_and_exit_1(tmp_path, capsys, name, content, expected):
    seed = tmp_path / name
    seed.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--port", "0", "--seed", str(seed)])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(f"Error: {seed}{expected}"), err
    assert err.count("\n") == 1
    assert "jane@example.com" not in err and "a@example.com" not in err


def test_a_malformed_credentials_file_is_one_clean_line(tmp_path, capsys):
    seed = tmp_path / "seed.yaml"
    seed.write_text("{}\n")
    creds = tmp_path / "creds.yaml"
    creds.write_text("insider:\n  partners: [mybrand]\n")
    with pytest.raises(SystemExit) as exited:
        main(["sandbox", "--port", "0", "--seed", str(seed), "--credentials", str(creds)])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == f"Error: {creds}:2: insider.partners: must be a mapping, got a list\n"


def test_the_real_command_exits_1_without_a_traceback(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("braze:\n  users:\n    - emial: jane@example.com\n")
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "sandbox", "--port", "0", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"Error: {seed}:3: braze.users[0].emial: unknown key (allowed: {BRAZE_KEYS})\n"
    )


def test_an_unquoted_yaml_time_and_numeric_ids_are_read(tmp_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(
        "braze:\n  users:\n    - {external_id: 1001, updated_at: 2026-03-01T10:00:00Z}\n"
    )
    with Sandbox(SandboxOptions(seed=seed)) as sb:
        (user,) = sb.control.state()["braze"]["users"]
        assert user["external_id"] == "1001"
        assert user["updated_at"] == "2026-03-01T10:00:00Z"


def test_a_bad_seed_given_to_reset_is_refused_and_changes_nothing(sb, http):
    before = sb.control.state()
    response = http.post(
        f"{sb.base_url}/_sandbox/reset", json={"braze": {"users": [{"emial": "x@example.com"}]}}
    )
    assert response.status_code == 400
    assert response.json() == {
        "error": f"bad seed: braze.users[0].emial: unknown key (allowed: {BRAZE_KEYS})"
    }
    assert sb.control.state() == before
    sb.control.reset()
    assert sb.control.state() == before  # the session's seed is still the one in force


def test_a_snapshot_reseeds_the_same_state(sb, tmp_path):
    snapshot = sb.control.state()
    path = tmp_path / "snapshot.json"
    path.write_text(json.dumps(snapshot))
    with Sandbox(SandboxOptions(seed=path)) as again:
        assert again.control.state() == snapshot


def test_the_example_seed_is_valid():
    import reconciler.sandbox

    example = Path(reconciler.sandbox.__file__).parent / "example_seed.yaml"
    with Sandbox(SandboxOptions(seed=example)) as sb:
        assert sb.control.state()["braze"]["users"][0]["attributes"] == {"first_name": "Jane"}
        assert httpx.get(f"{sb.base_url}/_sandbox/faults").status_code == 200


def test_the_tests_seed_is_valid():
    with Sandbox(SandboxOptions(seed=SEED)) as sb:
        assert len(sb.control.state()["insider"]["users"]) == 2
