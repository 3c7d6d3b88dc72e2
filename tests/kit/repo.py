"""A user's repository in a temp folder: what every kind of test project shares."""

from __future__ import annotations

from pathlib import Path

from reconciler.config import Config
from reconciler.config.load import load_config


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    @property
    def ledger_dir(self) -> Path:
        return self.root / "state" / "ledger"

    def config(self) -> Config:
        return load_config(self.root / "reconciler.yaml")
