"""The projects' files: the repository's paths, one target per vendor, manifests."""

from __future__ import annotations

import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"

# One target per vendor; with `key_line`, the ledger is keyed (tests/kit/ledger.py).
CONFIG = """\
version: 1
specs: specs/
ledger:
  path: state/ledger
{key_line}targets:
  seg:
    vendor: segment
    space_id: spa_test1
    token_env: SEGMENT_TOKEN
    identifier_types: [phone]
  braze:
    vendor: braze
    base_url: https://rest.iad-01.braze.com
    api_key_env: BRAZE_API_KEY
  mem:
    vendor: twilio_memory
    store_id: mem_store_01h8x3k9q2w7e5r4t6y8u0i2o4
    account_sid_env: TWILIO_ACCOUNT_SID
    auth_token_env: TWILIO_AUTH_TOKEN
  ins:
    vendor: insider
    partner_name: mybrand
    token_env: INSIDER_REQUEST_TOKEN
"""

# Without a key: line numbers matter to the config tests, keep the layout.
CONFIG_YAML = CONFIG.format(key_line="")

# A manifest's first 8 lines; its spec body starts on line 9.
HEAD = """\
apiVersion: reconciler/v1
kind: Removal
metadata:
  name: {name}
  owner: team-test
  reason: a test
spec:
  target: {target}
"""

SEGMENT = (
    HEAD.format(name="seg-emails", target="seg")
    + """\
  absent:
    - profile: {user_id: u_1001}
      identifiers:
        - {type: email, value: jane@old-domain.example}
        - {type: phone, value: "+15555550100"}
    - profile: {user_id: u_1002}
      identifiers:
        - {type: anonymous_id, value: 9f1c2e7a-wrong-device}
  absent_csv: [seg.csv]
"""
)
SEGMENT_CSV = """\
user_id,type,value
u_2001,email,ada@old-domain.example
u_2002,email,grace@old-domain.example
"""
BRAZE = (
    HEAD.format(name="braze-load-test", target="braze")
    + """\
  delete_profiles: true
  absent:
    - profile: {external_id: loadtest-0001}
    - profile: {email: loadtest+17@example.com, prioritization: [unidentified]}
    - profile: {phone: "+15555550123", prioritization: [identified]}
"""
)
MEMORY = (
    HEAD.format(name="mem-phones", target="mem")
    + """\
  absent:
    - profile: {profile_id: mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5}
      identifiers:
        - {type: phone, all_values: true}
        - {type: externalId, all_values: true}
"""
)
INSIDER = (
    HEAD.format(name="ins-erasure", target="ins")
    + """\
  absent:
    - profile: {email: jane.doe@example.com}
      attributes: [name]
      custom_attribute_values: {interests: [pregnancy]}
    - identifiers:
        - {type: phone_number, value: "+6598765432"}
"""
)

# Every raw identifier value the manifests above declare (masking and ledger-bytes tests
# also use reconciler.masking.raw_values on the loaded items; this list is the
# hand-written cross-check).
RAW_VALUES = [
    "jane@old-domain.example",
    "+15555550100",
    "u_1001",
    "u_1002",
    "9f1c2e7a-wrong-device",
    "ada@old-domain.example",
    "grace@old-domain.example",
    "u_2001",
    "u_2002",
    "loadtest-0001",
    "loadtest+17@example.com",
    "+15555550123",
    "mem_profile_01h8x3k9q2w7e5r4t6y8u0i2o5",
    "jane.doe@example.com",
    "pregnancy",
    "+6598765432",
]


def segment_manifest(name: str, pairs: list[tuple[str, str]], target: str = "seg") -> str:
    """A segment manifest removing (user_id, email) pairs."""
    body = "  absent:\n"
    for user_id, email in pairs:
        body += f"    - profile: {{user_id: {user_id}}}\n"
        body += f"      identifiers: [{{type: email, value: {email}}}]\n"
    return HEAD.format(name=name, target=target) + body


# The head of the manifests `manifest()` writes (validate's tests): its own reason.
MANIFEST_HEAD = HEAD.replace(
    "reason: a test\n", "reason: a test of what validate accepts and refuses\n"
)


def manifest(body: str, target: str = "seg", name: str = "bad-input") -> str:
    """A manifest for `target` whose spec continues with `body` (dedented, then
    indented by two spaces). The body's first line is line 9 of the file."""
    lines = textwrap.dedent(body).strip("\n").splitlines()
    return MANIFEST_HEAD.format(name=name, target=target) + "".join(
        f"  {line}\n" if line else "\n" for line in lines
    )
