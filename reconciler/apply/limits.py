"""The rate a kind of request may go at, in the scope its limit is counted in.

The limits themselves are the vendors' (each vendor package's FACTS.md §4): a vendor
says, for a target and a kind of request, the scope its documented limit is shared in and
the limit. A target's `rate_limit` lowers a documented limit (a budget shared with other
jobs) and replaces a default the vendor made up for lack of one.
"""

from __future__ import annotations

from collections.abc import Hashable

from reconciler.config import Target
from reconciler.vendors.registry import vendor

DELETE = "delete"
IDENTITY = "identity"  # a second kind of delete with its own limit (Insider's identities)
READ = "read"  # preflight, the reads that settle an answer, refresh


def scope_and_rate(target: Target, kind: str = DELETE) -> tuple[Hashable, float]:
    """(the scope a limit is shared in, requests/s we may send in it).

    The target's cap holds for every kind: Segment's reads share the deletes' scope, and
    one scope has one pacer, whichever kind of request made it first.
    """
    scope, rate, documented = vendor(target.vendor).rate(target, kind)
    if target.rate_limit is not None:
        cap = target.rate_limit.per_second
        rate = min(rate, cap) if documented else cap
    return scope, rate
