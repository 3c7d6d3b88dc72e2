"""Commands imported when they run, not when `reconcile` starts.

`reconcile --help` and the pre-commit hook's `reconcile validate` should start in well
under half a second; importing every command up front pulls in httpx, the apply engine,
the sandbox's aiohttp and more (about 0.8 s). Each command is named here with its module
and its one-line help, so listing commands imports none of them; a test holds each line
to the command's own docstring.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    module: str
    attribute: str
    short_help: str


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def __init__(self, *args: object, lazy: dict[str, LazyCommand], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.lazy, *(n for n in super().list_commands(ctx) if n not in self.lazy)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in self.lazy:
            return found
        entry = self.lazy[cmd_name]
        try:
            module = importlib.import_module(entry.module)
        except ImportError:  # an optional part (the sandbox's aiohttp) not installed
            return None
        command: click.Command = getattr(module, entry.attribute)
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, entry.short_help) for name, entry in self.lazy.items()]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
