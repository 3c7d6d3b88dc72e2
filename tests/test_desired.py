"""Canonical form and fingerprints: one spelling per item, whatever the YAML looked like."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from typing import Any

import pytest

from reconciler.desired import (
    KEYED,
    SALTED,
    DesiredState,
    Fingerprinter,
    Item,
    Source,
    canonical_json,
)
from tests.kit.project import Project
from tests.kit.specs import FIXTURES, REPO_ROOT

FORMATS = ["block", "flow", "quoted", "reordered", "anchors", "windows"]

JANE_EMAIL = Item(
    "seg",
    "segment",
    {"user_id": "u_1"},
    {"kind": "identifier", "type": "email", "value": "jane@example.com"},
)


def canonical_set(project: Project, *paths: str) -> set[bytes]:
    result = project.load(*paths)
    assert result.problems == []
    return {d.item.canonical() for d in result.desired}


@pytest.fixture
def formats(project: Project) -> Project:
    for src in (FIXTURES / "formats").iterdir():
        shutil.copyfile(src, project.root / "specs" / src.name)
    return project


# -- canonical form ------------------------------------------------------------------------


def test_canonical_bytes_are_compact_sorted_json_of_target_locator_removal() -> None:
    assert JANE_EMAIL.canonical() == (
        b'["seg",{"user_id":"u_1"},{"kind":"identifier","type":"email","value":"jane@example.com"}]'
    )


def test_canonical_does_not_depend_on_key_order() -> None:
    a = Item(
        "ins", "insider", {"custom": {"a": "1"}}, {"kind": "attribute", "name": "n", "custom": True}
    )
    b = Item(
        "ins", "insider", {"custom": {"a": "1"}}, {"custom": True, "name": "n", "kind": "attribute"}
    )
    assert a.canonical() == b.canonical()
    assert (
        canonical_json({"b": [1, {"d": 1, "c": 2}], "a": None})
        == '{"a":null,"b":[1,{"c":2,"d":1}]}'
    )


def test_canonical_keeps_non_ascii_as_utf8() -> None:
    item = Item(
        "seg", "segment", {"user_id": "ü"}, {"kind": "identifier", "type": "email", "value": "é@x"}
    )
    assert "é@x".encode() in item.canonical()


@pytest.mark.parametrize("fmt", FORMATS)
def test_reformatted_yaml_gives_the_same_items(formats: Project, fmt: str) -> None:
    assert canonical_set(formats, f"specs/{fmt}.yaml") == canonical_set(formats, "specs/block.yaml")


def test_a_csv_row_and_a_yaml_entry_give_the_same_item(formats: Project) -> None:
    yaml_items = canonical_set(formats, "specs/block.yaml")
    csv_items = canonical_set(formats, "specs/csv.yaml")
    assert len(csv_items) == 2
    assert csv_items < yaml_items


def test_the_same_items_in_many_manifests_are_one_desired_item_each_with_every_source(
    formats: Project,
) -> None:
    result = formats.load()
    assert result.problems == []
    assert len(result.desired) == 4  # two segment identifiers, two insider attribute values
    by_value = {d.item.removal["value"]: d for d in result.desired}
    email = by_value["jane@example.com"]
    assert email.item == JANE_EMAIL
    assert sorted(s.manifest for s in email.sources) == sorted(
        [
            "fmt-anchors-seg",
            "fmt-anchors-seg",
            "fmt-block-seg",
            "fmt-csv-seg",
            "fmt-flow-seg",
            "fmt-quoted-seg",
            "fmt-reordered-seg",
            "fmt-windows-seg",
        ]
    )
    # the anchors file lists the email twice (two entries): two sources from it, not two items
    anchors = [s for s in email.sources if s.manifest == "fmt-anchors-seg"]
    assert [s.line for s in anchors] == [11, 15]
    csv_source = next(s for s in email.sources if s.manifest == "fmt-csv-seg")
    assert csv_source == Source("fmt-csv-seg", "specs/same.csv", 3)
    assert len(by_value[12].sources) == len(FORMATS)


def test_same_item_in_two_manifests_gives_two_sources_in_first_declared_order(
    project: Project,
) -> None:
    body = """\
