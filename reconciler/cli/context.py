"""Options shared by every command, and loading the config they name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # imported when a command loads the config, not at start-up
    from reconciler.config import Config


@dataclass
class Globals:
    config_path: Path | None = None
    debug: bool = False

    def config(self) -> Config:
        """The config, with the age identities for encrypted sources when their
        variable is set (read here: the core never reads the environment)."""
        from reconciler.cli.env import with_age_identities, with_ledger_dsn
        from reconciler.config import find_config
        from reconciler.config.load import load_config

        path = self.config_path or find_config()
        return with_ledger_dsn(with_age_identities(load_config(path)))


pass_globals = click.make_pass_decorator(Globals, ensure=True)
