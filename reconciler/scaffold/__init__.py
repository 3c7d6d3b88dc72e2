"""`reconcile init`: the files a new repository needs, written only where none exist.

reconciler.yaml (one target per vendor asked for, settings to fill in), one example
manifest per configured target (declaring nothing yet: `absent: []`, with commented
entries to start from), the three workflows (plan, apply, drift) using the reconciler
Action, and a pre-commit config. An existing file is never overwritten: it is skipped and
said so, so running init twice changes nothing.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from reconciler.config import CONFIG_NAME
from reconciler.config.load import load_config
from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive
from reconciler.vendors.registry import installed, vendor

DEFAULT_ACTION = "OWNER/reconciler@v1"
WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")


def schema_url(action: str, name: str) -> str:
    """Where the tool's JSON Schema `name` is in its repository, at the action's ref: what
    the `# yaml-language-server: $schema=` lines of scaffolded files point editors at."""
    repo, _, ref = action.partition("@")
    return f"https://raw.githubusercontent.com/{repo}/{ref}/reconciler/schemas/{name}.schema.json"


def config_text(vendors: list[str], action: str = DEFAULT_ACTION) -> str:
    kits = [vendor(v).scaffold() for v in vendors]
    targets = "".join(f"  {kit.target_name}:\n{kit.target_yaml}" for kit in kits)
    return (
        f"# yaml-language-server: $schema={schema_url(action, 'config')}\n"
        "# reconciler project config: https://github.com/OWNER/reconciler#config\n"
        "version: 1\n"
        "specs: specs/\n"
        "ledger:\n"
        "  path: state/ledger\n"
        "  key_env: RECONCILE_LEDGER_KEY      # HMAC key for fingerprints (a CI secret)\n"
        "targets:\n" + targets
    )


def example_text(target: str, vendor_name: str, action: str = DEFAULT_ACTION) -> str:
    kit = vendor(vendor_name).scaffold()
    return (
        f"# yaml-language-server: $schema={schema_url(action, 'manifest')}\n"
        f"# An example manifest for the target {target} ({vendor_name}). It declares nothing "
        "yet\n"
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


def _write_new(path: Path, text: str) -> bool:
    """Create `path` with `text`; False (untouched) when anything is there already."""
    if os.path.lexists(path):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = create_exclusive(path)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return True


def scaffold(
    root: Path, vendors: list[str], action: str = DEFAULT_ACTION
) -> list[tuple[str, bool]]:
    """Write every missing file under `root`; (path, created) for each, in order."""
    installed_names = sorted(installed().vendors)
    for name in vendors:
        if name not in installed_names:
            raise ReconcilerError(f"--vendor {name}: no such vendor ({', '.join(installed_names)})")
    if "@" not in action or "/" not in action.partition("@")[0]:
        raise ReconcilerError(f"--action {action}: expected OWNER/REPO@REF")
    done: list[tuple[str, bool]] = []
    config_path = root / CONFIG_NAME
    done.append(
        (CONFIG_NAME, _write_new(config_path, config_text(vendors or installed_names, action)))
    )
    config = load_config(config_path)
    for name, target in config.targets.items():
        rel = f"{os.path.relpath(config.specs_dir, root)}/examples/{name}.yaml"
        done.append((rel, _write_new(root / rel, example_text(name, target.vendor, action))))
    for name in WORKFLOWS:
        rel = f".github/workflows/{name}"
        done.append((rel, _write_new(root / rel, workflow_text(name, action))))
    done.append(
        (
            ".pre-commit-config.yaml",
            _write_new(root / ".pre-commit-config.yaml", precommit_text(action)),
        )
    )
    return done