apiVersion: reconciler/v1
kind: Removal
metadata: {{name: {name}, owner: o, reason: r}}
spec:
  target: seg
  absent:
    - profile: {{user_id: u_1}}
      identifiers: [{{type: email, value: jane@example.com}}]
"""
    project.write("specs/a.yaml", body.format(name="first"))
    project.write("specs/b.yaml", body.format(name="second"))
    result = project.load()
    assert result.problems == []
    [only] = list(result.desired)
    assert only.item == JANE_EMAIL
    assert only.sources == [Source("first", "specs/a.yaml", 7), Source("second", "specs/b.yaml", 7)]
    assert str(only.sources[0]) == "specs/a.yaml:7 (first)"


# -- fingerprints --------------------------------------------------------------------------


def test_keyed_fingerprint_is_hmac_sha256_of_the_canonical_bytes() -> None:
    fp = Fingerprinter.keyed(b"k" * 32)
    assert fp.scheme == KEYED
    assert fp(JANE_EMAIL) == hmac.new(b"k" * 32, JANE_EMAIL.canonical(), hashlib.sha256).hexdigest()


def test_salted_fingerprint_is_sha256_of_salt_then_canonical_bytes() -> None:
    fp = Fingerprinter.salted(b"s" * 16)
    assert fp.scheme == SALTED
    assert fp(JANE_EMAIL) == hashlib.sha256(b"s" * 16 + JANE_EMAIL.canonical()).hexdigest()


def test_keyed_and_salted_differ_for_the_same_secret() -> None:
    secret = b"same-secret-bytes"
    assert Fingerprinter.keyed(secret)(JANE_EMAIL) != Fingerprinter.salted(secret)(JANE_EMAIL)


def test_different_keys_or_salts_give_different_fingerprints() -> None:
    assert Fingerprinter.keyed(b"a")(JANE_EMAIL) != Fingerprinter.keyed(b"b")(JANE_EMAIL)
    assert Fingerprinter.salted(b"a")(JANE_EMAIL) != Fingerprinter.salted(b"b")(JANE_EMAIL)


def test_fingerprint_is_hex_and_never_holds_the_value() -> None:
    digest = Fingerprinter.salted(b"salt")(JANE_EMAIL)
    assert len(digest) == 64
    int(digest, 16)
    assert "jane" not in digest


def test_key_id_is_stable_distinct_and_reveals_nothing() -> None:
    key = b"super-secret-ledger-key"
    keyed = Fingerprinter.keyed(key)
    assert keyed.key_id == Fingerprinter.keyed(key).key_id
    assert keyed.key_id != Fingerprinter.keyed(b"another-key").key_id
    assert len(keyed.key_id) == 16
    assert key.hex() not in keyed.key_id and key.decode() not in keyed.key_id
    assert keyed.key_id not in hashlib.sha256(key).hexdigest()  # not a plain hash prefix
    assert keyed.key_id != keyed(JANE_EMAIL)[:16]
    assert "super-secret" not in repr(keyed)


# -- the desired state ---------------------------------------------------------------------


def test_desired_state_add_dedupes_items_and_sources() -> None:
    state = DesiredState()
    s1, s2 = Source("m1", "a.yaml", 3), Source("m2", "b.yaml", 9)
    reordered = Item(
        "seg", "segment", {"user_id": "u_1"}, dict(reversed(JANE_EMAIL.removal.items()))
    )
    state.add(JANE_EMAIL, s1)
    state.add(reordered, s1)
    state.add(reordered, s2)
    assert len(state) == 1
    [only] = list(state)
    # the state keeps canonical bytes (compact at millions of items) and rebuilds the item
    assert only.item == JANE_EMAIL
    assert only.sources == [s1, s2]


def test_for_targets_and_digest() -> None:
    other = Item("braze", "braze", {"external_id": "e"}, {"kind": "profile"})
    src = Source("m", "f.yaml", 1)
    a, b = DesiredState(), DesiredState()
    a.add(JANE_EMAIL, src)
    a.add(other, src)
    b.add(other, Source("elsewhere", "g.yaml", 5))
    b.add(JANE_EMAIL, src)
    key = Fingerprinter.keyed(b"k")
    assert a.digest(key) == b.digest(key)  # order and sources do not matter
    assert [d.item for d in a.for_targets(["braze"])] == [other]
    assert len(a.for_targets(["nope"])) == 0
    assert a.for_targets(["braze"]).digest(key) != a.digest(key)
    # keyed: without the key, a one-item set's digest cannot be matched to a guess
    assert a.digest(Fingerprinter.keyed(b"other")) != a.digest(key)
    assert DesiredState().digest(key) == key.of_bytes(hashlib.sha256().digest())


# -- no collisions across the corpus -------------------------------------------------------


def _identity(value: Any) -> Any:
    """A structural identity independent of JSON: type-tagged, order-free for mappings."""
    if isinstance(value, dict):
        return ("map", tuple(sorted((k, _identity(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(_identity(v) for v in value))
    return (type(value).__name__, value)


def _generated_items() -> list[Item]:
    """Near-misses: values that differ by one character, by type, by target, by kind."""
    items: list[Item] = []
    for target in ("seg", "seg2"):
        for uid in ("u_1", "u_11", "u_1 ", "U_1", '"u_1"', "u_1\\"):
            for type_ in ("email", "phone", "user_id"):
                for value in ("a@x", "a@x.", '","', "[", "\u00e9", "e\u0301"):
                    items.append(
                        Item(
                            target,
                            "segment",
                            {"user_id": uid},
                            {"kind": "identifier", "type": type_, "value": value},
                        )
                    )
    for value in (1, 1.0, 1.5, True, "1", "true", 0, False, "", "0"):
        for custom in (False, True):
            items.append(
                Item(
                    "ins",
                    "insider",
                    {"uuid": "u"},
                    {"kind": "attribute_value", "name": "n", "value": value, "custom": custom},
                )
            )
    items.append(
        Item("ins", "insider", {"uuid": "u"}, {"kind": "attribute", "name": "n", "custom": False})
    )
    items.append(
        Item("ins", "insider", {"email": "u"}, {"kind": "attribute", "name": "n", "custom": False})
    )
    items.append(
        Item(
            "ins",
            "insider",
            {"custom": {"email": "u"}},
            {"kind": "attribute", "name": "n", "custom": False},
        )
    )
    for pri in (
        ["identified"],
        ["unidentified"],
        ["identified", "most_recently_updated"],
        ["most_recently_updated", "identified"],
    ):
        items.append(
            Item("braze", "braze", {"email": "a@x", "prioritization": pri}, {"kind": "profile"})
        )
    items.append(Item("braze", "braze", {"email": "a@x"}, {"kind": "profile"}))
    return items


def test_distinct_items_never_share_a_canonical_form_or_fingerprint(project: Project) -> None:
    project.add_valid()
    for src in (FIXTURES / "formats").iterdir():
        shutil.copyfile(src, project.root / "specs" / src.name)
    shutil.copytree(REPO_ROOT / "specs" / "examples", project.root / "specs" / "examples")
    extra_targets = (REPO_ROOT / "reconciler.yaml").read_text().split("targets:\n", 1)[1]
    project.write("reconciler.yaml", (project.root / "reconciler.yaml").read_text() + extra_targets)
    result = project.load()
    assert result.problems == []
    corpus = [d.item for d in result.desired] + _generated_items()
    assert len(corpus) > 300

    identities = {_identity([i.target, i.locator, i.removal]) for i in corpus}
    canonicals = {i.canonical() for i in corpus}
    keyed = Fingerprinter.keyed(b"corpus-key")
    salted = Fingerprinter.salted(b"corpus-salt")
    assert len(canonicals) == len(identities)
    assert len({keyed(i) for i in corpus}) == len(identities)
    assert len({salted(i) for i in corpus}) == len(identities)
