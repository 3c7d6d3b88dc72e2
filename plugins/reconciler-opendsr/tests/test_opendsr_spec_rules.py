"""A plugin's spec rules (its manifest.part.json "spec" -> "rules") are checked like a
built-in vendor's: on manifests of its own targets only. The plugin's part declares no
rule today (its delete_profiles check is in rules.py), so the test gives it one."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reconciler_opendsr import VENDOR

from reconciler.config.load import load_config
from reconciler.manifests import load, load_specs
from reconciler.schemas import _VALIDATORS
from reconciler.vendors import schemas

MESSAGE = "an OpenDSR erasure removes the whole data subject: set spec.delete_profiles: true"
RULE = {
    "if": {"required": ["absent"], "properties": {"absent": {"minItems": 1}}},
    "then": {"required": ["delete_profiles"], "x-required": MESSAGE},
}
CONFIG = """\
version: 1
targets:
  processor:
    vendor: opendsr
    base_url: https://dsr.example.com/opendsr
    auth: basic
    credentials_env: OPENDSR_CREDENTIALS
  seg:
    vendor: segment
    space_id: spa_test1
    token_env: SEGMENT_TOKEN
"""
HEAD = """\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: {name}
  owner: team-test
  reason: a test
spec:
  target: {target}
"""


def _clear() -> None:
    schemas.installed_schema.cache_clear()
    schemas.checked_manifest_schema.cache_clear()
    load._spec_rule_messages.cache_clear()
    _VALIDATORS.clear()


@pytest.fixture
def ruled(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    part: dict[str, Any] = copy.deepcopy(dict(VENDOR.manifest_part()))
    part["spec"]["rules"] = [RULE]
    monkeypatch.setattr(VENDOR, "manifest_part", lambda: part)
    _clear()
    yield
    monkeypatch.undo()
    _clear()


def problems(tmp_path: Path, name: str, text: str) -> list[str]:
    (tmp_path / "reconciler.yaml").write_text(CONFIG, "utf-8")
    (tmp_path / "specs").mkdir(exist_ok=True)
    (tmp_path / "specs" / f"{name}.yaml").write_text(text, "utf-8")
    result = load_specs(load_config(tmp_path / "reconciler.yaml"), [])
    return [f"{p.line}: {p.location}: {p.message}" for p in result.problems]


@pytest.mark.usefixtures("ruled")
def test_the_plugins_rule_holds_for_its_own_targets(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "dsr",
        HEAD.format(name="dsr", target="processor")
        + "  absent:\n    - identities: {email: jane@example.com}\n"
        "      submitted_time: '2024-05-01T10:00:00Z'\n",
    )
    assert found == [f"7: spec: {MESSAGE}"]  # the rule's message, once (not check_spec's too)


@pytest.mark.usefixtures("ruled")
def test_a_segment_manifest_is_not_held_to_the_plugins_rule(tmp_path: Path) -> None:
    # every non-empty manifest would break the rule: before, a Segment one did too
    assert schemas.installed_schema("manifest")["properties"]["spec"]["x-rules"]["opendsr"]
    found = problems(
        tmp_path,
        "seg",
        HEAD.format(name="seg", target="seg") + "  absent:\n    - profile: {user_id: u_1001}\n"
        "      identifiers: [{type: email, value: jane@example.com}]\n",
    )
    assert found == []


def test_without_the_rule_the_plugins_own_check_still_speaks(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        "dsr",
        HEAD.format(name="dsr", target="processor")
        + "  absent:\n    - identities: {email: jane@example.com}\n"
        "      submitted_time: '2024-05-01T10:00:00Z'\n",
    )
    assert len(found) == 1 and "set spec.delete_profiles: true" in found[0], found
