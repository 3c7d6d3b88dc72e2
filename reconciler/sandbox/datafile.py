"""The sandbox's input files (seed, credentials): read them, check their shape strictly.

A problem is a :class:`DataFileError` naming the file, the line (YAML, or a JSON syntax
error), the place in the data (``braze.users[0].emial``) and what is wrong, in one line.
Messages never quote a value from the file; an odd key is masked
(``reconciler.masking.fragment``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from reconciler.inputs import MIB, InputRefused, decode_utf8, read_bounded
from reconciler.masking import fragment
from reconciler.yamlsource import YamlSyntaxError, load_documents

DataPath = tuple[str | int, ...]
LineOf = Callable[[DataPath], int | None]
MAX_DATA_FILE_BYTES = 64 * MIB
# A key shown as written in a message; anything else is masked.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class DataFileError(ValueError):
    """A sandbox input that cannot be used: where (file, line, path) and why."""

    def __init__(
        self, reason: str, path: DataPath = (), source: str = "", line: int | None = None
    ) -> None:
        self.reason = reason
        self.path = path
        self.source = source
        self.line = line
        super().__init__(reason)

    def located(self, source: str, line_of: LineOf) -> DataFileError:
        """The same problem, placed in ``source`` at the line of its path."""
        return DataFileError(self.reason, self.path, source, self.line or line_of(self.path))

    def __str__(self) -> str:
        where = self.source + (f":{self.line}" if self.source and self.line else "")
        return ": ".join(p for p in (where, format_data_path(self.path), self.reason) if p)


def format_data_path(path: DataPath) -> str:
    """``('braze', 'users', 0, 'emial')`` -> ``braze.users[0].emial`` (odd keys masked)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if _PLAIN_KEY.fullmatch(part) else fragment(part)
            out += f".{shown}" if out else shown
    return out


def read_data_file(path: str | Path) -> tuple[Any, LineOf]:
    """The data in a YAML file (JSON when the name ends in ``.json``) and a function giving
    the line of a path in it; an empty file is an empty mapping."""
    shown = str(path)
    try:
        text = decode_utf8(read_bounded(Path(path), MAX_DATA_FILE_BYTES, shown), shown)
    except InputRefused as exc:
        raise DataFileError(exc.reason, source=shown, line=exc.line) from exc
    if shown.endswith(".json"):
        return _parse_json(text, shown), _no_line
    return _parse_yaml(text, shown)


def _no_line(_: DataPath) -> int | None:
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a value (JSON cannot hold it)")


def _parse_json(text: str, shown: str) -> Any:
    try:
        data = json.loads(text, parse_constant=_refuse_constant) if text.strip() else {}
    except json.JSONDecodeError as exc:
        raise DataFileError(f"JSON syntax error: {exc.msg}", source=shown, line=exc.lineno) from exc
    except ValueError as exc:
        raise DataFileError(f"JSON error: {exc}", source=shown) from exc
    return {} if data is None else data


def _parse_yaml(text: str, shown: str) -> tuple[Any, LineOf]:
    try:
        documents = list(load_documents(text))
    except YamlSyntaxError as exc:
        raise DataFileError(exc.message, source=shown, line=exc.line) from exc
    if not documents:
        return {}, _no_line
    if len(documents) > 1:
        raise DataFileError(
            "one YAML document expected (remove the second '---')",
            source=shown,
            line=documents[1].start_line,
        )
    (document,) = documents
    if document.duplicate_keys:
        key_path, line = document.duplicate_keys[0]
        raise DataFileError("key given twice", key_path, shown, line)
    return ({} if document.data is None else document.data), document.line_of


# --- checking values -----------------------------------------------------------------


def kind(value: Any) -> str:
    """What a value is, in words (never the value itself)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing"
    return type(value).__name__


def mapping(value: Any, path: DataPath, allowed: Collection[str] | None = None) -> dict[str, Any]:
    """``value`` as a mapping with string keys (empty when left empty); with ``allowed``,
    any other key is an error."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataFileError(f"must be a mapping, got {kind(value)}", path)
    for key in value:
        if not isinstance(key, str):
            raise DataFileError(f"keys must be strings, got {kind(key)}", path)
        if allowed is not None and key not in allowed:
            raise DataFileError(f"unknown key (allowed: {', '.join(allowed)})", (*path, key))
    return value


def sequence(value: Any, path: DataPath) -> list[Any]:
    """``value`` as a list (empty when left empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataFileError(f"must be a list, got {kind(value)}", path)
    return value


def text(value: Any, path: DataPath) -> str:
    """A non-empty string; an integer (YAML reads unquoted digits as one) as its digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise DataFileError(f"must be a non-empty string, got {kind(value)}", path)
    return value


def optional_text(raw: dict[str, Any], key: str, path: DataPath) -> str | None:
    value = raw.get(key)
    return None if value is None else text(value, (*path, key))


def required(raw: dict[str, Any], keys: Collection[str], path: DataPath) -> None:
    for key in keys:
        if key not in raw:
            raise DataFileError(f"{key} is required", path)


def flag(raw: dict[str, Any], key: str, path: DataPath, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise DataFileError(f"must be true or false, got {kind(value)}", (*path, key))
    return value


def choice(value: Any, options: Collection[str], path: DataPath) -> str:
    if value not in options:
        raise DataFileError(f"must be one of {', '.join(options)}", path)
    return str(value)


def integer(value: Any, low: int, high: int, path: DataPath) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DataFileError(f"must be a whole number from {low} to {high}", path)
    return value


def timestamp(value: Any, path: DataPath) -> str:
    """An ISO 8601 time; YAML reads an unquoted one as a datetime, taken as UTC."""
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    written = text(value, path)
    try:
        dt.datetime.fromisoformat(written)
    except ValueError as exc:
        raise DataFileError("must be an ISO 8601 time such as 2026-01-01T00:00:00Z", path) from exc
    return written
