"""`reconcile resolve` end to end against the sandbox: the right ids, the ambiguous and
unknown rows apart with their reasons, an output validate accepts, nothing sent but
reads, no value printed."""

from __future__ import annotations

import csv
from copy import deepcopy

import yaml

from tests.kit.e2e import SEED, SPACE, removal, vendor_requests


def rows(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def seeded(sandbox) -> None:
    seed = deepcopy(SEED)
    profiles = seed["segment"]["spaces"][SPACE]["profiles"]
    profiles.append(  # a merged profile: two user_ids
        {
            "external_ids": [
                {"type": "user_id", "id": "u_a"},
                {"type": "user_id", "id": "u_b"},
                {"type": "email", "id": "twice@x.example"},
            ]
        }
    )
    profiles[0]["segment_id"] = "use_jane"
    seed["braze"]["users"] += [
        {"external_id": "ext_solo", "email": "solo@x.example"},
        {"email": "shared@x.example", "external_id": "ext_s1"},
        {"email": "shared@x.example", "external_id": "ext_s2"},
        {"email": "noid@x.example"},
    ]
    sandbox.control.reset(seed)


def test_segment_emails_and_segment_ids_resolve_to_user_ids(project, sandbox):
    seeded(sandbox)
    source = project.root / "known.csv"
    source.write_text(
        "email,type,value\n"
        "jane@old-domain.example,phone,+15555550100\n"
        "twice@x.example,email,twice@x.example\n"
        "nobody@x.example,email,nobody@x.example\n"
    )
    out = project.root / "specs" / "resolved.csv"
    result = project.cli("resolve", "--target", "seg", "--from", str(source), "--out", str(out))
    assert result.code == 0, result.output
    assert rows(out) == [{"user_id": "u_1001", "type": "phone", "value": "+15555550100"}]
    unresolved = rows(project.root / "specs" / "resolved.unresolved.csv")
    assert [(r["email"], r["reason"]) for r in unresolved] == [
        ("twice@x.example", "the profile has 2 user_ids: ambiguous"),
        ("nobody@x.example", "no profile has this identifier"),
    ]
    # nothing but reads; no value printed
    assert {e["method"] for e in vendor_requests(sandbox)} == {"GET"}
    assert "jane@old-domain.example" not in result.output and "twice@" not in result.output
    # the output is an absent_csv source validate accepts
    manifest = removal("resolved", "seg", {"absent_csv": ["resolved.csv"]})
    (project.root / "specs" / "resolved.yaml").write_text(yaml.safe_dump(manifest))
    assert project.cli("validate").code == 0
    by_id = project.root / "ids.csv"
    by_id.write_text("segment_id,type,value\nuse_jane,email,jane@old-domain.example\n")
    out2 = project.root / "by-id.csv"
    assert (
        project.cli("resolve", "--target", "seg", "--from", str(by_id), "--out", str(out2)).code
        == 0
    )
    assert rows(out2) == [
        {"user_id": "u_1001", "type": "email", "value": "jane@old-domain.example"}
    ]


def test_braze_emails_resolve_to_external_ids_and_say_who_shares_them(project, sandbox):
    seeded(sandbox)
    source = project.root / "emails.csv"
    source.write_text(
        "email,prioritization\n"
        "solo@x.example,identified\n"
        "shared@x.example,identified\n"
        "noid@x.example,unidentified\n"
        "gone@x.example,identified\n"
    )
    out = project.root / "specs" / "brz.csv"
    result = project.cli("resolve", "--target", "brz", "--from", str(source), "--out", str(out))
    assert result.code == 0, result.output
    assert rows(out) == [{"external_id": "ext_solo"}]
    reasons = {r["email"]: r["reason"] for r in rows(project.root / "specs" / "brz.unresolved.csv")}
    assert reasons == {
        "shared@x.example": "2 users share this email: ambiguous",
        "noid@x.example": "the one user with it has no external_id (delete by braze_id)",
        "gone@x.example": "no user has this email",
    }
    assert {e["path"].rsplit("/", 1)[-1] for e in vendor_requests(sandbox)} == {"ids"}
    braze = removal("brz-resolved", "brz", {"delete_profiles": True, "absent_csv": ["brz.csv"]})
    (project.root / "specs" / "brz.yaml").write_text(yaml.safe_dump(braze))
    assert project.cli("validate").code == 0


def test_an_interrupted_resolve_resumes_after_the_rows_it_wrote(project, sandbox):
    seeded(sandbox)
    source = project.root / "emails.csv"
    source.write_text(
        "email\n" + "".join(f"u{i}@x.example\n" for i in range(150)) + "solo@x.example\n"
    )
    out = project.root / "out.csv"
    partial = out.with_name("out.csv.partial")
    progress = out.with_name("out.csv.progress")
    # as an interrupted run leaves them: the first 128 rows done (all unresolved)
    partial.write_text("external_id\n")
    out.with_name("out.unresolved.csv.partial").write_text("email,reason\n")
    progress.write_text("128")
    before = len(vendor_requests(sandbox))
    result = project.cli("resolve", "--target", "brz", "--from", str(source), "--out", str(out))
    assert result.code == 0, result.output
    assert "Resumed after 128 row(s)" in result.err
    assert rows(out) == [{"external_id": "ext_solo"}]
    # the preflight and the 23 rows left: nothing done twice
    assert len(vendor_requests(sandbox)) - before == 1 + 23
    assert not partial.exists() and not progress.exists()
