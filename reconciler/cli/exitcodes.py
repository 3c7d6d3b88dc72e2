"""Exit codes, one place: wrappers and workflows branch on them (README: Exit codes).

Terraform's three, then ours: 3 for an internal error (a bug: one line, `--debug` for the
traceback), and 4 for "needs a person": nothing more can happen without someone deciding
(items held because resending could delete a second person, or a deadline missed). 4 is
a code rather than a `--fail-on-held` flag because a flag is easy to forget in exactly
the workflow that must not forget it, and because apply has no `--detailed-exitcode`:
an apply that left held items is never silently 0.
"""

from __future__ import annotations

OK = 0
ERROR = 1
CHANGES = 2  # plan/refresh with --detailed-exitcode: work pending; apply: --max-duration ran out
INTERNAL = 3
NEEDS_PERSON = 4
