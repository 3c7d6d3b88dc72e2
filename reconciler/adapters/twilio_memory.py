"""Twilio Memory: `DELETE .../Identifiers/{idType}?removeAll=true`, one type each."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from reconciler.adapters.requests import VendorRequest, segment_part
from reconciler.config import Target
from reconciler.desired import Item


class TwilioMemoryRequests:
    max_batch = 1

    def batch_key(self, item: Item) -> Hashable | None:
        return None

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        store = segment_part(target.settings["store_id"])
        profile = segment_part(str(item.locator["profile_id"]))
        id_type = segment_part(item.removal["type"])
        path = f"/v1/Stores/{store}/Profiles/{profile}/Identifiers/{id_type}"
        return VendorRequest("DELETE", path, query={"removeAll": "true"})
