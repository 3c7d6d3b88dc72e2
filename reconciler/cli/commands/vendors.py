"""`reconcile vendors`: the installed vendor packages, built-in and plugins."""

from __future__ import annotations

import json
from typing import Any

import click

from reconciler.vendors.registry import installed

FORMAT_VERSION = "1"


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: a table; json: one versioned document.",
)
def vendors(fmt: str) -> int:
    """List the installed vendors: version, capabilities and limits."""
    found = installed()
    rows: list[dict[str, Any]] = []
    for name, vendor in sorted(found.vendors.items()):
        caps = vendor.capabilities
        rows.append(
            {
                "name": name,
                "label": vendor.label,
                "version": vendor.version,
                "package": found.sources.get(name, "?"),
                "capabilities": {
                    "asynchronous": caps.asynchronous,
                    "batch_size": caps.batch_size,
                    "idempotent": caps.idempotent,
                    "irreversible": caps.irreversible,
                    "preflight": caps.preflight,
                    "read": caps.read,
                    "resolve": caps.resolve,
                },
                "secrets": list(vendor.secret_keys),
            }
        )
    if fmt == "json":
        document = {
            "format_version": FORMAT_VERSION,
            "vendors": rows,
            "broken": [{"name": n, "error": why} for n, why in found.broken],
        }
        click.echo(json.dumps(document, indent=2))
        return 1 if found.broken else 0
    table = [("VENDOR", "VERSION", "PACKAGE", "BATCH", "CAPABILITIES")]
    for row in rows:
        can: dict[str, Any] = row["capabilities"]
        words = [
            "async" if can["asynchronous"] else "sync",
            "idempotent" if can["idempotent"] else "NOT idempotent",
            *(["irreversible"] if can["irreversible"] else []),
            *([k for k in ("preflight", "read", "resolve") if can[k]]),
        ]
        table.append(
            (row["name"], row["version"], row["package"], str(can["batch_size"]), ", ".join(words))
        )
    widths = [max(len(r[i]) for r in table) for i in range(4)]
    for r in table:
        click.echo("  ".join([*(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)), r[4]]))
    for name, why in found.broken:
        click.secho(
            f"Warning: the vendor plugin {name} could not be loaded: {why}", fg="yellow", err=True
        )
    return 1 if found.broken else 0
