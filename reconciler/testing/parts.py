"""The conformance check of a vendor's part of the manifest schema (`manifest_part()`,
shipped as `manifest.part.json` beside the vendor's package).

What `reconcile validate` and the editors' schema make of the part (vendors/schemas.py,
vendors/kit.standard_entry_schema) is only as sound as the part itself, and a mistake
there shows late and far away: a `$ref` that points nowhere fails on the first manifest
that reaches it, a rule without its message prints jsonschema's words, a locator key
shaped differently from another vendor's of the same name is silently replaced by the
first one's (kit.merged keeps the first one's rules). So the kit checks that:

- the file (when the package ships one) is JSON, an object holding only `$comment`,
  `locator`, `spec` (`properties`, `rules`) and `examples`; the part as returned is JSON;
- each `locator` key is a valid JSON Schema fragment once composed into
  vendors/entry.schema.json (every `$ref` local and resolving there);
- the `spec` properties and rules are valid schema in the composed manifest schema, each
  rule an if/then whose `then` carries the message validate prints (`x-required` for a
  required key, `x-message` on each property and for any other assertion), naming only
  spec keys that exist;
- every `examples` spec makes a manifest valid against the manifest schema that validate
  uses for this vendor's targets, its entries valid against the vendor's entry schema,
  and passes the vendor's spec rules;
- no locator key has another installed vendor's name with a different shape.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import jsonschema

from reconciler.schemas import schema_errors_with
from reconciler.testing.subject import Subject
from reconciler.vendors.api import Vendor
from reconciler.vendors.kit import package_schema
from reconciler.vendors.registry import installed
from reconciler.vendors.schemas import manifest_schema

PART_FILE = "manifest.part.json"
PART_KEYS = frozenset({"$comment", "locator", "spec", "examples"})
SPEC_KEYS = frozenset({"properties", "rules"})
# keywords that say nothing a validator checks: two locator keys differing only in
# these have the same shape
_ANNOTATIONS = frozenset({"description", "examples", "$comment", "title"})
# a rule's `then` keywords that need no x-message of their own
_THEN_OWN = frozenset({"required", "properties", "x-required", "x-message", *_ANNOTATIONS})
EXAMPLE_METADATA = {"name": "conformance-example", "owner": "conformance", "reason": "a test"}


def part_text(vendor: Vendor) -> str | None:
    """The text of the `manifest.part.json` the vendor's package ships, if it ships one."""
    module = sys.modules.get(type(vendor).__module__)
    if module is None:
        return None
    package = module.__name__ if hasattr(module, "__path__") else module.__package__
    if not package:
        return None
    try:
        found = resources.files(package).joinpath(PART_FILE)
    except (ModuleNotFoundError, TypeError):
        return None
    return found.read_text("utf-8") if found.is_file() else None


def check_manifest_part(s: Subject) -> Iterator[str]:
    v = s.vendor
    text = part_text(v)
    if text is not None:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            yield f"{PART_FILE} is not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
            return
    part = v.manifest_part()
    try:
        if json.loads(json.dumps(part)) != part:
            yield "manifest_part() does not come back the same through JSON"
    except (TypeError, ValueError) as exc:
        yield f"manifest_part() is not JSON data: {exc}"
        return
    if not isinstance(part, Mapping):
        yield "manifest_part() must be a JSON object"
        return
    for key in sorted(set(part) - PART_KEYS):
        yield f"{PART_FILE}: unknown key {key!r} (allowed: {', '.join(sorted(PART_KEYS))})"
    spec = part.get("spec", {})
    if not isinstance(spec, Mapping):
        yield f"{PART_FILE}: spec must be an object"
        return
    for key in sorted(set(spec) - SPEC_KEYS):
        yield f"{PART_FILE}: unknown key spec.{key} (allowed: properties, rules)"
    locator = part.get("locator", {})
    if not isinstance(locator, Mapping):
        yield f"{PART_FILE}: locator must be an object of locator keys"
        locator = {}
    yield from _locator_problems(locator)
    yield from _collisions(v, locator)
    examples = part.get("examples", [])
    shapes = list(_example_shapes(examples))
    if shapes:  # the schema cannot be composed with them
        yield from shapes
        return
    problems = list(_spec_problems(v, spec))
    yield from problems
    if not problems:  # the examples are checked against a schema that is sound
        yield from _example_problems(s, examples)


def _schema_problems(schema: Mapping[str, Any], what: str) -> Iterator[str]:
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = "/".join(map(str, exc.path))
        yield f"{what} is not a valid JSON Schema{f' at {at}' if at else ''}: {exc.message}"
        return
    for ref in _refs(schema):
        if not _resolves(ref, schema):
            yield f"{what}: $ref {ref!r} points nowhere (only local #/... references resolve)"


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            elif key not in ("examples", "const", "enum"):
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolves(ref: str, root: Mapping[str, Any]) -> bool:
    if not ref.startswith("#"):
        return False
    node: Any = root
    for part in (p for p in ref[1:].split("/") if p):
        name = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and name in node:
            node = node[name]
        elif isinstance(node, list) and name.isdigit() and int(name) < len(node):
            node = node[int(name)]
        else:
            return False
    return True


def _locator_problems(locator: Mapping[str, Any]) -> Iterator[str]:
    for key, sub in locator.items():
        if not isinstance(sub, Mapping):
            yield f"{PART_FILE}: locator.{key} must be a schema (an object)"
            continue
        entry = copy.deepcopy(package_schema("reconciler.vendors", "entry.schema.json"))
        entry["$defs"]["locator"]["properties"] = {key: sub}
        yield from _schema_problems(entry, f"{PART_FILE}: locator.{key}")


