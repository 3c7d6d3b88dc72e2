"""Finding vendors: the entry-point group `reconciler.vendors`, built-in ones included.

Terraform finds providers by name; we find vendor packages by the name a target's
`vendor:` gives, through the same entry points any installed plugin uses (the four
built-in vendors are registered in pyproject.toml like a third party's would be).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from reconciler.errors import ReconcilerError
from reconciler.target import Target
from reconciler.vendors.api import RequestBuilder, Vendor, VendorRules

GROUP = "reconciler.vendors"


@dataclass(frozen=True)
class Installed:
    vendors: dict[str, Vendor]
    # plugins that are installed but could not be loaded: (entry point, why)
    broken: tuple[tuple[str, str], ...]
    # where each vendor comes from: the distribution that registered it
    sources: dict[str, str]


@cache
def installed() -> Installed:
    vendors: dict[str, Vendor] = {}
    sources: dict[str, str] = {}
    broken: list[tuple[str, str]] = []
    for point in sorted(entry_points(group=GROUP), key=lambda p: p.name):
        try:
            vendor = point.load()
        except Exception as exc:  # a broken plugin must not take the tool down
            broken.append((point.name, f"{type(exc).__name__}: {exc}"))
            continue
        if getattr(vendor, "name", None) != point.name:
            broken.append((point.name, "its object's name does not match the entry point"))
            continue
        if point.name in vendors:
            broken.append((point.name, "registered twice"))
            continue
        vendors[point.name] = vendor
        dist = point.dist
        sources[point.name] = f"{dist.name} {dist.version}" if dist is not None else "?"
    return Installed(vendors, tuple(broken), sources)


class UnknownVendor(ReconcilerError):
    pass


def vendor(name: str) -> Vendor:
    """The installed vendor called `name`."""
    found = installed().vendors.get(name)
    if found is None:
        raise UnknownVendor(f"unknown vendor {name!r} (installed: {known()})")
    return found


def known() -> str:
    return ", ".join(sorted(installed().vendors)) or "none"


def rules_for(target: Target) -> VendorRules:
    """A target's vendor rules, refined by its settings (identifier types, attributes)."""
    return vendor(target.vendor).rules.for_target(target.settings)


def requests_for(name: str) -> RequestBuilder:
    return vendor(name).requests
