"""Project config (`reconciler.yaml`): what it holds, and finding it.

Reading and checking it is `reconciler.config.load`, which asks each target's vendor for
its settings schema: this module is the model the vendors themselves import.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import ReconcilerError

CONFIG_NAME = "reconciler.yaml"


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


@dataclass(frozen=True)
class Config:
    path: Path
    root: Path
    specs_dir: Path
    ledger_dir: Path
    key_env: str | None
    targets: dict[str, Target]
    max_deletions: int | None = None
    lines: dict[tuple[str | int, ...], int] = field(default_factory=dict, compare=False)
    # sources.age_key_env: the variable holding the age identity for *.age sources
    age_key_env: str | None = None
    # the identities themselves, read by the CLI (the core never reads the environment)
    # when that variable is set; None: encrypted sources cannot be read
    age_identities: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    # ledger.backend: "files" (a folder, ledger_dir) or "postgres" (reconciler.ledger.pg)
    ledger_backend: str = "files"
    ledger_dsn_env: str | None = None
    ledger_schema: str = "reconciler"
    lease_seconds: int = 60
    # the DSN itself, read by the CLI from ledger_dsn_env (a secret: never printed)
    ledger_dsn: str | None = field(default=None, compare=False, repr=False)

    def display_path(self) -> str:
        return display(self.path)


def display(path: Path) -> str:
    """A path as users want to read it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find_config(start: Path | None = None) -> Path:
    """`reconciler.yaml` in `start` (default: the working directory) or a parent."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / CONFIG_NAME
        if os.path.lexists(candidate):  # a link or special file is refused when read
            return candidate
    raise ReconcilerError(
        f"no {CONFIG_NAME} in {display(here)} or any parent folder (use --config PATH)"
    )


def is_loopback(host: str) -> bool:
    if host in ("localhost",) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
