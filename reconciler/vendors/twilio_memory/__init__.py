"""Twilio Conversation Memory: remove every value of an identifier type on a profile
(see FACTS.md beside this file)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from reconciler import __version__
from reconciler.target import Target
from reconciler.vendors.api import Capabilities, Scaffold
from reconciler.vendors.kit import VendorBase
from reconciler.vendors.twilio_memory.read import TwilioMemoryReader
from reconciler.vendors.twilio_memory.requests import TwilioMemoryRequests
from reconciler.vendors.twilio_memory.rules import TwilioMemoryRules

HOST = "https://memory.twilio.com"
# Twilio publishes no limit for Memory (FACTS.md §4): a conservative default, which a
# target's rate_limit replaces; 429 with Retry-After is honoured either way.
DEFAULT_RATE = 20.0


class TwilioMemory(VendorBase):
    name = "twilio_memory"
    label = "Twilio Memory"
    version = __version__
    capabilities = Capabilities(
        asynchronous=True,
        batch_size=1,
        idempotent=True,
        irreversible=False,
        preflight=True,
        read=True,
    )
    secret_keys = ("account_sid_env", "auth_token_env")
    account_keys = ("store_id",)
    caveats = (
        "Memory promotes identifiers from traits and can bring a removed value back: "
        "refresh reads the profiles back",
    )
    rules = TwilioMemoryRules()
    requests = TwilioMemoryRequests()
    reader = TwilioMemoryReader()

    def default_base_url(self, settings: Mapping[str, Any]) -> str | None:
        return HOST

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        scope = ("twilio_memory", target.base_url, target.settings["account_sid_env"])
        return scope, DEFAULT_RATE, False  # not documented: a target's rate_limit replaces it

    def lookup_entry(
        self, profile: Mapping[str, str], id_type: str | None, value: str | None
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {"profile": dict(profile)} if profile else {}
        if id_type is not None:
            entry["identifiers"] = [{"type": id_type, "all_values": True}]
        return entry

    def scaffold(self) -> Scaffold:
        return Scaffold(
            "memory-prod",
            "    vendor: twilio_memory\n"
            "    store_id: mem_store_00000000000000000000000000   # your Memory store\n"
            "    account_sid_env: TWILIO_ACCOUNT_SID\n"
            "    auth_token_env: TWILIO_AUTH_TOKEN\n",
            "  # absent:\n"
            "  #   - profile: {profile_id: mem_profile_00000000000000000000000001}\n"
            "  #     identifiers:\n"
            "  #       - {type: phone, all_values: true}\n",
            "Twilio Memory removes every value of one identifier type on a profile.",
        )


VENDOR = TwilioMemory()
