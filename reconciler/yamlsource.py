"""YAML loading that remembers where every value came from.

Validation messages name the line of the offending node, so we compose the YAML
into nodes (which carry marks) and build plain Python values plus a map from each
value's path to its 1-based line. Duplicate mapping keys are reported, never merged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from reconciler.masking import fragment

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


MERGE_TAG = "tag:yaml.org,2002:merge"
# Aliases share one node; we build a value per path, so `&a [*a, *a, ...]` nested a few
# levels deep ("billion laughs") would expand without bound. Real manifests reuse little.
MAX_ALIAS_EXPANSION = 100_000
# ...and an alias of one long string, repeated, expands to gigabytes without many nodes:
# the characters of every scalar built are counted too, aliases expanded.
MAX_EXPANDED_CHARS = 32 * 1024 * 1024
# Deeper than any manifest needs; past it jsonschema and the canonical form would recurse
# towards Python's limit.
MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


def _construct(constructor: yaml.constructor.SafeConstructor, node: yaml.Node) -> Any:
    """A scalar's (or key's) value; a value its tag cannot hold, or one that JSON cannot
    (NaN, infinity, a lone surrogate), is a located YAML error."""
    try:
        value = constructor.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        # e.g. `!!int abc`, `!!timestamp soon`, an integer over Python's 4300-digit limit
        shown = fragment(node.value) if isinstance(node, yaml.ScalarNode) else "'...'"
        tag = node.tag.replace("tag:yaml.org,2002:", "!!")
        if not _TAG.fullmatch(tag):
            tag = fragment(tag)
        # Python's own words, when they quote nothing of the file ("month must be in
        # 1..12", "Exceeds the limit (4300 digits) ...")
        text = str(exc)
        detail = f": {text}" if isinstance(exc, ValueError) and not _QUOTES.search(text) else ""
        raise YamlSyntaxError(
            node.start_mark.line + 1, f"YAML error: cannot read {shown} as {tag}{detail}"
        ) from exc
    line = node.start_mark.line + 1
    if isinstance(value, float) and not math.isfinite(value):
        raise YamlSyntaxError(
            line, "YAML error: NaN and infinity are not values (JSON cannot hold them): quote it"
        )
    if isinstance(value, str) and _SURROGATE.search(value):
        found = _SURROGATE.search(value)
        assert found is not None
        raise YamlSyntaxError(
            line,
            f"YAML error: a lone surrogate escape (\\u{ord(found.group()):04x}) is not a "
            "character: write the character itself",
        )
    return value


_TAG = re.compile(r"!!?[A-Za-z0-9_.:/-]{0,40}")
_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})
_QUOTES = re.compile(r"['\"]")


class _Builder:
    def __init__(self, constructor: yaml.constructor.SafeConstructor) -> None:
        self.lines: dict[Path, int] = {}
        self.duplicates: list[tuple[Path, int]] = []
        self._constructor = constructor
        self._seen: set[int] = set()
        self._active: set[int] = set()
        self._expanded = 0
        self._chars = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.lines[path] = node.start_mark.line + 1
        if len(path) > MAX_DEPTH:
            raise YamlSyntaxError(
                node.start_mark.line + 1, f"YAML error: nested more than {MAX_DEPTH} levels deep"
            )
        if id(node) in self._active:
            raise YamlSyntaxError(
                node.start_mark.line + 1, "YAML error: an alias refers to a node that contains it"
            )
        if id(node) in self._seen:
            self._expanded += 1
            if self._expanded > MAX_ALIAS_EXPANSION:
                raise YamlSyntaxError(
                    node.start_mark.line + 1,
                    f"YAML error: aliases expand to more than {MAX_ALIAS_EXPANSION} nodes",
                )
        self._seen.add(id(node))
        if not isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            self._chars += len(node.value)
            if self._chars > MAX_EXPANDED_CHARS:
                raise YamlSyntaxError(
                    node.start_mark.line + 1,
                    f"YAML error: the document expands to more than {MAX_EXPANDED_CHARS:,} "
                    "characters (aliases of long values)",
                )
            return _construct(self._constructor, node)
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            # a tag on a mapping or list is never constructed here, so it would be dropped
            # silently: `!!python/object/apply:os.system [...]` read as a plain list
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            shown = tag if _TAG.fullmatch(tag) else fragment(tag)
            raise YamlSyntaxError(
                node.start_mark.line + 1,
                f"YAML error: the tag {shown} is not allowed: a manifest holds plain "
                "mappings and lists (tags such as !!python/... are never run)",
            )
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            return self._mapping(node, path)
        finally:
            self._active.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[Any, Any]:
        own = sum(1 for key_node, _ in node.value if key_node.tag != MERGE_TAG)
        self._constructor.flatten_mapping(node)
        # flatten_mapping puts merged (`<<: *base`) pairs first, the last one winning; a
        # key written here overrides a merged one, as YAML says. Only a key written twice
        # here is a duplicate.
        split = len(node.value) - own
        written = node.value[split:]
        written_keys = {self._key(key_node) for key_node, _ in written}
        winners: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value[:split]:
            key = self._key(key_node)
            if key not in written_keys:
                winners[key] = (key_node, value_node)
        pairs = [(key, k, v) for key, (k, v) in winners.items()]
        pairs += [(self._key(k), k, v) for k, v in written]
        result: dict[Any, Any] = {}
        for key, key_node, value_node in pairs:
            child = (*path, key)
            if key in result:
                self.duplicates.append((child, key_node.start_mark.line + 1))
                continue
            result[key] = self.build(value_node, child)
            # a key's line is where the key is written, which is what users look for
            self.lines[child] = key_node.start_mark.line + 1
        return result

    def _key(self, key_node: yaml.Node) -> str:
        key = _construct(self._constructor, key_node)
        return key if isinstance(key, str) else str(key)


def _mark_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context_mark", None)
    if context is not None and (mark is None or _at_end(mark)):
        # "unexpected end of stream": the unclosed bracket or quote is where it started
        mark = context
    return mark.line + 1 if mark is not None else None


def _at_end(mark: yaml.Mark) -> bool:
    buffer = getattr(mark, "buffer", None)
    return isinstance(buffer, str) and mark.pointer >= len(buffer.rstrip("\0"))


def _describe(exc: yaml.YAMLError) -> str:
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem and context:
        text = f"{problem} ({context})"
    elif problem:
        text = str(problem)
    else:
        text = str(exc).splitlines()[0]
    return f"YAML syntax error: {_QUOTED.sub(_quoted_fragment, text)}"


# PyYAML's messages quote the file: a tag, an alias's name, the character found
_QUOTED = re.compile(r"'([^'\n]*)'")


def _quoted_fragment(match: re.Match[str]) -> str:
    """A span PyYAML quoted, as a message may show it: a tag or a single character as
    written, anything else through masking.fragment (masked, capped)."""
    inner = match.group(1).replace("tag:yaml.org,2002:", "!!")
    if _TAG.fullmatch(inner) or len(inner) <= 1:
        return repr(inner)
    return fragment(inner)


def load_documents(text: str) -> Iterator[Document]:
    """Yield every document in `text`; raise YamlSyntaxError with a line on bad YAML."""
    try:
        loader = yaml.SafeLoader(text)  # refuses unprintable characters up front
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise YamlSyntaxError(line, _describe(exc)) from exc
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
    except RecursionError as exc:
        # PyYAML composes nodes recursively: where its reader stood is where it got deep
        line = loader.get_mark().line + 1
        raise YamlSyntaxError(line, "YAML error: nested too deeply") from exc
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
