"""What makes a saved plan tamper-evident: its MAC, and the keyed digests it carries.

With a ledger key (ledger.key_env) every value here is an HMAC-SHA256 under a key derived
from the ledger key with a label of its own (never the key that makes fingerprints, never
the ledger's record MAC key):

- the file's MAC, over every byte before it: without the ledger key nobody can edit a
  saved plan, or write one, that apply accepts;
- the config digest: which reconciler.yaml the plan was made with;
- each target's credential fingerprint: the HMAC of the variable's NAME and the secret's
  VALUE, so a renamed variable or a changed secret makes the plan stale, while the plan
  holds nothing from which the secret could be recovered.

Without a key the file carries a plain SHA-256 digest instead of a MAC. It finds accidents
(a truncated download, a damaged copy, a careless edit), never an edit by someone who
recomputes it; credentials are then recorded by variable name only (a fingerprint of a
secret under no key could be tested against guesses).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from reconciler.config import Config, Target

KEYED_MAC = "hmac-sha256"
DIGEST = "sha256"
MAC_BYTES = 32

_FILE_LABEL = b"reconciler/plan/file-mac/v2"
_DIGEST_LABEL = b"reconciler/plan/file-digest/v2\n"
_CONFIG_LABEL = b"reconciler/plan/config/v2"
_CREDENTIAL_LABEL = b"reconciler/plan/credential/v2"

UNSIGNED_WARNING = (
    "the saved plan is protected by a plain SHA-256 digest, without a key: it detects "
    "accidents (a damaged or truncated copy), not edits by someone who can write the file, "
    "and a changed credential value is not noticed. Set ledger.key_env to an HMAC key."
)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class Seal:
    """The MAC (or digest) of saved plans of one project, and its keyed digests."""

    def __init__(self, key: bytes | None) -> None:
        self._file_key = _derive(key, _FILE_LABEL)
        self._config_key = _derive(key, _CONFIG_LABEL)
        self._credential_key = _derive(key, _CREDENTIAL_LABEL)

    @property
    def scheme(self) -> str:
        return KEYED_MAC if self._file_key is not None else DIGEST

    @property
    def keyed(self) -> bool:
        return self._file_key is not None

    def hasher(self) -> Hasher:
        """A running MAC (keyed) or digest over a whole file."""
        if self._file_key is not None:
            return hmac.new(self._file_key, digestmod="sha256")
        return hashlib.sha256(_DIGEST_LABEL)

    def config_digest(self, config: Config) -> str:
        data = json.dumps(config_identity(config), sort_keys=True, separators=(",", ":"))
        if self._config_key is not None:
            return hmac.digest(self._config_key, data.encode("utf-8"), "sha256").hex()[:32]
        return hashlib.sha256(_CONFIG_LABEL + data.encode("utf-8")).hexdigest()[:32]

    def credential(self, values: Sequence[tuple[str, str]]) -> str | None:
        """The keyed fingerprint of a target's credential: (variable name, secret value)
        pairs. None without a key."""
        if self._credential_key is None:
            return None
        mac = hmac.new(self._credential_key, digestmod="sha256")
        for name, value in values:
            for part in (name, value):
                data = part.encode("utf-8")
                mac.update(len(data).to_bytes(4, "big") + data)
        return mac.hexdigest()[:32]


def _derive(key: bytes | None, label: bytes) -> bytes | None:
    return hmac.digest(key, label, "sha256") if key is not None else None


def config_identity(config: Config) -> dict[str, Any]:
    """What of reconciler.yaml a plan depends on: the folders, the key variable, every
    target's vendor, host, settings (variable names included: never a secret) and limits."""
    return {
        "specs": _relative(config, config.specs_dir),
        "ledger": _relative(config, config.ledger_dir),
        "key_env": config.key_env,
        "age_key_env": config.age_key_env,
        "max_deletions": config.max_deletions,
        "targets": {name: _target_identity(t) for name, t in config.targets.items()},
    }


def _relative(config: Config, path: Any) -> str:
    try:
        return str(path.relative_to(config.root))
    except ValueError:
        return str(path)


def _target_identity(target: Target) -> dict[str, Any]:
    limit = target.rate_limit
    return {
        "vendor": target.vendor,
        "base_url": target.base_url,
        "settings": target.settings,
        "rate_limit": None if limit is None else [limit.requests, limit.per_seconds],
    }


def credential_stamp(
    seal: Seal, target: Target, values: Mapping[str, str | None]
) -> dict[str, Any]:
    """What a saved plan records of one target's credential: the variable names, and the
    keyed fingerprint of their values when every one is set (else null)."""
    names = list(target.secret_env_names())
    pairs = [(n, values.get(n)) for n in names]
    complete = [(n, v) for n, v in pairs if v is not None]
    mac = seal.credential(complete) if names and len(complete) == len(pairs) else None
    return {"variables": names, "mac": mac}


def credential_change(name: str, then: Mapping[str, Any], now: Mapping[str, Any]) -> str | None:
    """Why target `name`'s credential is not the one the plan was made with, or None."""
    if list(then.get("variables", [])) != list(now.get("variables", [])):
        was = ", ".join(then.get("variables", [])) or "none"
        is_ = ", ".join(now.get("variables", [])) or "none"
        return (
            f"the credential for target {name} changed since the plan was made (it is read "
            f"from {is_} now, the plan was made with {was})"
        )
    if then.get("mac") is not None and now.get("mac") is not None and then["mac"] != now["mac"]:
        return (
            f"the credential for target {name} changed since the plan was made (the value "
            "of its variable is another one)"
        )
    return None
