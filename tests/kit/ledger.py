"""A project with ledgers: one target per vendor, ledgers written with the real
RunWriter, for the ledger, plan, render and CLI plan/ledger tests.

Tests write an apply's records (intent, result, refresh) directly with `write_run`, the
way apply does.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import pytest

from reconciler.desired import DesiredState, Fingerprinter, Item
from reconciler.ledger.store import (
    Header,
    Ledger,
    RunWriter,
    create_ledger,
    read_ledger,
    result_fields,
)
from reconciler.manifests import load_specs
from reconciler.plan.build import plan_from_config
from reconciler.plan.model import Plan
from tests.kit.repo import Repo
from tests.kit.specs import BRAZE, CONFIG, INSIDER, MEMORY, SEGMENT, SEGMENT_CSV

KEY_ENV = "RECONCILE_TEST_LEDGER_KEY"
TEST_KEY = "test-hmac-key-0123456789abcdef"


class Proj(Repo):
    """A user's repository in a temp folder (the working directory during the test)."""

    def __init__(self, root: Path, key: str | None = None) -> None:
        super().__init__(root)
        self.key = key
        key_line = f"  key_env: {KEY_ENV}\n" if key is not None else ""
        self.write("reconciler.yaml", CONFIG.format(key_line=key_line))
        (root / "specs").mkdir(exist_ok=True)

    # files -------------------------------------------------------------------------
    def add_all_vendors(self) -> None:
        self.write("specs/seg.yaml", SEGMENT)
        self.write("specs/seg.csv", SEGMENT_CSV)
        self.write("specs/braze.yaml", BRAZE)
        self.write("specs/mem.yaml", MEMORY)
        self.write("specs/ins.yaml", INSIDER)

    def desired(self) -> DesiredState:
        loaded = load_specs(self.config())
        assert loaded.problems == [], loaded.problems
        return loaded.desired

    def items(self, target: str | None = None) -> list[Item]:
        return [d.item for d in self.desired() if target is None or d.item.target == target]

    # ledger ------------------------------------------------------------------------
    def key_bytes(self) -> bytes | None:
        return self.key.encode() if self.key is not None else None

    def create_ledger(self, fingerprinter: Fingerprinter | None = None) -> Header:
        if fingerprinter is None:
            key = self.key_bytes()
            fingerprinter = (
                Fingerprinter.keyed(key)
                if key is not None
                else Fingerprinter.salted(secrets.token_bytes(32))
            )
        return create_ledger(self.ledger_dir, fingerprinter)

    def create_legacy_ledger(self) -> None:
        """A format-1 header, as 0.1.x wrote it (tests.ledger.legacy)."""
        from tests.ledger.legacy import create_legacy_ledger

        key = self.key_bytes()
        create_legacy_ledger(
            self.ledger_dir,
            Fingerprinter.keyed(key)
            if key is not None
            else Fingerprinter.salted(secrets.token_bytes(32)),
        )

    def fingerprinter(self) -> Fingerprinter:
        header = read_ledger(self.ledger_dir).header
        assert header is not None, "create the ledger first"
        return header.fingerprinter(self.key_bytes())

    def fp(self, item: Item) -> str:
        return self.fingerprinter()(item)

    def read(self) -> Ledger:
        return read_ledger(self.ledger_dir)

    def plan(self, *targets: str, salt: str | None = None) -> Plan:
        key = self.key_bytes()
        plan, _, _ = plan_from_config(self.config(), key, targets, salt)
        return plan

    def copy_ledger(self, dest: Path) -> Path:
        shutil.copytree(self.ledger_dir, dest)
        return dest


def write_run(
    ledger_dir: Path,
    outcomes: list[tuple[str, str, str]],
    run_id: str | None = None,
    commit: str = "c0ffee1",
    close: bool = True,
    key: bytes | None = None,
) -> RunWriter:
    """One apply or refresh run, written as apply will: for each (fingerprint, target,
    outcome), `unknown` writes an intent only (killed before the answer), a result state
    writes intent then result (`done` with evidence `removed`; `done-absent`: done, the
    vendor proved it was not there), `present`/`absent` writes a refresh observation."""
    run_id = run_id or secrets.token_hex(4)
    if key is None and read_ledger(ledger_dir).header.keyed:  # type: ignore[union-attr]
        key = TEST_KEY.encode()  # the key every keyed project of this kit has
    writer = RunWriter(
        ledger_dir, run_id, {"op": "apply", "commit": commit, "who": "tester@ci"}, key=key
    )
    for fp, target, outcome in outcomes:
        if outcome in ("present", "absent"):
            writer.refresh(fp, target, outcome)
            continue
        writer.intent(fp, target, "d" * 64)
        if outcome == "unknown":
            continue
        evidence = {"done": "removed", "done-absent": "absent"}.get(outcome)
        state = "done" if evidence else outcome
        code = {"accepted": 202, "done": 200, "failed": 503, "rejected": 400}.get(state, 404)
        code = 404 if outcome == "done-absent" else code
        message = {"failed": "Service Unavailable", "rejected": "invalid identifier"}.get(outcome)
        fields = result_fields(fp, target, state, code, message, f"req-{fp[:6]}")
        if evidence:
            fields["evidence"] = evidence
        writer.results([fields])
    if close:
        writer.close(sent=len(outcomes))
    return writer


def make_proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None = None) -> Proj:
    """A project in `tmp_path`, made the working directory; with `key`, the config names
    KEY_ENV and the environment holds it."""
    monkeypatch.chdir(tmp_path)
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, key)
    return Proj(tmp_path, key)
