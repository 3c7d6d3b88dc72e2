"""The rate a kind of request may go at, in the scope its limit is counted in.

The limits themselves are the vendors' (each vendor package's FACTS.md §4): a vendor
says, for a target and a kind of request, the scope its documented limit is shared in and
the limit. A target's `rate_limit` lowers a documented limit (a budget shared with other
jobs) and replaces a default the vendor made up for lack of one.
"""

from __future__ import annotations

from collections.abc import Hashable

from reconciler.target import Target
from reconciler.vendors.registry import vendor

DELETE = "delete"
IDENTITY = "identity"  # a second kind of delete with its own limit (Insider's identities)
READ = "read"  # preflight, the reads that settle an answer, refresh

# Pace a little under the limit: vendors count in fixed windows aligned to the clock,
# and an evenly spaced stream at exactly the limit lands one over in some windows. The
# vendor counts arrivals, not our releases, and requests in flight do not all take the
# same time (a new connection, a busy runner): at 0.97 the limit+1st release comes 31 ms
# after a 1-second window, so arrival jitter up to that still fits. At 0.985 (15 ms) a
# loaded CI runner drew a 429 at 10/s, and one 429 costs more than the 1.5% given up
# here (a pause, the rate halved, the ceiling at 90% for a minute).
HEADROOM = 0.97


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