def _shape(node: Any) -> Any:
    """A schema without its annotations: what a validator checks."""
    if isinstance(node, Mapping):
        return {k: _shape(v) for k, v in node.items() if k not in _ANNOTATIONS}
    if isinstance(node, list):
        return [_shape(v) for v in node]
    return node


def _collisions(v: Vendor, locator: Mapping[str, Any]) -> Iterator[str]:
    for other_name, other in sorted(installed().vendors.items()):
        if other_name == v.name:
            continue
        theirs = other.manifest_part().get("locator", {})
        for key in sorted(set(locator) & set(theirs)):
            if _shape(locator[key]) != _shape(theirs[key]):
                yield (
                    f"{PART_FILE}: locator key {key!r} has another shape in {other_name}'s "
                    "part: the entry schema has one shape per key (the first vendor's wins), "
                    "so one of the two would be checked against the other's; use the same "
                    "shape or another name"
                )


def _spec_problems(v: Vendor, spec: Mapping[str, Any]) -> Iterator[str]:
    props = spec.get("properties", {})
    rules = spec.get("rules", [])
    if not isinstance(props, Mapping) or not isinstance(rules, list):
        yield f"{PART_FILE}: spec.properties must be an object and spec.rules a list"
        return
    composed = _composed(v, checked=False)
    spec_schema = composed["properties"]["spec"]
    known = set(spec_schema["properties"])
    for key, sub in props.items():
        holder = {**composed, "properties": {"spec": {"properties": {key: sub}}}}
        yield from _schema_problems(holder, f"{PART_FILE}: spec.properties.{key}")
    for i, rule in enumerate(rules):
        what = f"{PART_FILE}: spec.rules[{i}]"
        if not isinstance(rule, Mapping) or "if" not in rule or "then" not in rule:
            yield f"{what} must be an if/then schema (the rule applies when `if` holds)"
            continue
        holder = {**composed, "properties": {"spec": {"allOf": [rule]}}}
        yield from _schema_problems(holder, what)
        yield from _then_problems(rule["then"], what, known)


def _then_problems(then: Any, what: str, known: set[str]) -> Iterator[str]:
    if not isinstance(then, Mapping):
        yield f"{what}.then must be an object"
        return
    required = then.get("required", [])
    if required and not isinstance(then.get("x-required"), str):
        yield (
            f"{what}.then requires {', '.join(map(str, required))} but has no x-required: "
            "validate would print jsonschema's words, not why the vendor needs it"
        )
    props = then.get("properties", {})
    for key, sub in props.items() if isinstance(props, Mapping) else ():
        if not isinstance(sub, Mapping) or not isinstance(sub.get("x-message"), str):
            yield f"{what}.then.properties.{key} has no x-message: the message validate prints"
    others = sorted(set(then) - _THEN_OWN)
    if others and not isinstance(then.get("x-message"), str):
        yield f"{what}.then asserts {', '.join(others)} without an x-message"
    named = [*(required if isinstance(required, list) else []), *props]
    for key in named:
        if key not in known:
            yield (
                f"{what}.then names spec.{key}, which no part declares in spec.properties: "
                "a manifest could never satisfy it (the spec takes no unknown key)"
            )


def _composed(v: Vendor, checked: bool) -> dict[str, Any]:
    """The manifest schema with the installed vendors and `v` (in place of any installed
    one of its name); `checked`: as validate uses it for `v`'s targets."""
    others = [o for n, o in installed().vendors.items() if n != v.name]
    return manifest_schema([*others, v], (v.name,) if checked else None)


def _example_shapes(examples: Any) -> Iterator[str]:
    if not isinstance(examples, list):
        yield f"{PART_FILE}: examples must be a list of specs"
        return
    for i, example in enumerate(examples):
        if (
            not isinstance(example, Mapping)
            or not isinstance(example.get("target"), str)
            or not isinstance(example.get("absent"), list)
        ):
            yield (
                f"{PART_FILE}: examples[{i}] must be a spec with target and absent (what "
                "editors are shown)"
            )


def _example_problems(s: Subject, examples: list[Any]) -> Iterator[str]:
    v = s.vendor
    schema = _composed(v, checked=True)
    key = (
        "conformance-part:"
        + hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()
    )
    entry_schema = v.entry_schema()
    entry_key = (
        "conformance-part-entry:"
        + hashlib.sha256(json.dumps(entry_schema, sort_keys=True, default=str).encode()).hexdigest()
    )
    for i, example in enumerate(examples):
        what = f"{PART_FILE}: examples[{i}]"
        document = {
            "apiVersion": "reconciler/v1",
            "kind": "Removal",
            "metadata": EXAMPLE_METADATA,
            "spec": example,
        }
        for path, message in schema_errors_with(key, schema, document):
            yield f"{what}: {'.'.join(map(str, path[1:])) or 'spec'}: {message}"
        for j, entry in enumerate(example["absent"]):
            for path, message in schema_errors_with(entry_key, entry_schema, entry):
                at = ".".join(map(str, path))
                yield f"{what}.absent[{j}]{'.' + at if at else ''}: {message}"
        for problem in _spec_rule_problems(s, example):
            yield f"{what}: the vendor's spec rules say {problem}"


def _spec_rule_problems(s: Subject, spec: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    s.rules.check_spec(spec, lambda p, m: found.append(f"{'.'.join(['spec', *map(str, p)])}: {m}"))
    return found
