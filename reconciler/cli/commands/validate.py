"""`reconcile validate [PATH...]`: schema and vendor checks of config and manifests."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.errors import ValidationFailed
from reconciler.manifests import load_specs


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@pass_globals
def validate(g: Globals, paths: tuple[Path, ...]) -> int:
    """Check reconciler.yaml and manifests (default: every file under specs/). No network."""
    config = g.config()
    result = load_specs(config, paths)
    if result.problems:
        raise ValidationFailed(result.problems)
    click.echo(
        f"Success! {len(result.manifests)} manifest(s) in {len(result.files)} file(s) are valid: "
        f"{len(result.desired)} item(s) declared absent across {len(config.targets)} target(s)."
    )
    return 0
