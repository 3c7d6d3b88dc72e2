"""Segment: `POST .../profiles/user_id:{id}/external_ids/delete`, one identifier each."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from reconciler.adapters.requests import VendorRequest, segment_part
from reconciler.config import Target
from reconciler.desired import Item


class SegmentRequests:
    # "delete_external_ids is an array with a limit of 1 per request" (FACTS 1.1)
    max_batch = 1

    def batch_key(self, item: Item) -> Hashable | None:
        return None

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        space = segment_part(target.settings["space_id"])
        # A `+` must be %2B in the lookup (FACTS 1.2); quote() escapes it and the rest.
        user = segment_part(str(item.locator["user_id"]))
        path = f"/v1/spaces/{space}/collections/users/profiles/user_id:{user}/external_ids/delete"
        body = {
            "delete_external_ids": [{"id": item.removal["value"], "type": item.removal["type"]}]
        }
        return VendorRequest("POST", path, body=body)
