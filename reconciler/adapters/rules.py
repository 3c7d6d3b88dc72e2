"""What every vendor's validation rules look like, and the pieces they share.

A vendor's rules turn one manifest entry (a mapping already checked against the
manifest schema) into items, reporting every vendor rule it breaks. CSV rows are
turned into entries of the same shape first, so a row is checked exactly like YAML.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from reconciler.desired import Item
from reconciler.masking import fragment
from reconciler.yamlsource import Path

Report = Callable[[Path, str], None]
"""Records a problem at a path relative to the entry (or spec) being checked."""

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
# Control characters (Unicode Cc) other than tab: never part of an id or a name.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def control_problem(text: str) -> str | None:
    """Why `text` is refused for holding a control character, naming it (not the text)."""
    found = CONTROL.search(text)
    if found is None:
        return None
    return (
        f"contains a control character (U+{ord(found.group()):04X}); only tab is allowed "
        "(a NUL, line break or escape code is almost always a copy-paste accident)"
    )


# Characters that make a value look like another: invisible ones (zero-width, word
# joiner, BOM, soft hyphen), bidi controls, and spaces that are not the ASCII space. A
# value holding one is sent, comes back "already absent", and the real one stays.
LOOKALIKE = re.compile(
    "[\u00a0\u00ad\u034f\u061c\u115f\u1160\u1680\u180e\u2000-\u200f\u2028-\u202f"
    "\u205f-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0]"
)
_CONFUSABLE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
ALLOW_LOOKALIKES = "allow_lookalikes"


def lookalike_problem(text: str) -> str | None:
    """Why `text` could be mistaken for another value: an invisible or unusual character
    (named by its code point), or letters of two confusable scripts (Latin `a` and
    Cyrillic `а`). None for plain text. ASCII text is never refused."""
    if text.isascii():
        return None
    found = LOOKALIKE.search(text)
    if found is not None:
        char = found.group()
        name = unicodedata.name(char, "an invisible character").lower()
        return (
            f"contains U+{ord(char):04X} ({name}), which looks like nothing or like a "
            "plain space: the vendor would not find this value"
        )
    letters: dict[str, list[str]] = {}
    for c in text:
        if c.isalpha():
            script = "LATIN" if c.isascii() else unicodedata.name(c, "?").split(" ", 1)[0]
            if script in _CONFUSABLE_SCRIPTS:
                letters.setdefault(script, []).append(c)
    if len(letters) > 1:
        # the odd one out: the first letter of the script with the fewest letters
        odd = min(letters.values(), key=len)[0]
        names = " and ".join(sorted(s.title() for s in letters))
        return (
            f"mixes {names} letters (U+{ord(odd):04X} {unicodedata.name(odd, '?').lower()}): "
            "a look-alike of another value"
        )
    return None


def value_problem(
    value: object, is_email: bool = False, allow_lookalikes: bool = False
) -> str | None:
    """Why an identifying value cannot be what its author meant, or None."""
    if not isinstance(value, str):
        return None
    if value != value.strip():
        return "has leading or trailing spaces (values are compared exactly)"
    if is_email and "@" not in value:
        return "is not an email address (no @)"
    if allow_lookalikes:
        return None
    problem = lookalike_problem(value)
    if problem is None:
        return None
    return f"{problem} (if this value is really meant, set {ALLOW_LOOKALIKES}: true on its entry)"


def item_value_problems(item: Item, allow_lookalikes: bool = False) -> list[tuple[str, str]]:
    """(field, why) for each identifying value of `item` that `value_problem` refuses:
    locator values, and the removed value (an email when its type says so)."""
    found = []
    for key, value in _values(item.locator):
        problem = value_problem(value, key == "email", allow_lookalikes)
        if problem:
            found.append((key, problem))
    removal = item.removal
    if "value" in removal:
        is_email = removal.get("type") == "email"
        problem = value_problem(removal["value"], is_email, allow_lookalikes)
        if problem:
            found.append(("value", problem))
    return found


def _values(mapping: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in mapping.items():
        if key == "prioritization":
            continue
        if isinstance(value, Mapping):
            yield from _values(value)
        else:
            yield key, value


def name_problem(name: str) -> str | None:
    """Why a name (attribute, custom identifier) is refused, or None."""
    if not name.strip():
        return "must not be empty or only spaces"
    if name != name.strip():
        return "has leading or trailing spaces (names are compared exactly)"
    return control_problem(name)


class CsvFormatError(ValueError):
    """The CSV header does not fit the target's vendor."""


RowToEntry = Callable[[Mapping[str, str]], dict[str, Any]]
# A CSV row's cells to its one item's canonical bytes, or None: see csv_canonical.
RowToCanonical = Callable[[list[str]], bytes | None]


