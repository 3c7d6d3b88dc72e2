"""The four built-in vendors pass the conformance kit (reconciler.testing), check by check."""

from __future__ import annotations

import pytest

from reconciler.testing import CHECKS, run_check
from reconciler.vendors.registry import vendor
from tests.vendors.conformance_cases import CASES


@pytest.mark.parametrize("check", list(CHECKS))
@pytest.mark.parametrize("name", list(CASES))
def test_a_built_in_vendor_passes_the_kit(name: str, check: str) -> None:
    failures = run_check(vendor(name), CASES[name], check)
    assert failures == [], "\n".join(str(f) for f in failures)
