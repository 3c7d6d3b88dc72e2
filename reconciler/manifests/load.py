"""Loading every manifest under the specs folder into problems and a desired state."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

from reconciler.config import Config, display
from reconciler.desired import DesiredState, Item, Source
from reconciler.errors import Problem, ValidationFailed
from reconciler.inputs import (
    MAX_CSV_BYTES,
    MAX_MANIFEST_BYTES,
    InputRefused,
    confine,
    decode_utf8,
    open_regular,
    read_bounded,
    relative_reference,
)
from reconciler.manifests.csvsource import CsvOpener, CsvSourceError, csv_sample, read_rows
from reconciler.manifests.deadlines import Deadline, deadline_of, normalize
from reconciler.manifests.encrypted import (
    decrypt_bytes,
    is_encrypted,
    open_decrypted,
    plain_name,
)
from reconciler.schemas import schema_errors_with
from reconciler.values import ALLOW_LOOKALIKES, item_value_problems
from reconciler.vendors.api import ManifestChecker, Report, VendorRules
from reconciler.vendors.registry import rules_for
from reconciler.vendors.registry import vendor as vendor_of
from reconciler.vendors.schemas import checked_manifest_schema, spec_rule_messages
from reconciler.yamlsource import Document, YamlSyntaxError, format_path, load_documents
from reconciler.yamlsource import Path as YPath

MANIFEST_SUFFIXES = (".yaml", ".yml")


def is_manifest_name(name: str) -> bool:
    """`x.yaml`, `x.yml`, or either encrypted with age (`x.yaml.age`)."""
    return os.path.splitext(plain_name(name))[1] in MANIFEST_SUFFIXES


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
    # the document without its entries (spec.absent): what `reconcile diff` compares as
    # fields; the entries are compared as items
    fields: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    # metadata.requested_at / due / regulation (reconciler.manifests.deadlines)
    deadline: Deadline | None = None


# Where a manifest's `absent_csv` entry points: (opener of its bytes, how to name it), or
# None after reporting why it cannot be read. Given the entry and a reporter.
CsvLocator = Callable[[str, Callable[[str], None]], "tuple[CsvOpener, str] | None"]


@dataclass
class LoadResult:
    manifests: list[Manifest] = field(default_factory=list)
    desired: DesiredState = field(default_factory=DesiredState)
    problems: list[Problem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    # encrypted sources left unread: no age identity was given (notices, not errors,
    # for validate; commands that need the values refuse them: see require_values)
    locked: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def require_values(self, command: str) -> None:
        """Raise ValidationFailed listing every problem, and every encrypted source that
        could not be read: `command` needs the values."""
        needed = [
            Problem(
                p.file,
                p.line,
                p.location,
                f"{p.message}: {command} cannot go on without its values",
            )
            for p in self.locked
        ]
        if self.problems or needed:
            raise ValidationFailed(sorted([*self.problems, *needed], key=_order))


@cache
def _spec_rule_messages(vendor: str | None) -> frozenset[str]:
    """The messages of the whole-spec rules checked for a `vendor` target's manifests."""
    return spec_rule_messages(checked_manifest_schema(vendor))


def _vendor_of_target(config: Config, data: Any) -> str | None:
    """The vendor of the target a manifest names, if it names a known one: its rules are
    the only ones checked (a Braze rule says nothing of a Segment manifest)."""
    spec = data.get("spec") if isinstance(data, dict) else None
    name = spec.get("target") if isinstance(spec, dict) else None
    target = config.targets.get(name) if isinstance(name, str) else None
    return target.vendor if target is not None else None


def _order(p: Problem) -> tuple[str, bool, int]:
    return (p.file, p.line is None, p.line or 0)


def locked_message(config: Config) -> str:
    """Why an encrypted source was not read."""
    if config.age_key_env:
        return (
            f"encrypted source, key not available ({config.age_key_env}, named by "
            "sources.age_key_env, is not set)"
        )
    return "encrypted source, key not available (reconciler.yaml names no sources.age_key_env)"


def read_manifest_text(config: Config, path: Path, shown: str) -> str | None:
    """A manifest file's text, decrypted in memory when it is encrypted; None when it is
    encrypted and no identity was given. Raises InputRefused."""
    resolved = confine(path, config.root, shown, "manifest")
    data = read_bounded(resolved, MAX_MANIFEST_BYTES, shown)
    if is_encrypted(path.name):
        if config.age_identities is None:
            return None
        data = decrypt_bytes(
            data, config.age_identities, shown, MAX_MANIFEST_BYTES, config.age_key_env
        )
    return decode_utf8(data, shown)


