"""Property tests: whatever is in specs/, `reconcile validate` exits 0 or 1, never crashes,
and every problem line names its file."""

from __future__ import annotations

import copy
import re
import shutil
from typing import Any

import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.kit.cli import CliResult
from tests.kit.project import Project
from tests.kit.specs import FIXTURES

FUZZ_FILE = "specs/fuzz.yaml"
PROBLEM_LINE = re.compile(r"^specs/[^:]+(:\d+)?: .")
# at least 200 examples each; more under a profile that asks (`--hypothesis-profile=deep`)
FUZZ_SETTINGS = settings(
    max_examples=max(200, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Strings the rules care about, so mutations hit vendor rules and not only the schema.
INTERESTING = [
    "",
    " ",
    "seg",
    "braze",
    "mem",
    "ins",
    "nope",
    "reconciler/v1",
    "Removal",
    "user_id",
    "group_id",
    "email",
    "phone_number",
    "uuid",
    "custom.",
    "custom.loyalty_id",
    "identified",
    "unidentified",
    "most_recently_updated",
    "+6598765432",
    "0098765432",
    "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5",
    "mem_profile_x",
    "u_1001",
    "segment.csv",
    "missing.csv",
    "../segment.csv",
    "a\x00b.csv",
    "x" * 300,
    "2026-11-02",
    "yes",
    "~",
]

texts = st.one_of(
    st.sampled_from(INTERESTING),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(texts, children, max_size=4),
    ),
    max_leaves=12,
)


def valid_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((FIXTURES / "valid").glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d is not None)
    return docs


VALID = valid_documents()


def paths_in(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found += paths_in(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += paths_in(v, (*prefix, i))
    return found


@st.composite
def mutated_manifests(draw: st.DrawFn) -> Any:
    doc = copy.deepcopy(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        path = draw(st.sampled_from(paths_in(doc)))
        if not path:
            doc = draw(st.one_of(st.just(doc), values))
            continue
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        last = path[-1]
        action = draw(
            st.sampled_from(["drop", "replace", "unknown_key", "random_string", "duplicate"])
        )
        if action == "drop":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(values)
        elif action == "random_string":
            parent[last] = draw(texts)
        elif action == "unknown_key" and isinstance(parent[last], dict):
            parent[last][draw(texts)] = draw(values)
        elif action == "duplicate" and isinstance(parent[last], list) and parent[last]:
            parent[last].append(copy.deepcopy(parent[last][0]))
        else:
            parent[last] = draw(values)
    return doc


def dump(doc: Any, flow: bool) -> str:
    return yaml.safe_dump(doc, default_flow_style=flow, allow_unicode=True, sort_keys=False)


def check(result: CliResult, well_formed: bool) -> None:
    event(f"exit {result.code}")  # shown by --hypothesis-show-statistics
    assert "Traceback" not in result.output
    assert "internal error" not in result.output, result.output
    if well_formed:
        assert result.code in (0, 1), result.output
    if result.code == 0:
        assert result.out.startswith("Success! ")
        assert result.err == ""
        return
    assert result.code == 1, result.output
    lines = result.err.splitlines()
    assert lines, "an error exit printed nothing"
    assert re.fullmatch(r"Error: \d+ problem\(s\) found\.", lines[-1]), lines[-1]
    for line in lines[:-1]:
        assert PROBLEM_LINE.match(line), f"problem line does not name a file: {line!r}"


def fresh(project: Project) -> Project:
    """specs/ holds the valid fixtures' CSVs (so absent_csv resolves) and one fuzz file."""
    specs = project.root / "specs"
    if not (specs / "segment.csv").exists():
        for csv in (FIXTURES / "valid").glob("*.csv"):
            shutil.copyfile(csv, specs / csv.name)
    return project


@FUZZ_SETTINGS
@given(doc=values, flow=st.booleans())
def test_random_yaml_documents_never_crash_validate(project: Project, doc: Any, flow: bool) -> None:
    fresh(project).write(FUZZ_FILE, dump(doc, flow))
    result = project.run("validate")
    check(result, well_formed=True)
    if result.code == 1:
        assert FUZZ_FILE in result.err


@FUZZ_SETTINGS
@given(doc=mutated_manifests(), flow=st.booleans())
def test_mutated_valid_manifests_never_crash_validate(
    project: Project, doc: Any, flow: bool
) -> None:
    fresh(project).write(FUZZ_FILE, dump(doc, flow))
    result = project.run("validate")
    check(result, well_formed=True)


@FUZZ_SETTINGS
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from(list("{}[]:-,#&*!|>'\"%@`?\n\t ")),
            st.characters(blacklist_categories=("Cs",)),
        ),
        max_size=80,
    )
)
def test_random_text_never_crashes_validate(project: Project, text: str) -> None:
    fresh(project).write(FUZZ_FILE, text)
    result = project.run("validate")
    check(result, well_formed=False)
    assert result.code in (0, 1)


def test_the_unmutated_documents_are_valid(project: Project) -> None:
    """The mutation test starts from manifests that validate: a control for the above."""
    for i, doc in enumerate(VALID):
        fresh(project).write(FUZZ_FILE, dump(doc, flow=i % 2 == 0))
        result = project.run("validate")
        assert result.code == 0, result.output
