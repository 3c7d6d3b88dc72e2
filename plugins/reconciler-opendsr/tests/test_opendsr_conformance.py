"""The OpenDSR plugin passes reconciler's conformance kit: one line."""

from __future__ import annotations

from opendsr_cases import CASES
from reconciler_opendsr import VENDOR

from reconciler.testing import conformance_tests

test_conformance = conformance_tests(VENDOR, CASES)
