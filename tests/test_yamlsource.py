"""YAML loading that keeps lines, reports duplicate keys, and turns every bad input into a
located YamlSyntaxError (never another exception)."""

from __future__ import annotations

import pytest

from reconciler.yamlsource import (
    MAX_ALIAS_EXPANSION,
    Document,
    YamlSyntaxError,
    format_path,
    load_documents,
)


def one(text: str) -> Document:
    [doc] = list(load_documents(text))
    return doc


def test_lines_are_recorded_for_every_path_at_the_key() -> None:
    doc = one(
        "a: 1\n"  # 1
        "b:\n"  # 2
        "  c:\n"  # 3
        "    - x\n"  # 4
        "    - {d: 2,\n"  # 5
        "       e: 3}\n"  # 6
    )
    assert doc.data == {"a": 1, "b": {"c": ["x", {"d": 2, "e": 3}]}}
    assert doc.lines[("a",)] == 1
    assert doc.lines[("b",)] == 2
    assert doc.lines[("b", "c")] == 3
    assert doc.lines[("b", "c", 0)] == 4
    assert doc.lines[("b", "c", 1)] == 5
    assert doc.lines[("b", "c", 1, "e")] == 6


def test_line_of_falls_back_to_the_deepest_existing_node_then_the_document() -> None:
    doc = one("a:\n  b: 1\n")
    assert doc.line_of(("a", "b", "missing", 3)) == 2
    assert doc.line_of(("zzz",)) == 1
    docs = list(load_documents("x: 1\n---\n\ny: 2\n"))
    assert [d.start_line for d in docs] == [1, 4]
    assert docs[1].line_of(("nope",)) == 4


def test_multiple_documents_and_empty_ones() -> None:
    docs = list(load_documents("---\na: 1\n---\n---\nb: 2\n"))
    assert [d.data for d in docs] == [{"a": 1}, None, {"b": 2}]
    assert list(load_documents("")) == []


def test_duplicate_keys_are_reported_and_the_first_kept() -> None:
    doc = one("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert doc.data == {"a": 1, "b": {"c": 1}}
    assert doc.duplicate_keys == [(("b", "c"), 4), (("a",), 5)]


def test_non_string_keys_become_strings() -> None:
    assert one("1: a\ntrue: b\nnull: c\n").data == {"1": "a", "True": "b", "None": "c"}


def test_merge_keys_follow_yaml_semantics_and_are_not_duplicates() -> None:
    doc = one(
        "base: &b {x: 1, y: 2}\n"
        "more: &m {y: 3, z: 4}\n"
        "one:\n"
        "  <<: *b\n"
        "  y: 9\n"
        "two:\n"
        "  <<: [*b, *m]\n"
    )
    assert doc.duplicate_keys == []
    assert doc.data["one"] == {"x": 1, "y": 9}  # a key written here overrides the merged one
    assert doc.data["two"] == {"x": 1, "y": 2, "z": 4}  # earlier merged mappings win
    assert doc.lines[("one", "y")] == 5


def test_a_key_written_twice_next_to_a_merge_is_still_a_duplicate() -> None:
    doc = one("base: &b {x: 1}\none:\n  <<: *b\n  x: 2\n  x: 3\n")
    assert doc.data["one"] == {"x": 2}
    assert doc.duplicate_keys == [(("one", "x"), 5)]


def test_aliases_are_expanded_per_path() -> None:
    doc = one("a: &p {user_id: u}\nb: *p\n")
    assert doc.data == {"a": {"user_id": "u"}, "b": {"user_id": "u"}}
    assert doc.lines[("b",)] == 2


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("a: [1, 2\nb: 3\n", 2, "YAML syntax error"),
        ("a:\n\tb: 1\n", 2, "YAML syntax error"),
        ("a: 'unterminated\n", 1, "YAML syntax error"),
        ("a: 1\n b: 2\n", 2, "YAML syntax error"),
        ("a: *undefined\n", 1, "undefined alias"),
        ("a: !!int abc\n", 1, "cannot read 'abc' as !!int"),
        ("a: !!float abc\n", 1, "cannot read 'abc' as !!float"),
        ("x: 1\na: !!timestamp 2026-13-45T99\n", 2, "!!timestamp"),
        ("a: !!timestamp soon\n", 1, "cannot read 'soon' as !!timestamp"),
        ("a: !!python/object:os.system ls\n", 1, "YAML syntax error"),
        ("a: !custom x\n", 1, "YAML syntax error"),
        ("<<: 1\n", 1, "merging"),
        ("a: &x [*x]\n", 1, "contains it"),
        ("a: &x {b: *x}\n", 1, "contains it"),
        ("a: " + "9" * 5000 + "\n", 1, "integer string conversion"),
        ("ok: 1\nbad: \x01\n", 2, "unacceptable character"),
        ("? [a, [b]]\n: 1\n? {[1]: 2}\n: 2\n", 3, "unhashable"),
    ],
)
def test_bad_yaml_is_a_located_yaml_syntax_error(text, line, fragment) -> None:
    with pytest.raises(YamlSyntaxError) as info:
        list(load_documents(text))
    assert info.value.line == line
    assert fragment in info.value.message
    assert "\n" not in info.value.message


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlSyntaxError, match="nested too deeply"):
        list(load_documents("a: " + "[" * 1000 + "]" * 1000 + "\n"))


def test_an_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefghi":  # 10**9 leaves if expanded
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
        prev = name
    with pytest.raises(YamlSyntaxError) as info:
        list(load_documents("\n".join(lines) + "\n"))
    assert f"more than {MAX_ALIAS_EXPANSION}" in info.value.message


def test_moderate_alias_reuse_is_fine() -> None:
    text = "p: &p {user_id: u, type: email}\nlist:\n" + "".join("  - *p\n" for _ in range(500))
    assert len(one(text).data["list"]) == 500


def test_bad_document_after_good_ones_stops_at_the_bad_line() -> None:
    docs = load_documents("a: 1\n---\nb: [\n")
    assert next(docs).data == {"a": 1}
    with pytest.raises(YamlSyntaxError) as info:
        next(docs)
    assert info.value.line == 4


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        (("spec", "absent", 2, "profile"), "spec.absent[2].profile"),
        ((), ""),
        (("a",), "a"),
        ((0, "x"), "[0].x"),
        (("targets", "seg", "rate_limit", "per"), "targets.seg.rate_limit.per"),
    ],
)
def test_format_path(path, shown) -> None:
    assert format_path(path) == shown
