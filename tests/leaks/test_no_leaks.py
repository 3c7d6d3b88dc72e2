"""Every command, run as its own process with recognisable secrets in every credential
variable (vendor credentials, the ledger key, the age key, the GitHub token) and
recognisable identifiers in the manifests: no secret in stdout, stderr, any file written
(the project tree and the temp folder, walked after each command), a crash or an
exception's text; no raw identifier in the ledger, nor in any output unless the command
was asked for values (issue: leak tests).

The vendors echo: the first apply runs with the sandbox's echo fault on every delete
(errors repeating the request's headers, body and the profile's other identifiers; reads
spared so the preflight passes), and `check` with it on the reads too.

COMMANDS is the table: a command added later (refresh, resolve, report, show, status) is
one more `Row`, in the place its dependencies allow (rows run in order, in one project).
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyrage
import pytest
import yaml
from pyrage import x25519

from reconciler.ledger.verify import item_events
from reconciler.sandbox.echo import phone_formats
from reconciler.sandbox.server import Sandbox
from tests.e2e.conftest import options
from tests.github.fakeapi import REPO, TOKEN, FakeGitHub, FakeServer
from tests.kit.e2e import CREDENTIALS, ENV, MANIFESTS, SECRET_FORMS, config, removal

LEDGER_KEY = "ledger-key-LEAKCHECK-0a9b8c7d6e5f4a3b2c1d"
AGE_IDENTITY = x25519.Identity.generate()
SECRETS = [
    *SECRET_FORMS,
    LEDGER_KEY,
    str(AGE_IDENTITY),
    TOKEN,
    base64.b64encode(f"x-access-token:{TOKEN}".encode()).decode(),
]
# every raw identifier the manifests (and the encrypted CSV) declare, and what the
# sandbox holds for the same profiles; only an output asked for values may show them
PHONE = "+15555550100"
ENCRYPTED_ONLY = "encrypted-only-leakcheck@old-domain.example"
IDENTIFIERS = [
    PHONE,
    *phone_formats(PHONE),
    "jane@old-domain.example",
    "omar@old-domain.example",
    "anon@old-domain.example",
    "never-there@x.example",
    "ext_1001",
    "ext_1002",
    "u-1001",
    ENCRYPTED_ONLY,
]
# outputs a command is meant to print raw (the user asked), and files it may write
VALUES_SHOWN = "values shown"


@dataclass
class World:
    root: Path
    tmp: Path
    env: dict[str, str]
    sandbox: Sandbox
    github: FakeGitHub
    snapshot: dict[Path, bytes] = field(default_factory=dict)

    def fingerprint(self) -> str:
        for event in item_events(self.root / "state/ledger"):
            if event["type"] == "result":
                return str(event["fp"])
        raise AssertionError("no result in the ledger")


Args = list[str] | Callable[[World], list[str]]


@dataclass
class Row:
    name: str
    args: Args
    codes: tuple[int, ...] = (0,)
    shows_values: bool = False  # the user asked for raw values in this output
    writes_values: bool = False  # the user asked for a file of raw values (resolve --out)
    before: Callable[[World], None] | None = None  # e.g. a sandbox fault
    after: Callable[[World], None] | None = None


def echo_deletes(w: World) -> None:
    w.sandbox.control.set_faults("*", echo_rate=1.0, faults_on_reads=0)


def echo_everything(w: World) -> None:
    w.sandbox.control.set_faults("*", echo_rate=1.0)


def no_faults(w: World) -> None:
    w.sandbox.control.set_faults("*", echo_rate=0.0)


def echoed_then_no_faults(w: World) -> None:
    echoed = [e for e in w.sandbox.control.requests() if e.get("fault") == "echo"]
    no_faults(w)
    assert echoed, "the echo fault never fired: the row proves nothing"


COMMANDS: list[Row] = [
    Row("validate", ["validate"]),
    Row("validate json", ["validate", "--format", "json"]),
    Row("validate github", ["validate", "--format", "github"]),
    Row("plan", ["plan"]),
    Row("plan json", ["plan", "--format", "json"]),
    Row("plan markdown", ["plan", "--format", "markdown"]),
    Row("plan --out", ["plan", "--out", "plan-text.json"]),
    Row("plan json --out", ["plan", "--format", "json", "--out", "plan.json"]),
    Row("plan markdown --out", ["plan", "--format", "markdown", "--out", "plan-md.json"]),
    Row("plan --show-values", ["plan", "--show-values"], shows_values=True),
    Row(
        "plan json --show-values", ["plan", "--format", "json", "--show-values"], shows_values=True
    ),
    Row(
        "plan markdown --show-values refused",
        ["plan", "--format", "markdown", "--show-values"],
        codes=(1,),
    ),
    Row("plan --detailed-exitcode", ["plan", "--detailed-exitcode"], codes=(2,)),
    Row("show", ["show", "plan.json"]),
    Row("show json", ["show", "plan.json", "--format", "json"]),
    Row("show markdown", ["show", "plan.json", "--format", "markdown"]),
    Row(
        "check (echo on reads)",
        ["check"],
        codes=(1,),
        before=echo_everything,
        after=echoed_then_no_faults,
    ),
    Row("check", ["check"]),
    Row(
        "apply (every delete echoes)",
        ["apply", "--auto-approve"],
        codes=(1,),
        before=echo_deletes,
        after=echoed_then_no_faults,
    ),
    Row("apply saved plan (stale: refused)", ["apply", "plan.json"], codes=(1,)),
    Row("apply", ["apply", "--auto-approve"], codes=(0, 1)),
    Row("apply json", ["apply", "--auto-approve", "--format", "json"], codes=(0, 1)),
    Row("refresh", ["refresh", "--min-age", "0"], codes=(0, 1, 2)),
    Row("refresh json", ["refresh", "--min-age", "0", "--format", "json"], codes=(0, 1, 2)),
    Row(
        "refresh markdown",
        ["refresh", "--min-age", "0", "--format", "markdown"],
        codes=(0, 1, 2),
    ),
    Row(
        "resolve",
        ["resolve", "--target", "seg", "--from", "known.csv", "--out", "resolved.csv"],
        writes_values=True,
    ),
    Row("vendors", ["vendors"]),
    Row("vendors json", ["vendors", "--format", "json"]),
    Row("schema config", ["schema", "config"]),
    Row("schema manifest", ["schema", "manifest"]),
    Row("ledger verify", ["ledger", "verify"]),
    Row("ledger list", ["ledger", "list"]),
    Row("ledger list --show-values", ["ledger", "list", "--show-values"], shows_values=True),
    Row("ledger show", lambda w: ["ledger", "show", w.fingerprint()]),
    Row("ledger list json", ["ledger", "list", "--format", "json"]),
    Row("ledger show json", lambda w: ["ledger", "show", w.fingerprint(), "--format", "json"]),
    Row(
        "ledger find json",
        [
            "ledger",
            "find",
            "--target",
            "seg",
            "--value",
            "jane@old-domain.example",
            "--format",
            "json",
        ],
    ),
    Row(
        "ledger find",
        ["ledger", "find", "--target", "seg", "--value", "jane@old-domain.example"],
    ),
    Row(
        "ledger find (encrypted source)",
        ["ledger", "find", "--target", "seg", "--value", ENCRYPTED_ONLY],
        codes=(0, 1),
    ),
    Row("diff", ["diff", "--base", "HEAD~1"]),
    Row("diff json", ["diff", "--base", "HEAD~1", "--format", "json"]),
    Row("diff markdown", ["diff", "--base", "HEAD~1", "--format", "markdown"]),
    Row(
        "diff --show-values",
        ["diff", "--base", "HEAD~1", "--show-values"],
        shows_values=True,
    ),
    Row("github outputs", ["github", "outputs", "plan-md.json"]),
    Row("github comment", ["github", "comment", "--pr", "7", "--file", "comment.md"]),
    Row("github label", ["github", "label", "--pr", "7", "--name", "reconcile: irreversible"]),
    Row("github issue", ["github", "issue", "--title", "drift", "--file", "comment.md"]),
    Row("encrypt", ["encrypt", "specs/extra.csv"]),
    Row("decrypt refused without --stdout", ["decrypt", "specs/extra.csv.age"], codes=(1,)),
    Row("decrypt --stdout", ["decrypt", "specs/extra.csv.age", "--stdout"], shows_values=True),
    Row("status", ["status"]),
    Row("status json", ["status", "--format", "json", "--detailed-exitcode"], codes=(0, 4)),
    Row("report", ["report"]),
    Row("report json --out", ["report", "--format", "json", "--out", "proof.json"]),
    Row("report html --out", ["report", "--format", "html", "--out", "proof.html"]),
    Row(
        "report markdown --ticket",
        ["report", "--format", "markdown", "--ticket", "none"],
        codes=(1,),
    ),  # fmt: skip
    Row("report --show-values", ["report", "--format", "html", "--show-values"], shows_values=True),
    Row("ledger verify --report", ["ledger", "verify", "--report", "proof.html"]),
    Row("ledger verify --report json", ["ledger", "verify", "--report", "proof.json"]),
]


def run(w: World, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=w.root,
        env=w.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=check,
    )


def walk(*roots: Path) -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            if "/.git" in folder:
                continue
            for name in names:
                path = Path(folder) / name
                if path.is_file() and not path.is_symlink():
                    files[path] = path.read_bytes()
    return files


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    base = tmp_path_factory.mktemp("leaks")
    root, tmp = base / "repo", base / "tmp"
    (root / "specs").mkdir(parents=True)
    tmp.mkdir()
    credentials = base / "credentials.yaml"
    credentials.write_text(yaml.safe_dump(CREDENTIALS), encoding="utf-8")
    with Sandbox(options(credentials)) as sandbox, FakeServer(FakeGitHub()) as github:
        cfg = config(sandbox.urls, sources={"age_key_env": "LEAK_AGE_KEY"})
        cfg["ledger"]["key_env"] = "LEAK_LEDGER_KEY"
        (root / "reconciler.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
        (root / ".gitignore").write_text("state/ledger/.lock\n")
        git(root, "init", "-q", "-b", "main")
        for name, doc in MANIFESTS.items():
            (root / "specs" / name).write_text(yaml.safe_dump(doc), encoding="utf-8")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "base")
        # the change a pull request brings: an encrypted CSV source
        csv = f"user_id,type,value\nu_1001,email,{ENCRYPTED_ONLY}\n"
        recipient = AGE_IDENTITY.to_public()
        (root / "specs/enc.csv.age").write_bytes(pyrage.encrypt(csv.encode(), [recipient]))
        doc = removal("seg-encrypted", "seg", {"absent_csv": ["enc.csv.age"]})
        (root / "specs/enc.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
        git(root, "add", "-A")
        git(root, "commit", "-qm", "encrypted source")
        (root / "specs/extra.csv").write_text(f"user_id,type,value\nu_9,email,{ENCRYPTED_ONLY}\n")
        # what a person holds for a subject, for resolve to look up (read-only)
        (root / "known.csv").write_text(
            "email,type,value\njane@old-domain.example,email,jane@old-domain.example\n"
        )
        (root / "comment.md").write_text("<!-- reconcile:plan part=1/1 -->\nplan\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "E2E_"))}
        env.update(ENV)
        env.update(
            LEAK_LEDGER_KEY=LEDGER_KEY,
            LEAK_AGE_KEY=str(AGE_IDENTITY),
            GITHUB_TOKEN=TOKEN,
            GITHUB_API_URL=github.url,
            GITHUB_REPOSITORY=REPO,
            TMPDIR=str(tmp),
        )
        w = World(root, tmp, env, sandbox, github)
        w.snapshot = walk(root, tmp)
        yield w


def written(w: World) -> dict[Path, bytes]:
    """Files new or changed since the last command (the project tree and TMPDIR)."""
    now = walk(w.root, w.tmp)
    changed = {p: b for p, b in now.items() if w.snapshot.get(p) != b}
    w.snapshot = now
    return changed


@pytest.mark.parametrize("row", COMMANDS, ids=[r.name for r in COMMANDS])
def test_no_secret_and_no_raw_identifier_leaks(world: World, row: Row) -> None:
    if row.before is not None:
        row.before(world)
    try:
        args = row.args(world) if callable(row.args) else row.args
        result = run(world, args, check=False)
    finally:
        if row.after is not None:
            row.after(world)
    output = result.stdout + result.stderr
    assert result.returncode in row.codes, output
    assert "Traceback" not in output and "internal error" not in output, output
    files = written(world)
    for secret in SECRETS:
        assert secret not in output, f"a secret in the output of {args}"
        for path, data in files.items():
            assert secret.encode() not in data, f"a secret written to {path}"
    if row.shows_values:  # the values searched for are the ones outputs would hold
        assert any(value in output for value in IDENTIFIERS), output
    if row.writes_values:  # the file asked for holds values; the ledger still none
        held = b"".join(data for path, data in files.items() if "state" not in path.parts)
        assert any(value.encode() in held for value in IDENTIFIERS), sorted(files)
    for value in IDENTIFIERS:
        if not row.shows_values:
            assert value not in output, f"{value!r} in the output of {args}"
        for path, data in files.items():
            if row.writes_values and "state" not in path.parts:
                continue
            assert value.encode() not in data, f"{value!r} written to {path}"


def test_the_table_has_a_row_for_every_command() -> None:
    from reconciler.cli.main import cli

    tried = {r.args[0] for r in COMMANDS if isinstance(r.args, list)} | {"ledger"}
    # init writes templates and sandbox serves the emulator: neither reads a secret
    untried = set(cli.commands) - tried - {"init", "sandbox"}
    assert not untried, f"add a row to COMMANDS for {sorted(untried)}"
