"""Helpers for writing a vendor: rule checks and request pieces several vendors share.

Nothing here is required: a vendor package may use what fits and write the rest.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from reconciler.desired import Item
from reconciler.evidence import Answer, Outcome
from reconciler.masking import fragment
from reconciler.target import Target
from reconciler.vendors.api import (
    CsvFormatError,
    ManifestChecker,
    Pair,
    Preflight,
    Report,
    RowToCanonical,
    VendorRequest,
)
from reconciler.vendors.registry import installed
from reconciler.yamlsource import Path

# A user id no vendor holds: the preflight reads it to prove host, account and
# credentials without reading anyone's data.
PROBE_ID = "reconciler-preflight-probe-0000"


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


class RulesDefaults:
    """What most vendors' rules do: no per-target refinement, no CSV fast path, no rule
    across a manifest's entries, CSV columns named like the entry's keys."""

    def for_target(self, settings: Mapping[str, Any]) -> Any:
        return self

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        return None

    def csv_column(self, path: Path) -> str | None:
        return None

    def manifest_checker(self, entries: Sequence[Mapping[str, Any]]) -> ManifestChecker | None:
        return None


class Defaults:
    """What most vendors do: one rate scope, one phase, every item sendable, no redirect
    followed, no answer that needs a read to settle it. Override what differs."""

    def kind(self, items: Sequence[Item]) -> str:
        return "delete"

    def phase(self, item: Item) -> int:
        return 0

    def subject(self, item: Item) -> Hashable | None:
        return None

    def fast_preview(
        self, target: Target, mask: Callable[[str], str]
    ) -> Callable[[bytes], tuple[str, str, str] | None] | None:
        return None

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        return None

    def redirect(self, answer: Answer, request: VendorRequest) -> VendorRequest | None:
        return None

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        raise AssertionError("no outcome of this vendor asks for a check")


def preflight_reading(
    label: str, answer: Answer | None, expected: Callable[[Answer], bool], what: str
) -> Preflight:
    """The common reading of one preflight read: `expected` says whether the answer is
    the vendor's documented answer to it (host, account and credentials proven)."""
    if answer is None:
        return Preflight(f"could not reach {label} ({what})", "check base_url, the network and DNS")
    if answer.status == 401:
        return Preflight(f"{label} refused the credentials (HTTP 401)", "check the secret")
    if answer.status == 403:
        return Preflight(
            f"{label} refused the permission (HTTP 403)",
            "give the key the permissions this target needs",
        )
    if expected(answer):
        return Preflight()
    return Preflight(
        f"the answer to {what} is not {label}'s API ({answer.describe()})",
        "check the target's base_url",
    )


def singles(pairs: Sequence[Pair]) -> list[list[Pair]]:
    return [[p] for p in pairs]


class OneItemPerRequest(Defaults):
    """For vendors whose delete takes exactly one item (Segment, Twilio Memory)."""

    max_batch = 1

    def batch_key(self, item: Item) -> Hashable | None:
        return None

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        return singles(pairs)


def chunked_by_key(
    pairs: Sequence[Pair], key: Callable[[Item], Hashable], size: int
) -> list[list[Pair]]:
    """Items grouped by `key` (first-seen order), in chunks of at most `size`."""
    groups: dict[Hashable, list[Pair]] = {}
    for pair in pairs:
        groups.setdefault(key(pair[1]), []).append(pair)
    return [group[i : i + size] for group in groups.values() for i in range(0, len(group), size)]


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def segment_part(value: str) -> str:
    """A value placed in a URL path segment, with `/`, `+`, `@` and the rest escaped."""
    if _PLAIN.fullmatch(value):
        return value  # nothing to escape: the common case, a plan renders every item
    return _quote_cached(value)


@lru_cache(maxsize=65536)
def _quote_cached(value: str) -> str:
    # masked values (`u_**01`) repeat across a plan's items
    return quote(value, safe="")


# -- the Vendor object: what most vendors share ---------------------------------------------


def locator_words(locator: Mapping[str, Any]) -> str:
    """`user_id u_**01`, `alias a*** (label crm)`, `email x (prioritization: ...)`."""
    parts: list[str] = []
    for key, value in locator.items():
        if key == "prioritization":
            continue
        if key == "custom" and isinstance(value, dict):
            parts.extend(f"custom.{k} {v}" for k, v in value.items())
        elif key == "user_alias" and isinstance(value, dict):
            parts.append(f"alias {value['alias_name']} (label {value['alias_label']})")
        else:
            parts.append(f"{key} {value}")
    text = ", ".join(parts)
    if "prioritization" in locator:
        text += f" (prioritization: {', '.join(locator['prioritization'])})"
    return text


