"""A target name repointed at another account must not inherit recorded removals."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config.load import load_config
from reconciler.desired import Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.ledger.store import RunWriter, create_ledger, read_ledger
from reconciler.plan.build import check_accounts

CONFIG = """\
version: 1
targets:
  seg: {{vendor: segment, space_id: {space}, token_env: SEGMENT_TOKEN}}
  braze: {{vendor: braze, base_url: {braze}, api_key_env: BRAZE_API_KEY}}
"""


def write_config(root: Path, space: str, braze: str = "https://rest.iad-01.braze.com") -> None:
    (root / "reconciler.yaml").write_text(CONFIG.format(space=space, braze=braze))


def record_run(root: Path) -> None:
    config = load_config(root / "reconciler.yaml")
    create_ledger(config.ledger_dir, Fingerprinter.keyed(b"k"))
    accounts = {name: t.account for name, t in config.targets.items()}
    RunWriter(
        config.ledger_dir, "r1", {"operation": "apply", "targets": accounts}, key=b"k"
    ).close()


def test_the_same_account_plans(tmp_path):
    write_config(tmp_path, "spa_one")
    record_run(tmp_path)
    config = load_config(tmp_path / "reconciler.yaml")
    check_accounts(config, read_ledger(config.ledger_dir))  # no error


@pytest.mark.parametrize(
    ("space", "braze", "moved"),
    [
        ("spa_two", "https://rest.iad-01.braze.com", "seg"),
        ("spa_one", "https://rest.iad-02.braze.com", "braze"),
    ],
)
def test_another_account_under_the_same_name_is_refused(tmp_path, space, braze, moved):
    write_config(tmp_path, "spa_one")
    record_run(tmp_path)
    write_config(tmp_path, space, braze)
    config = load_config(tmp_path / "reconciler.yaml")
    with pytest.raises(ReconcilerError, match=f"target {moved} now reaches a different account"):
        check_accounts(config, read_ledger(config.ledger_dir))


def test_accounts_differ_by_space_and_host_not_by_secret_names(tmp_path):
    write_config(tmp_path, "spa_one")
    a = load_config(tmp_path / "reconciler.yaml").targets["seg"]
    (tmp_path / "reconciler.yaml").write_text(
        CONFIG.format(space="spa_one", braze="https://x.example").replace(
            "SEGMENT_TOKEN", "OTHER_TOKEN"
        )
    )
    b = load_config(tmp_path / "reconciler.yaml").targets["seg"]
    assert a.account == b.account


MANIFEST = """\
apiVersion: reconciler/v1
kind: Removal
metadata: {name: m, owner: o, reason: r}
spec:
  target: seg
  absent:
    - profile: {user_id: u_1}
      identifiers: [{type: email, value: a@example.com}]
"""


def test_a_saved_plan_is_stale_once_its_target_reaches_another_account(
    tmp_path, monkeypatch, capsys
):
    from reconciler.cli.main import main

    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, "spa_one")
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "m.yaml").write_text(MANIFEST)
    with pytest.raises(SystemExit) as planned:
        main(["plan", "--out", "plan.json"])
    assert planned.value.code == 0
    write_config(tmp_path, "spa_other")  # the first apply of this target: no ledger yet
    with pytest.raises(SystemExit) as applied:
        main(["apply", "plan.json"])
    err = capsys.readouterr().err
    assert applied.value.code == 1
    assert "Saved plan is stale: target seg now reaches a different account" in err
    assert not (tmp_path / "state").exists()  # nothing sent, nothing recorded
