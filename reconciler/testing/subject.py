"""A vendor under test with its cases: the target, secrets and items the checks share."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from reconciler.desired import Item
from reconciler.evidence import Answer
from reconciler.masking import raw_values
from reconciler.target import Target
from reconciler.testing.cases import ConformanceCases
from reconciler.testing.wire import FINGERPRINT, Refreshed, Responder, Run, run_engine, run_refresh
from reconciler.vendors.api import Pair, Preflight, Vendor, VendorRequest

# Where a target has no base_url and the vendor no default: never resolved (the kit
# answers through a MockTransport), and reserved (RFC 2606) should it ever be.
NOWHERE = "https://vendor.conformance.invalid"
# Values shorter than this are not looked for in messages: they could occur by chance.
MIN_VALUE_LENGTH = 6


class CasesError(ValueError):
    """The cases themselves are wrong (an unknown entry name, an entry that makes no item)."""


class Subject:
    def __init__(self, vendor: Vendor, cases: ConformanceCases) -> None:
        self.vendor = vendor
        self.cases = cases
        self.settings: dict[str, Any] = {"vendor": vendor.name, **cases.settings}
        base_url = (
            self.settings.get("base_url") or vendor.default_base_url(self.settings) or NOWHERE
        )
        self.target = Target(
            cases.target_name,
            vendor.name,
            base_url,
            self.settings,
            None,
            tuple(vendor.secret_keys),
            tuple(vendor.account_keys),
        )
        self.builder = vendor.requests
        if cases.secrets is not None:
            self.secrets = dict(cases.secrets)
        else:
            self.secrets = {k: f"conformance-{k}-Sx7Qp2Lm9Vb4Rt" for k in vendor.secret_keys}

    @cached_property
    def rules(self) -> Any:
        return self.vendor.rules.for_target(self.settings)

    def entry_items(self, entry: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
        problems: list[str] = []
        items = self.rules.items(
            self.cases.target_name,
            entry,
            lambda path, message: problems.append(f"{'.'.join(map(str, path))}: {message}"),
        )
        return list(items), problems

    def items(self, name: str) -> list[Item]:
        if name not in self.cases.entries:
            raise CasesError(f"no sample entry named {name!r}")
        items, problems = self.entry_items(self.cases.entries[name])
        if problems or not items:
            raise CasesError(f"sample entry {name!r} makes no item without problems: {problems}")
        return items

    def pairs(self, items: list[Item]) -> list[Pair]:
        return [(FINGERPRINT(item), item) for item in items]

    def first_batch(self, name: str) -> list[Item]:
        batches = self.builder.batches(self.pairs(self.items(name)))
        return [item for _, item in batches[0]]

    def request(self, items: list[Item]) -> VendorRequest:
        return self.builder.build(self.target, items)

    @cached_property
    def preflight(self) -> Preflight:
        if not self.builder.preflight(self.target):
            return Preflight()
        return self.builder.preflight_result(self.target, list(self.cases.preflight))

    @property
    def facts(self) -> dict[str, Any]:
        return self.preflight.facts

    def apply(
        self,
        items: list[Item],
        respond: Responder,
        parallelism: int = 1,
        preflight: Sequence[Answer] | None = None,
    ) -> Run:
        """`items` through the real apply engine; the preflight gets the documented
        answers (or `preflight`), every other request `respond`'s reply."""
        answers = self.cases.preflight if preflight is None else preflight
        return run_engine(
            self.vendor, self.target, self.secrets, items, answers, respond, parallelism
        )

    def refresh(self, items: list[Item], respond: Responder) -> Refreshed:
        """`items` (accepted) read back through the real refresh engine."""
        return run_refresh(
            self.vendor, self.target, self.secrets, items, self.cases.preflight, respond
        )

    @cached_property
    def secret_forms(self) -> list[str]:
        """Every form a secret could leak in: the values, and the Authorization header's
        credentials (Basic is the secrets in base64)."""
        forms = [v for v in self.secrets.values() if len(v) >= 4]
        headers = self.builder.auth_headers(self.target, dict(self.secrets))
        for key, value in headers.items():
            if key.lower() == "authorization":
                token = value.split()[-1]
                forms.append(token)
                try:
                    forms.append(base64.b64decode(token, validate=True).decode("utf-8"))
                except ValueError:
                    pass
        return sorted({f for f in forms if len(f) >= 4}, key=len, reverse=True)


def values_of(items: list[Item]) -> list[str]:
    """The items' identifying values worth looking for in a message."""
    return sorted(
        {v for item in items for v in raw_values(item) if len(v) >= MIN_VALUE_LENGTH},
        key=len,
        reverse=True,
    )


def leaks(text: str, values: list[str]) -> list[str]:
    """The values (compared case-insensitively) that appear in `text`."""
    folded = text.casefold()
    return [v for v in values if v.casefold() in folded]
