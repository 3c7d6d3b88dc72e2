"""A person's decision about items the tool cannot settle itself (`ledger resolve`).

An item is `unknown` when a request was sent and no answer was recorded (a killed run,
a lost connection, an answer that proved nothing), or when merged branches recorded
different outcomes. Where a re-send is safe the plan sends it again; where it is not
(Braze deletes by email or phone) the plan holds it, and only a person who checked the
vendor by hand can say what happened. This records what they decided, who they are and
why, in a run of its own, hash-chained (and MACed with a key) like every other record:

- `done`: the person saw it gone (the item is done, evidence `resolved`);
- `absent`: the person saw it was never there (done, evidence `resolved`);
- `pending`: nothing was done at the vendor: the plan sends it again.
"""

from __future__ import annotations

import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler import __version__
from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, git_report, hold, open_storage
from reconciler.ledger.fold import ItemStatus
from reconciler.ledger.lookup import item_by_prefix
from reconciler.ledger.records import RESOLUTIONS, UNKNOWN
from reconciler.ledger.store import Ledger, RunWriter, read_ledger
from reconciler.ledger.verify import LedgerBroken, ledger_problems
from reconciler.masking import scrub

MAX_REASON = 500  # characters: a sentence and a ticket reference, not a report


@dataclass(frozen=True)
class Decision:
    decision: str  # one of RESOLUTIONS
    reason: str  # as recorded: emails and phone numbers masked
    who: str
    commit: str | None = None


def checked_reason(reason: str) -> str:
    """The reason as it will be recorded, or ReconcilerError: one line of printable text,
    at most MAX_REASON characters, with any email or phone number masked (the ledger
    never holds an identifier value, even one a person typed)."""
    text = reason.strip()
    if not text:
        raise ReconcilerError("--reason is empty: say what was checked, and where")
    if len(text) > MAX_REASON:
        raise ReconcilerError(f"--reason is {len(text)} characters: at most {MAX_REASON}")
    for ch in text:
        if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp"):
            raise ReconcilerError(
                f"--reason holds a control or invisible character (U+{ord(ch):04X}): "
                "one line of plain text"
            )
    return scrub(text, ids=False)


def match_items(ledger: Ledger, prefixes: Sequence[str]) -> list[tuple[str, ItemStatus]]:
    """The item each prefix names, in order, or ReconcilerError naming the first prefix
    that names none, several, or an item that is not unknown."""
    found: list[tuple[str, ItemStatus]] = []
    seen: set[str] = set()
    for prefix in prefixes:
        fp, status = item_by_prefix(ledger, prefix)
        if status.state != UNKNOWN:
            raise ReconcilerError(
                f"item {fp[:12]} is {status.state}, not unknown: only an item whose outcome "
                "is unknown is settled by hand (refresh confirms accepted items; plan "
                "retries failed ones)"
            )
        if fp not in seen:
            seen.add(fp)
            found.append((fp, status))
    return found


def record_decision(
    config: Config,
    key: bytes | None,
    prefixes: Sequence[str],
    decision: Decision,
) -> tuple[list[tuple[str, ItemStatus]], str]:
    """Record `decision` for the items `prefixes` name, under the lock (or the leases of
    their targets), on a ledger that verifies. Returns the items and the run id. Nothing
    is written unless every prefix names an unknown item."""
    if decision.decision not in RESOLUTIONS:
        raise ReconcilerError(f"not a decision: {decision.decision}")
    ledger_dir = config.ledger_dir
    run_id = secrets.token_hex(6)
    storage = open_storage(config)
    try:
        # the targets are known from the ledger; they are checked again once held
        first = read_ledger(ledger_dir, key, storage=storage)
        if not first.exists:
            raise ReconcilerError("there is no ledger yet: nothing was ever sent")
        targets = sorted({status.target for _, status in match_items(first, prefixes)})
        with hold(config, storage, "resolve", decision.who, run_id, targets) as held:
            ledger = read_ledger(ledger_dir, key, storage=storage)
            problems = ledger_problems(ledger, git_report(config))
            if problems:
                raise LedgerBroken(problems, "nothing was recorded")
            items = match_items(ledger, prefixes)
            writer = RunWriter(
                ledger_dir,
                run_id,
                {
                    "operation": "resolve",
                    "who": decision.who,
                    "commit": decision.commit,
                    "tool_version": __version__,
                    **held.info,
                    "items": len(items),
                },
                key=key,
                after=ledger.heads,
                guard=held.guard,
                storage=storage,
            )
            try:
                for fp, status in items:
                    writer.resolution(
                        fp, status.target, decision.decision, decision.reason, decision.who
                    )
            finally:
                writer.close(resolved=len(items), decision=decision.decision)
            return items, run_id
    finally:
        close_storage(storage)
