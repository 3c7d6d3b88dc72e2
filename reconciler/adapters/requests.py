"""The vendor request an item becomes: built by pure functions, sent elsewhere."""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

from reconciler.config import Target
from reconciler.desired import Item, canonical_json


@dataclass(frozen=True)
class VendorRequest:
    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "path": self.path}
        if self.query:
            out["query"] = self.query
        if self.body is not None:
            out["body"] = self.body
        return out

    def digest(self) -> str:
        """SHA-256 of the request's canonical form: recorded in intents, never the body."""
        return hashlib.sha256(canonical_json(self.as_json()).encode("utf-8")).hexdigest()


class RequestBuilder(Protocol):
    max_batch: int

    def batch_key(self, item: Item) -> Hashable | None:
        """Items with the same key may share one request; None: one request each."""
        ...

    def build(self, target: Target, items: Sequence[Item]) -> VendorRequest: ...


def segment_part(value: str) -> str:
    """A value placed in a URL path segment, with `/`, `+`, `@` and the rest escaped."""
    return quote(value, safe="")
