"""JSON Schemas shipped with the package, and plain-language messages for their errors."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from reconciler.masking import fragment
from reconciler.yamlsource import Path

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "empty",
}


@cache
def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("reconciler.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def _pattern(
    validator: jsonschema.protocols.Validator, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    """`pattern` as JSON Schema means it: Python's `$` also matches before a final
    newline, so `partner_name: "mybrand\\n"` would pass `^[a-z0-9][a-z0-9_.-]*$`."""
    if not validator.is_type(instance, "string"):
        return
    match = re.search(pattern, instance)
    if match is None or (pattern.endswith("$") and match.end() != len(instance)):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


# types-jsonschema leaves validators.extend unannotated: the class it makes is typed here.
_Validator: type[jsonschema.Draft202012Validator] = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    jsonschema.Draft202012Validator, {"pattern": _pattern}
)


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    checker: jsonschema.Draft202012Validator = _Validator(load_schema(name))
    return checker


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "empty"
    return type(value).__name__


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    """The most specific errors: `if/then` and `allOf` wrap their causes."""
    if error.context and error.validator in ("allOf", "then"):
        for sub in error.context:
            yield from _leaves(sub)
    else:
        yield error


def _message(error: jsonschema.ValidationError) -> tuple[Path, str]:
    """(path to report at, plain message) for one schema error."""
    path: Path = tuple(error.absolute_path)
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    v, inst = error.validator, error.instance
    if v == "required":
        # a rule of the form "if ... then K is required" explains itself (x-required)
        explained = error.schema.get("x-required") if isinstance(error.schema, dict) else None
        if explained:
            return path, str(explained)
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return path, f"{missing} is required"
    if "propertyNames" in list(error.schema_path)[-2:] and isinstance(inst, str):
        # the instance is the key itself: report it at the key, so the line is the key's
        return (*path, inst), f"invalid name {fragment(inst)}: {custom or _generic(error)}"
    if custom and v != "type":  # x-message explains a pattern; a wrong type says so plainly
        return path, custom
    if v == "type":
        want: Any = error.validator_value  # a rule's value: set on every validator's error
        wants = [want] if isinstance(want, str) else list(want)
        names = " or ".join(_TYPE_NAMES.get(w, w) for w in wants)
        msg = f"must be {names}, got {_kind(inst)}"
        if "string" in wants and isinstance(inst, int | float) and not isinstance(inst, bool):
            msg += " (quote it: YAML reads unquoted digits as a number)"
        return path, msg
    if v in ("enum", "const"):
        value: Any = error.validator_value
        options = value if v == "enum" else [value]
        return path, f"must be one of {', '.join(map(str, options))}, got {fragment(inst)}"
    if v == "minItems":
        return path, "must not be empty" if error.validator_value == 1 else error.message
    if v == "minProperties":
        return path, "must not be empty"
    if v == "minLength":
        return path, "must not be empty"
    if v == "maxLength":
        return path, f"is longer than {error.validator_value} characters"
    if v == "pattern":
        return path, f"{fragment(inst)} does not match {error.validator_value}"
    if v == "uniqueItems":
        return path, "must not repeat a value"
    return path, _generic(error)


def _generic(error: jsonschema.ValidationError) -> str:
    """jsonschema's message without the instance it quotes (which may be anything from
    the user's file): what rule was broken, and its bound."""
    v, bound = error.validator, error.validator_value
    words = {
        "maxItems": f"has too many items (at most {bound})",
        "maxProperties": f"has too many keys (at most {bound})",
        "minimum": f"must be at least {bound}",
        "maximum": f"must be at most {bound}",
        "exclusiveMinimum": f"must be more than {bound}",
        "exclusiveMaximum": f"must be less than {bound}",
        "anyOf": "does not fit any of the allowed shapes",
        "oneOf": "must fit exactly one of the allowed shapes",
        "not": "is not allowed here",
        "format": f"is not a valid {bound}",
    }
    return words.get(str(v), f"is not valid here ({v})")


def _unknown_keys(error: jsonschema.ValidationError) -> list[tuple[Path, str]]:
    """One problem per unknown key (jsonschema lists them all in one error)."""
    path: Path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    allowed = set(schema.get("properties", {}))
    keys = error.instance if isinstance(error.instance, dict) else {}
    hint = f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
    return [((*path, k), f"unknown key {fragment(k)}{hint}") for k in keys if k not in allowed]


_VALIDATORS: dict[str, jsonschema.Draft202012Validator] = {}


def schema_errors_with(
    key: str, schema: Mapping[str, Any], instance: Any
) -> list[tuple[Path, str]]:
    """`schema_errors` against a schema given as data (a vendor's), its validator built
    once per `key`."""
    checker = _VALIDATORS.get(key)
    if checker is None:
        checker = _VALIDATORS[key] = _Validator(dict(schema))
    return _errors(checker, instance)


def schema_errors(name: str, instance: Any) -> list[tuple[Path, str]]:
    """Every violation of schema `name` as (path, message), in document order."""
    return _errors(validator(name), instance)


def _errors(checker: jsonschema.Draft202012Validator, instance: Any) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for error in checker.iter_errors(instance):
        for leaf in _leaves(error):
            if (
                leaf.validator == "additionalProperties"
                and isinstance(leaf.instance, dict)
                and leaf.validator_value is False
            ):
                found.extend(_unknown_keys(leaf))
            else:
                found.append(_message(leaf))
    return list(dict.fromkeys(found))
