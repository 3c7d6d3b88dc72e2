"""Project config (`reconciler.yaml`): finding it, reading it, checking it."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.errors import Problem, ReconcilerError, ValidationFailed
from reconciler.inputs import (
    MAX_CONFIG_BYTES,
    InputRefused,
    confine,
    decode_utf8,
    read_bounded,
    relative_reference,
)
from reconciler.schemas import schema_errors
from reconciler.yamlsource import Document, YamlSyntaxError, format_path, load_documents

CONFIG_NAME = "reconciler.yaml"

# Production hosts, from each vendor's reconciler/vendors/<vendor>/FACTS.md §1. Braze has one
# REST host per cluster, so its targets must name theirs.
DEFAULT_BASE_URLS = {
    ("segment", "us"): "https://profiles.segment.com",
    ("segment", "eu"): "https://profiles.euw1.segment.com",
    ("twilio_memory", None): "https://memory.twilio.com",
    ("insider", None): "https://unification.useinsider.com",
}

# The settings that name the account a target reaches, beside its base URL.
ACCOUNT_KEYS = {
    "segment": ("space_id",),
    "braze": (),
    "twilio_memory": ("store_id",),
    "insider": ("partner_name",),
}

# The secrets each vendor needs, by config key naming the env var.
SECRET_KEYS = {
    "segment": ("token_env",),
    "braze": ("api_key_env",),
    "twilio_memory": ("account_sid_env", "auth_token_env"),
    "insider": ("token_env",),
}


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

    def secret_env_names(self) -> tuple[str, ...]:
        return tuple(self.settings[k] for k in SECRET_KEYS[self.vendor])

    @property
    def account(self) -> str:
        """Which vendor account this target reaches: host plus space, store or partner.

        Fingerprints key items by target name; the ledger also records this, so that a
        target renamed onto another account cannot inherit "already removed" items.
        """
        fields = {k: self.settings[k] for k in ACCOUNT_KEYS[self.vendor]}
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


def _read_document(path: Path) -> Document:
    shown = display(path)
    # The config may be a link, but not one that leaves its folder: a reconciler.yaml
    # committed as a link to /proc/self/environ would otherwise be read and quoted.
    folder = path.absolute().parent
    try:
        resolved = confine(path, folder, shown, "config file", hidden_ok=True)
        text = decode_utf8(read_bounded(resolved, MAX_CONFIG_BYTES, shown), shown)
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    try:
        docs = list(load_documents(text))
    except YamlSyntaxError as exc:
        raise ValidationFailed([Problem(shown, exc.line, "", exc.message)]) from exc
    if len(docs) != 1:
        raise ValidationFailed(
            [Problem(shown, None, "", f"must hold exactly one YAML document, found {len(docs)}")]
        )
    return docs[0]


def _folder(
    doc: Document,
    shown: str,
    root: Path,
    where: tuple[str, ...],
    value: str,
    problems: list[Problem],
) -> Path:
    """A folder the config names, confined to the repository (the config's folder).

    The ledger folder may be hidden (it is written, never read as a source); the specs
    folder may not, since nothing hidden is ever read as a manifest.
    """
    key = ".".join(where)
    try:
        relative_reference(value, key, "folder")
        return confine(root / value, root, key, "folder", hidden_ok=where[0] == "ledger")
    except InputRefused as exc:
        problems.append(Problem(shown, doc.line_of(where), key, exc.reason))
        return root / value


def load_config(path: Path) -> Config:
    """Read and check `path`; raise ValidationFailed listing every problem."""
    doc = _read_document(path)
    shown = display(path)
    problems = [
        Problem(shown, line, format_path(p), "duplicate key (YAML would silently keep one)")
        for p, line in doc.duplicate_keys
    ]
    problems += [
        Problem(shown, doc.line_of(p), format_path(p), msg)
        for p, msg in schema_errors("config", doc.data)
    ]
    if problems:
        # jsonschema's order depends on set iteration (hash seed): report in file order
        raise ValidationFailed(sorted(problems, key=lambda p: p.line or 0))
    data: dict[str, Any] = doc.data
    root = path.resolve().parent
    targets: dict[str, Target] = {}
    for name, raw in data["targets"].items():
        vendor = raw["vendor"]
        base_url = raw.get("base_url") or DEFAULT_BASE_URLS.get(
            (vendor, raw.get("region", "us") if vendor == "segment" else None)
        )
        assert base_url is not None  # braze requires base_url in the schema
        try:
            parts = urlsplit(base_url)
            host = parts.hostname or ""
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket: http://[::1
            problems.append(
                Problem(
                    shown,
                    doc.line_of(("targets", name, "base_url")),
                    f"targets.{name}.base_url",
                    f"is not a valid URL ({exc})",
                )
            )
            continue
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            problems.append(
                Problem(
                    shown,
                    doc.line_of(("targets", name, "base_url")),
                    f"targets.{name}.base_url",
                    "credentials inside base_url are refused (a URL is printed and recorded): "
                    "the secret belongs in the environment variable the target names",
                )
            )
            continue
        if parts.scheme != "https" and not is_loopback(host):
            problems.append(
                Problem(
                    shown,
                    doc.line_of(("targets", name, "base_url")),
                    f"targets.{name}.base_url",
                    "plain http:// is refused except on a loopback host (use https://)",
                )
            )
        limit = raw.get("rate_limit")
        rate = (
            RateLimit(limit["requests"], 1.0 if limit["per"] == "second" else 60.0)
            if limit
            else None
        )
        settings = {k: v for k, v in raw.items() if k not in ("base_url", "rate_limit")}
        targets[name] = Target(name, vendor, base_url.rstrip("/"), settings, rate)
    if problems:
        raise ValidationFailed(problems)
    ledger = data.get("ledger", {})
    specs_dir = _folder(doc, shown, root, ("specs",), data.get("specs", "specs"), problems)
    ledger_dir = _folder(
        doc, shown, root, ("ledger", "path"), ledger.get("path", "state/ledger"), problems
    )
    if problems:
        raise ValidationFailed(problems)
    return Config(
        path=path.resolve(),
        root=root,
        specs_dir=specs_dir,
        ledger_dir=ledger_dir,
        key_env=ledger.get("key_env"),
        targets=targets,
        max_deletions=data.get("max_deletions"),
        lines=doc.lines,
        age_key_env=data.get("sources", {}).get("age_key_env"),
    )