def describe_item(it: Item) -> str:
    """Plain words for an item by its kind of removal (values already masked)."""
    r = it.removal
    kind = r["kind"]
    where = locator_words(it.locator)
    if kind == "profile":
        return f"user profile {where}"
    if kind == "identifier_type":
        return f"every {r['type']} value on {where}"
    if kind == "attribute":
        custom = "custom attribute" if r["custom"] else "attribute"
        return f"{custom} {r['name']} on user {where}"
    if kind == "attribute_value":
        custom = "custom attribute" if r["custom"] else "attribute"
        return f"value {r['value']} of {custom} {r['name']} on user {where}"
    return f"{r['type']} {r['value']} on {where}"


@cache
def package_schema(package: str, name: str) -> dict[str, Any]:
    """A JSON Schema shipped inside a package (`config.schema.json`)."""
    text = resources.files(package).joinpath(name).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def package_part(package: str, name: str) -> dict[str, Any]:
    """A schema fragment shipped inside a package, or {} when it ships none."""
    if not resources.files(package).joinpath(name).is_file():
        return {}
    return package_schema(package, name)


def merged(first: Mapping[str, Any], then: Mapping[str, Any]) -> dict[str, Any]:
    """Two vendors' schemas of one key as one: the first one's rules, both descriptions
    (once each), the examples of both, their `properties` merged the same way."""
    out = dict(first)
    for key, value in then.items():
        if key not in out:
            out[key] = value
        elif key == "description" and value != out[key]:
            out[key] = f"{out[key]} {value}"
        elif key == "examples":
            out[key] = [*out[key], *(x for x in value if x not in out[key])]
        elif key == "properties":
            props = dict(out[key])
            for name, sub in value.items():
                props[name] = merged(props[name], sub) if name in props else sub
            out[key] = props
    return out


@cache
def standard_entry_schema() -> dict[str, Any]:
    """The standard shape of a manifest entry (reconciler/vendors/entry.schema.json), its
    locator keys those of every installed vendor's `manifest.part.json` (`locator`).

    The schema checks each key's shape; the target's vendor's rules then say which keys
    it locates a profile by, so another vendor's key gets a message naming the right one
    ("segment locates profiles only by user_id"), not an unknown key."""
    schema = copy.deepcopy(package_schema("reconciler.vendors", "entry.schema.json"))
    locator: dict[str, Any] = schema["$defs"]["locator"]["properties"]
    for vendor in installed().vendors.values():
        for key, sub in vendor.manifest_part().get("locator", {}).items():
            locator[key] = merged(locator[key], sub) if key in locator else sub
    return schema


class VendorBase:
    """Defaults for a `Vendor`: the config schema and manifest part shipped beside it
    (`config.schema.json`, `manifest.part.json`), the standard manifest entry shape,
    descriptions by kind of removal, no held items, the identifier entry `ledger find`
    describes."""

    caveats: tuple[str, ...] = ()
    reader: Any = None
    resolver: Any = None
    held_advice = "Check the item at the vendor, then change or remove its manifest entry."

    def config_schema(self) -> Mapping[str, Any]:
        return package_schema(type(self).__module__, "config.schema.json")

    def entry_schema(self) -> Mapping[str, Any]:
        return standard_entry_schema()

    def manifest_part(self) -> Mapping[str, Any]:
        return package_part(type(self).__module__, "manifest.part.json")

    def default_base_url(self, settings: Mapping[str, Any]) -> str | None:
        return None

    def describe(self, item: Item) -> str:
        return describe_item(item)

    def held(self, item: Item) -> bool:
        return False

    def vendor_ids(self, item: Item) -> frozenset[str]:
        return frozenset()

    def lookup_entry(
        self, profile: Mapping[str, str], id_type: str | None, value: str | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {}
        if profile:
            entry["profile"] = dict(profile)
        if id_type is not None:
            ident: dict[str, Any] = {"type": id_type}
            if value is not None:
                ident["value"] = value
            entry["identifiers"] = [ident]
        return entry
