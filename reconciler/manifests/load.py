"""Loading every manifest under the specs folder into problems and a desired state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.adapters import RULES
from reconciler.adapters.rules import VendorRules
from reconciler.config import Config, display
from reconciler.desired import DesiredState, Source
from reconciler.errors import Problem
from reconciler.manifests.csvsource import CsvSourceError, read_rows
from reconciler.schemas import schema_errors
from reconciler.yamlsource import Document, YamlSyntaxError, format_path, load_documents
from reconciler.yamlsource import Path as YPath

MANIFEST_SUFFIXES = (".yaml", ".yml")
MAX_PROBLEMS_PER_CSV = 50


@dataclass(frozen=True)
class Manifest:
    name: str
    owner: str
    reason: str
    ticket: str | None
    target: str
    file: str
    line: int


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    desired: DesiredState = field(default_factory=DesiredState)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def manifest_files(config: Config, paths: Iterable[Path] = ()) -> list[Path]:
    """The manifest files to read: `paths` (files or folders), else the specs folder."""
    roots = list(paths) or [config.specs_dir]
    found: list[Path] = []
    for root in roots:
        try:
            is_file, is_dir = root.is_file(), root.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL: reported when read
            is_file = is_dir = False
        if is_file:
            found.append(root)
        elif is_dir:
            found.extend(
                p
                for p in sorted(root.rglob("*"))
                if p.suffix in MANIFEST_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            )
        else:
            found.append(root)  # reported as missing when read
    return list(dict.fromkeys(_resolved(p) for p in found))


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError):
        return path.absolute()


def load_specs(config: Config, paths: Iterable[Path] = ()) -> LoadResult:
    """Read, check and expand every manifest; problems are collected, never raised."""
    result = LoadResult()
    names: dict[str, tuple[str, int]] = {}
    for path in manifest_files(config, paths):
        shown = display(path)
        result.files.append(shown)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            result.problems.append(Problem(shown, None, "", "no such file or folder"))
            continue
        except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
            result.problems.append(Problem(shown, None, "", f"cannot read: {exc}"))
            continue
        try:
            documents = list(load_documents(text))
        except YamlSyntaxError as exc:
            result.problems.append(Problem(shown, exc.line, "", exc.message))
            continue
        if not any(doc.data is not None for doc in documents):
            result.problems.append(Problem(shown, None, "", "holds no manifest (empty file)"))
        for doc in documents:
            if doc.data is not None:
                _load_document(config, path, shown, doc, names, result)
    # by file, then line; file-wide notes (no line, e.g. "... and 7 more") after the rest
    result.problems.sort(key=lambda p: (p.file, p.line is None, p.line or 0))
    return result


def _load_document(
    config: Config,
    path: Path,
    shown: str,
    doc: Document,
    names: dict[str, tuple[str, int]],
    result: LoadResult,
) -> None:
    def report(p: YPath, message: str) -> None:
        result.problems.append(Problem(shown, doc.line_of(p), format_path(p), message))

    for p, line in doc.duplicate_keys:
        result.problems.append(
            Problem(shown, line, format_path(p), "duplicate key (YAML would silently keep one)")
        )
    errors = schema_errors("manifest", doc.data)
    for p, message in errors:
        report(p, message)
    # Entries with schema errors of their own are skipped below; anything wrong outside
    # the entries leaves too little to check the rest against.
    bad_entries = {p[2] for p, _ in errors if p[:2] == ("spec", "absent") and len(p) > 2}
    if doc.duplicate_keys or any(p[:2] != ("spec", "absent") or len(p) < 3 for p, _ in errors):
        return
    data: dict[str, Any] = doc.data
    meta, spec = data["metadata"], data["spec"]
    name = meta["name"]
    if name in names:
        other_file, other_line = names[name]
        report(
            ("metadata", "name"),
            f"duplicate manifest name '{name}': also declared in {other_file}:{other_line}",
        )
        return
    names[name] = (shown, doc.line_of(("metadata", "name")))
    target_name = spec["target"]
    target = config.targets.get(target_name)
    if target is None:
        known = ", ".join(sorted(config.targets)) or "none"
        report(
            ("spec", "target"),
            f"unknown target '{target_name}' (targets in {config.display_path()}: {known})",
        )
        return
    manifest = Manifest(
        name, meta["owner"], meta["reason"], meta.get("ticket"), target_name, shown, doc.start_line
    )
    result.manifests.append(manifest)
    rules = RULES[target.vendor]
    rules.check_spec(spec, lambda p, m: report(("spec", *p), m))
    for i, entry in enumerate(spec.get("absent", [])):
        if i in bad_entries:
            continue
        base: YPath = ("spec", "absent", i)
        items = rules.items(target_name, entry, lambda p, m, b=base: report((*b, *p), m))
        source = Source(name, shown, doc.line_of(base))
        for item in items:
            result.desired.add(item, source)
    for j, rel in enumerate(spec.get("absent_csv", [])):
        _load_csv(path.parent / rel, rules, manifest, ("spec", "absent_csv", j), report, result)


def _load_csv(
    csv_path: Path,
    rules: VendorRules,
    manifest: Manifest,
    where: YPath,
    report_manifest: Any,
    result: LoadResult,
) -> None:
    shown = display(csv_path)
    found = 0

    def report_row(line: int, column: str, message: str) -> None:
        nonlocal found
        found += 1
        if found <= MAX_PROBLEMS_PER_CSV:
            result.problems.append(Problem(shown, line, column, message))

    try:
        for row in read_rows(csv_path, rules):
            for column, message in row.problems:
                report_row(row.line, column, message)
            if row.entry is None:
                continue
            items = rules.items(
                manifest.target,
                row.entry,
                lambda p, m, line=row.line: report_row(line, _column(p), m),
            )
            source = Source(manifest.name, shown, row.line)
            for item in items:
                result.desired.add(item, source)
    except CsvSourceError as exc:
        report_manifest(where, f"{shown}: {exc}")
    if found > MAX_PROBLEMS_PER_CSV:
        result.problems.append(
            Problem(
                shown,
                None,
                "",
                f"... and {found - MAX_PROBLEMS_PER_CSV} more problems in this file",
            )
        )


# A row's entry holds its attribute cell under these keys (see InsiderRules.csv_reader).
_ATTRIBUTE_COLUMNS = {
    "attributes": "attribute",
    "attribute_values": "attribute",
    "custom_attributes": "custom_attribute",
    "custom_attribute_values": "custom_attribute",
}


def _column(path: YPath) -> str:
    """The CSV column a rule's path points at (the last named key), else `row`."""
    if path and path[0] in _ATTRIBUTE_COLUMNS:
        return _ATTRIBUTE_COLUMNS[str(path[0])]
    names = [p for p in path if isinstance(p, str) and p not in ("profile", "identifiers")]
    return names[-1] if names else "row"
