"""`reconcile ledger leases|sql|export|import` and `ledger unlock TOKEN`: the PostgreSQL
ledger's leases, its DDL and grants, and moving a ledger between files and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.context import Globals, pass_globals
from reconciler.cli.env import ledger_key, who
from reconciler.config import Config
from reconciler.errors import ReconcilerError
from reconciler.ledger.backend import close_storage, open_storage, shared, where
from reconciler.ledger.files import FileStorage
from reconciler.ledger.verify import verify_ledger


def _pg(config: Config, command: str) -> object:
    if not shared(config):
        raise ReconcilerError(
            f"ledger {command} needs the PostgreSQL ledger (ledger.backend: postgres in "
            f"{config.display_path()})"
        )
    return open_storage(config)


def unlock_lease(config: Config, token_text: str, force: bool, key: bytes | None) -> int:
    """Break the lease whose fencing token is `token_text`, recorded in the ledger."""
    from reconciler.ledger.pg.leases import expired, find
    from reconciler.ledger.pg.storage import PgStorage
    from reconciler.ledger.unlock import break_lease, check_lease_breakable

    if not token_text.isdigit():
        raise ReconcilerError(
            f"{token_text!r} is not a lease token: `reconcile ledger leases` lists them"
        )
    token = int(token_text)
    storage = open_storage(config)
    assert isinstance(storage, PgStorage)
    try:
        lease = find(storage, token)
        if lease is None:
            raise ReconcilerError(f"no lease has the token {token}; nothing was changed")
        check_lease_breakable(lease)
        click.echo(f"Lease Info:\n  {lease.describe()}")
        if expired(storage, token):
            click.echo("It has expired: the next run on its target takes it over anyway.")
        if not force:
            if not sys.stdin.isatty():
                raise ReconcilerError(
                    "standard input is not a terminal, so nobody can confirm: run with "
                    "--force (after checking the run that holds the lease is gone)"
                )
            answer = click.prompt(
                "Breaking a lease held by a live run stops that run at its next record.\n"
                "Only 'yes' will be accepted to confirm",
                default="",
                show_default=False,
            )
            if answer != "yes":
                raise ReconcilerError("unlock cancelled; the lease is kept")
        break_lease(storage, token, who(), key)
    finally:
        close_storage(storage)
    click.echo(
        f"The lease {token} on {lease.target} was removed; the break is recorded in the ledger."
    )
    return 0


@click.command("leases")
@pass_globals
def leases(g: Globals) -> int:
    """The leases runs hold on targets of the PostgreSQL ledger: who, where, until when."""
    from reconciler.ledger.pg.leases import list_leases
    from reconciler.ledger.pg.storage import PgStorage

    config = g.config()
    storage = _pg(config, "leases")
    assert isinstance(storage, PgStorage)
    try:
        rows = list_leases(storage)
    finally:
        close_storage(storage)
    for lease in rows:
        click.echo(
            f"{lease.token:>8}  {lease.target:<18}  {lease.operation:<8}  run {lease.run}  "
            f"{lease.who} on {lease.host} (pid {lease.pid})  since {lease.since}  "
            f"expires {lease.expires}"
        )
    click.echo(f"{len(rows)} lease(s).", err=True)
    return 0


@click.command("sql")
@click.option("--grant-to", "role", help="Also print the grants for this role (the tool's).")
@click.option("--schema", help="The schema. [default: ledger.schema, else reconciler]")
@click.pass_context
def sql_ddl(ctx: click.Context, role: str | None, schema: str | None) -> int:
    """Print the SQL that creates the PostgreSQL ledger's tables (append-only, fenced),
    and the grants the tool's role needs: an administrator runs it once."""
    from reconciler.ledger.pg.schema import ddl, grants

    if schema is None:
        try:
            schema = ctx.find_object(Globals).config().ledger_schema  # type: ignore[union-attr]
        except (ReconcilerError, AttributeError):
            schema = "reconciler"
    try:
        text = ddl(schema) + (grants(schema, role) if role else "")
    except ValueError as exc:
        raise ReconcilerError(f"{exc}; nothing was printed") from None
    click.echo(text, nl=False)
    return 0


@click.command("export")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False))
@pass_globals
def export(g: Globals, folder: Path) -> int:
    """Copy the PostgreSQL ledger into FOLDER in the file format (byte for byte: the
    chain verifies there); FOLDER must hold no ledger."""
    from reconciler.ledger.pg.storage import PgStorage
    from reconciler.ledger.pg.transfer import export_to

    config = g.config()
    key = ledger_key(config)
    storage = _pg(config, "export")
    assert isinstance(storage, PgStorage)
    try:
        before = verify_ledger(config.ledger_dir, key, storage)
        if not before.ok:
            raise ReconcilerError(
                f"the PostgreSQL ledger does not verify ({before.breaks[0]}); nothing was "
                "exported. Run `reconcile ledger verify`"
            )
        lines = export_to(storage, folder)
    finally:
        close_storage(storage)
    after = verify_ledger(folder, key)
    if not after.ok:
        raise ReconcilerError(f"the exported ledger in {folder} does not verify: {after.breaks[0]}")
    click.echo(f"Exported {lines} record(s) to {folder}; the ledger verifies there.")
    return 0


@click.command("import")
@click.argument("folder", type=click.Path(path_type=Path, file_okay=False, exists=True))
@pass_globals
def import_(g: Globals, folder: Path) -> int:
    """Copy the file ledger in FOLDER into PostgreSQL (which must hold no ledger), in
    one transaction; a ledger that does not verify is refused."""
    from reconciler.ledger.pg.storage import PgStorage
    from reconciler.ledger.pg.transfer import import_from

    config = g.config()
    key = ledger_key(config)
    before = verify_ledger(folder, key)
    if not before.ok:
        raise ReconcilerError(
            f"{folder} does not verify ({before.breaks[0]}); nothing was imported"
        )
    storage = _pg(config, "import")
    assert isinstance(storage, PgStorage)
    try:
        lines = import_from(FileStorage(folder), storage)
        after = verify_ledger(config.ledger_dir, key, storage)
    finally:
        close_storage(storage)
    if not after.ok:
        raise ReconcilerError(f"the imported ledger does not verify: {after.breaks[0]}")
    click.echo(f"Imported {lines} record(s) into {where(config)}; the ledger verifies there.")
    return 0


COMMANDS = (leases, sql_ddl, export, import_)
