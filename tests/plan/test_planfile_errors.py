"""Bad --out folders and damaged saved plans are user errors (exit 1), never crashes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copy(REPO / "reconciler.yaml", tmp_path)
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> int:
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code)


def test_out_into_a_missing_folder(project, capsys):
    assert run("plan", "--out", "nodir/plan.json") == 1
    err = capsys.readouterr().err
    assert "--out nodir/plan.json: no such folder nodir" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda d: d.pop("target_filter"), "target_filter is required"),
        (lambda d: d["actions"][0].update(action=7), "actions[0].action"),
        (lambda d: d["actions"][-1].pop("fingerprint"), "fingerprint"),
        (lambda d: d.update(accounts=[]), "accounts"),
    ],
)
def test_a_damaged_saved_plan_is_refused(project, capsys, damage, expected):
    assert run("plan", "--out", "plan.json") == 0
    data = json.loads((project / "plan.json").read_text())
    damage(data)
    (project / "plan.json").write_text(json.dumps(data))
    capsys.readouterr()
    assert run("apply", "plan.json") == 1
    err = capsys.readouterr().err
    assert expected in err and "make the plan again" in err
    assert "Traceback" not in err
    assert not (project / "state").exists()
