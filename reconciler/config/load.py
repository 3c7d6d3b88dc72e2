"""Reading and checking `reconciler.yaml`: the project's own schema, then each target
against its vendor's schema (the vendor found by the target's `vendor:` name)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.config import Config, display, is_loopback
from reconciler.errors import Problem, ReconcilerError, ValidationFailed
from reconciler.inputs import (
    MAX_CONFIG_BYTES,
    InputRefused,
    confine,
    decode_utf8,
    read_bounded,
    relative_reference,
)
from reconciler.masking import fragment
from reconciler.schemas import schema_errors_with
from reconciler.target import RateLimit, Target
from reconciler.vendors.registry import installed, known
from reconciler.vendors.schemas import installed_schema
from reconciler.yamlsource import Document, YamlSyntaxError, format_path, load_documents


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
        folder = confine(root / value, root, key, "folder", hidden_ok=where[0] == "ledger")
    except InputRefused as exc:
        problems.append(Problem(shown, doc.line_of(where), key, exc.reason))
        return root / value
    try:  # a name the system refuses (too long, a file on the way) is said here, once
        os.stat(folder / "x")
    except FileNotFoundError:
        pass  # not made yet, or nothing in it yet: fine
    except OSError as exc:
        problems.append(
            Problem(shown, doc.line_of(where), key, f"cannot be used: {exc.strerror or exc}")
        )
    return folder


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
        for p, msg in schema_errors_with("config", installed_schema("config"), doc.data)
    ]
    if problems:
        # jsonschema's order depends on set iteration (hash seed): report in file order
        raise ValidationFailed(sorted(problems, key=lambda p: p.line or 0))
    data: dict[str, Any] = doc.data
    vendors = installed().vendors
    for name, raw in data["targets"].items():
        where = ("targets", name)
        vendor = vendors.get(raw["vendor"])
        if vendor is None:
            at = (*where, "vendor")
            problems.append(
                Problem(
                    shown,
                    doc.line_of(at),
                    format_path(at),
                    f"unknown vendor {fragment(raw['vendor'])} (installed: {known()})",
                )
            )
            continue
        problems += [
            Problem(shown, doc.line_of((*where, *p)), format_path((*where, *p)), msg)
            for p, msg in schema_errors_with(f"config:{vendor.name}", vendor.config_schema(), raw)
        ]
    if problems:
        raise ValidationFailed(sorted(problems, key=lambda p: p.line or 0))
    root = path.resolve().parent
    targets: dict[str, Target] = {}
    for name, raw in data["targets"].items():
        vendor = vendors[raw["vendor"]]
        base_url = raw.get("base_url") or vendor.default_base_url(raw)
        if base_url is None:  # pragma: no cover - a vendor's schema requires base_url then
            raise ReconcilerError(f"targets.{name}: {vendor.name} targets need a base_url")
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
        targets[name] = Target(
            name,
            vendor.name,
            base_url.rstrip("/"),
            settings,
            rate,
            tuple(vendor.secret_keys),
            tuple(vendor.account_keys),
        )
    if problems:
        raise ValidationFailed(problems)
    ledger = data.get("ledger", {})
    specs_dir = _folder(doc, shown, root, ("specs",), data.get("specs", "specs"), problems)
    ledger_dir = _folder(
        doc, shown, root, ("ledger", "path"), ledger.get("path", "state/ledger"), problems
    )
    backend = ledger.get("backend", "files")
    if backend == "postgres" and not ledger.get("dsn_env"):
        problems.append(
            Problem(
                shown,
                doc.line_of(("ledger", "backend")),
                "ledger.backend",
                "postgres needs ledger.dsn_env: the environment variable holding the "
                "connection string (the DSN is a secret, never written in this file)",
            )
        )
    for name in ("dsn_env", "schema", "lease_seconds"):
        if name in ledger and backend != "postgres":
            problems.append(
                Problem(
                    shown,
                    doc.line_of(("ledger", name)),
                    f"ledger.{name}",
                    "is only used with backend: postgres",
                )
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
        ledger_backend=backend,
        ledger_dsn_env=ledger.get("dsn_env"),
        ledger_schema=ledger.get("schema", "reconciler"),
        lease_seconds=ledger.get("lease_seconds", 60),
    )
