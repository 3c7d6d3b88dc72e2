"""`reconcile init`: the files a new repository needs, written only where none exist.

reconciler.yaml (one target per vendor asked for, settings to fill in), one example
manifest per configured target (declaring nothing yet: `absent: []`, with commented
entries to start from), the editors' JSON Schemas of the config and of a manifest for the
installed vendors, plugins included (`.reconciler/schemas/`: what `reconcile schema
config|manifest` prints), which the config and the examples name on their first line
(`# yaml-language-server: $schema=...`, relative to the file, so no network is needed),
the three workflows (plan, apply, drift) using the reconciler Action, and a pre-commit
config.

An existing file is never overwritten: it is skipped and said so, so running init twice
changes nothing. Every file's text is made before the first is written, each file
appears whole or not at all (written aside, then linked into place, which fails rather
than replace anything), and when one cannot be written those this run created are
removed again: init leaves all its files or none.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from reconciler.config import CONFIG_NAME
from reconciler.config.load import load_config
from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive
from reconciler.vendors.registry import installed, vendor
from reconciler.vendors.schemas import editor_schema_text

DEFAULT_ACTION = "OWNER/reconciler@v1"
WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")
SCHEMA_DIR = ".reconciler/schemas"  # beside reconciler.yaml
SCHEMA_KINDS = ("config", "manifest")
SPECS = "specs"


def schema_path(kind: str) -> str:
    """Where init writes the editors' schema `kind`, relative to the project's root."""
    return f"{SCHEMA_DIR}/{kind}.schema.json"


def modeline(schema: str) -> str:
    return f"# yaml-language-server: $schema={schema}\n"


def config_text(vendors: list[str], schema: str = schema_path("config")) -> str:
    kits = [vendor(v).scaffold() for v in vendors]
    targets = "".join(f"  {kit.target_name}:\n{kit.target_yaml}" for kit in kits)
    return (
        modeline(schema)
        + "# reconciler project config: https://github.com/OWNER/reconciler#config\n"
        "version: 1\n"
        f"specs: {SPECS}/\n"
        "ledger:\n"
        "  path: state/ledger\n"
        "  key_env: RECONCILE_LEDGER_KEY      # HMAC key for fingerprints (a CI secret)\n"
        "targets:\n" + targets
    )


def example_text(
    target: str, vendor_name: str, schema: str = f"../../{schema_path('manifest')}"
) -> str:
    kit = vendor(vendor_name).scaffold()
    return (
        modeline(schema) + f"# An example manifest for the target {target} ({vendor_name}). "
        "It declares nothing yet\n"
        "# (absent: []). To declare what must not exist, replace `absent: []` with entries\n"
        "# like the commented ones, then open a pull request: CI posts the plan for review.\n"
        f"# {kit.note}\n"
        "apiVersion: reconciler/v1\n"
        "kind: Removal\n"
        "metadata:\n"
        f"  name: example-{target}\n"
        "  owner: team-you\n"
        "  reason: An example to start from; say why these must not exist\n"
        "spec:\n"
        f"  target: {target}\n" + kit.spec + "  absent: []\n" + kit.example
    )


def template(name: str) -> str:
    return resources.files("reconciler.scaffold").joinpath("templates", name).read_text("utf-8")


def workflow_text(name: str, action: str) -> str:
    return template(name).replace("__ACTION__", action)


def precommit_text(action: str) -> str:
    repo, _, ref = action.partition("@")
    return template("pre-commit-config.yaml").replace("__REPO__", repo).replace("__REF__", ref)


@dataclass
class _Writer:
    """Writes new files whole, and removes them (and the folders it made) on failure."""

    root: Path
    created: list[Path]
    folders: list[Path]

    def folder(self, path: Path, within: bool = True) -> None:
        """Make `path` and its missing parents (within the root unless `within` is
        False: the root itself, `reconcile init NEWFOLDER`), each noted for undo."""
        missing = []
        while not os.path.lexists(path) and (path != self.root or not within):
            missing.append(path)
            path = path.parent
        for folder in reversed(missing):
            folder.mkdir()
            self.folders.append(folder)

    def write_new(self, path: Path, text: str) -> bool:
        """Create `path` with `text`, whole; False (untouched) when anything is there."""
        if os.path.lexists(path):
            return False
        self.folder(path.parent)
        aside = path.with_name(f".{path.name}.{os.getpid()}.init")
        try:
            with os.fdopen(create_exclusive(aside), "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(aside, path, follow_symlinks=False)  # never replaces anything
            except FileExistsError:
                return False
        finally:
            aside.unlink(missing_ok=True)
        self.created.append(path)
        return True

    def undo(self) -> None:
        for path in reversed(self.created):
            path.unlink(missing_ok=True)
        for folder in reversed(self.folders):
            try:
                folder.rmdir()
            except OSError:
                pass


def planned(root: Path, vendors: list[str], action: str) -> list[tuple[str, str]]:
    """Every file init would write under `root`, (path relative to it, text), in order;
    made before anything is written."""
    installed_names = sorted(installed().vendors)
    for name in vendors:
        if name not in installed_names:
            raise ReconcilerError(f"--vendor {name}: no such vendor ({', '.join(installed_names)})")
    if "@" not in action or "/" not in action.partition("@")[0]:
        raise ReconcilerError(f"--action {action}: expected OWNER/REPO@REF")
    names = vendors or installed_names
    files = [(CONFIG_NAME, config_text(names))]
    config_path = root / CONFIG_NAME
    if os.path.lexists(config_path):  # kept (skipped): its targets and specs folder count
        config = load_config(config_path)
        specs = Path(os.path.relpath(config.specs_dir, root)).as_posix()
        targets = [(name, target.vendor) for name, target in config.targets.items()]
    else:
        specs = SPECS
        targets = [(vendor(name).scaffold().target_name, name) for name in names]
    for kind in SCHEMA_KINDS:
        files.append((schema_path(kind), editor_schema_text(kind)))
    for name, vendor_name in targets:
        rel = f"{specs}/examples/{name}.yaml"
        to_root = os.path.relpath(root, (root / rel).parent)
        schema = Path(to_root, schema_path("manifest")).as_posix()
        files.append((rel, example_text(name, vendor_name, schema)))
    for name in WORKFLOWS:
        files.append((f".github/workflows/{name}", workflow_text(name, action)))
    files.append((".pre-commit-config.yaml", precommit_text(action)))
    return files


def scaffold(
    root: Path, vendors: list[str], action: str = DEFAULT_ACTION
) -> list[tuple[str, bool]]:
    """Write every missing file under `root`; (path, created) for each, in order. All or
    nothing: when one cannot be written, those created here are removed again."""
    files = planned(root, vendors, action)
    writer = _Writer(root, [], [])
    done: list[tuple[str, bool]] = []
    rel = "."
    try:
        writer.folder(root, within=False)  # a new FOLDER goes again too on failure
        for rel, text in files:
            done.append((rel, writer.write_new(root / rel, text)))
    except OSError as exc:
        writer.undo()
        raise ReconcilerError(
            f"{rel}: cannot write: {exc.strerror or exc} (nothing was written)"
        ) from exc
    return done
