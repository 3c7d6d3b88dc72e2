"""A fake GitHub API on loopback, and the environment the workflows give the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.github.fakeapi import REPO, TOKEN, FakeGitHub, FakeServer


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    with FakeServer(FakeGitHub()) as gh:
        monkeypatch.setenv("GITHUB_API_URL", gh.url)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        yield gh
