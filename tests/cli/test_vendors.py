"""`reconcile vendors`: the installed vendors through the entry-point group, and a broken
plugin reported instead of taking the tool down."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest

from reconciler.vendors import registry
from tests.kit.project import Project


def test_the_four_built_in_vendors_come_from_the_entry_point_group(project: Project) -> None:
    result = project.run("vendors", "--format", "json")
    assert result.code == 0, result.output
    document = json.loads(result.out)
    assert document["format_version"] == "1"
    by_name = {v["name"]: v for v in document["vendors"]}
    assert set(by_name) >= {"segment", "braze", "twilio_memory", "insider"}
    assert by_name["braze"]["capabilities"]["irreversible"] is True
    assert by_name["braze"]["capabilities"]["idempotent"] is False
    assert by_name["segment"]["capabilities"]["batch_size"] == 1
    assert by_name["insider"]["capabilities"]["batch_size"] == 1000
    assert by_name["twilio_memory"]["secrets"] == ["account_sid_env", "auth_token_env"]
    # the built-in ones come from reconciler itself (plugins may be installed beside it)
    built_in = ("segment", "braze", "twilio_memory", "insider")
    assert all(by_name[name]["package"].startswith("reconciler ") for name in built_in)
    text = project.run("vendors")
    assert text.code == 0
    assert text.out.splitlines()[0].split() == [
        "VENDOR",
        "VERSION",
        "PACKAGE",
        "BATCH",
        "CAPABILITIES",
    ]
    assert "NOT idempotent, irreversible" in text.out


def test_a_broken_plugin_is_reported_and_the_others_still_load(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = registry.entry_points

    def with_a_broken_one(group: str):  # type: ignore[no-untyped-def]
        points = list(real(group=group))
        points.append(EntryPoint("mparticle", "reconciler_mparticle_missing:VENDOR", group))
        return points

    monkeypatch.setattr(registry, "entry_points", with_a_broken_one)
    registry.installed.cache_clear()
    try:
        result = project.run("vendors")
        assert result.code == 1
        assert "the vendor plugin mparticle could not be loaded: ModuleNotFoundError" in result.err
        assert "segment" in result.out
        # everything else still works
        assert project.run("validate").code == 0
    finally:
        registry.installed.cache_clear()
