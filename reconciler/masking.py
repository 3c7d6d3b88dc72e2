"""Masking identifier values for plans, logs and vendor messages.

`jane@old-domain.example` -> `j***@old-domain.example`; `+15555550100` -> `+1555*****00`;
other ids keep their first and last two characters. Names of attributes and identifier
types are not values and are never masked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

from reconciler.desired import Item

_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,}$")
_TTID = re.compile(r"^(mem_[a-z]+_)([0-9a-z]+)$")
_DOMAIN = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")


_PHONE_FIRST = frozenset("+0123456789")  # what a _PHONE match starts with


@lru_cache(maxsize=4096)
def _is_domain(text: str) -> bool:
    """Whether an email's part after its @ is a domain (the few a project's emails use
    repeat: kept, not matched again)."""
    return _DOMAIN.fullmatch(text) is not None


def mask(value: Any) -> str:
    text = value if type(value) is str else str(value)
    if "@" in text:
        local, _, domain = text.rpartition("@")
        # the domain is shown only when it is one: `@SUM(1)*cmd|...` or `user:pw@x` is
        # a value with an @ in it, not an email, and shows no more than any other value
        if _is_domain(domain):
            return f"{local[:1]}***@{domain}" if local else f"***@{domain}"
    size = len(text)
    # the patterns are tried only on what can match them (their first characters)
    if text[:1] in _PHONE_FIRST and _PHONE.match(text):
        # +15555550100 -> +1555*****00: country and area code stay; a number shorter
        # than E.164's usual 11+ characters shows only its first and last two
        if size >= 11:
            return text[:5] + "*" * (size - 7) + text[-2:]
        if size >= 8:
            return text[:2] + "*" * (size - 4) + text[-2:]
        return text[:2] + "*" * (size - 2)
    ttid = _TTID.match(text) if text.startswith("mem_") else None
    if ttid:
        prefix, rest = ttid.groups()
        if len(rest) < 8:
            return prefix + "*" * len(rest)
        return prefix + rest[:2] + "*" * (len(rest) - 4) + rest[-2:]
    if size <= 2:
        return "*" * size
    if size < 6:
        return text[:1] + "*" * (size - 1)
    return text[:2] + "*" * (size - 4) + text[-2:]


# A short name (an identifier type, a vendor, an attribute) is shown as written in a
# message: that is what makes a typo findable. A name is lowercase letters and digits, or
# letters with no digit at all (spaces and `_.-` allowed); anything else is masked.
_PLAIN_NAME = re.compile(r"[a-z][a-z0-9_.-]{0,31}|(?:[^\W\d]|[\s.-]){0,32}")
FRAGMENT_CAP = 40


def fragment(value: Any) -> str:
    """A value from a user's file as a message may quote it: repr-quoted, a short
    lowercase name as written, anything else masked; never over FRAGMENT_CAP characters.

    Messages are printed in CI logs and pull-request checks, and a file read by mistake
    (or by a hostile manifest) could hold secrets: no message quotes more than this.
    """
    text = value if isinstance(value, str) else str(value)
    if not (isinstance(value, str) and _PLAIN_NAME.fullmatch(text)):
        text = mask(text)
    if len(text) > FRAGMENT_CAP:
        text = text[: FRAGMENT_CAP - 3] + "..."
    return repr(text)


_NOT_VALUES = frozenset({"kind", "type", "name", "prioritization", "alias_label"})


def map_values(item: Item, fn: Callable[[Any], Any]) -> Item:
    """The same item with every identifying value replaced by `fn(value)`.

    Kinds, identifier types, attribute names, custom identifier names and Braze
    prioritization are structure, not values, and are kept.
    """

    def walk(value: Any, key: str) -> Any:
        if key in _NOT_VALUES:
            return value
        if key == "custom" and isinstance(value, dict):
            # {identifier name: value}: every key here is a name, every value a value,
            # whatever the name (a custom identifier may well be called "name")
            return {k: walk(v, "value") for k, v in value.items()}
        if isinstance(value, dict):
            return {k: walk(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, key) for v in value]
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return fn(value)
        return value

    return Item(item.target, item.vendor, walk(item.locator, ""), walk(item.removal, ""))


def raw_values(item: Item) -> list[str]:
    """Every identifying value in an item (locator and removal values)."""
    found: list[str] = []

    def collect(value: Any) -> Any:
        found.append(str(value))
        return value

    map_values(item, collect)
    return found


class Masker:
    """Replaces known raw values with their masks in text (vendor messages, notes).

    Vendors echo values in other spellings: percent-encoded from a URL, lower-cased, or
    `+` as a space. Every spelling is matched, case-insensitively.
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        raws = {v for v in values if v}
        self._mask_of: dict[str, str] = {}
        for raw in raws:
            for form in (raw, quote(raw, safe=""), quote(raw, safe="@"), quote_plus(raw)):
                self._mask_of.setdefault(form.casefold(), mask(raw))
        # longest first, so a value that contains another is replaced whole
        forms = sorted(self._mask_of, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(re.escape(f) for f in forms), re.IGNORECASE) if forms else None
        )

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        # IGNORECASE and casefold() can disagree (final sigma, long s): never fail here,
        # this runs after a request has left
        return self._pattern.sub(
            lambda m: self._mask_of.get(m.group(0).casefold()) or mask(m.group(0)), text
        )


# Shapes of personal data and identifiers in free text (a vendor's message): an email; a
# phone number in any common format (7 or more digits, with spaces, dots, dashes or
# brackets between); a token of 8 or more letters, digits and `_-.` holding both a letter
# and a digit (profile ids, uuids, external ids, keys). Vendors echo values in formats
# other than ours, and other identifiers of the same profile: every such shape is masked.
_EMAIL_SHAPE = re.compile(r"[^\s@<>\"'(),;:]+@[^\s@<>\"'(),;:]+")
_PHONE_SHAPE = re.compile(r"(?<![\w.])\+?\(?\d(?:[\s().-]*\d){6,}(?![\w])")
# (a token next to `*` is one masked already: left as it is)
_ID_SHAPE = re.compile(r"(?<![\w*-])(?=[\w.-]*\d)(?=[\w.-]*[A-Za-z])[\w.-]{8,}(?![\w*-])")


def scrub(text: str, ids: bool = True) -> str:
    """`text` with every email-, phone- and (unless not `ids`) id-shaped token masked,
    whatever it is. A person's own words (a reason for a decision) keep their ids: a
    ticket number is what an auditor looks for."""
    text = _EMAIL_SHAPE.sub(lambda m: mask(m.group()), text)
    text = _PHONE_SHAPE.sub(lambda m: _mask_digits(m.group()), text)
    return _ID_SHAPE.sub(lambda m: mask(m.group()), text) if ids else text


def _mask_digits(text: str) -> str:
    """A phone number in any format: its last two digits kept, every other digit hidden."""
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    keep = set(digits[-2:])
    return "".join("*" if c.isdigit() and i not in keep else c for i, c in enumerate(text))
