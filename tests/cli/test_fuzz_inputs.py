"""Property tests beyond manifests (issue: deep fuzzing): mutated configs, generated and
mutated CSVs, and mutated ledger lines, through validate, plan and `ledger verify` in
process through the CLI entry point. Whatever the input: no traceback, no exit but 0 or 1,
and an error names its file.

The default profile runs a few hundred examples per test (CI); `pytest
--hypothesis-profile=deep tests/cli/test_validate_fuzz.py tests/cli/test_fuzz_inputs.py`
runs thousands each (the README's "Limits" section gives the last deep run's figures).
"""

from __future__ import annotations

import copy
import json
import random
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.cli.test_validate_fuzz import paths_in, texts, values
from tests.kit.cli import CliResult
from tests.kit.ledger import write_run
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML, FIXTURES

SETTINGS = settings(
    max_examples=max(60, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
KEY_ENV = "FUZZ_LEDGER_KEY"
CONFIG = yaml.safe_load(CONFIG_YAML)
# a problem line: the file (config, a manifest or CSV, a ledger file), maybe a line
NAMED = re.compile(
    r"^(Error: |Warning: )?(the ledger does not verify: [^:\s]+\.jsonl:\d+|"
    r"reconciler\.yaml|specs/[^:]+|(state/)?ledger[^:]*)(:\d+)?"
)


def check(result: CliResult, command: str) -> None:
    event(f"{command}: exit {result.code}")
    assert "Traceback" not in result.output, result.output
    assert "internal error" not in result.output, result.output
    assert result.code in (0, 1) or (command == "plan" and result.code == 2), result.output
    if result.code != 1:
        return
    lines = [t for t in result.err.splitlines() if t.strip()]
    assert lines, "an error exit printed nothing"
    problems = [t for t in lines if not re.fullmatch(r"Error: \d+ problem\(s\) found\.", t)]
    problems = [t for t in problems if not t.startswith(("Warning: ", "Note: "))]
    assert problems, lines
    # every problem names its file; a closing "Error: ..." may sum up the lines before it
    assert any(NAMED.match(t) for t in problems), f"{command}: no file named: {problems}"
    for line in problems:
        if not (line.startswith("Error: ") and len(problems) > 1):
            assert NAMED.match(line), f"{command}: an error that names no file: {line!r}"


def project_with_valid_specs(project: Project) -> Project:
    specs = project.root / "specs"
    if not (specs / "valid").exists():
        shutil.copytree(FIXTURES / "valid", specs / "valid")
    return project


@st.composite
def mutated(draw: st.DrawFn, start: Any) -> Any:
    doc = copy.deepcopy(start)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths_in(doc)))
        if not path:
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(st.sampled_from(["drop", "replace", "string", "key", "url", "env"]))
        if action == "drop":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(values)
        elif action == "key" and isinstance(parent[last], dict):
            parent[last][draw(texts)] = draw(values)
        elif action == "url":
            parent[last] = draw(URLS)
        elif action == "env":
            parent[last] = draw(ENV_NAMES)
        else:
            parent[last] = draw(texts)
    return doc


URLS = st.sampled_from(
    [
        "http://127.0.0.1:1",
        "http://example.com",
        "https://user:pw@example.com",
        "https://[::1",
        "https://x/\n",
        "ftp://x",
        "https://rest.iad-01.braze.com/",
        "http://[::1]:8080",
        "http://localhost.",
    ]
)
ENV_NAMES = st.sampled_from(["OK_NAME", "1BAD", "has space", "", "AGE-SECRET-KEY-1X", "A" * 300])


@SETTINGS
@given(doc=mutated(CONFIG), flow=st.booleans())
def test_mutated_configs_never_crash_validate_or_plan(
    project: Project, doc: Any, flow: bool
) -> None:
    project_with_valid_specs(project).write(
        "reconciler.yaml", yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True)
    )
    check(project.run("validate"), "validate")
    check(project.run("plan"), "plan")


SEGMENT_HEADER = ["user_id", "type", "value"]
CELLS = st.one_of(
    texts,
    st.sampled_from(
        [
            "u_1001",
            "email",
            "phone",
            "jane@old-domain.example",
            "=cmd|' /C calc'!A0",
            "@SUM(1+1)",
            '"',
            '""',
            "a,b",
            "a\nb",
            "a\r\nb",
            "\x00",
            "\ufeff",
            " x ",
            "x" * 2000,
        ]
    ),
)


