"""The `subject_request_id` of an item: a UUID v4 made from the item itself.

The same item always makes the same id (FACTS.md §2), so a request sent again after a
crash, a timeout or a 5xx is the same request: the processor recognises it (mParticle
refuses it as "already exists") instead of opening a second one.
"""

from __future__ import annotations

import hashlib
import uuid

from reconciler.desired import Item

# Domain separation: these ids are never equal to another use of the same bytes.
LABEL = b"reconciler-opendsr subject_request_id v1\x00"


def subject_request_id(item: Item) -> str:
    """A lowercase UUID v4 (version and variant bits set, [SPEC 1.1] in
    reconciler/vendors/opendsr/FACTS.md §1) from the item's canonical bytes."""
    raw = bytearray(hashlib.sha256(LABEL + item.canonical()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))
