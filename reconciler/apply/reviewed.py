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

from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.ledger.store import Ledger
from reconciler.plan.model import Plan
from reconciler.plan.planfile import SavedPlan
from reconciler.plan.savedjoin import SENT_ACTIONS, ReviewedSends, reviewed_split
from reconciler.plan.seal import credential_change

__all__ = ["SENT_ACTIONS", "ReviewedSends", "check_reviewed", "refusal", "split_sends"]


def refusal(
    saved: SavedPlan,
    ledger: Ledger,
    plan: Plan,
    config_digest: str | None = None,
    credentials: dict[str, dict[str, Any]] | None = None,
) -> str | None:
    """Why `saved` cannot be a review of this project's pending actions, or None."""
    head = saved.head
    then = head["ledger"]
    if then["exists"] and not ledger.exists:
        return "the ledger the reviewed plan was made from is gone"
    if then["exists"] and then["lineage"] != ledger.lineage:
        return (
            f"it was made from another ledger (lineage {then['lineage']}, this ledger's is "
            f"{ledger.lineage}): another project or a replaced ledger"
        )
    if not then["exists"] and config_digest is not None:
        # before any ledger, only reconciler.yaml says which project a plan is of
        if saved.header["config_digest"] != config_digest:
            return (
                "it was made before the ledger existed, with another reconciler.yaml: "
                "another project, or the config changed since the review"
            )
    fingerprint = head["fingerprint"]
    if (fingerprint["scheme"], fingerprint["key_id"]) != (plan.fingerprint_scheme, plan.key_id):
        return (
            "it was made with another fingerprint key (key id "
            f"{fingerprint['key_id']}, now {plan.key_id}): its fingerprints name no item here"
        )
    for name, account in head.get("accounts", {}).items():
        now = plan.accounts.get(name)
        if now is not None and now != account:
            return (
                f"target {name} now reaches a different account (base_url, space, store or "
                "partner changed) than the reviewed plan was made for"
            )
    for name, stamp in saved.header["credentials"].items():
        if credentials is not None and name in credentials:
            why = credential_change(name, stamp, credentials[name])
            if why is not None:
                return why
    return None


def split_sends(plan: Plan, saved: SavedPlan) -> ReviewedSends:
    return reviewed_split(saved, plan)


def check_reviewed(
    saved: SavedPlan,
    ledger: Ledger,
    plan: Plan,
    path: str,
    config_digest: str | None = None,
    credentials: dict[str, dict[str, Any]] | None = None,
) -> None:
    why = refusal(saved, ledger, plan, config_digest, credentials)
    if why is not None:
        raise ReconcilerError(f"{path} cannot be applied here: {why}. Nothing was sent.")