class ManifestChecker(Protocol):
    """Rules across the entries (and CSV rows) of ONE manifest.

    The loader adds every item with an opaque int saying where it was declared; after
    the manifest, `problems` yields (where to report, message), naming the other place
    through `describe`; a `where` of None is a note on the whole manifest.
    """

    def add(self, item: Item, where: int) -> None: ...

    def problems(self, describe: Callable[[int], str]) -> Iterator[tuple[int | None, str]]: ...


class VendorRules(Protocol):
    vendor: str

    def for_target(self, settings: Mapping[str, Any]) -> VendorRules:
        """These rules as a target's settings refine them (e.g. its identifier types)."""
        ...

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        """Spec-level rules (for example Braze's `delete_profiles: true`)."""

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        """The entry's items; every broken rule is reported (items may then be partial)."""
        ...

    def csv_reader(self, header: list[str]) -> RowToEntry:
        """How to turn a row under `header` into an entry; CsvFormatError if it does not fit."""
        ...

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A fast path for CSV rows under `header` (already fitted by csv_reader) that
        need no manifest checker: a row's cells (each non-empty, stripped, free of
        control characters and look-alikes) to the canonical bytes of its one item, and
        free of any problem `item_value_problems` reports, byte-identical to
        `Item.canonical()` of what `items` makes of the row; None for a row that does not
        make exactly one item without problems (it then takes the general path). None
        when the vendor has no fast path."""
        ...

    def manifest_checker(self, entries: Sequence[Mapping[str, Any]]) -> ManifestChecker | None:
        """A fresh checker for rules across one manifest's items, or None if none apply.

        `entries` are the manifest's entries plus one sample entry per CSV source (made
        from its header): enough to tell whether the manifest needs checking at all, so
        a million-row CSV pays nothing when it cannot conflict.
        """
        ...


def allowed_keys(
    entry: Mapping[str, Any], allowed: set[str], vendor: str, report: Report, where: Path = ()
) -> None:
    for key in entry:
        if key not in allowed:
            report(
                (*where, key),
                f"not supported for {vendor} targets (allowed here: {', '.join(sorted(allowed))})",
            )


def sole_locator(
    entry: Mapping[str, Any], key: str, vendor: str, report: Report, why: str = ""
) -> tuple[Any, bool] | None:
    """For vendors that locate a profile by one key only (Segment user_id, Twilio
    profile_id): (its value or None, whether every rule held); None without a profile."""
    profile = entry.get("profile")
    if profile is None:
        report((), f"profile is required for {vendor} targets (profile: {{{key}: ...}})")
        return None
    ok = True
    for other in profile:
        if other != key:
            report(("profile", other), f"{vendor} locates profiles only by {key}{why}")
            ok = False
    value = profile.get(key)
    if value is None:
        report(("profile",), f"{key} is required for {vendor} targets")
        ok = False
    return value, ok


def one_locator(
    profile: Mapping[str, Any], allowed: tuple[str, ...], vendor: str, report: Report
) -> str | None:
    """The single locator key of `profile`, reporting unknown or several."""
    keys = [k for k in profile if k in allowed]
    for key in profile:
        if key not in allowed and key != "prioritization":
            report(
                ("profile", key),
                f"'{key}' cannot locate a {vendor} profile (use one of: {', '.join(allowed)})",
            )
    if len(keys) > 1:
        report(("profile",), f"give exactly one of {', '.join(allowed)}, not {' and '.join(keys)}")
        return None
    if not keys:
        report(("profile",), f"one of {', '.join(allowed)} is required for {vendor} targets")
        return None
    return keys[0]


def require_header(header: list[str], allowed: list[list[str]], vendor: str) -> list[str]:
    """Match a CSV header (in any column order) to one of the vendor's allowed shapes."""
    seen = set(header)
    if len(seen) != len(header):
        raise CsvFormatError("header repeats a column")
    for shape in allowed:
        if seen == set(shape):
            return shape
    shapes = "; ".join(",".join(s) for s in allowed)
    raise CsvFormatError(
        f"header {quoted_header(header)} does not fit a {vendor} target (expected columns: "
        f"{shapes})"
    )


MAX_HEADER_SHOWN = 8


def quoted_header(header: list[str]) -> str:
    """A header row as a message may quote it: column names as written when they are
    plain names, anything else masked (a first line may be anything, secrets included)."""
    shown = ", ".join(fragment(h) for h in header[:MAX_HEADER_SHOWN])
    more = len(header) - MAX_HEADER_SHOWN
    return f"[{shown}{f', ... {more} more' if more > 0 else ''}]"
