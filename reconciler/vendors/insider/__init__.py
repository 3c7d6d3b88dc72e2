"""Insider: attribute deletes and identifier deletes (see FACTS.md beside this file)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from reconciler import __version__
from reconciler.config import Target
from reconciler.desired import Item
from reconciler.vendors.api import Capabilities, Scaffold
from reconciler.vendors.insider.read import InsiderReader
from reconciler.vendors.insider.requests import MAX_BYTES, MAX_USERS, InsiderRequests
from reconciler.vendors.insider.rules import VENDOR_ID_ATTRIBUTES, InsiderRules
from reconciler.vendors.kit import VendorBase, describe_item

HOST = "https://unification.useinsider.com"
# attribute deletes share 25,000/min with User Upsert, per partner (FACTS.md §4)
ATTRIBUTES = 25_000 / 60
# identity deletes: 25,000/min in the Postman text, 1,000/min on the rate-limits page
# (FACTS.md §4, §7): the stricter, 1,000/min
IDENTITY = 1_000 / 60
# profile reads: 1,000 quota units a minute (FACTS.md §3)
PROFILE = 1_000 / 60


class Insider(VendorBase):
    name = "insider"
    label = "Insider"
    version = __version__
    capabilities = Capabilities(
        # undocumented either way: treated as asynchronous, a 200 is only `accepted` and a
        # read confirms it
        asynchronous=True,
        batch_size=MAX_USERS,
        idempotent=True,
        irreversible=False,
        preflight=True,
        read=True,
        max_body_bytes=MAX_BYTES,
    )
    secret_keys = ("token_env",)
    account_keys = ("partner_name",)
    rules = InsiderRules()
    requests = InsiderRequests()
    reader = InsiderReader()

    def default_base_url(self, settings: Mapping[str, Any]) -> str | None:
        return HOST

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        partner = target.settings["partner_name"]
        if kind == "read":
            return ("insider-profile", target.base_url, partner), PROFILE, True
        if kind == "identity":
            return ("insider-identity", target.base_url, partner), IDENTITY, True
        return ("insider", target.base_url, partner), ATTRIBUTES, True

    def vendor_ids(self, item: Item) -> frozenset[str]:
        # list_id values number the partner's own lists (FACTS.md §6: a number array), not
        # a person: "value 12 of attribute list_id" and "value 14" must not both read "**"
        if item.kind == "attribute_value" and item.removal.get("name") in VENDOR_ID_ATTRIBUTES:
            if not item.removal.get("custom"):
                return frozenset({"value"})
        return frozenset()

    def describe(self, item: Item) -> str:
        if item.kind == "identifier":  # the identifier locates its own user
            return f"identifier {item.removal['type']} {item.removal['value']}"
        return describe_item(item)

    def scaffold(self) -> Scaffold:
        return Scaffold(
            "insider-prod",
            "    vendor: insider\n"
            "    partner_name: changeme             # lowercase\n"
            "    token_env: INSIDER_REQUEST_TOKEN\n",
            "  # absent:\n"
            "  #   - profile: {email: jane.doe@example.com}\n"
            "  #     attributes: [name, surname]\n",
            "Insider removes attributes (whole or by value) or identifiers of a user.",
        )


VENDOR = Insider()
