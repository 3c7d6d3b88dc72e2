"""Saved plans (`plan --out FILE`): written atomically, signed, refused by apply when stale.

A saved plan holds no raw identifier values and no request: per item only the first 128
bits of its fingerprint and its state (see plan.planframe for the bytes). Apply re-derives
the items from the manifests, which the stale checks guarantee are the ones planned, and
compares the plan it makes now with the saved one item by item.

The header records the project the plan belongs to: the ledger (lineage, serial, digest and
heads), the fingerprint key's id, the keyed digests of the desired state, of its layout
(order and sources: what `reconcile show` needs to render the same plan) and of
reconciler.yaml, and each target's credential fingerprint (plan.seal).

Format 1 (0.1.x: the verbose JSON document) carries no MAC: anyone could write one, so
accepting it would defeat the signature. Apply refuses it and asks for a new plan;
`reconcile show` still prints it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.desired import Fingerprinter
from reconciler.errors import ReconcilerError
from reconciler.inputs import (
    MAX_PLAN_BYTES,
    InputRefused,
    check_output,
    create_exclusive,
    open_regular,
    read_bounded,
)
from reconciler.ledger.store import Ledger
from reconciler.plan.head import plan_head
from reconciler.plan.model import FORMAT_VERSION, Action, Plan
from reconciler.plan.planframe import (
    CONFLICTED_FLAG,
    FP_BYTES,
    HELD_FLAG,
    SINCE_FLAG,
    FrameError,
    FrameReader,
    Record,
    pack,
    sniff,
    write_frame,
)
from reconciler.plan.seal import KEYED_MAC, Seal
from reconciler.schemas import schema_errors
from reconciler.states import PENDING, UNKNOWN
from reconciler.vendors.registry import vendor as vendor_of
from reconciler.yamlsource import format_path

PLAN_KIND = "reconciler-plan"
PLANFILE_VERSION = 2
STATES = ("pending", "drifted", "unknown", "failed", "done", "accepted", "rejected")
STATE_CODE = {s: i for i, s in enumerate(STATES)}
# the flags byte, as hex, of a record whose state says all (not held, not conflicted, no
# `since`): every state but unknown, which its vendor may hold (flags_of)
PLAIN_FLAGS = {s: f"{code:02x}" for s, code in STATE_CODE.items() if s != UNKNOWN}
FP_HEX = 2 * FP_BYTES
WRITE_CHUNK = 4096  # records per write

FORMAT1_REFUSED = (
    "{path} is a format-1 saved plan (written by reconciler 0.1.x): it carries no MAC, so "
    "an edited one cannot be told from a good one and apply no longer takes it. Nothing was "
    "sent. Make the plan again with `reconcile plan --out FILE` (`reconcile show {path}` "
    "still prints it)"
)


class PlanKeyMismatch(ReconcilerError):
    """A saved plan made under another ledger key, or with a key where there is none now
    (or the reverse): its MAC cannot be checked, and its fingerprints name nothing here."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"Saved plan is stale: {reason}. Nothing was sent.\n"
            "Make a new plan with `reconcile plan --out FILE` and review it."
        )


@dataclass(frozen=True)
class PlanStamp:
    """What the CLI adds to a saved plan from outside the plan model: the config digest
    and each target's credential fingerprint (plan.seal)."""

    config_digest: str
    credentials: dict[str, dict[str, Any]]


def flags_of(action: Action) -> int:
    flags = STATE_CODE[action.state]
    if action.held:
        flags |= HELD_FLAG
    if action.conflicted:
        flags |= CONFLICTED_FLAG
    if action.since is not None:
        flags |= SINCE_FLAG
    return flags


def layout_digest(plan: Plan, fingerprint: Fingerprinter) -> str:
    """A keyed digest of every action's item, in plan order, with its sources: equal iff
    the manifests would render the same plan (the desired digest ignores order and lines)."""
    h = hashlib.sha256()
    tables: dict[int, int] = {}
    pairs: list[list[tuple[str, str]]] = []
    for tp in plan.targets:
        h.update(b"\x01" + tp.target.name.encode("utf-8") + b"\x00")
        parts: list[bytes] = []
        add = parts.append
        table, index = None, 0  # actions mostly share one table: looked up on a change
        for action in tp.actions:
            if action.table is not table:
                table = action.table
                found = tables.get(id(table))
                if found is None:
                    found = tables[id(table)] = len(pairs)
                    pairs.append(table.pairs)
                index = found
            refs = action.refs
            if type(refs) is int:  # b"%d" is b"%r" of an int, one formatting step less
                add(b"%b\x00%d\x00%d\x00" % (action.canonical, index, refs))
            else:
                add(b"%b\x00%d\x00%b\x00" % (action.canonical, index, b"%r" % refs))
            if len(parts) >= WRITE_CHUNK:
                h.update(b"".join(parts))
                parts.clear()
        h.update(b"".join(parts))
    h.update(json.dumps(pairs).encode("utf-8"))
    return fingerprint.of_bytes(h.digest())


