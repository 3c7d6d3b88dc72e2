"""The golden file: the fingerprints of a vendor's sample entries, which must never change.

A fingerprint is HMAC(ledger key, canonical bytes). If a new version of a vendor made
other canonical bytes for the same entry, every user's ledger would see its items as new
and send them all again. The golden file pins them under a fixed, public key.

    python -m reconciler.testing golden VENDOR MODULE:CASES

writes (or rewrites) the file named by the cases: do that once, and commit it; a later
change shows in review.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.testing.wire import FINGERPRINT, GOLDEN_KEY

if TYPE_CHECKING:
    from reconciler.testing.subject import Subject

FORMAT = 1


def fingerprints(s: Subject) -> dict[str, list[str]]:
    """Each sample entry's item fingerprints under the golden key, sorted."""
    return {name: sorted(FINGERPRINT(item) for item in s.items(name)) for name in s.cases.entries}


def read(path: Path) -> dict[str, list[str]]:
    document = json.loads(path.read_text("utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a golden file of format {FORMAT}")
    found = document.get("fingerprints")
    if not isinstance(found, dict):
        raise ValueError("no fingerprints in it")
    return {str(k): list(v) for k, v in found.items()}


def write(s: Subject) -> Path:
    path = Path(s.cases.golden)
    document = {
        "format": FORMAT,
        "vendor": s.vendor.name,
        "key": GOLDEN_KEY.decode("ascii"),
        "fingerprints": fingerprints(s),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", "utf-8")
    return path
