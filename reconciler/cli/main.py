"""`reconcile`: the entry point. Dispatches to one module per command; maps errors to exits.

Exit codes (cli/exitcodes.py): 0 success, 1 error (user errors, invalid input, failed
items), 2 changes pending (only with --detailed-exitcode), 3 an unexpected internal error
(one line naming the crash log that holds the traceback, cli/crash.py; `--debug` lets it
through instead), 4 needs a person (held items).

`--color` and `--debug` are global and may stand anywhere on the command line
(`reconcile plan --debug`), as may `RECONCILE_LOG=debug` in the environment.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli import exitcodes
from reconciler.cli.context import Globals
from reconciler.cli.lazy import LazyCommand, LazyGroup
from reconciler.errors import ReconcilerError, ValidationFailed

EXIT_ERROR = exitcodes.ERROR
EXIT_INTERNAL = exitcodes.INTERNAL
COLOR_MODES = ("auto", "always", "never")

COMMANDS = {
    "validate": LazyCommand(
        "reconciler.cli.commands.validate",
        "validate",
        "Check reconciler.yaml and manifests (default: every file under specs/).",
    ),
    "plan": LazyCommand(
        "reconciler.cli.commands.plan",
        "plan",
        "Show what apply would remove, from specs/ and the ledger.",
    ),
    "apply": LazyCommand(
        "reconciler.cli.commands.apply",
        "apply",
        "Send the pending deletions (of PLANFILE, of a reviewed plan, or of a fresh plan "
        "after asking).",
    ),
    "show": LazyCommand(
        "reconciler.cli.commands.show",
        "show",
        "Render a saved plan (reconcile plan --out FILE); its MAC is checked first.",
    ),
    "status": LazyCommand(
        "reconciler.cli.commands.status",
        "status",
        "Every request (manifest) by due date: done, in progress (accepted, awaiting "
        "confirmation), pending, needs a person, overdue.",
    ),
    "report": LazyCommand(
        "reconciler.cli.commands.report",
        "report",
        "Write a sealed proof-of-erasure document for auditors.",
    ),
    "refresh": LazyCommand(
        "reconciler.cli.commands.refresh",
        "refresh",
        "Read the vendors back and record what is really there.",
    ),
    "check": LazyCommand(
        "reconciler.cli.commands.check",
        "check",
        "One harmless read per target proving host, account, credentials and permission.",
    ),
    "resolve": LazyCommand(
        "reconciler.cli.commands.resolve",
        "resolve",
        "Look each row up at the vendor, read-only, and write what the delete API can use.",
    ),
    "diff": LazyCommand(
        "reconciler.cli.commands.diff",
        "diff",
        "What the working tree's specs/ add, drop and modify against the revision BASE.",
    ),
    "ledger": LazyCommand(
        "reconciler.cli.commands.ledger", "ledger", "Read and check the state ledger."
    ),
    "vendors": LazyCommand(
        "reconciler.cli.commands.vendors",
        "vendors",
        "List the installed vendors: version, capabilities and limits.",
    ),
    "schema": LazyCommand(
        "reconciler.cli.commands.schema",
        "schema",
        "Print the editors' JSON Schema of reconciler.yaml or a manifest (installed vendors').",
    ),
    "github": LazyCommand(
        "reconciler.cli.commands.github",
        "github",
        "Talk to GitHub for the workflows: plan comment, reviewed plan, labels, issues.",
    ),
    "init": LazyCommand(
        "reconciler.cli.commands.init",
        "init",
        "Scaffold reconciler.yaml, specs/, the workflows and pre-commit into FOLDER (default: .).",
    ),
    "encrypt": LazyCommand(
        "reconciler.cli.commands.encryption",
        "encrypt",
        "Encrypt a manifest or CSV source to FILE.age (never overwrites).",
    ),
    "decrypt": LazyCommand(
        "reconciler.cli.commands.encryption",
        "decrypt",
        "Print an encrypted source's plaintext (with --stdout only).",
    ),
    "sandbox": LazyCommand(
        "reconciler.sandbox.command",
        "sandbox",
        "Serve an emulator of the Segment, Braze, Twilio Memory and Insider APIs on loopback.",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Path to reconciler.yaml (default: found in this folder or a parent).",
)
@click.option(
    "--color",
    type=click.Choice(COLOR_MODES),
    default="auto",
    show_default=True,
    help="Colour: auto is on for a terminal, off when NO_COLOR is set or TERM=dumb. "
    "Accepted anywhere on the command line.",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show tracebacks for internal errors (also RECONCILE_LOG=debug). Accepted anywhere.",
)
@click.version_option(__version__, prog_name="reconcile")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, color: str, debug: bool) -> None:
    """Declarative GitOps reconciler for customer-data cleanups."""
    ctx.color = color_setting(color, dict(os.environ))
    ctx.obj = Globals(config_path=config_path, debug=debug)


def color_setting(mode: str, environ: dict[str, str]) -> bool | None:
    """click's colour switch: True forces, False strips, None decides by the terminal.
    NO_COLOR (any non-empty value, no-color.org) and TERM=dumb turn auto off."""
    if mode == "always":
        return True
    if mode == "never" or environ.get("NO_COLOR") or environ.get("TERM") == "dumb":
        return False
    return None


def hoist_globals(
    args: list[str], environ: dict[str, str], group: click.Group | None = None
) -> tuple[list[str], bool]:
    """Move `--color X` / `--color=X` and `--debug` from anywhere (before a `--`) to the
    front, where the group reads them. Returns the arguments and whether to debug.

    With `group`, the words are walked through its commands as click will parse them, so
    the value of another option (`--reason --debug`) stays that option's value."""
    front: list[str] = []
    rest: list[str] = []
    debug = environ.get("RECONCILE_LOG", "").lower() == "debug"
    command: click.Command | None = group
    valued = _valued_options(command)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == "--debug":
            debug = True
        elif arg == "--color" and i + 1 < len(args):
            front += ["--color", args[i + 1]]
            i += 1
        elif arg.startswith("--color="):
            front.append(arg)
        elif arg in valued and i + 1 < len(args):
            rest += [arg, args[i + 1]]  # the next word is this option's value, whatever it is
            i += 1
        else:
            rest.append(arg)
            if isinstance(command, click.Group) and not arg.startswith("-"):
                command = command.get_command(click.Context(command), arg)
                valued |= _valued_options(command)
        i += 1
    if debug:
        front.append("--debug")
    return front + rest, debug  # a later --color wins, as in click


