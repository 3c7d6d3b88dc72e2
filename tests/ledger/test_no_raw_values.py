"""Never a raw identifier value or secret in any ledger file (CONTRACT section 5).

Records for items of every vendor are written the way apply writes them (request
digests of the real requests, vendor messages passed through the Masker), then every
byte under the ledger folder is searched for every raw value.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest

from reconciler.ledger.lock import acquire
from reconciler.ledger.store import RunWriter, read_ledger
from reconciler.masking import Masker, raw_values
from tests.kit.cli import run_cli
from tests.kit.ledger import TEST_KEY, Proj, make_proj
from tests.kit.specs import RAW_VALUES
from tests.vendors._helpers import REQUESTS

OUTCOMES = ["done", "accepted", "failed", "rejected", "unknown"]


@pytest.fixture(params=["keyed", "salted"])
def any_proj(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Proj:
    return make_proj(tmp_path, monkeypatch, TEST_KEY if request.param == "keyed" else None)


def all_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_no_raw_value_in_any_ledger_file(any_proj: Proj) -> None:
    proj = any_proj
    proj.add_all_vendors()
    proj.create_ledger()
    config = proj.config()
    items = proj.items()
    assert {i.vendor for i in items} == {"segment", "braze", "twilio_memory", "insider"}
    values = sorted({v for i in items for v in raw_values(i)})
    # the hand-written list and raw_values agree: the search below is not vacuous
    assert set(RAW_VALUES) <= set(values)
    masker = Masker(values)
    fingerprint = proj.fingerprinter()
    lock = acquire(proj.ledger_dir, "apply", "tester@ci")
    writer = RunWriter(
        proj.ledger_dir,
        "run1",
        {"op": "apply", "commit": "c0ffee1", "who": "tester@ci"},
        key=proj.key_bytes(),
    )
    for n, item in enumerate(items):
        fp = fingerprint(item)
        request = REQUESTS[item.vendor].build(config.targets[item.target], [item])
        writer.intent(fp, item.target, request.digest(fingerprint))
        outcome = OUTCOMES[n % len(OUTCOMES)]
        if outcome == "unknown":
            continue
        # vendors echo what they were sent; apply masks their messages before recording
        echoed = masker.text(f"could not process {raw_values(item)[-1]} in {request.path}")
        writer.result(fp, item.target, outcome, 400, echoed, request_id="req-1")
    writer.close(sent=len(items))
    refresh = RunWriter(proj.ledger_dir, "run2", {"op": "refresh"}, key=proj.key_bytes())
    for item in items[:3]:
        refresh.refresh(fingerprint(item), item.target, "present")
    refresh.close()
    assert run_cli("ledger", "verify").code == 0
    assert len(read_ledger(proj.ledger_dir).items) == len(items)

    files = all_bytes(proj.ledger_dir)
    assert {"header.jsonl", ".lock"} <= set(files)
    assert sum(name.startswith("runs/") for name in files) == 2
    needles = set(values) | {quote(v, safe="") for v in values}
    for name, data in files.items():
        for raw in needles:
            assert raw.encode() not in data, f"{raw!r} found in {name}"
        assert TEST_KEY.encode() not in data, f"the ledger key is in {name}"
    assert lock.id.encode() in files[".lock"]


def test_the_header_records_the_scheme_and_key_id_never_the_key(keyed_proj: Proj) -> None:
    header = keyed_proj.create_ledger()
    data = (keyed_proj.ledger_dir / "header.jsonl").read_bytes()
    assert header.scheme == "hmac-sha256"
    assert header.salt is None and b"salt" not in data
    assert header.key_id.encode() in data
    assert TEST_KEY.encode() not in data
    assert TEST_KEY.encode().hex().encode() not in data


def test_a_salted_ledger_stores_its_salt(proj: Proj) -> None:
    header = proj.create_ledger()
    assert header.scheme == "sha256-salted"
    assert header.salt is not None and len(header.salt) == 64
    assert header.salt.encode() in (proj.ledger_dir / "header.jsonl").read_bytes()
