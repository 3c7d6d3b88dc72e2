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

from reconciler.config import CONFIG_NAME, load_config
from reconciler.errors import ReconcilerError
from reconciler.inputs import create_exclusive

VENDORS = ("segment", "braze", "twilio_memory", "insider")
DEFAULT_ACTION = "OWNER/reconciler@v1"
WORKFLOWS = ("plan.yml", "apply.yml", "drift.yml")

TARGETS = {
    "segment": (
        "segment-prod",
        "    vendor: segment\n"
        "    space_id: spa_CHANGE_ME           # your Unify space\n"
        "    region: us                        # us or eu\n"
        "    token_env: SEGMENT_TOKEN\n"
        "    identifier_types: [phone]         # the space's types beyond Segment's standard\n",
    ),
    "braze": (
        "braze-prod",
        "    vendor: braze\n"
        "    base_url: https://rest.iad-01.braze.com   # your cluster's REST host\n"
        "    api_key_env: BRAZE_API_KEY\n",
    ),
    "twilio_memory": (
        "memory-prod",
        "    vendor: twilio_memory\n"
        "    store_id: mem_store_00000000000000000000000000   # your Memory store\n"
        "    account_sid_env: TWILIO_ACCOUNT_SID\n"
        "    auth_token_env: TWILIO_AUTH_TOKEN\n",
    ),
    "insider": (
        "insider-prod",
        "    vendor: insider\n"
        "    partner_name: changeme             # lowercase\n"
        "    token_env: INSIDER_REQUEST_TOKEN\n",
    ),
}

# Commented entries per vendor; uncommented (and `absent: []` removed) they are valid.
EXAMPLES = {
    "segment": (
        "  # absent:\n"
        "  #   - profile: {user_id: u_1001}\n"
        "  #     identifiers:\n"
        "  #       - {type: email, value: jane@old-domain.example}\n"
        '  #       - {type: phone, value: "+15555550100"}\n'
    ),
    "braze": (
        "  # absent:\n"
        "  #   - profile: {external_id: loadtest-0001}\n"
        "  #   - profile: {email: lt@example.com, prioritization: [unidentified]}\n"
    ),
    "twilio_memory": (
        "  # absent:\n"
        "  #   - profile: {profile_id: mem_profile_00000000000000000000000001}\n"
        "  #     identifiers:\n"
        "  #       - {type: phone, all_values: true}\n"
    ),
    "insider": (
        "  # absent:\n"
        "  #   - profile: {email: jane.doe@example.com}\n"
        "  #     attributes: [name, surname]\n"
    ),
}

NOTES = {
    "segment": "Segment removes one identifier from a profile found by user_id.",
    "braze": (
        "Braze deletes WHOLE user profiles, irreversibly: a manifest must say "
        "delete_profiles: true."
    ),
    "twilio_memory": "Twilio Memory removes every value of one identifier type on a profile.",
    "insider": "Insider removes attributes (whole or by value) or identifiers of a user.",
}


def config_text(vendors: list[str]) -> str:
    targets = "".join(f"  {TARGETS[v][0]}:\n{TARGETS[v][1]}" for v in vendors)
    return (
        "# reconciler project config: https://github.com/OWNER/reconciler#config\n"
        "version: 1\n"
        "specs: specs/\n"
        "ledger:\n"
        "  path: state/ledger\n"
        "  key_env: RECONCILE_LEDGER_KEY      # HMAC key for fingerprints (a CI secret)\n"
        "targets:\n" + targets
    )


def example_text(target: str, vendor: str) -> str:
    return (
        f"# An example manifest for the target {target} ({vendor}). It declares nothing yet\n"
        "# (absent: []). To declare what must not exist, replace `absent: []` with entries\n"
        "# like the commented ones, then open a pull request: CI posts the plan for review.\n"
        f"# {NOTES[vendor]}\n"
        "apiVersion: reconciler/v1\n"
        "kind: Removal\n"
        "metadata:\n"
        f"  name: example-{target}\n"
        "  owner: team-you\n"
        "  reason: An example to start from; say why these must not exist\n"
        "spec:\n"
        f"  target: {target}\n"
        + (
            "  delete_profiles: true   # Braze deletes WHOLE profiles, irreversibly: say so\n"
            if vendor == "braze"
            else ""
        )
        + "  absent: []\n"
        + EXAMPLES[vendor]
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
    for vendor in vendors:
        if vendor not in VENDORS:
            raise ReconcilerError(f"--vendor {vendor}: no such vendor ({', '.join(VENDORS)})")
    if "@" not in action or "/" not in action.partition("@")[0]:
        raise ReconcilerError(f"--action {action}: expected OWNER/REPO@REF")
    done: list[tuple[str, bool]] = []
    config_path = root / CONFIG_NAME
    done.append((CONFIG_NAME, _write_new(config_path, config_text(vendors or list(VENDORS)))))
    config = load_config(config_path)
    for name, target in config.targets.items():
        rel = f"{os.path.relpath(config.specs_dir, root)}/examples/{name}.yaml"
        done.append((rel, _write_new(root / rel, example_text(name, target.vendor))))
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
