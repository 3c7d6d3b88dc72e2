"""`reconcile schema config|manifest`: the JSON Schema an editor completes and checks
reconciler.yaml or a manifest with, made from the core's part and the installed vendors'
(reconciler/vendors/schemas.py): a plugin's settings and entry fields are in it too."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.report.output import write_report
from reconciler.vendors.schemas import SCHEMAS, editor_schema_text


@click.command()
@click.argument("kind", type=click.Choice(sorted(SCHEMAS)))
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the schema to FILE (atomically) instead of standard output.",
)
@click.option(
    "--built-in-only",
    is_flag=True,
    help="Only the built-in vendors, not the plugins: the files reconciler ships "
    "(reconciler/schemas/config.schema.json, manifest.schema.json).",
)
def schema(kind: str, out: Path | None, built_in_only: bool) -> int:
    """Print the editors' JSON Schema of reconciler.yaml or a manifest (installed vendors')."""
    text = editor_schema_text(kind, built_in_only)
    if out is None:
        click.echo(text, nl=False)
    else:
        write_report(out, text)
        click.echo(f"Wrote the {kind} schema to {out}.", err=True)
    return 0
