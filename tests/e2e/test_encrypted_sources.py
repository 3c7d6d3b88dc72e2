"""Encrypted sources end to end: a `.csv.age` and a `.yaml.age` go through validate, plan and
apply against the sandbox, and no decrypted byte lands on disk (issue: raw identifiers
out of git).

The commands run as their own processes with TMPDIR pointed at a watched folder; every
file under the project and that folder (and every new file directly in the system temp folder) is
read after each command and searched for the plaintext values and the age key.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pyrage
import yaml
from pyrage import x25519

from tests.kit.e2e import PROFILE_A, Project, removal, summary

# only the encrypted sources hold these (the sandbox seed holds them in memory only)
CSV_ROWS = [
    ("u_1001", "email", "jane@old-domain.example"),
    ("u_1001", "phone", "+15555550100"),
    ("u_1001", "email", "never-there@x.example"),
]
PLAINTEXT_VALUES = ["jane@old-domain.example", "+15555550100", "never-there@x.example", PROFILE_A]
AGE_VAR = "E2E_AGE_KEY"


def snapshot(*roots: Path) -> dict[Path, bytes]:
    files: dict[Path, bytes] = {}
    for root in roots:
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    if path.is_file():
                        files[path] = path.read_bytes()
                except OSError:
                    continue  # another user's file in the shared temp folder
    return files


def top_files(folder: Path) -> dict[Path, bytes]:
    """The files directly in `folder` (where a temporary file would go by default)."""
    files: dict[Path, bytes] = {}
    for path in folder.iterdir():
        try:
            if path.is_file() and not path.is_symlink():
                files[path] = path.read_bytes()
        except OSError:
            continue
    return files


def make_project(project: Project, identity: x25519.Identity) -> None:
    recipient = identity.to_public()
    project.write_config(sources={"age_key_env": AGE_VAR})
    specs = project.root / "specs"
    for name in list(specs.iterdir()):
        name.unlink()
    csv_text = "user_id,type,value\n" + "".join(f"{u},{t},{v}\n" for u, t, v in CSV_ROWS)
    (specs / "segment.csv.age").write_bytes(pyrage.encrypt(csv_text.encode(), [recipient]))
    manifest = removal("seg-encrypted", "seg", {"absent_csv": ["segment.csv.age"]})
    (specs / "segment.yaml").write_text(yaml.safe_dump(manifest), encoding="utf-8")
    memory = removal(
        "memory-encrypted",
        "mem",
        {
            "absent": [
                {
                    "profile": {"profile_id": PROFILE_A},
                    "identifiers": [{"type": "phone", "all_values": True}],
                }
            ]
        },
    )
    text = yaml.safe_dump(memory).encode()
    (specs / "memory.yaml.age").write_bytes(pyrage.encrypt(text, [recipient]))


def run(project: Project, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    saved = project.env
    project.env = env
    try:
        proc = project.popen(*args)
        out, err = proc.communicate(timeout=120)
    finally:
        project.env = saved
    return proc.returncode, out, err


def test_an_encrypted_csv_and_manifest_round_trip_and_no_plaintext_reaches_disk(
    project, sandbox, tmp_path_factory
):
    identity = x25519.Identity.generate()
    make_project(project, identity)
    watched = tmp_path_factory.mktemp("watched-tmp")
    system_tmp = Path(tempfile.gettempdir())
    base_env = {**project.env, "TMPDIR": str(watched)}
    keyed = {**base_env, AGE_VAR: str(identity)}
    before = snapshot(project.root, watched)
    system_before = set(top_files(system_tmp))

    # without the key: every encrypted source is a notice, everything else is checked
    code, out, err = run(project, base_env, "validate")
    assert code == 0, out + err
    assert err.count("encrypted source, key not available") == 2, err
    assert "specs/segment.csv.age" in err and "specs/memory.yaml.age" in err
    code, out, _ = run(project, base_env, "validate", "--format", "json")
    notices = [d for d in json.loads(out)["diagnostics"] if d["severity"] == "notice"]
    assert code == 0 and len(notices) == 2
    # plan needs the values: it refuses, naming each source
    code, out, err = run(project, base_env, "plan")
    assert code == 1 and "plan and apply cannot go on without its values" in err, err

    # with the key: validated after decryption, planned and applied
    code, out, err = run(project, keyed, "validate")
    assert code == 0, out + err
    assert "4 item(s) declared absent" in out, out
    code, out, err = run(project, keyed, "plan", "--out", "plan.json")
    assert code == 0, out + err
    assert "Plan: 4 to remove" in out
    code, out, err = run(project, keyed, "apply", "plan.json")
    assert code == 0, out + err
    from tests.kit.cli import CliResult

    removed, accepted, absent, failed, _ = summary(CliResult(code, out, err))
    assert (removed, accepted, absent, failed) == (2, 1, 1, 0)
    segment_deletes = [
        e for e in sandbox.control.requests(vendor="segment") if e["method"] == "POST"
    ]
    assert len(segment_deletes) == 3  # the CSV's rows reached the vendor
    code, out, err = run(project, keyed, "plan")
    assert code == 0 and "No changes." in out, out + err

    # nothing decrypted on disk: not in the project, the watched TMPDIR, nor new files
    # in the system temp folder
    after = snapshot(project.root, watched)
    new_system = {p: b for p, b in top_files(system_tmp).items() if p not in system_before}
    written = {p: b for p, b in after.items() if before.get(p) != b} | new_system
    assert any("ledger" in str(p) for p in written), "apply wrote its ledger"
    everything = list(after.values()) + list(new_system.values())
    for value in [*PLAINTEXT_VALUES, str(identity)]:
        needle = value.encode()
        hits = [p for p, b in {**after, **new_system}.items() if needle in b]
        assert not hits, f"{value!r} on disk in {hits}"
    assert everything
