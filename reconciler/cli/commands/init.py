"""`reconcile init`: scaffold a repository (config, example specs, the editors' schemas,
workflows, pre-commit). Idempotent: an existing file is never overwritten; each one
skipped is named; all the files or none (reconciler/scaffold)."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.scaffold import DEFAULT_ACTION, SCHEMA_DIR, scaffold


@click.command()
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option(
    "--vendor",
    "vendors",
    multiple=True,
    help="A vendor to configure a target for (repeatable; default: every installed vendor; "
    "`reconcile vendors` lists them).",
)
@click.option(
    "--action",
    default=DEFAULT_ACTION,
    show_default=True,
    help="The reconciler Action the workflows use, OWNER/REPO@REF.",
)
def init(folder: Path | None, vendors: tuple[str, ...], action: str) -> int:
    """Scaffold reconciler.yaml, specs/, the workflows and pre-commit into FOLDER (default: .).

    Also the editors' JSON Schemas of both, in .reconciler/schemas/."""
    root = folder or Path.cwd()  # made by scaffold, and removed again if it fails
    results = scaffold(root, list(vendors), action)
    for rel, created in results:
        click.echo(f"created  {rel}" if created else f"skipped  {rel} (exists: left as it is)")
    made = sum(1 for _, created in results if created)
    click.echo(
        f"\n{made} file(s) created, {len(results) - made} skipped. Next: fill in the targets in "
        "reconciler.yaml, set the secrets (RECONCILE_LEDGER_KEY for plan; the vendor "
        "credentials in the environment reconcile-vendors for apply) and the repository "
        "variable RECONCILE_ENABLED=true, then run `reconcile validate`. The editors' "
        f"schemas in {SCHEMA_DIR}/ are the installed vendors': after installing a plugin or "
        f"upgrading, rewrite them with `reconcile schema manifest --out "
        f"{SCHEMA_DIR}/manifest.schema.json` (and config)."
    )
    return 0
