"""Valid manifests load into exactly the expected items, per vendor, YAML and CSV alike."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.desired import Source
from reconciler.manifests import LoadResult, load_specs
from reconciler.manifests.load import MAX_PROBLEMS_PER_CSV, manifest_files
from tests.kit.project import Project
from tests.kit.specs import manifest
from tests.vendors._helpers import RULES


def items_of(result: LoadResult) -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    return [(d.item.target, d.item.vendor, d.item.locator, d.item.removal) for d in result.desired]


def ident(type_: str, value: str) -> dict[str, Any]:
    return {"kind": "identifier", "type": type_, "value": value}


def test_segment_manifest_and_csv_load_into_identifier_items(project: Project) -> None:
    project.add_valid()
    result = project.load("specs/valid/segment.yaml")
    assert result.problems == []
    assert items_of(result) == [
        ("seg", "segment", {"user_id": "u_1001"}, ident("email", "jane@old.example")),
        ("seg", "segment", {"user_id": "u_1001"}, ident("phone", "+15555550100")),
        ("seg", "segment", {"user_id": "u_1001"}, ident("user_id", "u_1001_old")),
        ("seg", "segment", {"user_id": "42"}, ident("anonymous_id", "9f1c-device")),
        ("seg", "segment", {"user_id": "u_2001"}, ident("email", "ada@old.example")),
        ("seg", "segment", {"user_id": "u_2002"}, ident("anonymous_id", "a-2002")),
    ]
    # the CSV's last row repeats the YAML's first identifier: one item, two sources
    first = next(iter(result.desired))
    assert first.sources == [
        Source("seg-valid", "specs/valid/segment.yaml", 12),
        Source("seg-valid", "specs/valid/segment.csv", 5),
    ]
    [m] = result.manifests
    assert (m.name, m.owner, m.ticket, m.target, m.file) == (
        "seg-valid",
        "team-crm",
        "CRM-1",
        "seg",
        "specs/valid/segment.yaml",
    )


def test_braze_manifest_and_csvs_load_into_profile_items(project: Project) -> None:
    project.add_valid()
    result = project.load("specs/valid/braze.yaml")
    assert result.problems == []
    profile = {"kind": "profile"}
    assert items_of(result) == [
        ("braze", "braze", {"external_id": "ext-1"}, profile),
        ("braze", "braze", {"braze_id": "65f1c0a2b3d4e5f6a7b8c9d0"}, profile),
        (
            "braze",
            "braze",
            {"user_alias": {"alias_name": "visitor-17", "alias_label": "load_test"}},
            profile,
        ),
        (
            "braze",
            "braze",
            {"email": "a@example.com", "prioritization": ["unidentified", "most_recently_updated"]},
            profile,
        ),
        ("braze", "braze", {"phone": "+15555550123", "prioritization": ["identified"]}, profile),
        ("braze", "braze", {"external_id": "ext-2"}, profile),
        ("braze", "braze", {"external_id": "ext-3"}, profile),
        (
            "braze",
            "braze",
            {"email": "b@example.com", "prioritization": ["unidentified", "most_recently_updated"]},
            profile,
        ),
        ("braze", "braze", {"user_alias": {"alias_name": "v-1", "alias_label": "lt"}}, profile),
        (
            "braze",
            "braze",
            {"phone": "+15555550199", "prioritization": ["most_recently_updated"]},
            profile,
        ),
    ]
    assert all(d.item.irreversible_profile_deletion for d in result.desired)


def test_twilio_memory_manifest_and_csv_load_into_identifier_type_items(project: Project) -> None:
    project.add_valid()
    result = project.load("specs/valid/twilio_memory.yaml")
    assert result.problems == []
    p5 = {"profile_id": "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5"}
    p6 = {"profile_id": "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o6"}
    assert items_of(result) == [
        ("mem", "twilio_memory", p5, {"kind": "identifier_type", "type": "phone"}),
        ("mem", "twilio_memory", p5, {"kind": "identifier_type", "type": "externalId"}),
        ("mem", "twilio_memory", p6, {"kind": "identifier_type", "type": "email"}),
    ]


def test_insider_manifest_and_csvs_load_into_attribute_and_identifier_items(
    project: Project,
) -> None:
    project.add_valid()
    result = project.load("specs/valid/insider.yaml")
    assert result.problems == []

    def attr(name: str, custom: bool = False) -> dict[str, Any]:
        return {"kind": "attribute", "name": name, "custom": custom}

    def value(name: str, v: Any, custom: bool = False) -> dict[str, Any]:
        return {"kind": "attribute_value", "name": name, "value": v, "custom": custom}

    jane = {"email": "jane@example.com"}
    assert items_of(result) == [
        ("ins", "insider", jane, attr("name")),
        ("ins", "insider", jane, attr("surname")),
        ("ins", "insider", jane, attr("favourite_store", custom=True)),
        ("ins", "insider", jane, value("list_id", 12)),
        ("ins", "insider", jane, value("list_id", 14)),
        ("ins", "insider", jane, value("interests", "hiking", custom=True)),
        ("ins", "insider", {"custom": {"loyalty_id": "LY-1"}}, attr("city")),
        ("ins", "insider", {"phone_number": "+6598765432"}, attr("birthday")),
        ("ins", "insider", {"insider_id": "iid-1"}, attr("tier", custom=True)),
        ("ins", "insider", {"uuid": "0b7e-uuid"}, attr("gender")),
        # an identifier locates its own user
        ("ins", "insider", {"phone_number": "+6598765433"}, ident("phone_number", "+6598765433")),
        ("ins", "insider", {"email": "old@example.com"}, ident("email", "old@example.com")),
        (
            "ins",
            "insider",
            {"custom": {"loyalty_id": "LY-2"}},
            ident("custom.loyalty_id", "LY-2"),
        ),
        ("ins", "insider", {"email": "bob@example.com"}, attr("name")),
        ("ins", "insider", {"uuid": "u-3"}, ident("uuid", "u-3")),
        (
            "ins",
            "insider",
            {"custom": {"loyalty_id": "LY-3"}},
            value("interests", "cooking", custom=True),
        ),
    ]


def test_whole_specs_folder_loads_every_vendor(project: Project) -> None:
    project.add_valid()
    result = project.load()
    assert result.problems == []
    assert sorted(m.name for m in result.manifests) == [
        "braze-valid",
        "ins-valid",
        "mem-valid",
        "seg-valid",
    ]
    assert len(result.desired) == 6 + 10 + 3 + 16
    assert {d.item.vendor for d in result.desired} == {
        "segment",
        "braze",
        "twilio_memory",
        "insider",
    }


def test_multi_document_file_holds_several_manifests(project: Project) -> None:
    one = manifest(
        """
        absent:
          - profile: {user_id: u_1}
            identifiers: [{type: email, value: a@example.com}]
        """,
        name="first",
    )
    two = manifest(
        """
        absent:
          - profile: {user_id: u_2}
            identifiers: [{type: email, value: b@example.com}]
        """,
        name="second",
    )
    project.write("specs/multi.yaml", one + "---\n" + two + "---\n")
    result = project.load()
    assert result.problems == []
    assert [(m.name, m.line) for m in result.manifests] == [("first", 1), ("second", 13)]
    sources = [d.sources[0] for d in result.desired]
    assert sources == [
        Source("first", "specs/multi.yaml", 10),
        Source("second", "specs/multi.yaml", 22),
    ]


def test_manifest_files_finds_yaml_and_yml_recursively_and_skips_hidden(project: Project) -> None:
    body = """
        absent:
          - profile: {user_id: u_1}
            identifiers: [{type: email, value: a@example.com}]
        """
    project.write("specs/a.yaml", manifest(body, name="a"))
    project.write("specs/deep/er/b.yml", manifest(body, name="b"))
    project.write("specs/.hidden/c.yaml", manifest(body, name="c"))
    project.write("specs/notes.txt", "not a manifest")
    project.write("specs/d.csv", "user_id,type,value\n")
    files = manifest_files(project.config())
    assert [f.relative_to(project.root).as_posix() for f in files] == [
        "specs/a.yaml",
        "specs/deep/er/b.yml",
    ]


def test_specs_folder_is_read_from_the_config(project: Project) -> None:
    project.write(
        "reconciler.yaml",
        (project.root / "reconciler.yaml").read_text().replace("specs: specs/", "specs: other/"),
    )
    project.write(
        "other/x.yaml",
        manifest(
            """
            absent:
              - profile: {user_id: u_1}
                identifiers: [{type: email, value: a@example.com}]
            """
        ),
    )
    result = project.load()
    assert result.problems == []
    assert result.files == ["other/x.yaml"]


def test_same_item_twice_in_one_entry_list_is_one_item_one_source(project: Project) -> None:
    project.write(
        "specs/x.yaml",
        manifest(
            """
            absent:
              - profile: {user_id: u_1}
                identifiers:
                  - {type: email, value: a@example.com}
                  - {type: email, value: a@example.com}
            """
        ),
    )
    result = project.load()
    assert result.problems == []
    [only] = list(result.desired)
    assert only.sources == [Source("bad-input", "specs/x.yaml", 10)]


def test_csv_problems_are_capped_with_a_count_of_the_rest(project: Project) -> None:
    rows = "".join(f"u_{i},email,\n" for i in range(MAX_PROBLEMS_PER_CSV + 7))
    project.write("specs/many.csv", "user_id,type,value\n" + rows)
    project.write("specs/x.yaml", manifest("absent_csv: [many.csv]"))
    result = project.load()
    assert len(result.problems) == MAX_PROBLEMS_PER_CSV + 1
    assert result.problems[-1].message == "... and 7 more problems in this file"
    assert result.problems[0].file == "specs/many.csv"
    assert result.problems[0].line == 2
    assert len(result.desired) == 0


def test_csv_is_streamed_not_read_whole(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CSV source is read row by row: Path.read_text/read_bytes are never used on it."""
    from pathlib import Path

    rows = "".join(f"u_{i},email,e{i}@example.com\n" for i in range(2000))
    project.write("specs/big.csv", "user_id,type,value\n" + rows)
    project.write("specs/x.yaml", manifest("absent_csv: [big.csv]"))
    real_read_text = Path.read_text

    def guarded_read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        assert self.suffix != ".csv", f"{self} was read whole"
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", guarded_read_text)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} read whole"))
    result = project.load()
    assert result.problems == []
    assert len(result.desired) == 2000


