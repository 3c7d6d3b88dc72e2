"""A user's project driving the real `reconcile` CLI (a fresh process each time, which
finds the plugin through its entry point) against the plugin's emulator on loopback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from reconciler_opendsr.emulator import Emulator, EmulatorOptions

KEY = "e2e-key-4Fq9Zt2Lw8"
SECRET = "e2e-secret-Kp3Xv7Qm1Rb5"
TOKEN = "e2e-token-Yh6Tn0Wc3Ds9"
CREDENTIALS_ENV = "E2E_OPENDSR_CREDENTIALS"
LEDGER_KEY_ENV = "E2E_LEDGER_KEY"
LEDGER_KEY = "e2e-ledger-hmac-key-Jd8Rw2Nq5Vx7Tb4Lp1Zs"
DELAY = 0.3  # seconds a request stays pending, then in_progress


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err


class Project:
    """A repository in a temp folder: reconciler.yaml, specs/, the ledger."""

    def __init__(self, root: Path, emulator: Emulator) -> None:
        self.root = root
        self.emulator = emulator
        self.results: list[Result] = []
        self.env = {CREDENTIALS_ENV: f"{KEY}:{SECRET}", LEDGER_KEY_ENV: LEDGER_KEY}

    def write_config(self, **target: Any) -> None:
        settings = {
            "vendor": "opendsr",
            "base_url": self.emulator.url,
            "auth": "basic",
            "credentials_env": CREDENTIALS_ENV,
            **target,
        }
        config = {
            "version": 1,
            "specs": "specs/",
            "ledger": {"path": "state/ledger", "key_env": LEDGER_KEY_ENV},
            "targets": {"processor": settings},
        }
        (self.root / "reconciler.yaml").write_text(yaml.safe_dump(config), "utf-8")

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")

    def cli(self, *args: str) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith("E2E_")}
        env.update(self.env)
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result = Result(done.returncode, done.stdout, done.stderr)
        self.results.append(result)
        return result

    def plan_json(self) -> dict[str, Any]:
        result = self.cli("plan", "--format", "json")
        assert result.code == 0, result.output
        document: dict[str, Any] = json.loads(result.out)
        return document

    def written(self) -> str:
        """Everything the tool wrote under the project, specs aside."""
        return "\n".join(
            p.read_text("utf-8", errors="replace")
            for p in self.root.rglob("*")
            if p.is_file() and "specs" not in p.parts
        )

    def everything(self) -> str:
        return self.written() + "\n".join(r.output for r in self.results)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    options = EmulatorOptions(key=KEY, secret=SECRET, token=TOKEN, delay=DELAY)
    with Emulator(options) as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, emulator: Emulator) -> Project:
    p = Project(tmp_path, emulator)
    p.write_config()
    return p
