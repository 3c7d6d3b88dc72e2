"""The layers hold: import-linter's contracts (pyproject.toml [tool.importlinter]) pass, and
no vendor's name is in the core's code outside that vendor's package and the sandbox.

Docs are allowed to name vendors as examples: comments and docstrings are not read here.
Names and string values in the code are, with the exceptions listed below, each for a
reason."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "reconciler"
VENDOR = re.compile(r"segment|braze|twilio|insider", re.IGNORECASE)
# where vendors are allowed to be named: each built-in vendor's package, and the sandbox
# (it emulates them); the scaffold's workflow templates only name the vendors' secrets
# in their comments (YAML, not read here)
OWN = ("vendors/segment/", "vendors/braze/", "vendors/twilio_memory/", "vendors/insider/")
OUTSIDE = ("sandbox/",)

# (file under reconciler/, a part of the name or string) -> why it may stay
_LEDGER_SEGMENT = "the ledger's own word (ledger/order.py: a run's records between two merges)"
ALLOWED: dict[tuple[str, str], str] = {
    ("ledger/order.py", "Segment"): _LEDGER_SEGMENT,
    ("ledger/order.py", "segment"): _LEDGER_SEGMENT,
    ("ledger/fold.py", "Segment"): _LEDGER_SEGMENT,
    ("ledger/fold.py", "segment"): _LEDGER_SEGMENT,
    ("ledger/verify.py", "Segment"): _LEDGER_SEGMENT,
    ("ledger/verify.py", "segment"): _LEDGER_SEGMENT,
    ("vendors/kit.py", "segment_part"): "a URL path segment (RFC 3986), not the vendor",
    ("cli/main.py", "Serve an emulator of the Segment, Braze, Twilio Memory and Insider"): (
        "help text of `reconcile sandbox`, which emulates exactly these"
    ),
    ("cli/commands/ledger.py", "(Braze by email or phone)"): (
        "a warning of `ledger resolve --as pending`: the built-in case of a held item"
    ),
}

# non-Python files of the core that may name vendors
_GENERATED = (
    "generated for editors by `reconcile schema {0} --built-in-only` from the core's part "
    "(schemas/{0}.core.json, which names no vendor) and the built-in vendors' packages: the "
    "$schema of the bundled examples (`reconcile init` writes its own, the installed "
    "vendors'). The core never reads it (it validates against vendors/schemas."
    "checked_manifest_schema and installed_schema); tests/test_schemas_for_"
    "editors.py keeps it equal to the generator's output"
)
ALLOWED_FILES = {
    "vendors/opendsr/FACTS.md": "docs",
    "schemas/config.schema.json": _GENERATED.format("config"),
    "schemas/manifest.schema.json": _GENERATED.format("manifest"),
}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that stand alone as a statement: docstrings, and the
    strings that document the assignment above them (docs: allowed)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if not isinstance(stmts, list):
                continue
            for stmt in stmts:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    out.add(id(stmt.value))
    return out


def _code_words(source: str) -> list[tuple[int, str]]:
    """(line, text) of every name and non-doc string value in a module."""
    tree = ast.parse(source)
    docs = _docstrings(tree)
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.append((node.lineno, node.id))
        elif isinstance(node, ast.Attribute):
            out.append((node.lineno, node.attr))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            out.append((node.lineno, node.name))
        elif isinstance(node, ast.arg):
            out.append((node.lineno, node.arg))
        elif isinstance(node, ast.alias):
            out.append((node.lineno, node.asname or node.name))
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docs:
                out.append((node.lineno, node.value))
    return out


def _core_files() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*")
        if p.is_file()
        and "__pycache__" not in p.parts
        and not p.relative_to(PACKAGE).as_posix().startswith(OWN + OUTSIDE)
        and p.suffix in (".py", ".json", ".md", ".yaml", ".yml")
        and "scaffold/templates" not in p.as_posix()
    )


def test_no_vendor_is_named_in_the_core() -> None:
    found: list[str] = []
    used: set[tuple[str, str]] = set()
    used_files: set[str] = set()
    for path in _core_files():
        rel = path.relative_to(PACKAGE).as_posix()
        text = path.read_text(encoding="utf-8")
        if path.suffix != ".py":
            if VENDOR.search(text):
                if rel in ALLOWED_FILES:
                    used_files.add(rel)
                else:
                    found.append(f"{rel}: names a vendor")
            continue
        for line, word in _code_words(text):
            if not VENDOR.search(word):
                continue
            allowed = [(f, part) for f, part in ALLOWED if f == rel and part in word]
            if allowed:
                used.update(allowed)
                continue
            found.append(f"{rel}:{line}: {word!r}")
    assert not found, "vendor names in the core (move them to the vendor's package):\n" + (
        "\n".join(found)
    )
    # every exception still applies: a stale one would hide the next real name
    assert set(ALLOWED) == used, f"exceptions no longer needed: {set(ALLOWED) - used}"
    assert set(ALLOWED_FILES) == used_files, (
        f"file exceptions no longer needed: {set(ALLOWED_FILES) - used_files}"
    )


def test_the_check_sees_a_vendor_name_in_code_but_not_in_docs() -> None:
    words = [w for _, w in _code_words('"""Braze, as an example."""\n# Segment\nx = "insider"\n')]
    assert "insider" in words
    assert not any("Braze" in w or "Segment" in w for w in words)


def test_import_linter_contracts_are_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is in the test extra"
    result = subprocess.run(
        [exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "5 kept, 0 broken" in result.stdout


def test_only_the_cli_reads_the_environment() -> None:
    """The core never reads the environment: the CLI passes values in (the test kit may
    read its own settings, the sandbox none)."""
    readers = re.compile(r"\bos\.environ\b|\bgetenv\(|\bfrom os import .*environ")
    found = [
        f"{path.relative_to(PACKAGE).as_posix()}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if not path.relative_to(PACKAGE).as_posix().startswith(("cli/", "testing/"))
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if readers.search(text.split("#", 1)[0])
    ]
    assert not found, f"the environment read outside the CLI: {found}"