def _header(
    plan: Plan, stamp: PlanStamp, seal: Seal, fingerprint: Fingerprinter
) -> tuple[dict[str, Any], list[Iterable[Action]], dict[str, int]]:
    since_index: dict[str, int] = {}
    ordered: list[Iterable[Action]] = []
    sends = irreversible = 0
    for tp in plan.targets:
        actions = tp.by_fingerprint()
        ordered.append(actions)
        counted = tp.counted_sends()  # a spilled target: no pass over its actions here
        sent = 0 if counted is None else counted
        for action in actions if counted is None else ():
            if action.state is PENDING and not action.conflicted:  # most of a large plan
                sent += 1
                continue
            if action.since is not None and action.since not in since_index:
                since_index[action.since] = len(since_index)
            sent += action.will_send
        sends += sent
        # a vendor's deletions are irreversible or not, whatever the item (Action)
        if sent and vendor_of(tp.target.vendor).capabilities.irreversible:
            irreversible += sent
    header = {
        "kind": PLAN_KIND,
        "planfile": PLANFILE_VERSION,
        "mac": seal.scheme,
        "key_id": plan.key_id,
        "plan": plan_head(plan, False),
        "warnings": plan.warnings,
        "ledger_errors": plan.ledger_errors,
        "sections": [
            {"target": tp.target.name, "count": len(tp.actions), "orphaned": len(tp.orphaned)}
            for tp in plan.targets
        ],
        "since": list(since_index),
        "sends": sends,
        "irreversible": irreversible,
        "config_digest": stamp.config_digest,
        "layout_digest": layout_digest(plan, fingerprint),
        "credentials": stamp.credentials,
    }
    return header, ordered, since_index


def item_chunks(
    ordered: Sequence[Iterable[Action]], since_index: dict[str, int]
) -> Iterator[bytes]:
    """The items region's bytes for these actions (each target's sorted by fingerprint),
    a chunk of records at a time: each record as hex (the fingerprint's first 128 bits
    are its first 32 characters, a plain state's flags two more), decoded once a chunk."""
    batch: list[str] = []
    add = batch.append
    for actions in ordered:
        for action in actions:
            state = action.state
            # a state other than unknown with no conflict and no `since`: its flags are
            # its code alone (an unknown one may be held: flags_of asks its vendor)
            plain = PLAIN_FLAGS.get(state) if action.since is None else None
            if plain is not None and not action.conflicted:
                add(action.fingerprint[:FP_HEX] + plain)
            else:
                since = since_index[action.since] if action.since is not None else -1
                add(pack(action.fingerprint, flags_of(action), since).hex())
            if len(batch) >= WRITE_CHUNK:
                yield bytes.fromhex("".join(batch))
                batch.clear()
    if batch:
        yield bytes.fromhex("".join(batch))


