"""`reconcile`: the entry point. Dispatches to one module per command; maps errors to exits.

Exit codes follow Terraform: 0 success, 1 error (user errors, invalid input, failed
items), 2 changes pending (only with --detailed-exitcode). An unexpected internal error
exits 3 with one line; `--debug` shows the traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli.commands.apply import apply
from reconciler.cli.commands.check import check
from reconciler.cli.commands.diff import diff
from reconciler.cli.commands.encryption import decrypt, encrypt
from reconciler.cli.commands.github import github
from reconciler.cli.commands.init import init
from reconciler.cli.commands.ledger import ledger
from reconciler.cli.commands.plan import plan
from reconciler.cli.commands.refresh import refresh
from reconciler.cli.commands.report import report
from reconciler.cli.commands.resolve import resolve
from reconciler.cli.commands.status import status
from reconciler.cli.commands.validate import validate
from reconciler.cli.commands.vendors import vendors
from reconciler.cli.context import Globals
from reconciler.errors import ReconcilerError, ValidationFailed

EXIT_ERROR = 1
EXIT_INTERNAL = 3


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Path to reconciler.yaml (default: found in this folder or a parent).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks for internal errors.")
@click.version_option(__version__, prog_name="reconcile")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, debug: bool) -> None:
    """Declarative GitOps reconciler for customer-data cleanups."""
    ctx.obj = Globals(config_path=config_path, debug=debug)


cli.add_command(validate)
cli.add_command(plan)
cli.add_command(ledger)
cli.add_command(apply)
cli.add_command(check)
cli.add_command(refresh)
cli.add_command(resolve)
cli.add_command(vendors)
cli.add_command(status)
cli.add_command(report)
cli.add_command(github)
cli.add_command(diff)
cli.add_command(init)
cli.add_command(encrypt)
cli.add_command(decrypt)


def _register_optional() -> None:
    """Commands that live in their own packages, added when present."""
    try:
        from reconciler.sandbox.command import sandbox
    except ImportError:  # pragma: no cover - the sandbox ships with the package
        return
    cli.add_command(sandbox)


_register_optional()


def print_problems(problems: list[object]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        code = cli.main(args=args, prog_name="reconcile", standalone_mode=False)
    except ValidationFailed as exc:
        print_problems(list(exc.problems))
        click.echo(f"Error: {len(exc.problems)} problem(s) found.", err=True)
        code = EXIT_ERROR
    except ReconcilerError as exc:
        click.echo(f"Error: {exc}", err=True)
        code = EXIT_ERROR
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        code = EXIT_ERROR
    except click.ClickException as exc:
        # usage errors exit 1, not click's 2: 2 means "changes pending" here
        exc.show()
        code = EXIT_ERROR
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        code = 130
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc} "
            "(this is a bug; rerun with --debug for the traceback)",
            err=True,
        )
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)
