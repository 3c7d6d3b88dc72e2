"""The end-to-end project: a project whose four targets point at a loopback sandbox, the CLI run
for real (in-process through `reconciler.cli.main.main`, or as a subprocess), and the
checks every scenario repeats. No mocks: real HTTP, real ledger, real files.

The sandbox pins the credentials below, so a request with a wrong auth header is
refused and shows in its log. The secret values are long and distinctive so a grep of
every output and file finds any leak.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.kit.cli import CliResult, run_captured
from tests.kit.repo import Repo

SEGMENT_TOKEN = "sgp_E2E-segment-token-Qm9vYmFyYmF6-4a7c1e99d02b6f38"
BRAZE_KEY = "braze-E2E-rest-key-7f1d2c3b-aa55-4e0f-9c1d-5e6f7a8b9c0d"
BRAZE_DELETE_ONLY_KEY = "braze-E2E-delete-only-key-3c4d5e6f-0a1b"
TWILIO_SID = "ACe2ec0ffee0ddba11cafef00dfeedface"
TWILIO_TOKEN = "twilio-E2E-auth-token-d3adb33fc0ffee42b16b00b5"
INSIDER_TOKEN = "insider-E2E-request-token-91b2c3d4e5f60718a9b0"
PARTNER = "e2ebrand"

ENV = {
    "E2E_SEGMENT_TOKEN": SEGMENT_TOKEN,
    "E2E_BRAZE_KEY": BRAZE_KEY,
    "E2E_TWILIO_SID": TWILIO_SID,
    "E2E_TWILIO_TOKEN": TWILIO_TOKEN,
    "E2E_INSIDER_TOKEN": INSIDER_TOKEN,
}
# Every form a secret could leak in: raw, and inside the Basic headers.
SECRET_FORMS = [
    *ENV.values(),
    base64.b64encode(f"{SEGMENT_TOKEN}:".encode()).decode(),
    base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode(),
]

CREDENTIALS = {
    "segment": {"tokens": [SEGMENT_TOKEN]},
    "braze": {
        "api_keys": {
            BRAZE_KEY: ["users.delete", "users.export.ids"],
            BRAZE_DELETE_ONLY_KEY: ["users.delete"],  # the preflight's export is refused
        }
    },
    "twilio_memory": {"accounts": {TWILIO_SID: TWILIO_TOKEN}},
    "insider": {"partners": {PARTNER: INSIDER_TOKEN}},
}

SPACE = "spa_e2e01"
STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE_A = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"
PROFILE_MERGED = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2b2"
ODD_USER = "u+2/b@c"  # a user_id needing %2B, %2F and %40 in the path

SEED: dict[str, Any] = {
    "segment": {
        "spaces": {
            SPACE: {
                "profiles": [
                    {
                        "external_ids": [
                            {"type": "user_id", "id": "u_1001"},
                            {"type": "email", "id": "jane@old-domain.example"},
                            {"type": "phone", "id": "+15555550100"},
                            {"type": "anonymous_id", "id": "a-7f3c"},
                        ]
                    },
                    {
                        "external_ids": [
                            {"type": "user_id", "id": ODD_USER},
                            {"type": "email", "id": "omar@old-domain.example"},
                        ]
                    },
                ]
            }
        }
    },
    "braze": {
        "users": [
            {"external_id": "ext_1001", "email": "jane@old-domain.example"},
            {"external_id": "ext_1002"},
            {"email": "anon@old-domain.example"},
        ]
    },
    "twilio_memory": {
        "stores": {
            STORE: {
                # the types the store knows: "fax" is configured, and no profile holds one
                "identifier_configs": [
                    {"idType": t} for t in ("email", "phone", "externalId", "fax")
                ],
                "profiles": {
                    PROFILE_A: {
                        "identifiers": {
                            "email": ["jane@old-domain.example"],
                            "phone": ["+15555550100"],
                            "externalId": ["u_1001"],
                        }
                    },
                    PROFILE_MERGED: {"merged_into": PROFILE_A},
                },
            }
        }
    },
    "insider": {
        "users": [
            {
                "insider_id": "iid_jane",
                "identifiers": {
                    "email": "jane@old-domain.example",
                    "phone_number": "+15555550100",
                    "uuid": "u-1001",
                },
                "attributes": {"name": "Jane", "surname": "Doe", "list_id": [1, 2, 3]},
                "custom_attributes": {"tier": "gold"},
            },
            {"insider_id": "iid_solo", "identifiers": {"email": "solo@example.com"}},
        ]
    },
}


def removal(name: str, target: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "reconciler/v1",
        "kind": "Removal",
        "metadata": {"name": name, "owner": "team-e2e", "reason": "end-to-end test"},
        "spec": {"target": target, **spec},
    }


# 15 items: 4 segment, 4 braze, 3 twilio, 4 insider
MANIFESTS: dict[str, dict[str, Any]] = {
    "segment.yaml": removal(
        "seg-cleanup",
        "seg",
        {
            "absent": [
                {
                    "profile": {"user_id": "u_1001"},
                    "identifiers": [
                        {"type": "email", "value": "jane@old-domain.example"},  # 200
                        {"type": "phone", "value": "+15555550100"},  # 200
                        {"type": "email", "value": "never-there@x.example"},  # eid_not_found
                    ],
                },
                {
                    "profile": {"user_id": ODD_USER},
                    "identifiers": [{"type": "email", "value": "omar@old-domain.example"}],
                },
            ]
        },
    ),
    "braze.yaml": removal(
        "braze-cleanup",
        "brz",
        {
            "delete_profiles": True,
            "absent": [
                {"profile": {"external_id": "ext_1001"}},
                {"profile": {"external_id": "ext_1002"}},
                {"profile": {"external_id": "ext_missing"}},  # deleted: 2 of 3
                {
                    "profile": {
                        "email": "anon@old-domain.example",
                        "prioritization": ["unidentified"],
                    }
                },
            ],
        },
    ),
    "memory.yaml": removal(
        "memory-cleanup",
        "mem",
        {
            "absent": [
                {
                    "profile": {"profile_id": PROFILE_A},
                    "identifiers": [
                        {"type": "phone", "all_values": True},  # 202
                        # 404, and the profile read finds the profile: already absent
                        {"type": "fax", "all_values": True},
                    ],
                },
                {  # merged: 308 to PROFILE_A, followed once, 202
                    "profile": {"profile_id": PROFILE_MERGED},
                    "identifiers": [{"type": "externalId", "all_values": True}],
                },
            ]
        },
    ),
    "insider.yaml": removal(
        "insider-cleanup",
        "ins",
        {
            "absent": [
                {
                    "profile": {"email": "jane@old-domain.example"},
                    "attributes": ["name"],
                    "attribute_values": {"list_id": [2]},
                    "custom_attributes": ["tier"],
                },
                {"identifiers": [{"type": "uuid", "value": "u-1001"}]},
            ]
        },
    ),
}
# (removed, accepted, already absent) of a first apply of MANIFESTS: Segment's 200s are
# removed, its eid_not_found absent; Braze and Twilio queue (accepted), Twilio's "fax" is
# absent (its 404 settled by the profile read); Insider only acknowledges (accepted)
FIRST_APPLY = (3, 10, 2)
ITEMS = 15


def config(
    urls: dict[str, str], rate_limits: dict[str, dict[str, Any]] | None = None, **top: Any
) -> dict[str, Any]:
    targets: dict[str, dict[str, Any]] = {
        "seg": {
            "vendor": "segment",
            "space_id": SPACE,
            "identifier_types": ["phone"],
            "token_env": "E2E_SEGMENT_TOKEN",
            "base_url": urls["segment"],
        },
        "brz": {"vendor": "braze", "api_key_env": "E2E_BRAZE_KEY", "base_url": urls["braze"]},
        "mem": {
            "vendor": "twilio_memory",
            "store_id": STORE,
            "account_sid_env": "E2E_TWILIO_SID",
            "auth_token_env": "E2E_TWILIO_TOKEN",
            "base_url": urls["twilio_memory"],
        },
        "ins": {
            "vendor": "insider",
            "partner_name": PARTNER,
            "token_env": "E2E_INSIDER_TOKEN",
            "base_url": urls["insider"],
        },
    }
    for name, limit in (rate_limits or {}).items():
        targets[name]["rate_limit"] = limit
    return {
        "version": 1,
        "specs": "specs/",
        "ledger": {"path": "state/ledger"},
        **top,
        "targets": targets,
    }


class Project(Repo):
    """A user's repository in a temp folder, driven through the real CLI."""

    def __init__(
        self,
        root: Path,
        urls: dict[str, str],
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        super().__init__(root)
        self.urls = urls
        self.capsys = capsys
        self.monkeypatch = monkeypatch
        self.results: list[CliResult] = []
        self.env = dict(ENV)
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(root)

    def write_config(
        self, rate_limits: dict[str, dict[str, Any]] | None = None, **top: Any
    ) -> None:
        text = yaml.safe_dump(config(self.urls, rate_limits, **top), sort_keys=False)
        (self.root / "reconciler.yaml").write_text(text, encoding="utf-8")

    def write_specs(self, manifests: dict[str, dict[str, Any]] | None = None) -> None:
        specs = self.root / "specs"
        specs.mkdir(exist_ok=True)
        for name, doc in (MANIFESTS if manifests is None else manifests).items():
            (specs / name).write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")

    def unset(self, name: str) -> None:
        self.monkeypatch.delenv(name, raising=False)
        self.env.pop(name, None)

    def cli(self, *args: str) -> CliResult:
        """`reconcile ARGS` in this process (stdin is not a terminal under pytest)."""
        result = run_captured(self.capsys, *args)
        self.results.append(result)
        return result

    def popen(
        self,
        *args: str,
        stdin: Any = subprocess.DEVNULL,
        stdout: Any = subprocess.PIPE,
        stderr: Any = subprocess.PIPE,
        **kwargs: Any,
    ) -> subprocess.Popen[str]:
        """`reconcile ARGS` as its own process (stdin /dev/null: not a terminal)."""
        env = {k: v for k, v in os.environ.items() if k not in ENV}
        env.update(self.env)
        return subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=self.root,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
            text=True,
            **kwargs,
        )

    def plan_json(self, *args: str) -> dict[str, Any]:
        result = self.cli("plan", "--format", "json", *args)
        assert result.code == 0, result.output
        return json.loads(result.out)

    def files_text(self) -> str:
        """Everything apply and plan wrote under the project (ledger, saved plans)."""
        texts = []
        for path in self.root.rglob("*"):
            if path.is_file() and "specs" not in path.parts:
                texts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(texts)

    def assert_no_secrets(self) -> None:
        outputs = "\n".join(r.output for r in self.results)
        files = self.files_text()
        for form in SECRET_FORMS:
            assert form not in outputs, "a secret was printed"
            assert form not in files, "a secret was written to a file"