def csv_cell(cell: str, quote: bool) -> str:
    return '"' + cell.replace('"', '""') + '"' if quote else cell


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    header = draw(
        st.one_of(
            st.just(SEGMENT_HEADER),
            st.lists(st.sampled_from([*SEGMENT_HEADER, "external_id", "x", ""]), max_size=4),
        )
    )
    rows = draw(
        st.lists(
            st.lists(CELLS, min_size=0, max_size=5).map(lambda r: r or [""]),
            max_size=6,
        )
    )
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quote = draw(st.booleans())
    text = end.join(",".join(csv_cell(c, quote) for c in row) for row in [header, *rows])
    data = (text + draw(st.sampled_from(["", end]))).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):  # byte-level damage: flips, cuts, insertions
        buf = bytearray(data)
        rnd = random.Random(draw(st.integers(0, 2**32)))
        for _ in range(rnd.randint(1, 4)):
            if not buf:
                break
            at = rnd.randrange(len(buf))
            choice = rnd.random()
            if choice < 0.4:
                buf[at] = rnd.randrange(256)
            elif choice < 0.7:
                del buf[at:]
            else:
                buf[at:at] = bytes([rnd.choice([0, 0x22, 0x2C, 0x0A, 0x0D, 0xFF, 0xEF])])
        data = bytes(buf)
    return data


@SETTINGS
@given(data=csv_texts())
def test_generated_and_mutated_csvs_never_crash_validate_or_plan(
    project: Project, data: bytes
) -> None:
    project_with_valid_specs(project).write("specs/valid/segment.csv", data)
    check(project.run("validate"), "validate")
    check(project.run("plan"), "plan")


@pytest.fixture
def keyed(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.setenv(KEY_ENV, "fuzz-ledger-key-0123456789")
    config = CONFIG_YAML.replace(
        "  path: state/ledger\n", f"  path: state/ledger\n  key_env: {KEY_ENV}\n"
    )
    project.write("reconciler.yaml", config)
    return project_with_valid_specs(project)


def valid_ledger(project: Project) -> Path:
    """A ledger of one apply run (every outcome), made once per test function."""
    runs = project.root / "state/ledger/runs"
    if (project.root / "state/ledger").exists():
        shutil.rmtree(project.root / "state/ledger")
    seed = project.run("plan", "--format", "json")  # creates nothing on disk
    assert seed.code == 0
    from reconciler.cli.env import ledger_key
    from reconciler.ledger.store import create_ledger
    from reconciler.plan.keys import Fingerprinter

    key = ledger_key(project.config())
    assert key is not None
    create_ledger(project.root / "state/ledger", Fingerprinter.keyed(key))
    plan = json.loads(seed.out)
    outcomes = ["done", "done-absent", "accepted", "failed", "rejected", "unknown"]
    rows = [
        (a["fingerprint"], a["target"], outcomes[i % len(outcomes)])
        for i, a in enumerate(plan["actions"])
    ]
    write_run(project.root / "state/ledger", rows, run_id="aaaa0001", key=key)
    (path,) = runs.glob("*.jsonl")
    return path


@st.composite
def ledger_damage(draw: st.DrawFn) -> list[tuple[str, int, Any]]:
    kinds = ["flip", "cut", "drop", "dup", "swap", "field", "junk", "future", "blank"]
    return draw(
        st.lists(
            st.tuples(st.sampled_from(kinds), st.integers(0, 10_000), values),
            min_size=1,
            max_size=3,
        )
    )


def damage(lines: list[bytes], edits: list[tuple[str, int, Any]]) -> list[bytes]:
    for kind, n, value in edits:
        if not lines:
            break
        i = n % len(lines)
        line = lines[i]
        if kind == "flip" and line:
            b = bytearray(line)
            b[n % len(b)] ^= 1 << (n % 8)
            lines[i] = bytes(b)
        elif kind == "cut":
            lines[i] = line[: n % (len(line) + 1)]
        elif kind == "drop":
            del lines[i]
        elif kind == "dup":
            lines.insert(i, line)
        elif kind == "swap" and len(lines) > 1:
            j = (i + 1) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
        elif kind in ("field", "future"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record:
                keys = sorted(record)
                name = "ts" if kind == "future" else keys[n % len(keys)]
                record[name] = "2999-01-01T00:00:00Z" if kind == "future" else value
                lines[i] = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
        elif kind == "junk":
            lines.insert(i, json.dumps(value).encode() if n % 2 else b"\xff\x00not json")
        elif kind == "blank":
            lines.insert(i, b"")
    return lines


@SETTINGS
@given(edits=ledger_damage())
def test_mutated_ledger_lines_never_crash_verify_or_plan(keyed: Project, edits) -> None:
    path = valid_ledger(keyed)
    lines = damage(path.read_bytes().split(b"\n")[:-1], edits)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    verify = keyed.run("ledger", "verify")
    check(verify, "ledger verify")
    check(keyed.run("plan"), "plan")
    if verify.code == 1:  # names the ledger file (as ledger/<file>: see the report)
        assert ".jsonl" in verify.output, verify.output


def test_the_unmutated_ledger_verifies(keyed: Project) -> None:
    """A control for the test above: its starting ledger is valid and holds each state."""
    valid_ledger(keyed)
    result = keyed.run("ledger", "verify")
    assert result.code == 0, result.output
    assert keyed.run("plan").code == 0
