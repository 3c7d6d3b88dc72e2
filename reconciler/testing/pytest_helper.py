"""The conformance kit as pytest tests: one line in a plugin's test file.

    from reconciler.testing import conformance_tests
    test_conformance = conformance_tests(VENDOR, CASES)

gives one test per check (`test_conformance[evidence]`, ...), each failing with every
problem its check found. pytest is imported only when this is called: the kit's plain
functions need no test framework.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.testing.cases import ConformanceCases
from reconciler.testing.conformance import CHECKS, run_check
from reconciler.vendors.api import Vendor


def conformance_tests(vendor: Vendor, cases: ConformanceCases) -> Callable[[str], None]:
    import pytest

    @pytest.mark.parametrize("check", list(CHECKS))
    def test_conformance(check: str) -> None:
        failures = run_check(vendor, cases, check)
        if failures:
            listed = "\n".join(f"  - {f.problem}" for f in failures)
            pytest.fail(f"{vendor.name} fails the {check} check:\n{listed}", pytrace=False)

    return test_conformance