def vendor_requests(sandbox: Any, since: int = 0) -> list[dict[str, Any]]:
    """The sandbox's log of vendor requests (the control endpoint is not logged)."""
    return sandbox.control.requests(since=since)


def last_seq(sandbox: Any) -> int:
    log = sandbox.control.requests()
    return log[-1]["seq"] if log else 0


def summary(result: CliResult) -> tuple[int, int, int, int, int]:
    """(removed, accepted, already absent, failed, rejected) from the final line."""
    match = re.search(
        r"^Apply (?:complete!|finished with errors: [^.]+\.) Items: (\d+) removed, (\d+) "
        r"accepted \(asynchronous\), (\d+) already absent, (\d+) failed, (\d+) rejected, "
        r"\d+ unknown, \d+ held\.",
        result.out,
        re.MULTILINE,
    )
    assert match, result.output
    removed, accepted, absent, failed, rejected = (int(g) for g in match.groups())
    return removed, accepted, absent, failed, rejected


NO_CHANGES = "No changes. Every declared absence is already recorded in the ledger."


def item_events(project: Any, kind: str | None = None) -> list[dict[str, Any]]:
    """The ledger's per-item events (intent, result, refresh, ...), as `ledger show` reads
    them: one dict per item and record, whatever the record format batches."""
    from reconciler.ledger.verify import item_events as events

    out = list(events(project.ledger_dir))
    return [e for e in out if kind is None or e["type"] == kind]
