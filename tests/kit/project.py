"""The validate and CLI tests' project: CONFIG_YAML, specs/, fixtures copied in, the CLI
run with pytest's capture (the `project` fixture of tests/conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.manifests import LoadResult, load_specs
from tests.kit.cli import CliResult, run_captured
from tests.kit.repo import Repo
from tests.kit.specs import FIXTURES


class Project(Repo):
    """A user's repository in a temp folder: reconciler.yaml, specs/, CSVs."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        super().__init__(root)
        self._capsys = capsys

    def copy_fixture(self, fixture: str, rel: str | None = None) -> Path:
        src = FIXTURES / fixture
        dest = self.root / (rel or f"specs/{src.name}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)
        return dest

    def add_valid(self) -> Path:
        """Copy tests/fixtures/valid (a manifest per vendor and its CSVs) to specs/valid."""
        dest = self.root / "specs" / "valid"
        shutil.copytree(FIXTURES / "valid", dest)
        return dest

    def load(self, *paths: str) -> LoadResult:
        return load_specs(self.config(), [self.root / p for p in paths])

    def run(self, *args: str) -> CliResult:
        return run_captured(self._capsys, *args)