def save_plan(
    path: Path, plan: Plan, seal: Seal, stamp: PlanStamp, fingerprint: Fingerprinter
) -> int:
    """Write the plan to `path` atomically (temp file, fsync, rename); returns its size."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        check_output(path, f"--out {path}")
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    header, ordered, since_index = _header(plan, stamp, seal, fingerprint)
    try:
        with os.fdopen(create_exclusive(tmp), "wb") as handle:
            size = write_frame(handle, header, item_chunks(ordered, since_index), seal.hasher())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ReconcilerError(f"--out {path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return size


@dataclass
class SavedPlan:
    """A saved plan whose MAC held when it was loaded. `records()` streams its items and
    checks the MAC again at the end."""

    path: Path
    header: dict[str, Any]
    seal: Seal
    reader: FrameReader

    @property
    def head(self) -> dict[str, Any]:
        """The plan's JSON fields before `actions` (as `plan --format json` has them)."""
        return dict(self.header["plan"])

    @property
    def target_filter(self) -> list[str]:
        return list(self.head["target_filter"])

    @property
    def new_ledger_salt(self) -> str | None:
        salt = self.head["fingerprint"].get("new_ledger_salt")
        return salt if isinstance(salt, str) else None

    @property
    def ledger_head(self) -> str | None:
        head = self.head["ledger"].get("head")
        return head if isinstance(head, str) else None

    @property
    def sections(self) -> list[tuple[str, int]]:
        return [(s["target"], s["count"]) for s in self.header["sections"]]

    @property
    def since(self) -> list[str]:
        return list(self.header["since"])

    def records(self) -> Iterator[tuple[int, Record]]:
        counts = [count for _, count in self.sections]
        yield from self.reader.records(counts, self.seal.hasher(), _what(self.seal))

    def holds_exactly(self, ordered: Sequence[Iterable[Action]]) -> bool:
        """Whether the file's items are these actions' records, byte for byte (each
        target's actions sorted by fingerprint, in the file's target order)."""
        since_index = {ts: i for i, ts in enumerate(self.since)}
        if any(a.since is not None and a.since not in since_index for s in ordered for a in s):
            return False
        chunks = item_chunks(ordered, since_index)
        return self.reader.same_items(chunks, self.seal.hasher(), _what(self.seal))


def _what(seal: Seal) -> str:
    return "MAC" if seal.keyed else "digest"


def is_format1(prefix: bytes) -> bool:
    """Whether a file's first bytes are JSON (a format-1 plan, or not a plan at all)."""
    return prefix.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


def _refuse_json(path: Path) -> ReconcilerError:
    """The error for a JSON file given as a saved plan: format 1 (it names its kind
    first), or not a plan."""
    with open_regular(path, MAX_PLAN_BYTES, str(path)) as handle:
        start = handle.read(4096)
    if b'"kind": "reconciler-plan"' in start:
        return ReconcilerError(FORMAT1_REFUSED.format(path=path))
    return ReconcilerError(f"{path}: not a saved plan (made by `reconcile plan --out`)")


def load_plan(path: Path, key: bytes | None) -> SavedPlan:
    """A saved plan, its MAC checked under the ledger key (or its digest without one).

    Refused, each with one line: not a plan, format 1 (unsigned), made under another key
    or without one, and any edit ("the plan file was modified")."""
    if is_format1(sniff(path)):
        raise _refuse_json(path)
    reader = FrameReader(path)
    claimed = reader.header()
    if claimed.get("kind") != PLAN_KIND:
        raise ReconcilerError(f"{path}: not a saved plan (made by `reconcile plan --out`)")
    seal = Seal(key)
    key_refusal = _key_refusal(claimed, key)
    if key_refusal is not None:
        # The header's claim is not yet proven. A digest anyone can check: an edit says
        # so. A MAC under a key we do not hold cannot be checked: the refusal says both.
        if claimed.get("mac") != KEYED_MAC:
            reader.verify(Seal(None).hasher(), "digest")
        raise PlanKeyMismatch(key_refusal)
    reader.verify(seal.hasher(), _what(seal))
    problem = header_problem(claimed)
    if problem is not None:
        raise ReconcilerError(
            f"{path}: {problem}: not a saved plan this version can read; make the plan again"
        )
    return SavedPlan(path, claimed, seal, reader)


def _key_refusal(claimed: dict[str, Any], key: bytes | None) -> str | None:
    """Why a plan's (unverified) header says it was not made under this key."""
    scheme = claimed.get("mac")
    if scheme == KEYED_MAC and key is None:
        return (
            "the fingerprint key changed since the plan was made: it was made with a ledger "
            "key (ledger.key_env) and none is configured here (another project, or the key "
            "was removed)"
        )
    if scheme != KEYED_MAC and key is not None:
        return (
            "the fingerprint key changed since the plan was made: it was made without a "
            "ledger key and this project has one (another project, or the key was added)"
        )
    if key is not None:
        now = Fingerprinter.keyed(key).key_id
        then = claimed.get("key_id")
        if then != now:
            return (
                "the fingerprint key changed since the plan was made: it was made with another "
                f"fingerprint key (key id {then!s:.16}, this key's id is {now}): another "
                "project, the key was rotated, or the file was modified"
            )
    return None