# -- unreadable paths under specs/ --------------------------------------------------------------


def test_a_folder_that_cannot_be_listed_is_a_problem_naming_it(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    body = """
        absent:
          - profile: {user_id: u_1}
            identifiers: [{type: email, value: a@example.com}]
        """
    project.write("specs/a.yaml", manifest(body, name="a"))
    project.write("specs/locked/b.yaml", manifest(body, name="b"))
    real_scandir = os.scandir

    def scandir(path: Any) -> Any:
        if os.fspath(path).endswith("locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.chdir(project.root)
    monkeypatch.setattr("reconciler.manifests.load.os.scandir", scandir)
    result = project.load()
    assert [str(p) for p in result.problems] == [
        "specs/locked: cannot read this folder (Permission denied): its manifests would be skipped"
    ]
    assert [m.name for m in result.manifests] == ["a"]


def test_a_manifest_that_cannot_be_read_names_the_reason_not_a_traceback(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:

    project.write("specs/a.yaml", "kind: x\n")
    monkeypatch.chdir(project.root)

    import os

    real_open = os.open

    def refusing_open(path: Any, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("a.yaml"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    config = project.config()
    monkeypatch.setattr(os, "open", refusing_open)
    result = load_specs(config)
    assert [str(p) for p in result.problems] == ["specs/a.yaml: cannot read: Permission denied"]


def test_walk_order_is_the_sorted_rglob_order(project: Project) -> None:
    for rel in ["b.yaml", "a/z.yaml", "a.yaml", "a-b/c.yml", "ab.yaml", "a/b/c.yaml"]:
        project.write(f"specs/{rel}", "x: 1\n")
    specs = project.root / "specs"
    expected = sorted(p for p in specs.rglob("*") if p.suffix in (".yaml", ".yml"))
    assert manifest_files(project.config()) == [p.resolve() for p in expected]


# -- CSV rows: control characters, and the line a row starts on ---------------------------------


def test_a_row_spanning_lines_is_reported_at_its_first_line(project: Project) -> None:
    project.write("specs/rows.csv", 'user_id,type,value\nu_1,email,"a@x\n\nb"\nu_2,email,c@x\n')
    project.write("specs/x.yaml", manifest("absent_csv: [rows.csv]"))
    result = project.load()
    assert [(p.file, p.line, p.location) for p in result.problems] == [
        ("specs/rows.csv", 2, "value")
    ]
    assert [d.sources[0].line for d in result.desired] == [5]


def test_a_control_character_in_any_column_is_reported_there(project: Project) -> None:
    project.write("specs/rows.csv", "user_id,type,value\nu\x001,email,a@x\nu_2,em\x0bail,b@x\n")
    project.write("specs/x.yaml", manifest("absent_csv: [rows.csv]"))
    result = project.load()
    assert [(p.line, p.location, p.message[:43]) for p in result.problems] == [
        (2, "user_id", "contains a control character (U+0000); only"),
        (3, "type", "contains a control character (U+000B); only"),
    ]
    assert len(result.desired) == 0


# -- insider: an identifier deleted and the user it locates, within one manifest -----------------


def ins_manifest(body: str, name: str = "ins-x") -> str:
    return manifest(body, target="ins", name=name)


def test_conflict_between_yaml_entries_is_one_problem_per_user(project: Project) -> None:
    project.write(
        "specs/x.yaml",
        ins_manifest(
            """
            absent:
              - profile: {email: a@x}
                attributes: [name]
                attribute_values: {list_id: [1, 2]}
              - identifiers:
                  - {type: uuid, value: a@x}
                  - {type: email, value: a@x}
              - profile: {email: a@x}
                custom_attributes: [tier]
            """
        ),
    )
    result = project.load()
    assert [(p.file, p.line, p.location) for p in result.problems] == [
        ("specs/x.yaml", 10, "spec.absent[0].profile")
    ]
    assert "specs/x.yaml:15 (spec.absent[1].identifiers[1])" in result.problems[0].message


def test_conflict_between_two_csvs_of_one_manifest(project: Project) -> None:
    project.write("specs/ids.csv", "type,value\nemail,z@x\nemail,a@x\n")
    project.write("specs/attrs.csv", "email,attribute\nb@x,name\na@x,name\n")
    project.write("specs/x.yaml", ins_manifest("absent_csv: [attrs.csv, ids.csv]"))
    result = project.load()
    assert [str(p) for p in result.problems] == [
        "specs/attrs.csv:3: email: this user is located by the email that is deleted as an "
        "identifier at specs/ids.csv:3 (value), in the same manifest: once the identifier is "
        "deleted, the attribute delete can no longer find the user. Split them into two "
        "manifests applied one after the other: first remove the attributes, then delete "
        "the identifier"
    ]


def test_custom_identifier_conflict_in_csv_points_at_its_column(project: Project) -> None:
    project.write("specs/attrs.csv", "custom.loyalty_id,custom_attribute\nL1,tier\n")
    project.write(
        "specs/x.yaml",
        ins_manifest(
            """
            absent:
              - identifiers: [{type: custom.loyalty_id, value: L1}]
            absent_csv: [attrs.csv]
            """
        ),
    )
    result = project.load()
    assert [(p.file, p.line, p.location) for p in result.problems] == [
        ("specs/attrs.csv", 2, "custom.loyalty_id")
    ]


def test_identifier_and_attributes_in_two_manifests_are_not_refused_here(
    project: Project,
) -> None:
    """Across manifests the apply orders them (attributes first); validate lets it be."""
    project.write(
        "specs/a.yaml",
        ins_manifest("absent:\n  - {profile: {email: a@x}, attributes: [name]}", name="attrs"),
    )
    project.write(
        "specs/b.yaml",
        ins_manifest("absent:\n  - identifiers: [{type: email, value: a@x}]", name="ids"),
    )
    result = project.load()
    assert result.problems == []
    assert len(result.desired) == 2


def test_conflicts_are_capped_per_manifest(project: Project) -> None:
    from reconciler.vendors.insider.rules import MAX_CONFLICTS

    n = MAX_CONFLICTS + 4
    project.write("specs/ids.csv", "type,value\n" + "".join(f"email,u{i}@x\n" for i in range(n)))
    project.write(
        "specs/attrs.csv", "email,attribute\n" + "".join(f"u{i}@x,name\n" for i in range(n))
    )
    project.write("specs/x.yaml", ins_manifest("absent_csv: [ids.csv, attrs.csv]"))
    result = project.load()
    assert len(result.problems) == MAX_CONFLICTS + 1
    assert {p.file for p in result.problems[:-1]} == {"specs/attrs.csv"}
    assert [p.line for p in result.problems[:-1]] == list(range(2, MAX_CONFLICTS + 2))
    last = result.problems[-1]
    assert (last.file, last.line, last.message) == (
        "specs/x.yaml",
        None,
        "... and 4 more users whose identifier is deleted too",
    )


def test_an_attributes_only_manifest_is_not_tracked_row_by_row(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A million-row attribute CSV pays no memory for the check when nothing can conflict."""
    from reconciler.vendors.insider.rules import LocatorConflicts

    def fail(self: LocatorConflicts, *args: Any) -> None:
        pytest.fail("tracked a manifest that deletes no identifiers")

    monkeypatch.setattr(LocatorConflicts, "add", fail)
    project.write("specs/attrs.csv", "email,attribute\na@x,name\nb@x,name\n")
    project.write(
        "specs/x.yaml",
        ins_manifest(
            "absent:\n  - {profile: {email: c@x}, attributes: [city]}\nabsent_csv: [attrs.csv]"
        ),
    )
    result = project.load()
    assert result.problems == []
    assert len(result.desired) == 3


def test_a_csv_of_identifiers_alone_makes_the_yaml_attributes_checked(project: Project) -> None:
    project.write("specs/ids.csv", "value,type\na@x,email\n")
    project.write(
        "specs/x.yaml",
        ins_manifest(
            "absent:\n  - {profile: {email: a@x}, attributes: [city]}\nabsent_csv: [ids.csv]"
        ),
    )
    result = project.load()
    assert [(p.file, p.line, p.location) for p in result.problems] == [
        ("specs/x.yaml", 10, "spec.absent[0].profile")
    ]
    assert "specs/ids.csv:2 (value)" in result.problems[0].message


def test_csv_fast_path_loads_what_the_general_path_loads(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows taken by a vendor's csv_canonical make the same desired state (items, order,
    sources) and the same problems as rows that go through entries and items."""
    lines = []
    for i in range(300):
        id_type = ["email", "user_id", "group_id", "Email", "phone"][i % 5]
        value = f"u_{i % 7}" if i % 11 == 0 else f"v{i % 40}@example.com"
        lines.append(f"u_{i % 7},{id_type},{value}\n" if i % 13 else f"u_{i},email,\n")
    project.write("specs/rows.csv", "user_id,type,value\n" + "".join(lines))
    project.write("specs/again.csv", "value,user_id,type\n" + "".join(lines[::-1]))
    project.write("specs/x.yaml", manifest("absent_csv: [rows.csv, again.csv]"))
    fast = project.load()
    monkeypatch.setattr(type(RULES["segment"]), "csv_canonical", lambda self, t, h: None)
    slow = project.load()
    assert len(fast.desired) > 50
    assert list(fast.desired.entries) == list(slow.desired.entries)
    assert [d.sources for d in fast.desired] == [d.sources for d in slow.desired]
    assert fast.problems == slow.problems
