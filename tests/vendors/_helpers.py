"""Run a vendor's rules on one entry and collect what it reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler.desired import Item
from reconciler.vendors.api import RequestBuilder, VendorRules
from reconciler.vendors.registry import installed
from reconciler.yamlsource import Path


def check(
    rules: VendorRules, entry: Mapping[str, Any], target: str = "t"
) -> tuple[list[Item], list[tuple[Path, str]]]:
    problems: list[tuple[Path, str]] = []
    items = rules.items(target, entry, lambda p, m: problems.append((p, m)))
    return items, problems


def check_spec(rules: VendorRules, spec: Mapping[str, Any]) -> list[tuple[Path, str]]:
    problems: list[tuple[Path, str]] = []
    rules.check_spec(spec, lambda p, m: problems.append((p, m)))
    return problems


def paths(problems: list[tuple[Path, str]]) -> list[Path]:
    return [p for p, _ in problems]


# every installed vendor's rules and requests, by name
RULES: dict[str, VendorRules] = {name: v.rules for name, v in installed().vendors.items()}
REQUESTS: dict[str, RequestBuilder] = {name: v.requests for name, v in installed().vendors.items()}
