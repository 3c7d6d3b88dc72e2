"""A sandbox on loopback for the end-to-end tests, reset to the seed before each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox
from tests.kit.e2e import CREDENTIALS, SEED, Project


@pytest.fixture(scope="session")
def credentials_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "credentials.yaml"
    path.write_text(yaml.safe_dump(CREDENTIALS), encoding="utf-8")
    return path


def options(credentials: Path, **kw: object) -> SandboxOptions:
    return SandboxOptions(
        seed=SEED,
        seed_random=20260101,
        credentials=credentials,
        twilio_removal_delay=0.05,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def shared_sandbox(credentials_file: Path) -> Iterator[Sandbox]:
    with Sandbox(options(credentials_file)) as sb:
        yield sb


@pytest.fixture
def sandbox(shared_sandbox: Sandbox) -> Sandbox:
    shared_sandbox.control.reset()
    return shared_sandbox


@pytest.fixture
def project(
    tmp_path: Path,
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Project:
    p = Project(tmp_path, sandbox.urls, capsys, monkeypatch)
    p.write_config()
    p.write_specs()
    return p
