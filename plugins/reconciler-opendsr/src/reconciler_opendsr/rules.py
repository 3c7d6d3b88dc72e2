"""What an OpenDSR manifest may ask for: one entry is one data subject, erased whole.

    spec:
      delete_profiles: true          # an erasure removes the whole data subject
      absent:
        - identities: {email: jane@example.com, controller_customer_id: c-1001}
          submitted_time: "2024-05-01T10:00:00Z"

Identity types are the standard's ([SPEC 5.1] in reconciler/vendors/opendsr/FACTS.md §6)
plus a target's `identity_types` (a processor's own, such as mParticle's `mpid`); one
value per type, sent in the `raw` format. `submitted_time` (RFC 3339) is when the data
subject asked [SPEC 7.1.1]; it is part of the item, kept in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

from reconciler.desired import Item
from reconciler.masking import fragment
from reconciler.vendors.api import CsvFormatError, Report, RowToCanonical, RowToEntry
from reconciler.vendors.kit import RulesDefaults, allowed_keys

VENDOR = "opendsr"
STANDARD_TYPES = (
    "controller_customer_id",
    "android_advertising_id",
    "android_id",
    "email",
    "fire_advertising_id",
    "ios_advertising_id",
    "ios_vendor_id",
    "microsoft_advertising_id",
    "microsoft_publisher_id",
    "roku_publisher_id",
    "roku_advertising_id",
)
SUBMITTED = "submitted_time"
IDENTITIES = "identities"
# RFC 3339: a date, T, a time with seconds, an optional fraction, Z or an offset
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def utc_time(value: Any) -> str | None:
    """An RFC 3339 time in one spelling (UTC, `Z`), or None when it is not one. YAML
    reads an unquoted time as a datetime: one with its zone is taken."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None
        when = value
    elif not isinstance(value, str) or not RFC3339.fullmatch(value):
        return None
    else:
        try:
            when = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return None
    when = when.astimezone(UTC)
    fraction = f".{when.microsecond:06d}".rstrip("0") if when.microsecond else ""
    return when.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


class OpenDSRRules(RulesDefaults):
    vendor = VENDOR

    def __init__(self, extra_types: tuple[str, ...] = ()) -> None:
        self.types = (*STANDARD_TYPES, *(t for t in extra_types if t not in STANDARD_TYPES))

    def for_target(self, settings: Mapping[str, Any]) -> OpenDSRRules:
        return OpenDSRRules(tuple(settings.get("identity_types") or ()))

    def check_spec(self, spec: Mapping[str, Any], report: Report) -> None:
        if spec.get("delete_profiles") is not True:
            report(
                (),
                "an OpenDSR erasure removes the whole data subject at the processor "
                "(irreversible): set spec.delete_profiles: true to say so",
            )

    def items(self, target: str, entry: Mapping[str, Any], report: Report) -> list[Item]:
        allowed_keys(entry, {IDENTITIES, SUBMITTED}, VENDOR, report)
        identities = entry.get(IDENTITIES)
        ok = True
        if not isinstance(identities, Mapping) or not identities:
            report((), "identities is required: the data subject's {type: value}, at least one")
            ok = False
            identities = {}
        for id_type, value in identities.items():
            if id_type not in self.types:
                report(
                    (IDENTITIES, id_type),
                    f"{fragment(id_type)} is not an OpenDSR identity type (the standard's: "
                    f"{', '.join(STANDARD_TYPES)}; a processor's own go in the target's "
                    "identity_types)",
                )
                ok = False
            elif not isinstance(value, str) or not value:
                report((IDENTITIES, id_type), "must be a non-empty text value")
                ok = False
        when = entry.get(SUBMITTED)
        submitted = utc_time(when)
        if when is None:
            report((), f"{SUBMITTED} is required: when the data subject asked (RFC 3339)")
            ok = False
        elif submitted is None:
            report(
                (SUBMITTED,),
                f"{fragment(str(when))} is not an RFC 3339 time with its zone (e.g. "
                "2024-05-01T10:00:00Z)",
            )
            ok = False
        if not ok or submitted is None:
            return []
        locator = {IDENTITIES: dict(identities)}
        return [Item(target, VENDOR, locator, {"kind": "profile", SUBMITTED: submitted})]

    def csv_reader(self, header: list[str]) -> RowToEntry:
        """Columns: `submitted_time` and one column per identity type."""
        if len(set(header)) != len(header):
            raise CsvFormatError("header repeats a column")
        types = [c for c in header if c != SUBMITTED]
        unknown = [c for c in types if c not in self.types]
        if SUBMITTED not in header or not types or unknown:
            raise CsvFormatError(
                f"header does not fit an opendsr target (expected columns: {SUBMITTED} and "
                "one or more identity types, e.g. submitted_time,email,controller_customer_id)"
            )

        def to_entry(row: Mapping[str, str]) -> dict[str, Any]:
            return {IDENTITIES: {t: row[t] for t in types}, SUBMITTED: row[SUBMITTED]}

        return to_entry

    def csv_canonical(self, target: str, header: list[str]) -> RowToCanonical | None:
        """A row's canonical bytes without its entry, Item or JSON encoder (the loader's
        fast path, held byte-identical to `items` by the conformance kit): the header
        fits (csv_reader checked it), so a row makes one erasure unless its time is not
        RFC 3339 or its email has no @; those rows take the general path, which says why.
        """
        time_col = header.index(SUBMITTED)
        # canonical_json sorts keys: identities by type name, then kind < submitted_time
        columns = sorted((t, header.index(t)) for t in header if t != SUBMITTED)
        keyed = [(f"{encode_basestring(t)}:", i) for t, i in columns]
        email_col = header.index("email") if "email" in header else None
        head = f'[{encode_basestring(target)},{{"identities":{{'
        middle = '}},{"kind":"profile","submitted_time":'
        times: dict[str, str | None] = {}  # a time cell -> its UTC spelling (None: not one)

        def canonical(cells: list[str]) -> bytes | None:
            cell = cells[time_col]
            when = times.get(cell, "")
            if when == "":
                when = times[cell] = utc_time(cell)
                if len(times) > 4096:
                    times.clear()
            if when is None or (email_col is not None and "@" not in cells[email_col]):
                return None
            pairs = ",".join([k + encode_basestring(cells[i]) for k, i in keyed])
            return f'{head}{pairs}{middle}"{when}"}}]'.encode()

        return canonical
