"""OpenDSR (formerly OpenGDPR) processors as a reconciler vendor: a plugin.

Registered in the entry-point group `reconciler.vendors` as `opendsr` (pyproject.toml).
One item is one data subject erased at one processor; FACTS.md beside this file says
what the code relies on and why, citing reconciler/vendors/opendsr/FACTS.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from reconciler.desired import Item
from reconciler.target import Target
from reconciler.vendors.api import Capabilities, Scaffold
from reconciler.vendors.kit import VendorBase, package_schema
from reconciler_opendsr.reader import OpenDSRReader
from reconciler_opendsr.requests import OpenDSRRequests
from reconciler_opendsr.rules import IDENTITIES, OpenDSRRules

__version__ = "0.1.0"

# The standard publishes no rate limit and asks every party not to throttle in normal
# operation (reconciler/vendors/opendsr/FACTS.md §4): a modest default, which a target's
# rate_limit replaces; 429 with Retry-After is honoured either way.
DEFAULT_RATE = 5.0


class OpenDSR(VendorBase):
    name = "opendsr"
    label = "OpenDSR"
    version = __version__
    capabilities = Capabilities(
        asynchronous=True,  # 201 = received; `completed` later (FACTS.md §5)
        batch_size=1,  # one data subject a request [SPEC 7]
        idempotent=True,  # the same item, the same subject_request_id (ids.py)
        irreversible=True,  # an erasure removes the whole data subject
        preflight=True,  # /discovery
        read=True,  # the request's status
    )
    secret_keys = ("credentials_env",)
    account_keys: tuple[str, ...] = ()  # the credentials scope the account (FACTS.md §1)
    caveats = (
        "an erasure reaches the processor's own data: what it already forwarded to its "
        "partners follows only if it forwards erasures (mParticle does, and cannot cancel them)",
        "erasure is asynchronous: an item is accepted when the processor takes the request, "
        "and only its status `completed` (refresh) confirms it",
    )
    rules = OpenDSRRules()
    requests = OpenDSRRequests()
    reader = OpenDSRReader()

    def config_schema(self) -> Mapping[str, Any]:
        return package_schema(__name__, "config.schema.json")

    def entry_schema(self) -> Mapping[str, Any]:
        return package_schema(__name__, "entry.schema.json")

    def rate(self, target: Target, kind: str) -> tuple[Hashable, float, bool]:
        # one budget for requests and status reads at one processor
        return ("opendsr", target.base_url), DEFAULT_RATE, False

    def describe(self, item: Item) -> str:
        identities = item.locator[IDENTITIES]
        shown = ", ".join(f"{t} {identities[t]}" for t in sorted(identities))
        return f"erasure of the data subject with {shown}"

    def lookup_entry(
        self, profile: Mapping[str, str], id_type: str | None, value: str | None
    ) -> dict[str, Any]:
        identities = dict(profile)
        if id_type is not None and value is not None:
            identities[id_type] = value
        return {IDENTITIES: identities}

    def scaffold(self) -> Scaffold:
        return Scaffold(
            "processor-prod",
            "    vendor: opendsr\n"
            "    base_url: https://opendsr.mparticle.com/v3   # the API, with its version\n"
            "    auth: basic                     # basic: KEY:SECRET; bearer: a token\n"
            "    credentials_env: OPENDSR_CREDENTIALS\n"
            "    requests_path: /requests        # mParticle's; the standard's: "
            "/opencompliance_requests\n",
            "  # absent:\n"
            "  #   - identities: {email: jane@example.com, controller_customer_id: c-1001}\n"
            '  #     submitted_time: "2024-05-01T10:00:00Z"\n',
            "An OpenDSR processor erases WHOLE data subjects, irreversibly: a manifest must "
            "say delete_profiles: true.",
            "  delete_profiles: true   # an erasure removes the WHOLE data subject: say so\n",
        )


VENDOR = OpenDSR()
