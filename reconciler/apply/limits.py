"""Documented rate limits and the scope each is counted in (reconciler/vendors/*/FACTS.md §4)."""

from __future__ import annotations

from collections.abc import Hashable

from reconciler.config import Target

# requests per second
# "100 deletion requests per second per space" (reconciler/vendors/segment/FACTS.md §4)
SEGMENT_PER_SPACE = 100.0
# /users/delete shares 20,000/min with other endpoints (reconciler/vendors/braze/FACTS.md §4)
BRAZE_SHARED = 20_000 / 60
# shared with User Upsert, per partner (reconciler/vendors/insider/FACTS.md §4)
INSIDER_ATTRIBUTES = 25_000 / 60
# Delete Identifiers: the Postman text says 25,000/min, the rate-limits page 1,000/min
# (reconciler/vendors/insider/FACTS.md §4, §7). We follow the stricter: 1,000/min.
INSIDER_IDENTITY = 1_000 / 60
# Twilio publishes no limit for Memory (reconciler/vendors/twilio_memory/FACTS.md §4): a
# conservative default, which a target's rate_limit replaces; 429 + Retry-After is honoured
# either way.
TWILIO_DEFAULT = 20.0


# Reads (preflight, the reads that settle an answer, refresh):
# /users/export/ids: 250/min since 2024-08-22 (reconciler/vendors/braze/FACTS.md §4)
BRAZE_EXPORT = 250 / 60
# profile reads: 1,000 quota units/min (reconciler/vendors/insider/FACTS.md §4)
INSIDER_PROFILE = 1_000 / 60

DELETE = "delete"
IDENTITY = "identity"  # Insider identity deletes: their own, lower limit
READ = "read"


def scope_and_rate(target: Target, kind: str = DELETE) -> tuple[Hashable, float]:
    """(the scope a limit is shared in, requests/s we may send in it) for a kind of
    request: a delete, an Insider identity delete, or a read."""
    s = target.settings
    if target.vendor == "segment":
        # deletes and Profile API reads: 100/s each per space, perhaps shared
        # (reconciler/vendors/segment/FACTS.md §4, §7): the stricter reading, one budget
        scope: Hashable = ("segment", target.base_url, s["space_id"])
        rate = SEGMENT_PER_SPACE
    elif target.vendor == "braze":
        if kind == READ:
            scope, rate = ("braze-export", target.base_url), BRAZE_EXPORT
        else:
            scope, rate = ("braze", target.base_url), BRAZE_SHARED
    elif target.vendor == "insider":
        if kind == READ:
            scope = ("insider-profile", target.base_url, s["partner_name"])
            rate = INSIDER_PROFILE
        elif kind == IDENTITY:
            scope, rate = ("insider-identity", target.base_url, s["partner_name"]), INSIDER_IDENTITY
        else:
            scope, rate = ("insider", target.base_url, s["partner_name"]), INSIDER_ATTRIBUTES
    else:
        scope = ("twilio_memory", target.base_url, s["account_sid_env"])
        if target.rate_limit is not None:
            return scope, target.rate_limit.per_second
        rate = TWILIO_DEFAULT
    # the target's cap holds for every kind: Segment's reads share the deletes' scope,
    # and one scope has one pacer, whichever kind of request made it first
    if target.rate_limit is not None:
        rate = min(rate, target.rate_limit.per_second)
    return scope, rate
