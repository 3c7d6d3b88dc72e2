"""Connecting to the ledger's database; a DSN as it may be shown (never its password)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from reconciler.errors import ReconcilerError

_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask(text: str, dsn: str | None = None) -> str:
    """`text` with any password of a DSN in it replaced by ***, and the DSN itself
    (when given) replaced by its masked form."""
    if dsn:
        text = text.replace(dsn, masked_dsn(dsn))
        try:
            password = psycopg.conninfo.conninfo_to_dict(dsn).get("password")
        except psycopg.Error:
            password = None
        if password:
            text = text.replace(str(password), "***")
    text = _URL_PASSWORD.sub(r"\1***@", text)
    return _KV_PASSWORD.sub(r"\1***", text)


def masked_dsn(dsn: str) -> str:
    """Where the DSN points (host, port, database, user), never its password."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(a connection string that does not parse)"
    shown = {k: v for k, v in parts.items() if k in ("host", "port", "dbname", "user")}
    return " ".join(f"{k}={v}" for k, v in sorted(shown.items())) or "(defaults)"


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """An autocommit connection (writes commit in explicit transactions), or a one-line
    error naming where it pointed, never the password."""
    try:
        return psycopg.connect(dsn, autocommit=True, connect_timeout=10, **kwargs)
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReconcilerError(
            f"the ledger's PostgreSQL database cannot be reached ({masked_dsn(dsn)}): "
            f"{mask(first, dsn)}"
        ) from None
