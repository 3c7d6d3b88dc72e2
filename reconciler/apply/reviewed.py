"""`apply --reviewed PLANFILE`: send what is pending now AND was shown in a reviewed plan.

In CI the ledger legitimately moves between review and merge (another pull request's
apply ran), so the reviewed plan cannot be required to be current, as `apply PLANFILE`
requires. Instead apply re-plans and sends the intersection: an action pending now that
the reviewed plan did not show (a manifest changed after review, another change merged
in between) is listed and never sent. Fingerprints key items by their whole content,
so an entry edited after review is a different fingerprint and is not sent.

A reviewed plan of another ledger, fingerprint key or vendor account is refused whole:
its fingerprints say nothing about this ledger's items.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.store import Ledger
from reconciler.plan.model import Action, Plan

# the actions of a saved plan that apply may send (never "hold" or "none")
SENT_ACTIONS = frozenset({"remove", "resend", "retry"})


@dataclass
class ReviewedSends:
    sends: list[Action] = field(default_factory=list)  # pending now and reviewed
    unreviewed: list[Action] = field(default_factory=list)  # pending now, never shown
    settled: int = 0  # shown in the review, no longer pending (another run sent them)


def reviewed_fingerprints(saved: dict[str, Any]) -> set[str]:
    return {a["fingerprint"] for a in saved["actions"] if a["action"] in SENT_ACTIONS}


def refusal(saved: dict[str, Any], ledger: Ledger, plan: Plan) -> str | None:
    """Why `saved` cannot be a review of this project's pending actions, or None."""
    then = saved["ledger"]
    if then["exists"] and not ledger.exists:
        return "the ledger the reviewed plan was made from is gone"
    if then["exists"] and then["lineage"] != ledger.lineage:
        return (
            f"it was made from another ledger (lineage {then['lineage']}, this ledger's is "
            f"{ledger.lineage}): another project or a replaced ledger"
        )
    fingerprint = saved["fingerprint"]
    if (fingerprint["scheme"], fingerprint["key_id"]) != (plan.fingerprint_scheme, plan.key_id):
        return (
            "it was made with another fingerprint key (key id "
            f"{fingerprint['key_id']}, now {plan.key_id}): its fingerprints name no item here"
        )
    for name, account in saved.get("accounts", {}).items():
        now = plan.accounts.get(name)
        if now is not None and now != account:
            return (
                f"target {name} now reaches a different account (base_url, space, store or "
                "partner changed) than the reviewed plan was made for"
            )
    return None


def split_sends(plan: Plan, saved: dict[str, Any]) -> ReviewedSends:
    reviewed = reviewed_fingerprints(saved)
    out = ReviewedSends()
    pending: set[str] = set()
    for tp in plan.targets:
        for action in tp.sends():
            pending.add(action.fingerprint)
            if action.fingerprint in reviewed:
                out.sends.append(action)
            else:
                out.unreviewed.append(action)
    out.settled = len(reviewed - pending)
    return out


def check_reviewed(saved: dict[str, Any], ledger: Ledger, plan: Plan, path: str) -> None:
    why = refusal(saved, ledger, plan)
    if why is not None:
        raise ReconcilerError(f"{path} cannot be applied here: {why}. Nothing was sent.")
