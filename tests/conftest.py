"""Shared fixtures: a throwaway project (its own reconciler.yaml, specs/), a project with
ledgers, a PostgreSQL cluster. What they build is in the helper package tests/kit/.

Every test that touches files runs in `tmp_path` with the working directory changed to
it, so nothing here reads or writes the repository's own reconciler.yaml or specs/.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from reconciler.testing.postgres import Cluster, ClusterUnavailable
from tests.kit.ledger import TEST_KEY, Proj, make_proj
from tests.kit.project import Project
from tests.kit.specs import CONFIG_YAML

# Hypothesis profiles: the default stays fast for CI; `--hypothesis-profile=deep` runs the
# fuzz tests (tests/cli/test_validate_fuzz.py, tests/cli/test_fuzz_inputs.py) with
# thousands of examples each, over 10,000 in all (run by hand; the README says how).
settings.register_profile(
    "deep",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Crash logs (reconciler/cli/crash.py) of the tests' injected internal errors go to a
# throwaway state directory, never the user's ~/.local/state (subprocesses inherit it).
os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="reconciler-test-state-")


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Project:
    """An empty project with CONFIG_YAML, specs/ and the working directory set to it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "reconciler.yaml").write_text(CONFIG_YAML, encoding="utf-8")
    (tmp_path / "specs").mkdir()
    return Project(tmp_path, capsys)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL on 127.0.0.1 for the session (reconciler.testing.postgres).

    Never skipped: when no server can start, every test that needs it fails, saying why
    (CI installs one with .ci/postgres)."""
    # not under pytest's own temp folder: as root the server runs as nobody, and every
    # pytest session (other checkouts' too) resets that folder to 0700
    root = Path(tempfile.mkdtemp(prefix="reconcile-pg-"))
    try:
        cluster = Cluster.start(root / "cluster", fsync=False)
    except ClusterUnavailable as exc:
        ci = " (CI=true: .ci/postgres should have installed it)" if os.environ.get("CI") else ""
        pytest.fail(f"PostgreSQL could not start for the postgres backend's tests{ci}: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


_databases = itertools.count(1)


@pytest.fixture
def pg_dsn(pg_cluster: Cluster) -> str:
    """A fresh, empty database on the session's cluster, as a DSN."""
    return pg_cluster.create_database(f"t{next(_databases)}")


@pytest.fixture
def proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    """A throwaway project with ledgers (tests/kit/ledger.py), unkeyed, cwd set."""
    return make_proj(tmp_path, monkeypatch)


@pytest.fixture
def keyed_proj(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Proj:
    """The same with a ledger key (TEST_KEY)."""
    return make_proj(tmp_path, monkeypatch, TEST_KEY)
