"""Bad --out folders and damaged saved plans are user errors (exit 1), never crashes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, monkeypatch):
    shutil.copy(REPO / "reconciler.yaml", tmp_path)
    shutil.copytree(REPO / "specs", tmp_path / "specs")
    # the bundled config keys the ledger (ledger.key_env), as the quick start does
    monkeypatch.setenv("RECONCILE_LEDGER_KEY", "a-test-ledger-key")
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


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 0x01,)) + data[at + 1 :]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda d: _flip(d, 20), id="header-byte"),
        pytest.param(lambda d: _flip(d, len(d) - 40), id="last-record"),
        pytest.param(lambda d: _flip(d, len(d) - 1), id="mac"),
        pytest.param(lambda d: d[:-17], id="cut"),
        pytest.param(lambda d: d + b"\x00" * 17, id="appended"),
        pytest.param(lambda d: d[:-32], id="no-mac"),
    ],
)
def test_a_damaged_saved_plan_is_refused(project, capsys, damage):
    assert run("plan", "--out", "plan.bin") == 0
    path = project / "plan.bin"
    path.write_bytes(damage(path.read_bytes()))
    capsys.readouterr()
    assert run("apply", "plan.bin") == 1
    err = capsys.readouterr().err
    assert "the plan file was modified" in err and "Make the plan again" in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert not (project / "state").exists()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(["flip", "cut", "insert", "zero"]),
    where=st.floats(0, 1, exclude_max=True),
    byte=st.integers(1, 255),
)
def test_any_damage_is_one_line_never_a_crash(project, capsys, kind, where, byte):
    path = project / "fuzz.plan"
    if not path.exists():
        assert run("plan", "--out", "fuzz.plan") == 0
        (project / "fuzz.good").write_bytes(path.read_bytes())
    data = (project / "fuzz.good").read_bytes()
    at = int(where * len(data))
    damaged = {
        "flip": data[:at] + bytes((data[at] ^ byte,)) + data[at + 1 :],
        "cut": data[:at],
        "insert": data[:at] + bytes((byte,)) + data[at:],
        "zero": data[:at] + bytes(len(data) - at),
    }[kind]
    path.write_bytes(damaged)
    capsys.readouterr()
    for args in (("apply", "fuzz.plan"), ("show", "fuzz.plan"), ("github", "outputs", "fuzz.plan")):
        code = run(*args)
        err = capsys.readouterr().err
        if damaged == data or (args[0] == "github" and code == 0):
            continue  # unchanged, or outputs of a header left intact (it checks no MAC)
        assert code == 1, (args, err)
        assert "Traceback" not in err and "internal error" not in err, err
        assert len([line for line in err.splitlines() if line.startswith("Error")]) == 1, err
    assert not (project / "state").exists()
