"""The vendor interface: what a vendor package declares and the core asks of it.

A vendor is one package registered in the entry-point group `reconciler.vendors` (the
four built-in vendors are registered the same way as any plugin). The core (config,
manifests, plan, apply, render, ledger) never names a vendor: it asks the `Vendor` found
by the target's `vendor:` name.

The pieces a vendor provides:
- `VendorRules`: its manifest rules (validate time): entries and CSV rows into items.
- `RequestBuilder`: its requests and its evidence rules (apply time): how items batch,
  what request they become, and what each answer proves (see reconciler/evidence.py).
- the `Vendor` object itself: config and manifest schema fragments, secrets, the
  settings that name the account, rate scopes, capabilities, plan wording.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.desired import Fingerprinter, Item, canonical_json
from reconciler.evidence import Answer, Outcome
from reconciler.target import Target
from reconciler.yamlsource import Path

Report = Callable[[Path, str], None]
"""Records a problem at a path relative to the entry (or spec) being checked."""


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

    def csv_column(self, path: Path) -> str | None:
        """The CSV column a problem at `path` (in a row's entry) is about, when the
        entry's keys are not the columns' names; None: the last named key of the path."""
        ...

    def manifest_checker(self, entries: Sequence[Mapping[str, Any]]) -> ManifestChecker | None:
        """A fresh checker for rules across one manifest's items, or None if none apply.

        `entries` are the manifest's entries plus one sample entry per CSV source (made
        from its header): enough to tell whether the manifest needs checking at all, so
        a million-row CSV pays nothing when it cannot conflict.
        """
        ...


@dataclass(frozen=True)
class VendorRequest:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    # False when sending it twice can remove something else the second time (Braze by
    # email or phone: the prioritization picks the next matching user)
    idempotent: bool = True

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            out["query"] = self.query
        if self.body is not None:
            out["body"] = self.body
        return out

    def digest(self, key: Fingerprinter) -> str:
        """The request's canonical form through the ledger's fingerprint function:
        recorded in intents instead of the body. Keyed like fingerprints, because a plain
        hash of a request that holds an email could be tested against guesses."""
        return key.of_bytes(canonical_json(self.as_json()).encode("utf-8"))


Pair = tuple[str, Item]
"""(fingerprint, item): what batching moves around."""


@dataclass(frozen=True)
class Preflight:
    """What a target's preflight reads proved: `problem` (why nothing may be sent) and
    `fix` (what the user should change), or facts later answers are read against
    (Twilio: the store's configured identifier types)."""

    problem: str | None = None
    fix: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None


class RequestBuilder(Protocol):
    vendor_label: str  # the vendor's name as users know it, for messages
    max_batch: int

    def batch_key(self, item: Item) -> Hashable | None:
        """Items with the same key may share one request; None: one request each."""
        ...

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest: ...

    def batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        """Group items into requests within the vendor's limits."""
        ...

    def auth_headers(self, target: Target, secrets: dict[str, str]) -> dict[str, str]:
        """Headers carrying the credentials, from {config key: secret value}."""
        ...

    def interpret(
        self,
        answer: Answer,
        request: VendorRequest,
        items: Sequence[Item],
        facts: dict[str, Any],
    ) -> list[Outcome]:
        """One outcome per item, in order, from the final (non-retryable) answer to
        `request`, read by the vendor's evidence rules; `facts`: what the preflight
        proved."""
        ...

    def settle(self, answer: Answer | None, item: Item, outcome: Outcome) -> Outcome:
        """The item's outcome once the read an outcome asked for (`outcome.check`) was
        answered (None: no usable answer). Only called for outcomes with a check."""
        ...

    def redirect(self, answer: Answer, request: VendorRequest) -> VendorRequest | None:
        """A request to follow a vendor redirect with, once; None when not followed."""
        ...

    def preflight(self, target: Target) -> list[VendorRequest]:
        """Harmless reads sent before a target's first delete (and by `reconcile check`)."""
        ...

    def preflight_result(self, target: Target, answers: Sequence[Answer | None]) -> Preflight:
        """What the preflight's answers prove (one answer, or None, per read)."""
        ...

    def admissible(self, item: Item, facts: dict[str, Any]) -> str | None:
        """Why an item must not be sent at all (it stays pending), or None."""
        ...

    def kind(self, items: Sequence[Item]) -> str:
        """Which rate scope a request for `items` counts in (rates DELETE,
        IDENTITY): Insider's identity deletes have their own, lower limit."""
        ...

    def phase(self, item: Item) -> int:
        """When an item goes: every phase-0 request before any phase-1 request."""
        ...

    def fast_preview(
        self, target: Target, mask: Callable[[str], str]
    ) -> Callable[[bytes], tuple[str, str, str] | None] | None:
        """An optional fast path for `plan --format json`: from an item's canonical bytes
        to (kind, description, the request's JSON text), byte-identical to what the
        general path renders with values through `mask`; None for an item it does not
        cover (the general path renders it). None: no fast path."""
        ...

    def subject(self, item: Item) -> Hashable | None:
        """Whom an item is about, for ordering: an item of a later phase is kept back
        (stays pending) when an earlier-phase item about the same subject did not settle
        (Insider: an identifier that locates a user goes only after that user's
        attribute removals succeeded). None: no such dependency."""
        ...


PRESENT = "present"
ABSENT_SEEN = "absent"
UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Observation:
    """What a read showed about one item: `present` (it is there: drifted, or not yet
    removed), `absent` (it is gone: confirms a removal), or `unverified` (the read
    proved neither: an error, an ambiguous answer; never changes a state)."""

    seen: str
    note: str | None = None

    def __post_init__(self) -> None:
        if self.seen not in (PRESENT, ABSENT_SEEN, UNVERIFIED):
            raise ValueError(f"not an observation: {self.seen}")


class Reader(Protocol):
    """A vendor's read capability (refresh): is each item still there?

    Reads go through the same HTTP policy as deletes (pacing in the vendor's READ scope,
    retries, the circuit breaker); an answer that is not the vendor's documented one is
    `unverified`, never `absent`.
    """

    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        """Items grouped into reads within the vendor's limits (one read may answer
        several items, e.g. every identifier of one profile)."""
        ...

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest: ...

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        """One entry per item, in order: what the answer to `request` shows about it, or
        a further read to send for it (the next page of a paged answer, the canonical
        profile after a merge; the engine follows a few). `answer` is None when the read
        got no usable answer."""
        ...


@dataclass(frozen=True)
class Resolved:
    """What a lookup found for one input row: the output rows (an unambiguous id with
    the rest of the row), or why it could not be resolved (never a guess)."""

    rows: tuple[dict[str, str], ...] = ()
    problem: str | None = None


class Resolver(Protocol):
    """A vendor's read-only lookups (`reconcile resolve`): rows that name a subject by
    something the delete API cannot use (an email) into rows that name it by an
    unambiguous id the delete API takes (a user_id, an external_id)."""

    def input_headers(self) -> list[list[str]]:
        """The CSV headers a `--from` file may have (any column order)."""
        ...

    def output_header(self, header: list[str]) -> list[str]:
        """The `--out` file's header for an input of `header`: an `absent_csv` source."""
        ...

    def request(self, target: Target, row: Mapping[str, str]) -> VendorRequest: ...

    def resolve(self, answer: Answer | None, row: Mapping[str, str]) -> Resolved: ...


@dataclass(frozen=True)
class Capabilities:
    """What a vendor's API can do, as `reconcile vendors` lists it."""

    asynchronous: bool  # deletions are queued: `accepted`, confirmed later by a read
    batch_size: int  # the most items one delete request holds
    idempotent: bool  # False: some deletes remove another subject if sent twice
    irreversible: bool  # a delete removes a whole profile
    preflight: bool  # harmless reads prove host, account and credentials before sending
    read: bool = False  # items can be read back (refresh)
    resolve: bool = False  # lookups of ids from other identifiers (resolve)
    max_body_bytes: int | None = None  # the most bytes one delete request's JSON body holds


@dataclass(frozen=True)
class Scaffold:
    """What `reconcile init` writes for a target of this vendor."""

    target_name: str  # e.g. segment-prod
    target_yaml: str  # the target's settings, indented four spaces, one per line
    example: str  # commented `absent:` entries, indented two spaces
    note: str  # one sentence: what this vendor removes
    spec: str = ""  # spec lines a manifest of this vendor must have, indented two spaces


class Vendor(Protocol):
    """One vendor, as the core sees it. Registered in the `reconciler.vendors` group."""

    name: str  # the config's `vendor:` value and the entry point's name
    label: str  # the vendor as users know it, for messages ("Segment")
    version: str
    capabilities: Capabilities
    secret_keys: tuple[str, ...]  # target settings that name the env vars holding secrets
    account_keys: tuple[str, ...]  # target settings that, with base_url, name the account
    caveats: tuple[str, ...]  # what a deletion here does not cover, shown with every plan
    held_advice: str  # what a person does about a held item (see `held`)
    rules: VendorRules
    requests: RequestBuilder
    reader: Reader | None  # None: the vendor cannot read items back (no refresh)
    resolver: Resolver | None  # None: no lookups (`reconcile resolve`)

    def config_schema(self) -> Mapping[str, Any]:
        """JSON Schema of one target of this vendor in reconciler.yaml."""
        ...

    def entry_schema(self) -> Mapping[str, Any]:
        """JSON Schema of one entry of a manifest's `spec.absent` for this vendor."""
        ...

    def manifest_part(self) -> Mapping[str, Any]:
        """This vendor's part of the manifest schema, as data (all keys optional):
        `spec`: `properties` it adds to a manifest's spec (known on every manifest) and
        `rules` (if/then schemas, each `then` with the x-required/x-message validate
        prints), checked on manifests of this vendor's targets only; `locator`: its
        locator keys, when its entries take the standard shape
        (vendors.kit.standard_entry_schema);
        `examples`: whole specs for editors (`reconcile schema manifest`)."""
        ...

    def default_base_url(self, settings: Mapping[str, Any]) -> str | None:
        """The production host for these settings, or None when the target must say."""
        ...

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        """(the scope a limit is counted in, requests/s, whether the vendor documents
        that limit) for a kind of request ("delete", "identity" or "read"). A target's
        `rate_limit` lowers a documented limit and replaces an undocumented default."""
        ...

    def describe(self, item: Item) -> str:
        """Plain words for an item whose values are already masked (or to be shown)."""
        ...

    def held(self, item: Item) -> bool:
        """Whether an item whose answer was lost must not be sent again (a person
        checks it): sending twice could remove another subject."""
        ...

    def vendor_ids(self, item: Item) -> frozenset[str]:
        """Keys of `item.removal` whose values are the vendor's own ids, not personal data
        (Insider's `list_id` numbers): shown unmasked, so two lines of a plan about
        different lists never look the same. Empty for most items."""
        ...

    def lookup_entry(
        self, profile: Mapping[str, str], id_type: str | None, value: str | None
    ) -> dict[str, Any]:
        """The manifest entry `ledger find --profile K=V --type T --value V` describes."""
        ...

    def scaffold(self) -> Scaffold: ...
