"""`reconcile diff --base REF`: what a change to specs/ adds, drops and modifies.

The manifests at REF are read from git (`git ls-tree`, `git cat-file`: no checkout) with
the working tree's reconciler.yaml; the working tree's are read as validate reads them.
No ledger, no key, no network: it runs on pull requests from forks too.
"""

from __future__ import annotations

import json

import click

from reconciler.cli.commands.plan import PII_FLAG, refuse_unmasked_markdown
from reconciler.cli.context import Globals, pass_globals
from reconciler.diff.compare import compare
from reconciler.errors import ValidationFailed
from reconciler.manifests import load_specs
from reconciler.manifests.gitsource import GitRevision
from reconciler.render.diff import diff_json, render_markdown, render_text


@click.command()
@click.option("--base", required=True, help="The git revision to compare with, e.g. origin/main.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="json: a versioned document (schemas/diff.schema.json); markdown: for a PR comment.",
)
@click.option("--show-values", is_flag=True, help="Show identifier values unmasked.")
@click.option(
    PII_FLAG,
    "posts_pii",
    is_flag=True,
    help="Allow --show-values with --format markdown (raw values in a job summary).",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="text/markdown: items listed per manifest and change (json lists every one).",
)
@pass_globals
def diff(g: Globals, base: str, fmt: str, show_values: bool, posts_pii: bool, limit: int) -> int:
    """What the working tree's specs/ add, drop and modify against the revision BASE."""
    refuse_unmasked_markdown(fmt, show_values, posts_pii)
    config = g.config()
    after = load_specs(config)
    if after.problems:
        raise ValidationFailed(after.problems)
    before = GitRevision(config, base).load()
    result = compare(base, before, after)
    locked = len(after.locked) + len(before.locked)
    if locked:
        click.secho(
            f"Warning: {locked} encrypted source(s) not compared (key not available): "
            "their changes are not shown",
            fg="yellow",
            err=True,
        )
    if before.problems:
        click.secho(
            f"Warning: {len(before.problems)} problem(s) in the manifests at {base} "
            "(reconcile validate at that revision names them); compared with what loaded.",
            fg="yellow",
            err=True,
        )
    if fmt == "json":
        click.echo(json.dumps(diff_json(result, show_values), indent=1, ensure_ascii=False))
    elif fmt == "markdown":
        click.echo(render_markdown(result, show_values, limit), nl=False)
    else:
        click.echo(render_text(result, show_values, limit), nl=False)
    return 0