def _valued_options(command: click.Command | None) -> set[str]:
    """The spellings of `command`'s options that take the next word as their value."""
    if command is None:
        return set()
    return {
        spelling
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for spelling in (*param.opts, *param.secondary_opts)
        if spelling not in ("--color",)
    }


def print_problems(problems: list[object]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


def main(argv: list[str] | None = None) -> None:
    given = sys.argv[1:] if argv is None else argv
    args, debug = hoist_globals(list(given), dict(os.environ), cli)
    try:
        code = cli.main(args=args, prog_name="reconcile", standalone_mode=False)
    except ValidationFailed as exc:
        print_problems(list(exc.problems))
        click.echo(f"Error: {len(exc.problems)} problem(s) found.", err=True)
        code = EXIT_ERROR
    except ReconcilerError as exc:
        click.echo(f"Error: {exc}", err=True)
        code = EXIT_ERROR
    except click.exceptions.Abort as exc:
        cause = exc.__cause__
        if isinstance(cause, KeyboardInterrupt):
            # click turns a KeyboardInterrupt (a second Ctrl-C or SIGTERM during a run,
            # cli/signals.py) into Abort: exit as the shell reports the signal
            click.echo("Interrupted.", err=True)
            code = getattr(cause, "code", 130)
        else:
            click.echo("Aborted.", err=True)
            code = EXIT_ERROR
    except click.ClickException as exc:
        # usage errors exit 1, not click's 2: 2 means "changes pending" here
        exc.show()
        code = EXIT_ERROR
    except KeyboardInterrupt as exc:
        # a second Ctrl-C or SIGTERM during a run (cli/signals.py): what was sent has its
        # intent in the ledger, so the next plan shows it unknown
        click.echo("Interrupted.", err=True)
        code = getattr(exc, "code", 130)
    except Exception as exc:
        if debug:
            raise
        click.echo(internal_error_line(exc, list(given), dict(os.environ)), err=True)
        code = EXIT_INTERNAL
    sys.exit(code if isinstance(code, int) else 0)


def internal_error_line(exc: Exception, argv: list[str], environ: dict[str, str]) -> str:
    """The one line an internal error prints: what broke, and the crash log that holds the
    traceback (cli/crash.py), both without secrets or identifiers."""
    from reconciler.cli.crash import redact, write_crash_log

    what = redact(f"{type(exc).__name__}: {exc}", environ)
    try:
        log = write_crash_log(exc, argv, environ)
    except OSError as err:
        return (
            f"internal error: {what} (this is a bug; no crash log could be written: "
            f"{err.strerror or err}; `--debug` shows the traceback)"
        )
    return f"internal error: {what} (this is a bug; its traceback is in {log}, for a bug report)"
