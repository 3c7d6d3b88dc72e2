"""Segment Unify: the Delete Profile Identifier API (see FACTS.md beside this file)."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from reconciler import __version__
from reconciler.target import Target
from reconciler.vendors.api import Capabilities, Scaffold
from reconciler.vendors.kit import VendorBase
from reconciler.vendors.segment.read import SegmentReader
from reconciler.vendors.segment.requests import SegmentRequests
from reconciler.vendors.segment.resolve import SegmentResolver
from reconciler.vendors.segment.rules import SegmentRules

# Production hosts (FACTS.md §1)
HOSTS = {"us": "https://profiles.segment.com", "eu": "https://profiles.euw1.segment.com"}
# "up to 100 deletion requests per second per space" (FACTS.md §4); Profile API reads
# have 100/s per space too, perhaps shared: the stricter reading, one budget for both
PER_SPACE = 100.0


class Segment(VendorBase):
    name = "segment"
    label = "Segment"
    version = __version__
    capabilities = Capabilities(
        asynchronous=False,
        batch_size=1,
        idempotent=True,
        irreversible=False,
        preflight=True,
        read=True,
        resolve=True,
    )
    secret_keys = ("token_env",)
    account_keys = ("space_id",)
    caveats = (
        "downstream destinations (Braze, Amplitude, Engage Audiences, Journeys...) are not "
        "touched: clean them separately",
        "replaying events from the Event Archive brings deleted identifiers back",
        "Profiles Sync records removals with __operation = REMOVED: add that column to "
        "external_id_mapping_updates first",
    )
    rules = SegmentRules()
    requests = SegmentRequests()
    reader = SegmentReader()
    resolver = SegmentResolver()

    def default_base_url(self, settings: Mapping[str, Any]) -> str | None:
        return HOSTS[settings.get("region", "us")]

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        return ("segment", target.base_url, target.settings["space_id"]), PER_SPACE, True

    def scaffold(self) -> Scaffold:
        return Scaffold(
            "segment-prod",
            "    vendor: segment\n"
            "    space_id: spa_CHANGE_ME           # your Unify space\n"
            "    region: us                        # us or eu\n"
            "    token_env: SEGMENT_TOKEN\n"
            "    identifier_types: [phone]         # the space's types beyond Segment's standard\n",
            "  # absent:\n"
            "  #   - profile: {user_id: u_1001}\n"
            "  #     identifiers:\n"
            "  #       - {type: email, value: jane@old-domain.example}\n"
            '  #       - {type: phone, value: "+15555550100"}\n',
            "Segment removes one identifier from a profile found by user_id.",
        )


VENDOR = Segment()
