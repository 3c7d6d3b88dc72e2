"""One target of the project config: a vendor account, space, store or partner that
deletions are sent to. The vendors import it (and nothing else of the config)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RateLimit:
    requests: int
    per_seconds: float

    @property
    def per_second(self) -> float:
        return self.requests / self.per_seconds


@dataclass(frozen=True)
class Target:
    """One place deletions are sent: a vendor account, space, store or partner."""

    name: str
    vendor: str
    base_url: str
    settings: dict[str, Any]
    rate_limit: RateLimit | None = None
    # the settings naming env vars with secrets, and those naming the account (with
    # base_url), as the target's vendor declares them
    secret_keys: tuple[str, ...] = ()
    account_keys: tuple[str, ...] = ()

    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(self.settings[k] for k in self.secret_keys)

    @property
    def account(self) -> str:
        """Which vendor account this target reaches: host plus space, store or partner.

        Fingerprints key items by target name; the ledger also records this, so that a
        target renamed onto another account cannot inherit "already removed" items.
        """
        fields = {k: self.settings[k] for k in self.account_keys}
        text = json.dumps([self.vendor, self.base_url, fields], sort_keys=True)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
