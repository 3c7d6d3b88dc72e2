"""Options shared by every command, and loading the config they name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.config import Config, find_config
from reconciler.config.load import load_config


@dataclass
class Globals:
    config_path: Path | None = None
    debug: bool = False

    def config(self) -> Config:
        path = self.config_path or find_config()
        return load_config(path)


pass_globals = click.make_pass_decorator(Globals, ensure=True)
