"""`reconcile report` and `reconcile ledger verify --report`: the document, its schema, its
masking, and verification offline against a ledger written by the real RunWriter."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from reconciler.ledger.verify import item_events
from reconciler.report.verify import claims
from tests.kit.cli import run_cli
from tests.kit.ledger import TEST_KEY, Proj, make_proj, write_run
from tests.kit.specs import RAW_VALUES

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "report.schema.json").read_text()
)


def settle(proj: Proj) -> None:
    """Segment: two removed, one already absent, one rejected; Braze: accepted, then
    one confirmed by a refresh; Twilio: accepted; Insider: never sent."""
    proj.create_ledger()
    seg = proj.items("seg")
    braze = proj.items("braze")
    outcomes = [(proj.fp(seg[0]), "seg", "done"), (proj.fp(seg[1]), "seg", "done")]
    outcomes += [(proj.fp(seg[2]), "seg", "done-absent"), (proj.fp(seg[3]), "seg", "rejected")]
    outcomes += [(proj.fp(i), "braze", "accepted") for i in braze]
    outcomes += [(proj.fp(i), "mem", "accepted") for i in proj.items("mem")]
    write_run(proj.ledger_dir, outcomes)
    write_run(proj.ledger_dir, [(proj.fp(braze[0]), "braze", "absent")])


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    p = make_proj(tmp_path, monkeypatch, key=TEST_KEY)
    p.add_all_vendors()
    text = (tmp_path / "specs/seg.yaml").read_text()
    text = text.replace("  reason: a test\n", "  reason: a test\n  ticket: PRIV-7\n")
    text = text.replace(
        "  ticket: PRIV-7\n", "  ticket: PRIV-7\n  requested_at: 2026-11-02\n  regulation: gdpr\n"
    )
    p.write("specs/seg.yaml", text)
    settle(p)
    return p


def report(*args: str) -> dict:
    result = run_cli("report", "--format", "json", *args)
    assert result.code == 0, result.output
    return json.loads(result.out)


def test_the_json_report_validates_and_says_what_each_vendor_answered(proj: Proj) -> None:
    doc = report()
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert doc["ledger"]["verified"] and doc["ledger"]["keyed"]
    assert doc["seal"]["algorithm"] == "hmac-sha256"
    requests = {r["manifest"]: r for r in doc["requests"]}
    seg = requests["seg-emails"]
    assert seg["ticket"] == "PRIV-7" and seg["owner"] == "team-test"
    assert seg["due"] == "2026-12-02T23:59:59Z" and seg["regulation"] == "gdpr"
    c = seg["counts"]
    assert (c["total"], c["removed"], c["already absent"], c["rejected"]) == (5, 2, 1, 1)
    assert c["pending"] == 1  # the fifth was never sent
    assert "Incomplete: 3 of 5 item(s) removed from 1 system" in seg["verdict"]
    rejected = next(i for i in seg["items"] if i["state"] == "rejected")
    assert "the vendor refused it" in rejected["open"] and "invalid identifier" in rejected["open"]
    removed = next(i for i in seg["items"] if i["evidence"] == "removed")
    result = removed["events"][0]
    assert result["code"] == 200 and result["request_id"].startswith("req-")
    assert result["commit"] == "c0ffee1" and re.match(r"^runs/.+\.jsonl:\d+$", result["where"])
    assert any("downstream destinations" in cav for cav in seg["targets"][0]["caveats"])
    braze = requests["braze-load-test"]["counts"]
    assert (braze["confirmed by refresh"], braze["accepted"]) == (1, 2)
    assert (
        requests["ins-erasure"]["counts"]["pending"] == requests["ins-erasure"]["counts"]["total"]
    )
    # every event is cited, by record id and place
    cited = {(c["record"], c["fp"]) for c in claims(doc)}
    events = {
        (e["record"], i["fingerprint"])
        for r in doc["requests"]
        for i in r["items"]
        for e in i["events"]
    }
    assert cited == events and len(cited) >= 9 and doc["cited"] == len(cited)


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_no_raw_identifier_unless_show_values(proj: Proj, fmt: str) -> None:
    masked = run_cli("report", "--format", fmt)
    assert masked.code == 0, masked.output
    for value in RAW_VALUES:
        assert value not in masked.out, value
    if fmt == "markdown":  # pasted into tickets: refused unless the user says they know
        refused = run_cli("report", "--format", fmt, "--show-values")
        assert refused.code == 1 and "--i-know-this-posts-pii" in refused.err
        assert "jane@old-domain.example" not in refused.output
    extra = ("--i-know-this-posts-pii",) if fmt == "markdown" else ()
    shown = run_cli("report", "--format", fmt, "--show-values", *extra)
    assert "jane@old-domain.example" in shown.out
    assert "WARNING: this report shows raw identifier values" in shown.out
    assert "--show-values" in shown.err


@pytest.mark.parametrize("fmt", ["json", "markdown", "html"])
def test_verify_report_passes_fresh_and_names_the_record_after_a_ledger_line_is_altered(
    proj: Proj, fmt: str
) -> None:
    out = proj.root / f"report.{fmt}"
    made = run_cli("report", "--format", fmt, "--out", str(out))
    assert made.code == 0, made.output
    ok = run_cli("ledger", "verify", "--report", str(out))
    assert ok.code == 0, ok.output
    assert "The report verifies" in ok.out and "cited record(s)" in ok.out
    # the ledger moves on (a later run): the report still verifies, its head is in the chain
    write_run(proj.ledger_dir, [(proj.fp(proj.items("mem")[0]), "mem", "absent")])
    later = run_cli("ledger", "verify", "--report", str(out))
    assert later.code == 0, later.output

    # alter one cited result line: its code, leaving its id (m) as it was
    doc = json.loads(out.read_text()) if fmt == "json" else None
    cited = next(c for c in claims(doc or report()) if c.get("code") == 200)
    file, line = cited["where"].rsplit(":", 1)
    path = proj.ledger_dir / file
    lines = path.read_text().splitlines(keepends=True)
    assert '"code":200' in lines[int(line) - 1]
    lines[int(line) - 1] = lines[int(line) - 1].replace('"code":200', '"code":201')
    path.write_text("".join(lines))
    bad = run_cli("ledger", "verify", "--report", str(out))
    assert bad.code == 1
    assert f"record {cited['record']} ({cited['where']}" in bad.err
    assert "was altered" in bad.err
    assert "the report" in bad.err and "does not verify" in bad.err


def test_a_removed_ledger_run_is_named_too(proj: Proj) -> None:
    out = proj.root / "r.json"
    assert run_cli("report", "--format", "json", "--out", str(out)).code == 0
    doc = json.loads(out.read_text())
    refresh = next(c for c in claims(doc) if c["type"] == "refresh")
    (proj.ledger_dir / refresh["where"].rsplit(":", 1)[0]).unlink()
    bad = run_cli("ledger", "verify", "--report", str(out))
    assert bad.code == 1
    assert f"record {refresh['record']}" in bad.err and "is not in the ledger" in bad.err


def test_an_edited_report_does_not_verify(proj: Proj) -> None:
    html = proj.root / "r.html"
    assert run_cli("report", "--format", "html", "--out", str(html)).code == 0
    text = html.read_text()
    html.write_text(text.replace("Incomplete: 3 of 5", "Complete: 5 of 5", 1))
    bad = run_cli("ledger", "verify", "--report", str(html))
    assert bad.code == 1 and "it was edited after the report was made" in bad.err
    js = proj.root / "r.json"
    assert run_cli("report", "--format", "json", "--out", str(js)).code == 0
    doc = json.loads(js.read_text())
    doc["requests"][0]["counts"]["removed"] += 1
    js.write_text(json.dumps(doc))
    bad = run_cli("ledger", "verify", "--report", str(js))
    assert bad.code == 1 and "the seal does not match" in bad.err
    # a claim about a record that the record does not make: sealed again (by someone with
    # the key), it still fails on the record
    doc = json.loads(
        (proj.root / "r.html").read_text().split('id="reconcile-report">')[1].split("</script>")[0]
    )
    event = next(e for r in doc["requests"] for i in r["items"] for e in i["events"] if "code" in e)
    event["code"] = 299
    from reconciler.report.seal import seal_of

    # re-sealed with a digest anyone can compute: refused, the ledger is keyed
    doc["seal"] = seal_of(doc, None)
    js.write_text(json.dumps(doc))
    bad = run_cli("ledger", "verify", "--report", str(js))
    assert bad.code == 1 and "sealed with a plain digest, but the ledger is keyed" in bad.err
    doc["seal"] = seal_of(doc, TEST_KEY.encode())
    js.write_text(json.dumps(doc))
    bad = run_cli("ledger", "verify", "--report", str(js))
    assert bad.code == 1 and "does not say what the report claims (code)" in bad.err


def test_selection_and_errors(proj: Proj) -> None:
    assert [r["manifest"] for r in report("--ticket", "PRIV-7")["requests"]] == ["seg-emails"]
    assert [r["manifest"] for r in report("--manifest", "mem-phones")["requests"]] == ["mem-phones"]
    since = report("--since", "2000-01-01")
    assert "ins-erasure" not in {r["manifest"] for r in since["requests"]}  # nothing happened
    for args, message in [
        (("--manifest", "nope"), "--manifest nope: no such manifest"),
        (("--ticket", "X-1"), "--ticket X-1: no manifest has that ticket"),
        (("--since", "2999-01-01"), "no request was made or acted on since"),
        (("--since", "yesterday"), "--since: 'yesterday' is not a date"),
    ]:
        result = run_cli("report", *args)
        assert result.code == 1 and message in result.err, result.output
        assert len(result.err.strip().splitlines()) == 1


def test_unkeyed_ledger_is_sealed_with_a_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_proj(tmp_path, monkeypatch)
    p.add_all_vendors()
    settle(p)
    doc = report()
    assert doc["seal"]["algorithm"] == "sha256" and not doc["ledger"]["keyed"]
    out = tmp_path / "r.md"
    assert run_cli("report", "--out", str(out)).code == 0
    assert "finds changes, not forgery" in out.read_text()
    assert run_cli("ledger", "verify", "--report", str(out)).code == 0
    assert any(e["type"] == "result" for e in item_events(p.ledger_dir, cite=True))
    # unkeyed, anyone can re-seal: what the report claims must still add up to its records
    from reconciler.report.seal import seal_of

    forged = report()
    seg = next(r for r in forged["requests"] if r["manifest"] == "seg-emails")
    rejected = next(i for i in seg["items"] if i["state"] == "rejected")
    rejected.update(state="done", evidence="removed")
    rejected.pop("open")
    forged["seal"] = seal_of(forged, None)
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    bad = run_cli("ledger", "verify", "--report", str(path))
    assert bad.code == 1
    assert "is called done (removed), but its cited records say not removed" in bad.err
    assert "the counts of seg-emails are not its items'" in bad.err
    forged = report()
    forged["summary"]["verdict"] = "Complete: everything removed"
    forged["seal"] = seal_of(forged, None)
    path.write_text(json.dumps(forged))
    bad = run_cli("ledger", "verify", "--report", str(path))
    assert bad.code == 1 and "the report's verdict is not what its items say" in bad.err


def test_a_format_1_ledger_is_cited_by_line_hashes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.ledger.legacy import legacy_write_run

    p = make_proj(tmp_path, monkeypatch, key=TEST_KEY)
    p.add_all_vendors()
    p.create_legacy_ledger()
    seg = p.items("seg")
    legacy_write_run(
        p.ledger_dir, [(p.fp(seg[0]), "seg", "done"), (p.fp(seg[1]), "seg", "rejected")]
    )
    out = tmp_path / "r.json"
    made = run_cli("report", "--format", "json", "--manifest", "seg-emails", "--out", str(out))
    assert made.code == 0, made.output
    doc = json.loads(out.read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    cited = list(claims(doc))
    assert len(cited) == 2 and all(len(c["record"]) == 64 for c in cited)  # SHA-256 of the line
    assert run_cli("ledger", "verify", "--report", str(out)).code == 0
    file, line = cited[0]["where"].rsplit(":", 1)
    path = p.ledger_dir / file
    lines = path.read_text().splitlines(keepends=True)
    lines[int(line) - 1] = lines[int(line) - 1].replace('"code":', '"code": ')
    path.write_text("".join(lines))
    bad = run_cli("ledger", "verify", "--report", str(out))
    assert bad.code == 1 and f"record {cited[0]['record']}" in bad.err, bad.err


def test_held_items_and_a_persons_decision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reconciler.ledger.decisions import Decision, record_decision

    p = make_proj(tmp_path, monkeypatch, key=TEST_KEY)
    p.add_all_vendors()
    p.create_ledger()
    by_email = [i for i in p.items("braze") if "email" in i.locator or "phone" in i.locator]
    write_run(p.ledger_dir, [(p.fp(i), "braze", "unknown") for i in by_email])
    doc = report("--manifest", "braze-load-test")
    items = doc["requests"][0]["items"]
    held = [i for i in items if i["state"] == "held"]
    assert len(held) == 2 and all("held for a person" in i["open"] for i in held)
    assert "2 held for review" in doc["requests"][0]["verdict"]
    record_decision(
        p.config(),
        TEST_KEY.encode(),
        (p.fp(by_email[0])[:16],),
        Decision("done", "PRIV-9: gone in the dashboard (checked by a@b.example)", "dpo@x", None),
    )
    doc = report("--manifest", "braze-load-test")
    decided = next(
        i for i in doc["requests"][0]["items"] if i["evidence"] == "resolved by a person"
    )
    event = decided["events"][-1]
    assert event["type"] == "resolution" and event["as"] == "done" and event["who"] == "dpo@x"
    assert "PRIV-9" in event["reason"] and "a@b.example" not in event["reason"]
    out = tmp_path / "r.html"
    assert run_cli("report", "--format", "html", "--out", str(out)).code == 0
    assert run_cli("ledger", "verify", "--report", str(out)).code == 0
