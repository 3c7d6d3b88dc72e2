"""Shared fixtures: a throwaway project (its own reconciler.yaml, specs/) and a CLI runner.

Every test that touches files runs in `tmp_path` with the working directory changed to
it, so nothing here reads or writes the repository's own reconciler.yaml or specs/.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from reconciler.cli.main import main
from reconciler.config import Config
from reconciler.config.load import load_config
from reconciler.manifests import LoadResult, load_specs
from reconciler.testing.postgres import Cluster, ClusterUnavailable

# Hypothesis profiles: the default stays fast for CI; `--hypothesis-profile=deep` runs the
# fuzz tests (tests/cli/test_validate_fuzz.py, tests/cli/test_fuzz_inputs.py) with
# thousands of examples each, over 10,000 in all (run by hand; the README says how).
settings.register_profile(
    "deep",
    max_examples=2_000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).parent.parent

# One target per vendor. Line numbers matter to the config tests: keep the layout.
CONFIG_YAML = """\
version: 1
specs: specs/
ledger:
  path: state/ledger
targets:
  seg:
    vendor: segment
    space_id: spa_test1
    token_env: SEGMENT_TOKEN
    identifier_types: [phone]
  braze:
    vendor: braze
    base_url: https://rest.iad-01.braze.com
    api_key_env: BRAZE_API_KEY
  mem:
    vendor: twilio_memory
    store_id: mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4
    account_sid_env: TWILIO_ACCOUNT_SID
    auth_token_env: TWILIO_AUTH_TOKEN
  ins:
    vendor: insider
    partner_name: mybrand
    token_env: INSIDER_REQUEST_TOKEN
"""

# Manifests written with `manifest()` start with these 8 lines, so their spec body
# starts on line 9.
MANIFEST_HEAD = """\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: {name}
  owner: team-test
  reason: a test of what validate accepts and refuses
spec:
  target: {target}
"""


def manifest(body: str, target: str = "seg", name: str = "bad-input") -> str:
    """A manifest for `target` whose spec continues with `body` (dedented, then
    indented by two spaces). The body's first line is line 9 of the file."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return MANIFEST_HEAD.format(name=name, target=target) + "".join(
        f"  {line}\n" if line else "\n" for line in lines
    )


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run `reconcile ARGS` in-process through the real entry point."""
    capsys.readouterr()  # drop anything printed before
    try:
        main(list(args))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    else:  # pragma: no cover - main always exits
        raise AssertionError("reconcile main() returned instead of exiting")
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)


class Project:
    """A user's repository in a temp folder: reconciler.yaml, specs/, CSVs."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.root = root
        self._capsys = capsys

    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

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

    def config(self) -> Config:
        return load_config(self.root / "reconciler.yaml")

    def load(self, *paths: str) -> LoadResult:
        return load_specs(self.config(), [self.root / p for p in paths])

    def run(self, *args: str) -> CliResult:
        return run_cli(self._capsys, *args)


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