def peek_plan(path: Path) -> dict[str, Any]:
    """The header of a saved plan, its MAC NOT checked (no key needed): for the numbers
    a workflow step shows right after `plan` wrote the file, and to check a download is a
    format-2 plan. Apply never trusts this."""
    if is_format1(sniff(path)):
        raise _refuse_json(path)
    header = FrameReader(path).header()
    if header.get("kind") != PLAN_KIND:
        raise ReconcilerError(f"{path}: not a saved plan (made by `reconcile plan --out`)")
    problem = header_problem(header)
    if problem is not None:
        raise FrameError(
            f"{path}: {problem}: not a saved plan this version can read; make the plan again"
        )
    return header


def header_problem(header: dict[str, Any]) -> str | None:
    """What is wrong with a header's shape, or None (the MAC says who wrote it; this says
    a reader of this version understands it)."""
    if header.get("planfile") != PLANFILE_VERSION:
        return f"planfile version {header.get('planfile')!r} is not {PLANFILE_VERSION}"
    plan = header.get("plan")
    if not isinstance(plan, dict):
        return "the header holds no plan"
    if plan.get("format_version") != FORMAT_VERSION:
        return f"plan format {plan.get('format_version')!r} is not {FORMAT_VERSION}"
    errors = schema_errors("plan", {**plan, "actions": [], "warnings": header.get("warnings")})
    if errors:
        where, message = errors[0]
        return f"{format_path(where) or 'plan'}: {message}"
    sections = header.get("sections")
    if not isinstance(sections, list) or not all(
        isinstance(s, dict)
        and isinstance(s.get("target"), str)
        and type(s.get("count")) is int
        and s["count"] >= 0
        and type(s.get("orphaned")) is int
        for s in sections
    ):
        return "sections: a list of {target, count, orphaned}"
    if [s["target"] for s in sections] != [t["name"] for t in plan["targets"]]:
        return "sections: not the plan's targets"
    for name, kind in (
        ("since", list),
        ("sends", int),
        ("irreversible", int),
        ("config_digest", str),
        ("layout_digest", str),
        ("credentials", dict),
        ("warnings", list),
        ("ledger_errors", list),
    ):
        if not isinstance(header.get(name), kind):
            return f"{name}: expected {kind.__name__}"
    return None


def stale_reason(
    saved: SavedPlan,
    ledger: Ledger,
    desired_digest: str,
    accounts: dict[str, str] | None = None,
    key: tuple[str, str] | None = None,
) -> str | None:
    """Why a saved plan may no longer be applied, or None when it still holds."""
    head = saved.head
    then = head["ledger"]
    if not then["exists"] and ledger.exists:
        return "the ledger did not exist when the plan was made and exists now"
    if then["exists"] and not ledger.exists:
        return "the ledger the plan was made from is gone"
    if then["exists"] and then["lineage"] != ledger.lineage:
        return (
            f"the ledger's lineage is {ledger.lineage}, the plan was made from "
            f"{then['lineage']}: a different ledger (another project, or a replaced one)"
        )
    at = then.get("head")
    if then["exists"] and isinstance(at, str) and not ledger.holds(at):
        return (
            f"the ledger no longer holds the newest record it had when the plan was made "
            f"(head {at}): records were removed or the ledger was replaced"
        )
    if then["exists"] and (then["serial"] != ledger.serial or then["digest"] != ledger.digest):
        return (
            f"the ledger changed since the plan was made (serial {then['serial']} -> "
            f"{ledger.serial}): another apply or refresh ran"
        )
    if key is not None and key != (head["fingerprint"]["scheme"], head["fingerprint"]["key_id"]):
        # before the manifests: under another key every keyed digest differs
        return "the fingerprint key changed since the plan was made"
    if head["desired_digest"] != desired_digest:
        return "the manifests changed since the plan was made"
    if accounts is not None:
        for name, account in head.get("accounts", {}).items():
            if accounts.get(name) != account:
                return (
                    f"target {name} now reaches a different account (base_url, space, store "
                    "or partner changed) than the plan was made for"
                )
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def load_format1(path: Path) -> dict[str, Any]:
    """A format-1 saved plan (0.1.x), whole: only for `reconcile show`, never for apply."""
    try:
        raw = read_bounded(path, MAX_PLAN_BYTES, str(path))
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ReconcilerError(f"{path}: not a saved plan (not valid JSON)") from exc
    if not isinstance(data, dict) or data.get("kind") != PLAN_KIND:
        raise ReconcilerError(f"{path}: not a saved plan (made by `reconcile plan --out`)")
    if data.get("format_version") != FORMAT_VERSION:
        raise ReconcilerError(
            f"{path}: plan format {data.get('format_version')!r} is not {FORMAT_VERSION}: "
            "make the plan again with this version"
        )
    return data
