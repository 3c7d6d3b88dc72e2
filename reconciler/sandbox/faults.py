"""Fault injection, switchable per vendor and deterministic under ``--seed-random``.

A :class:`FaultProfile` says what goes wrong for one vendor: added latency, a share of
requests answered 503, a share answered 429 (a "rate-limit storm"), a share answered
slowly (past a client's timeout), a share whose connection is reset without an answer,
and a share answered with an error that echoes the request back (``echo.py``: headers,
body, phone numbers in other formats and the profile's other identifiers), so tests can
prove that vendor messages are masked before they are printed or recorded.
Each vendor draws from its own ``random.Random`` seeded from ``--seed-random`` and the
vendor's name, so the same sequence of requests meets the same faults on every run.
"""

from __future__ import annotations

import enum
import random
import zlib
from dataclasses import asdict, dataclass, fields, replace
from typing import Any


class Fault(enum.Enum):
    """What happens to one request before the vendor logic sees it."""

    NONE = "none"
    RESET = "reset"
    UNAVAILABLE = "unavailable"
    THROTTLED = "throttled"
    SLOW = "slow"
    ECHO = "echo"


@dataclass(frozen=True)
class FaultProfile:
    """Faults for one vendor. Rates are probabilities in [0, 1]."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 30_000.0
    reset_rate: float = 0.0
    echo_rate: float = 0.0
    echo_status: int = 400  # the status of an echoing answer: 400..599
    # 0: reads (GET, Braze's export, Insider's profile read) never meet a fault, so a
    # client's preflight passes and the faults land on the deletes
    faults_on_reads: float = 1.0

    def updated(self, changes: dict[str, Any]) -> FaultProfile:
        """A copy with ``changes`` applied; unknown or out-of-range fields raise ValueError."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        values: dict[str, Any] = {}  # each checked by name below: echo_status an int
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if name.endswith("_rate") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
            if value < 0:
                raise ValueError(f"{name} must not be negative")
            if name == "echo_status":
                if value != int(value) or not 400 <= value <= 599:
                    raise ValueError("echo_status must be an HTTP error status, 400 to 599")
                values[name] = int(value)
            else:
                values[name] = float(value)
        return replace(self, **values)

    def as_dict(self) -> dict[str, float | int]:
        """The profile as JSON-ready data."""
        return asdict(self)


class FaultInjector:
    """Holds one profile and one random stream per vendor."""

    def __init__(self, vendors: list[str], seed: int | None, default: FaultProfile) -> None:
        self._seed = seed
        self._vendors = list(vendors)
        self._default = default
        self._profiles: dict[str, FaultProfile] = {}
        self._randoms: dict[str, random.Random] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the start-up profiles and the start of every random stream."""
        self._profiles = {vendor: self._default for vendor in self._vendors}
        self._randoms = {vendor: self._random_for(vendor) for vendor in self._vendors}

    def _random_for(self, vendor: str) -> random.Random:
        if self._seed is None:
            return random.Random()
        return random.Random(self._seed * 1_000_003 + zlib.crc32(vendor.encode()))

    def profile(self, vendor: str) -> FaultProfile:
        """The profile in force for ``vendor``."""
        return self._profiles[vendor]

    def update(self, vendor: str, changes: dict[str, Any]) -> FaultProfile:
        """Change some fields of ``vendor``'s profile ("*" changes every vendor)."""
        targets = self._vendors if vendor == "*" else [vendor]
        if vendor != "*" and vendor not in self._profiles:
            raise ValueError(f"unknown vendor {vendor!r}")
        updated = {v: self._profiles[v].updated(changes) for v in targets}
        self._profiles.update(updated)
        return updated[targets[0]]

    def draw(self, vendor: str, read: bool = False) -> Fault:
        """Pick the fault for the next request to ``vendor`` (`read`: it reads only)."""
        profile = self._profiles[vendor]
        if read and not profile.faults_on_reads:
            return Fault.NONE
        rates = (
            (Fault.RESET, profile.reset_rate),
            (Fault.UNAVAILABLE, profile.fail_rate),
            (Fault.THROTTLED, profile.throttle_rate),
            (Fault.SLOW, profile.slow_rate),
            (Fault.ECHO, profile.echo_rate),
        )
        if not any(rate for _, rate in rates):
            return Fault.NONE
        rng = self._randoms[vendor]
        for fault, rate in rates:
            if rate and rng.random() < rate:
                return fault
        return Fault.NONE

    def snapshot(self) -> dict[str, dict[str, float | int]]:
        """Every vendor's profile as JSON-ready data."""
        return {vendor: profile.as_dict() for vendor, profile in self._profiles.items()}