def manifest_files(config: Config, paths: Iterable[Path] = ()) -> list[Path]:
    """The manifest files to read: `paths` (files or folders), else the specs folder."""
    return _scan(config, paths)[0]


def _scan(config: Config, paths: Iterable[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """The manifest files to read, and the paths that cannot be read (with why).

    Under a folder: every *.yaml / *.yml, recursively, skipping names that start with a
    dot; symbolic links to folders are not followed. A manifest-named entry that is a
    broken link, or a folder that cannot be listed, is reported, never skipped.
    """
    roots = list(paths) or [config.specs_dir]
    found: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    for root in roots:
        try:
            is_file, is_dir = root.is_file(), root.is_dir()
        except (OSError, ValueError):  # a name too long, a NUL: reported when read
            is_file = is_dir = False
        if is_file:
            found.append(root)
        elif is_dir:
            _walk(root, found, unreadable)
        elif _is_link(root):
            unreadable.append((root, _link_problem(root)))
        else:
            found.append(root)  # reported as missing when read
    # one entry per file, however many links lead to it; named as first found
    firsts: dict[Path, Path] = {}
    for p in found:
        firsts.setdefault(_resolved(p), p)
    return list(firsts.values()), unreadable


def _walk(folder: Path, found: list[Path], unreadable: list[tuple[Path, str]]) -> None:
    """Depth first, names sorted: the order `sorted(folder.rglob("*"))` gives."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError as exc:
        unreadable.append(
            (folder, f"cannot read this folder ({_why(exc)}): its manifests would be skipped")
        )
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                _walk(path, found, unreadable)
            elif not is_manifest_name(entry.name):
                continue
            elif entry.is_file():  # follows a link to a file
                found.append(path)
            elif entry.is_symlink():
                if not entry.is_dir():  # a link to a folder is not followed
                    unreadable.append((path, _link_problem(path)))
            else:
                unreadable.append((path, "is not a regular file (a manifest must be)"))
        except OSError as exc:  # a link that loops, say
            why = _link_problem(path) if entry.is_symlink() else f"cannot read: {_why(exc)}"
            unreadable.append((path, why))


def _folder_problem(path: Path) -> str | None:
    """Why the specs folder cannot be read at all (nothing there, a name the system
    refuses), or None: what is inside is then reported file by file as it is read."""
    try:
        os.stat(path)
    except FileNotFoundError:
        return f"no such folder {display(path)}"
    except OSError as exc:
        return f"cannot read the folder: {exc.strerror or exc}"
    except ValueError:  # a NUL in the name
        return "cannot read the folder: its name holds a NUL character"
    return None


def _is_link(path: Path) -> bool:
    try:
        return path.is_symlink()
    except (OSError, ValueError):
        return False


def _link_problem(path: Path) -> str:
    """Why a symbolic link that is neither a file nor a folder cannot be read."""
    try:
        target = os.readlink(path)
    except OSError:
        target = "?"
    try:
        path.stat()
    except FileNotFoundError:
        return f"broken symbolic link: it points to {target}, which does not exist"
    except OSError as exc:
        return f"cannot read: {_why(exc)} (a symbolic link to {target})"
    return f"is not a regular file (a symbolic link to {target})"


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _shown_unresolved(path: Path) -> str:
    """`path` as display() shows it, but naming a link itself, not where it points."""
    try:
        return str(Path(display(path.parent)) / path.name)
    except (OSError, ValueError):
        return str(path)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, ValueError):
        return path.absolute()


def load_specs(
    config: Config,
    paths: Iterable[Path] = (),
    names_elsewhere: bool = False,
    spill_at: int | None = None,
) -> LoadResult:
    """Read, check and expand every manifest; problems are collected, never raised.

    With `paths` and `names_elsewhere`, the manifest names of every other file under the
    specs folder are read too (names only), so a name given twice is reported even when
    only one of the two files is checked. With `spill_at`, the desired state goes to
    disk past that many items (DesiredState): for plan and apply, which read it merged.
    """
    result = LoadResult(desired=DesiredState(spill_at))
    paths = list(paths)
    why = None if paths else _folder_problem(config.specs_dir)
    if why is not None:
        # the folder reconciler.yaml names: said there, not as a manifest that is missing
        line = config.lines.get(("specs",))
        result.problems.append(Problem(config.display_path(), line, "specs", why))
        return result
    files, unreadable = _scan(config, paths)
    names = other_names(config, files) if paths and names_elsewhere else {}
    for path, why in unreadable:
        result.problems.append(Problem(_shown_unresolved(path), None, "", why))
    for path in files:
        shown = _shown_unresolved(path)
        try:
            text = read_manifest_text(config, path, shown)
        except InputRefused as exc:
            result.files.append(shown)
            result.problems.append(Problem(shown, exc.line, "", exc.reason))
            continue
        if text is None:
            result.files.append(shown)
            result.locked.append(Problem(shown, None, "", locked_message(config)))
            continue
        resolved = _resolved(path)
        load_text(config, shown, text, _file_csv_locator(config, resolved), names, result)
    sort_problems(result)
    return result


def sort_problems(result: LoadResult) -> None:
    # by file, then line; file-wide notes (no line, e.g. "... and 7 more") after the rest
    result.problems.sort(key=_order)
    result.locked.sort(key=_order)


def other_names(config: Config, files: list[Path]) -> dict[str, tuple[str, int]]:
    """metadata.name -> (file, line) of every manifest under the specs folder outside
    `files`. Only names are read; a file that cannot be read or parsed is passed over
    (checking it is a run of its own)."""
    given = {_resolved(p) for p in files}
    names: dict[str, tuple[str, int]] = {}
    for path in _scan(config, [])[0]:
        if _resolved(path) in given:
            continue
        shown = _shown_unresolved(path)
        try:
            text = read_manifest_text(config, path, shown)
            documents = list(load_documents(text)) if text is not None else []
        except (InputRefused, YamlSyntaxError):
            continue
        for doc in documents:
            meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
            name = meta.get("name") if isinstance(meta, dict) else None
            if isinstance(name, str):
                names.setdefault(name, (shown, doc.line_of(("metadata", "name"))))
    return names


def load_text(
    config: Config,
    shown: str,
    text: str,
    locate: CsvLocator,
    names: dict[str, tuple[str, int]],
    result: LoadResult,
) -> None:
    """Check and expand one manifest file's text into `result` (a file from anywhere:
    the working tree or a git revision, whose CSV sources `locate` finds)."""
    result.files.append(shown)
    try:
        documents = list(load_documents(text))
    except YamlSyntaxError as exc:
        result.problems.append(Problem(shown, exc.line, "", exc.message))
        return
    if not any(doc.data is not None for doc in documents):
        result.problems.append(Problem(shown, None, "", "holds no manifest (empty file)"))
    for doc in documents:
        if doc.data is not None:
            _load_document(config, locate, shown, doc, names, result)


def _load_document(
    config: Config,
    locate: CsvLocator,
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
    meta_in = doc.data.get("metadata") if isinstance(doc.data, dict) else None
    if isinstance(meta_in, dict):
        normalize(meta_in)
    vendor_name = _vendor_of_target(config, doc.data)
    errors = schema_errors_with(
        f"manifest:{vendor_name or ''}", checked_manifest_schema(vendor_name), doc.data
    )
    for p, message in errors:
        report(p, message)
    # Entries with schema errors of their own are skipped below; anything wrong outside
    # the entries leaves too little to check the rest against.
    bad_entries = {p[2] for p, _ in errors if p[:2] == ("spec", "absent") and len(p) > 2}
    # a rule about the spec as a whole (Braze's delete_profiles, an if/then in the schema)
    # leaves the rest checkable; the vendor's own check of it is then not repeated
    spec_rules = [e for e in errors if e[1] in _spec_rule_messages(vendor_name)]
    errors = [e for e in errors if e not in spec_rules]
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
    deadline, date_problems = deadline_of(meta)
    for key, message in date_problems:
        report(("metadata", key), message)
    if date_problems:
        return
    target_name = spec["target"]
    target = config.targets.get(target_name)
    if target is None:
        known = ", ".join(sorted(config.targets)) or "none"
        report(
            ("spec", "target"),
            f"unknown target '{target_name}' (targets in {config.display_path()}: {known})",
        )
        return
    fields = {k: v for k, v in data.items() if k != "spec"}
    fields["spec"] = {k: v for k, v in spec.items() if k != "absent"}
    manifest = Manifest(
        name,
        meta["owner"],
        meta["reason"],
        meta.get("ticket"),
        target_name,
        shown,
        doc.start_line,
        fields,
        deadline,
    )
    result.manifests.append(manifest)
    # each entry against its vendor's schema (the manifest schema leaves entries to it)
    vendor = vendor_of(target.vendor)
    entry_schema = vendor.entry_schema()
    for i, entry in enumerate(spec.get("absent", [])):
        if i in bad_entries:
            continue
        entry_errors = schema_errors_with(f"entry:{vendor.name}", entry_schema, entry)
        for p, message in entry_errors:
            report(("spec", "absent", i, *p), message)
        if entry_errors:
            bad_entries.add(i)
    rules = rules_for(target)
    if not spec_rules:
        rules.check_spec(spec, lambda p, m: report(("spec", *p), m))
    samples = [e for i, e in enumerate(spec.get("absent", [])) if i not in bad_entries]
    csv_paths: list[tuple[CsvOpener, str] | None] = []
    for j, rel in enumerate(spec.get("absent_csv", [])):
        found = locate(rel, partial(report, ("spec", "absent_csv", j)))
        if found is not None and is_encrypted(rel):
            if config.age_identities is None:
                result.locked.append(Problem(found[1], None, "", locked_message(config)))
                found = None
            else:
                found = (_decrypting(config, *found), found[1])
        csv_paths.append(found)
    for found in csv_paths:
        sample = csv_sample(found[0], rules) if found is not None else None
        if sample is not None:
            samples.append(sample)
    checker = rules.manifest_checker(samples)
    places = _Places()
    for i, entry in enumerate(spec.get("absent", [])):
        if i in bad_entries:
            continue
        base: YPath = ("spec", "absent", i)
        allow = entry.get(ALLOW_LOOKALIKES) is True
        entry = {k: v for k, v in entry.items() if k != ALLOW_LOOKALIKES}
        items = rules.items(target_name, entry, _below(report, base))
        source = Source(name, shown, doc.line_of(base))
        for item in items:
            refused = item_value_problems(item, allow)
            for key, why in refused:
                report((*base, *_entry_part(entry, item), key), why)
            if refused:
                continue
            result.desired.add(item, source)
            if checker is not None:
                at: YPath = (*base, *_entry_part(entry, item))
                checker.add(item, places.pack(shown, format_path(at), doc.line_of(at)))
    for j, found in enumerate(csv_paths):
        if found is None:
            continue
        csv_path, csv_shown = found
        track = None
        if checker is not None:
            track = _csv_tracker(checker, places, csv_shown)
        where: YPath = ("spec", "absent_csv", j)
        _load_csv(csv_path, csv_shown, rules, manifest, where, report, result, track)
    if checker is not None:
        for ref, message in checker.problems(places.describe):
            if ref is None:
                result.problems.append(Problem(shown, None, "", message))
            else:
                result.problems.append(Problem(*places.unpack(ref), message))


def _decrypting(config: Config, opener: CsvOpener, shown: str) -> CsvOpener:
    """An opener of the plaintext of the age file `opener` opens (see encrypted.py)."""
    identities = config.age_identities
    assert identities is not None

    def open_plain() -> Any:
        return open_decrypted(opener(), identities, shown, config.age_key_env)

    return open_plain


def _file_csv_locator(config: Config, manifest_path: Path) -> CsvLocator:
    def locate(rel: str, report: Callable[[str], None]) -> tuple[CsvOpener, str] | None:
        return _csv_source(config, manifest_path, rel, report)

    return locate


def _csv_source(
    config: Config, manifest_path: Path, rel: str, report: Callable[[str], None]
) -> tuple[CsvOpener, str] | None:
    """Where a manifest's `absent_csv` entry points, confined to the repository, and
    how to name it (as written, beside its manifest); None (reported) when refused."""
    shown = rel if os.path.isabs(rel) else os.path.join(display(manifest_path.parent), rel)
    try:
        relative_reference(rel, shown, "CSV source")
        path = confine(manifest_path.parent / rel, config.root, shown, "CSV source")
        return (lambda: open_regular(path, MAX_CSV_BYTES, str(path))), shown
    except InputRefused as exc:
        report(str(exc))
        return None


def _load_csv(
    csv_path: CsvOpener,
    shown: str,
    rules: VendorRules,
    manifest: Manifest,
    where: YPath,
    report_manifest: Any,
    result: LoadResult,
    track: Callable[[Item, int], None] | None = None,
) -> None:
    found = 0

    def report_row(line: int, column: str, message: str) -> None:
        nonlocal found
        found += 1
        if found <= MAX_PROBLEMS_PER_CSV:
            result.problems.append(Problem(shown, line, column, message))

    def at_row(line: int) -> Report:
        return lambda p, m: report_row(line, _column(p, rules), m)

    def fast(header: list[str]) -> Callable[[int, list[str]], bool] | None:
        """Rows that make one item without problems go straight into the desired state."""
        if track is not None:
            return None
        canonical_of = rules.csv_canonical(manifest.target, header)
        if canonical_of is None:
            return None
        add = result.desired.add_canonical
        target, vendor = manifest.target, rules.vendor
        base = result.desired.sources.pack(Source(manifest.name, shown, 0))

        def take(line: int, cells: list[str]) -> bool:
            canonical = canonical_of(cells)
            if canonical is None:
                return False
            add(canonical, target, vendor, base | line)
            return True

        return take

    try:
        for row in read_rows(csv_path, rules, fast):
            for column, message in row.problems:
                report_row(row.line, column, message)
            if row.entry is None:
                continue
            items = rules.items(
                manifest.target,
                row.entry,
                at_row(row.line),
            )
            source = Source(manifest.name, shown, row.line)
            for item in items:
                refused = item_value_problems(item)
                for key, why in refused:
                    report_row(row.line, _column((key,), rules), why)
                if refused:
                    continue
                result.desired.add(item, source)
                if track is not None:
                    track(item, row.line)
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


def _below(report: Report, base: YPath) -> Report:
    """`report` for the paths under `base`."""
    return lambda p, m: report((*base, *p), m)


def _column(path: YPath, rules: VendorRules) -> str:
    """The CSV column a rule's path points at: the vendor's say, else the last named key,
    else `row`."""
    column = rules.csv_column(path)
    if column is not None:
        return column
    names = [p for p in path if isinstance(p, str) and p not in ("profile", "identifiers")]
    return names[-1] if names else "row"


_LINE_BITS = 32


class _Places:
    """Where items were declared, packed into ints for a ManifestChecker: (file,
    location) pairs are kept once, so a million CSV rows cost an int each."""

    def __init__(self) -> None:
        self._pairs: list[tuple[str, str]] = []
        self._index: dict[tuple[str, str], int] = {}

    def pack(self, file: str, location: str, line: int) -> int:
        pair = (file, location)
        index = self._index.get(pair)
        if index is None:
            index = self._index[pair] = len(self._pairs)
            self._pairs.append(pair)
        return (index << _LINE_BITS) | line

    def unpack(self, ref: int) -> tuple[str, int, str]:
        file, location = self._pairs[ref >> _LINE_BITS]
        return file, ref & ((1 << _LINE_BITS) - 1), location

    def describe(self, ref: int) -> str:
        file, line, location = self.unpack(ref)
        return f"{file}:{line} ({location})" if location else f"{file}:{line}"


def _entry_part(entry: Mapping[str, Any], item: Item) -> YPath:
    """Where in its entry an item comes from: its identifier, else the profile."""
    if item.kind == "identifier":
        wanted = (item.removal.get("type"), item.removal.get("value"))
        for j, ident in enumerate(entry.get("identifiers", [])):
            if (ident.get("type"), ident.get("value")) == wanted:
                return ("identifiers", j)
        return ("identifiers",)
    return ("profile",) if "profile" in entry else ()


def _csv_tracker(
    checker: ManifestChecker, places: _Places, shown: str
) -> Callable[[Item, int], None]:
    """Feeds a CSV source's items to `checker`, at the row and the column they came from."""

    # every row of one CSV has one shape: the column is looked up once per kind of item
    column_refs: dict[bool, int] = {}

    def track(item: Item, line: int) -> None:
        is_identifier = item.kind == "identifier"
        base = column_refs.get(is_identifier)
        if base is None:
            base = column_refs[is_identifier] = places.pack(shown, _csv_column(item), 0)
        checker.add(item, base | line)

    return track


def _csv_column(item: Item) -> str:
    """The column of a row that an item's problem points at: its value (identifiers),
    else the locator column (`custom.<name>` for a custom identifier)."""
    if item.kind == "identifier":
        return "value"
    key, value = next(iter(item.locator.items()), ("row", None))
    if key == "custom" and isinstance(value, Mapping) and value:
        return f"custom.{next(iter(value))}"
    return str(key)
