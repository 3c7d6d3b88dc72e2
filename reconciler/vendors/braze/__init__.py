"""Braze: `POST /users/delete`, whole user profiles (see FACTS.md beside this file)."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from reconciler import __version__
from reconciler.desired import Item
from reconciler.target import Target
from reconciler.vendors.api import Capabilities, Scaffold
from reconciler.vendors.braze.read import BrazeReader
from reconciler.vendors.braze.requests import MAX_IDS, BrazeRequests, resend_safe
from reconciler.vendors.braze.resolve import BrazeResolver
from reconciler.vendors.braze.rules import BrazeRules
from reconciler.vendors.kit import VendorBase

# /users/delete shares 20,000/min with other user endpoints (FACTS.md §4)
SHARED = 20_000 / 60
# /users/export/ids: 250/min for workspaces onboarded since 2024-08-22 (FACTS.md §4)
EXPORT = 250 / 60


class Braze(VendorBase):
    name = "braze"
    label = "Braze"
    version = __version__
    capabilities = Capabilities(
        asynchronous=True,
        batch_size=MAX_IDS,
        idempotent=False,  # by email or phone, a second delete takes the next match
        irreversible=True,
        preflight=True,
        read=True,
        resolve=True,
    )
    secret_keys = ("api_key_env",)
    account_keys: tuple[str, ...] = ()
    held_advice = (
        "Sending again could delete another user who matches the prioritization. Check the "
        "user in Braze, then change the manifest entry (e.g. locate it by external_id) or "
        "remove it."
    )
    rules = BrazeRules()
    requests = BrazeRequests()
    reader = BrazeReader()
    resolver = BrazeResolver()

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        if kind == "read":
            return ("braze-export", target.base_url), EXPORT, True
        return ("braze", target.base_url), SHARED, True

    def held(self, item: Item) -> bool:
        return not resend_safe(item)

    def lookup_entry(
        self, profile: dict[str, str] | Any, id_type: str | None, value: str | None
    ) -> dict[str, Any]:
        return {"profile": dict(profile)} if profile else {}

    def scaffold(self) -> Scaffold:
        return Scaffold(
            "braze-prod",
            "    vendor: braze\n"
            "    base_url: https://rest.iad-01.braze.com   # your cluster's REST host\n"
            "    api_key_env: BRAZE_API_KEY\n",
            "  # absent:\n"
            "  #   - profile: {external_id: loadtest-0001}\n"
            "  #   - profile: {email: lt@example.com, prioritization: [unidentified]}\n",
            "Braze deletes WHOLE user profiles, irreversibly: a manifest must say "
            "delete_profiles: true.",
            "  delete_profiles: true   # Braze deletes WHOLE profiles, irreversibly: say so\n",
        )


VENDOR = Braze()
