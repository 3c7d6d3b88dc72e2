"""What a vendor supplies to the conformance kit: sample entries and sample answers.

See reconciler/testing/conformance.py for what the kit does with them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import Answer

# The evidence rules an answer can be declared to follow (AnswerCase.rule).
REMOVED = "removed"  # done, evidence removed: the vendor's documented answer says it deleted
ABSENT = "absent"  # done, evidence absent: the documented answer proves it was not there
ACCEPTED = "accepted"  # queued (asynchronous): confirmed later by a read
REJECTED = "rejected"  # refused for this item: a person changes the manifest
PROVES_NOTHING = "proves-nothing"  # neither done nor accepted: retried or shown to a person
TARGET_STOP = "target-stop"  # about the whole target: it stops, nothing is done
CHECK = "check"  # a read must settle it: `settle` on the read's answer decides
UNKNOWN = "unknown"  # the vendor may have acted and resending is unsafe: held, no result
RULES = (REMOVED, ABSENT, ACCEPTED, REJECTED, PROVES_NOTHING, TARGET_STOP, CHECK, UNKNOWN)
# what a settled CHECK may come to
SETTLED_RULES = (REMOVED, ABSENT, ACCEPTED, REJECTED, PROVES_NOTHING)


@dataclass(frozen=True)
class AnswerCase:
    """One evidence rule of the vendor, exercised: `answer` to the request for the items
    of the sample entry `entry` (its first batch) must follow `rule`.

    For a CHECK, `settle` is the documented answer to the read the outcome asks for and
    `settles_as` the rule the settled outcome must follow. `why` names the fact (e.g.
    "FACTS.md §2: 404 eid_not_found") for failure messages.
    """

    rule: str
    entry: str
    answer: Answer
    settle: Answer | None = None
    settles_as: str | None = None
    why: str = ""

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"not an evidence rule: {self.rule!r} (one of {', '.join(RULES)})")
        if (self.rule == CHECK) != (self.settles_as is not None):
            raise ValueError("a CHECK case, and only one, says what it settles_as")
        if self.settles_as is not None and self.settles_as not in SETTLED_RULES:
            raise ValueError(f"a check cannot settle as {self.settles_as!r}")

    @property
    def label(self) -> str:
        return f"{self.rule} ({self.why or self.answer.describe()}) for entry {self.entry!r}"


FOLLOW = "follow"  # ReadCase.seen: the answer asks a further read (a page, a merge)


@dataclass(frozen=True)
class ReadCase:
    """A read (refresh) answer for the items of `entry` and what it must show: "present",
    "absent" or "unverified" (reconciler.vendors.api.Observation), or FOLLOW: a further
    read (an idempotent VendorRequest) for each item."""

    entry: str
    answer: Answer | None
    seen: str
    why: str = ""


@dataclass(frozen=True)
class CsvCase:
    """A CSV row that must make exactly the items of the sample entry `entry`."""

    header: tuple[str, ...]
    row: tuple[str, ...]
    entry: str


@dataclass(frozen=True)
class InadmissibleCase:
    """Preflight answers under which the items of `entry` must not be sent at all."""

    entry: str
    preflight: tuple[Answer, ...]


def count_items(items: Sequence[Item]) -> int:
    return len(items)


@dataclass(frozen=True)
class ConformanceCases:
    """Everything the kit needs from a vendor, besides the vendor itself.

    - `settings`: one target's settings as reconciler.yaml holds them (without `vendor:`,
      which the kit adds); valid by the vendor's config schema.
    - `entries`: named sample entries of `spec.absent`, each valid and making at least
      one item. Use distinctive values of 6 characters or more: the masking checks look
      for them in every message.
    - `golden`: the JSON file of the samples' fingerprints the vendor ships (write it
      once with `python -m reconciler.testing golden`); a change to it re-keys every
      ledger item of every user.
    - `answers`: the vendor's evidence rules, one AnswerCase per documented answer; at
      least one PROVES_NOTHING, one TARGET_STOP and one success (REMOVED, ABSENT or
      ACCEPTED, directly or settled).
    - `preflight`: the documented answers to the vendor's preflight reads, in order.
    - `spec`: spec-level keys a manifest of this vendor needs (`delete_profiles: true`).
    - `bulk`: entry number i -> a distinct valid entry, for the batch-size check; `large`
      the same with large values, for the body-size check (vendors that declare
      `Capabilities.max_body_bytes`); `units` counts a batch the way the vendor's
      batch size does (Insider: users, not items).
    - `secrets`: {secret setting: value} when the vendor needs a particular form (a
      `key:secret` pair); otherwise the kit makes them up.
    - `reads`: for a vendor with a Reader, what its documented read answers show.
    - `csv`: CSV rows with the entry each must equal; `inadmissible`: preflight answers
      that rule the items of an entry out.
    """

    settings: Mapping[str, Any]
    entries: Mapping[str, Mapping[str, Any]]
    golden: Path
    answers: Sequence[AnswerCase]
    preflight: Sequence[Answer] = ()
    spec: Mapping[str, Any] = field(default_factory=dict)
    bulk: Callable[[int], Mapping[str, Any]] | None = None
    large: Callable[[int], Mapping[str, Any]] | None = None
    units: Callable[[Sequence[Item]], int] = count_items
    secrets: Mapping[str, str] | None = None
    reads: Sequence[ReadCase] = ()
    csv: Sequence[CsvCase] = ()
    inadmissible: Sequence[InadmissibleCase] = ()
    target_name: str = "conformance"
