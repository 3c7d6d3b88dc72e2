"""Fixtures: sandboxes on free loopback ports, seeded with a small known state."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.sandbox import Sandbox, SandboxOptions

STORE = "mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4"
PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2a1"
MERGED = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2b2"
LIFO_PROFILE = "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2c3"
TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "sandbox-auth-token"

SEED: dict[str, Any] = {
    "segment": {
        "spaces": {
            "spa_demo": {
                "profiles": [
                    {
                        "segment_id": "use_jane",
                        "external_ids": [
                            {"type": "user_id", "id": "u_1001"},
                            {"type": "email", "id": "jane@old-domain.example"},
                            {"type": "email", "id": "jane@example.com"},
                            {"type": "anonymous_id", "id": "a-1"},
                            {"type": "group_id", "id": "g-1"},
                        ],
                    },
                    {
                        "external_ids": [
                            {"type": "user_id", "id": "u_2001"},
                            {"type": "user_id", "id": "u_2001_legacy"},
                        ]
                    },
                ]
            },
            "spa_off": {
                "delete_enabled": False,
                "profiles": [{"external_ids": [{"type": "user_id", "id": "u_9"}]}],
            },
            "spa_nosource": {"source_attached": False},
        }
    },
    "braze": {
        "users": [
            {
                "external_id": "ext_1",
                "email": "dup@example.com",
                "phone": "+15555550100",
                "user_aliases": [{"alias_name": "jane", "alias_label": "crm"}],
                "updated_at": "2026-01-01T00:00:00Z",
            },
            {"email": "dup@example.com", "updated_at": "2026-02-01T00:00:00Z"},
            {"email": "dup@example.com", "updated_at": "2026-03-01T00:00:00Z"},
            {"external_id": "ext_2", "braze_id": "b_2", "phone": "+15555550199"},
            {"email": "solo@example.com"},
        ]
    },
    "twilio_memory": {
        "stores": {
            STORE: {
                "limit_policy": {"phone": "lifo"},
                "profiles": {
                    PROFILE: {
                        "identifiers": {
                            "email": ["old@example.com", "new@example.com"],
                            "phone": ["+15555550100", "+15555550101"],
                        },
                        "traits": {
                            "Contact": {"firstName": "Jane", "email": "new@example.com"},
                            "Loyalty": {"tier": "gold", "points": 120},
                        },
                        "created_at": "2025-06-01T12:00:00Z",
                    },
                    MERGED: {"merged_into": PROFILE},
                },
            }
        }
    },
    "insider": {
        "users": [
            {
                "insider_id": "iid_jane",
                "identifiers": {
                    "email": "jane@example.com",
                    "phone_number": "+15555550100",
                    "custom": {"loyalty_id": "L-1"},
                },
                "attributes": {"name": "Jane", "surname": "Doe", "list_id": [1, 2, 3]},
                "custom_attributes": {"tier": "gold", "interests": ["golf", "tennis"]},
            },
            {"insider_id": "iid_solo", "identifiers": {"email": "solo@example.com"}},
        ]
    },
}


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


SEGMENT_AUTH = basic("sgp_token", "")
BRAZE_AUTH = {"Authorization": "Bearer braze-key"}
TWILIO_AUTH = basic(TWILIO_SID, TWILIO_TOKEN)
INSIDER_AUTH = {"X-PARTNER-NAME": "mybrand", "X-REQUEST-TOKEN": "1a2b3c4d5e6f"}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    options = SandboxOptions(
        seed=SEED, twilio_removal_delay=0.2, braze_removal_delay=0.2, seed_random=7
    )
    with Sandbox(options) as running:
        yield running


@pytest.fixture
def sb(sandbox: Sandbox) -> Sandbox:
    """The shared sandbox, back at its seed (state, counters, faults, log)."""
    sandbox.control.reset()
    return sandbox


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture(scope="module")
def limited() -> Iterator[Sandbox]:
    """A sandbox whose documented limits are scaled by 1/10,000 (Segment: 1/s)."""
    with Sandbox(SandboxOptions(seed=SEED, rate_scale=0.0001)) as running:
        yield running
