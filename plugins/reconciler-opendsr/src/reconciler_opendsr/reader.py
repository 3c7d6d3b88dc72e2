"""Refresh for OpenDSR: the status of each item's request, `GET {requests_path}/{id}`
(reconciler/vendors/opendsr/FACTS.md §3, §5).

- `completed`: absent (the processor fulfilled the erasure)
- `cancelled`: present (not erased)
- `pending`, `in_progress`: unverified (still accepted, not yet proven)
- the processor's 404 (its error envelope): present (it holds no request with the id:
  nothing was erased by us; sending again is safe, the request is idempotent)
- anything else, or no answer: unverified
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.target import Target
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Pair,
    VendorRequest,
)
from reconciler.vendors.kit import singles
from reconciler_opendsr.answers import not_found, status_of
from reconciler_opendsr.ids import subject_request_id
from reconciler_opendsr.requests import requests_path, status_read


class OpenDSRReader:
    def read_batches(self, pairs: Sequence[Pair]) -> list[list[Pair]]:
        return singles(pairs)

    def read_request(self, target: Target, items: Sequence[Item]) -> VendorRequest:
        (item,) = items
        return status_read(requests_path(target), subject_request_id(item))

    def observe(
        self, answer: Answer | None, request: VendorRequest, items: Sequence[Item]
    ) -> list[Observation | VendorRequest]:
        (item,) = items
        status = status_of(answer, subject_request_id(item))
        if status == "completed":
            return [Observation(ABSENT_SEEN, "the processor completed the erasure")]
        if status == "cancelled":
            return [Observation(PRESENT, "the erasure was cancelled at the processor")]
        if status is not None:
            return [Observation(UNVERIFIED, f"the erasure is {status} at the processor")]
        if not_found(answer):
            return [Observation(PRESENT, "the processor holds no request with this id")]
        return [Observation(UNVERIFIED)]
