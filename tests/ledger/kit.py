"""Shared by the ledger, plan, render and CLI plan/ledger tests: a throwaway project with
one target per vendor, ledgers written with the real RunWriter, and a CLI runner.

An apply does not exist yet, so tests write its records (intent, result, refresh)
directly, the way apply will.
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli.main import main
from reconciler.config import Config
from reconciler.config.load import load_config
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

KEY_ENV = "RECONCILE_TEST_LEDGER_KEY"

CONFIG = """\
version: 1
specs: specs/
ledger:
  path: state/ledger
{key_line}targets:
  seg:
    vendor: segment
    space_id: spa_test1
    token_env: SEGMENT_TOKEN
    identifier_types: [phone]
  braze:
    vendor: braze
    base_url: https://rest.iad-01.braze.com
    api_key_env: BRAZE_API_KEY
  mem:
    vendor: twilio_memory
    store_id: mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4
    account_sid_env: TWILIO_ACCOUNT_SID
    auth_token_env: TWILIO_AUTH_TOKEN
  ins:
    vendor: insider
    partner_name: mybrand
    token_env: INSIDER_REQUEST_TOKEN
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

SEGMENT = (
    HEAD.format(name="seg-emails", target="seg")
    + """\
  absent:
    - profile: {user_id: u_1001}
      identifiers:
        - {type: email, value: jane@old-domain.example}
        - {type: phone, value: "+15555550100"}
    - profile: {user_id: u_1002}
      identifiers:
        - {type: anonymous_id, value: 9f1c2e7a-wrong-device}
  absent_csv: [seg.csv]
"""
)
SEGMENT_CSV = """\
user_id,type,value
u_2001,email,ada@old-domain.example
u_2002,email,grace@old-domain.example
"""
BRAZE = (
    HEAD.format(name="braze-load-test", target="braze")
    + """\
  delete_profiles: true
  absent:
    - profile: {external_id: loadtest-0001}
    - profile: {email: loadtest+17@example.com, prioritization: [unidentified]}
    - profile: {phone: "+15555550123", prioritization: [identified]}
"""
)
MEMORY = (
    HEAD.format(name="mem-phones", target="mem")
    + """\
  absent:
    - profile: {profile_id: mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5}
      identifiers:
        - {type: phone, all_values: true}
        - {type: externalId, all_values: true}
"""
)
INSIDER = (
    HEAD.format(name="ins-erasure", target="ins")
    + """\
  absent:
    - profile: {email: jane.doe@example.com}
      attributes: [name]
      custom_attribute_values: {interests: [pregnancy]}
    - identifiers:
        - {type: phone_number, value: "+6598765432"}
"""
)

# Every raw identifier value the manifests above declare (masking and ledger-bytes tests
# also use reconciler.masking.raw_values on the loaded items; this list is the
# hand-written cross-check).
RAW_VALUES = [
    "jane@old-domain.example",
    "+15555550100",
    "u_1001",
    "u_1002",
    "9f1c2e7a-wrong-device",
    "ada@old-domain.example",
    "grace@old-domain.example",
    "u_2001",
    "u_2002",
    "loadtest-0001",
    "loadtest+17@example.com",
    "+15555550123",
    "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5",
    "jane.doe@example.com",
    "pregnancy",
    "+6598765432",
]


def segment_manifest(name: str, pairs: list[tuple[str, str]], target: str = "seg") -> str:
    """A segment manifest removing (user_id, email) pairs."""
    body = "  absent:\n"
    for user_id, email in pairs:
        body += f"    - profile: {{user_id: {user_id}}}\n"
        body += f"      identifiers: [{{type: email, value: {email}}}]\n"
    return HEAD.format(name=name, target=target) + body


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(*args: str, input: str | None = None) -> CliResult:
    """`reconcile ARGS` through the real entry point (error mapping and exit codes
    included), with stdin, stdout and stderr isolated by click's CliRunner."""
    runner = CliRunner()
    with runner.isolation(input=input) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            raise AssertionError("main() returned instead of exiting")
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())


class Proj:
    """A user's repository in a temp folder (the working directory during the test)."""

    def __init__(self, root: Path, key: str | None = None) -> None:
        self.root = root
        self.key = key
        key_line = f"  key_env: {KEY_ENV}\n" if key is not None else ""
        self.write("reconciler.yaml", CONFIG.format(key_line=key_line))
        (root / "specs").mkdir(exist_ok=True)

    # files -------------------------------------------------------------------------
    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def add_all_vendors(self) -> None:
        self.write("specs/seg.yaml", SEGMENT)
        self.write("specs/seg.csv", SEGMENT_CSV)
        self.write("specs/braze.yaml", BRAZE)
        self.write("specs/mem.yaml", MEMORY)
        self.write("specs/ins.yaml", INSIDER)

    @property
    def ledger_dir(self) -> Path:
        return self.root / "state" / "ledger"

    def config(self) -> Config:
        return load_config(self.root / "reconciler.yaml")

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


TEST_KEY = "test-hmac-key-0123456789abcdef"


def make_proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str | None = None) -> Proj:
    """A project in `tmp_path`, made the working directory; with `key`, the config names
    KEY_ENV and the environment holds it."""
    monkeypatch.chdir(tmp_path)
    if key is None:
        monkeypatch.delenv(KEY_ENV, raising=False)
    else:
        monkeypatch.setenv(KEY_ENV, key)
    return Proj(tmp_path, key)
