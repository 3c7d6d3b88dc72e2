"""YAML loading that remembers where every value came from.

Validation messages name the line of the offending node, so we compose the YAML
into nodes (which carry marks) and build plain Python values plus a map from each
value's path to its 1-based line. Duplicate mapping keys are reported, never merged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


class YamlSyntaxError(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(message)


@dataclass
class Document:
    """One YAML document: its value, the line of each path in it, and duplicate keys."""

    data: Any
    lines: dict[Path, int]
    start_line: int
    duplicate_keys: list[tuple[Path, int]] = field(default_factory=list)

    def line_of(self, path: Path) -> int:
        """Line of the deepest existing node on `path` (the document start if none)."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return self.start_line


class _Builder:
    def __init__(self, constructor: yaml.constructor.SafeConstructor) -> None:
        self.lines: dict[Path, int] = {}
        self.duplicates: list[tuple[Path, int]] = []
        self._constructor = constructor

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            self._constructor.flatten_mapping(node)
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self._constructor.construct_object(key_node, deep=True)
                if not isinstance(key, str):
                    key = str(key)
                child = (*path, key)
                if key in result:
                    self.duplicates.append((child, key_node.start_mark.line + 1))
                    continue
                # a key's line is where the key is written, which is what users look for
                self.lines[child] = key_node.start_mark.line + 1
                result[key] = self.build(value_node, child)
                self.lines[child] = key_node.start_mark.line + 1
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._constructor.construct_object(node, deep=True)


def _mark_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None


def _describe(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem and context:
        return f"YAML syntax error: {problem} ({context})"
    if problem:
        return f"YAML syntax error: {problem}"
    return f"YAML syntax error: {str(exc).splitlines()[0]}"


def load_documents(text: str) -> Iterator[Document]:
    """Yield every document in `text`; raise YamlSyntaxError with a line on bad YAML."""
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            builder = _Builder(loader)
            try:
                data = builder.build(node, ())
            except yaml.YAMLError as exc:
                raise YamlSyntaxError(_mark_line(exc), _describe(exc)) from exc
            yield Document(data, builder.lines, node.start_mark.line + 1, builder.duplicates)
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(_mark_line(exc), _describe(exc)) from exc
    finally:
        loader.dispose()


def format_path(path: Path) -> str:
    """`('spec', 'absent', 2, 'profile')` -> `spec.absent[2].profile`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
