"""The values a manifest may hold: what makes an identifying value or a name unusable.

Core policy, the same for every vendor: control characters, look-alike characters and
mixed scripts, stray spaces, an email without `@`. A vendor's own rules (which keys
locate a profile, which types exist) live in its package.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.desired import Item

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
