"""Everything read from the environment: secrets and the ledger key. Only the CLI reads it."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.manifests.encrypted import parse_identities
from reconciler.plan.planfile import PlanStamp
from reconciler.plan.seal import Seal, credential_stamp


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


def age_identities(config: Config) -> tuple[Any, ...] | None:
    """The age identities in the variable sources.age_key_env names, or None when the
    config names none or it is not set (encrypted sources are then reported as not
    readable; plan and apply refuse, validate checks everything else)."""
    if not config.age_key_env:
        return None
    value = os.environ.get(config.age_key_env, "")
    if not value.strip():
        return None
    return parse_identities(value, config.age_key_env)


def with_age_identities(config: Config) -> Config:
    identities = age_identities(config)
    return config if identities is None else replace(config, age_identities=identities)


def with_ledger_dsn(config: Config) -> Config:
    """The config with the PostgreSQL ledger's DSN read from ledger.dsn_env (when set;
    the core refuses to open that ledger without it, naming the variable)."""
    if config.ledger_backend != "postgres" or not config.ledger_dsn_env:
        return config
    value = os.environ.get(config.ledger_dsn_env, "").strip()
    return replace(config, ledger_dsn=value) if value else config


def secret(name: str) -> str:
    """A secret from the environment, refused (by name, never by value) when it is
    missing or could not be sent as it is: HTTP headers carry printable ASCII only, and a
    trailing newline or space (a secret pasted or read from a file) would be sent as part
    of it and refused by the vendor after the request left."""
    value = os.environ.get(name, "")
    if not value:
        raise ReconcilerError(f"environment variable {name} is not set (it holds a secret)")
    if value != value.strip():
        raise ReconcilerError(
            f"environment variable {name} starts or ends with whitespace (a newline from a "
            "file?): remove it; nothing was sent"
        )
    if not value.isascii() or not value.isprintable():
        raise ReconcilerError(
            f"environment variable {name} holds a character that is not printable ASCII: "
            "vendor credentials never do; nothing was sent"
        )
    return value


def target_secrets(config: Config, names: Iterable[str]) -> dict[str, dict[str, str]]:
    """Every secret the named targets need, {target: {config key: value}}, read (and
    checked) before anything is sent."""
    out: dict[str, dict[str, str]] = {}
    for name in sorted(set(names)):
        target = config.targets[name]
        out[name] = {key: secret(target.settings[key]) for key in target.secret_keys}
    return out


def who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def person(cwd: str | None = None) -> str:
    """Who is deciding, for a record a person makes: git's user.email, else user@host."""
    try:
        out = subprocess.run(
            ["git", "config", "user.email"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return who()
    email = out.stdout.strip()
    return email if out.returncode == 0 and email and email.isprintable() else who()


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


def credential_stamps(
    config: Config, seal: Seal, names: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Each named target's credential as a saved plan records it (plan.seal): the
    variable names, and the keyed fingerprint of their values when all are set. The
    values are only ever HMAC'd here, never kept, printed or sent."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        target = config.targets[name]
        values = {var: os.environ.get(var) or None for var in target.secret_env_names()}
        out[name] = credential_stamp(seal, target, values)
    return out


def plan_stamp(config: Config, seal: Seal, names: Iterable[str]) -> PlanStamp:
    return PlanStamp(seal.config_digest(config), credential_stamps(config, seal, names))
