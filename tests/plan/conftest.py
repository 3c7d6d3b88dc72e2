"""Fixtures: a throwaway project (unkeyed `proj`, keyed `keyed_proj`), cwd set to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ledger.kit import TEST_KEY, Proj, make_proj


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    return make_proj(tmp_path, monkeypatch)


@pytest.fixture
def keyed_proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    return make_proj(tmp_path, monkeypatch, TEST_KEY)
