"""Everything read from the environment: secrets and the ledger key. Only the CLI reads it."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess

from reconciler.config import Config
from reconciler.errors import ReconcilerError


def ledger_key(config: Config) -> bytes | None:
    """The HMAC key named by ledger.key_env, or None when no key is configured."""
    if not config.key_env:
        return None
    value = os.environ.get(config.key_env, "")
    if not value:
        raise ReconcilerError(
            f"ledger.key_env names {config.key_env}, which is not set: fingerprints depend "
            "on the ledger key, so plan and apply need it"
        )
    return value.encode("utf-8")


def secret(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ReconcilerError(f"environment variable {name} is not set (it holds a secret)")
    return value


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def current_commit(cwd: str | None = None) -> str | None:
    """The git commit being applied: $GITHUB_SHA in Actions, else `git rev-parse HEAD`."""
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None
