"""The sandbox's Segment space finds a profile by an identifier in constant time, and
always gives the answer a scan of its profiles in order would give."""

from __future__ import annotations

import random

from reconciler.sandbox.state import SegmentExternalId, SegmentProfile, SegmentSpace


def scan(space: SegmentSpace, id_type: str, value: str) -> SegmentProfile | None:
    return next((p for p in space.profiles if p.has(id_type, value)), None)


def test_find_agrees_with_a_scan_through_removals_and_additions() -> None:
    rng = random.Random(7)
    profiles = [
        SegmentProfile(
            f"use_{i}",
            [SegmentExternalId("user_id", f"u_{i}"), SegmentExternalId("email", f"e{i % 50}")],
        )
        for i in range(300)
    ]
    space = SegmentSpace("spa_x", profiles=profiles)
    for _ in range(3000):
        i = rng.randrange(300)
        kind = rng.random()
        if kind < 0.2:  # a delete, as the sandbox does it
            profile = profiles[i]
            profile.external_ids = [e for e in profile.external_ids if e.type != "email"]
        elif kind < 0.3:  # a replay puts a value back
            profiles[i].external_ids.append(SegmentExternalId("email", f"e{rng.randrange(50)}"))
            space.forget()
        id_type, value = rng.choice([("user_id", f"u_{i}"), ("email", f"e{i % 50}")])
        assert space.find(id_type, value) is scan(space, id_type, value), (id_type, value)
    assert space.find("user_id", "nobody") is None
