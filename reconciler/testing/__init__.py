"""Testing tools for vendor authors: the conformance kit.

    from reconciler.testing import ConformanceCases, AnswerCase, check_vendor, conformance_tests

See reconciler/testing/conformance.py for what it checks and what a vendor supplies.
"""

from __future__ import annotations

from reconciler.testing.answers import json_answer, page
from reconciler.testing.cases import (
    ABSENT,
    ACCEPTED,
    CHECK,
    FOLLOW,
    PROVES_NOTHING,
    REJECTED,
    REMOVED,
    TARGET_STOP,
    UNKNOWN,
    AnswerCase,
    ConformanceCases,
    CsvCase,
    InadmissibleCase,
    ReadCase,
)
from reconciler.testing.conformance import CHECKS, Failure, check_vendor, run_check
from reconciler.testing.pytest_helper import conformance_tests

__all__ = [
    "ABSENT",
    "ACCEPTED",
    "CHECK",
    "CHECKS",
    "FOLLOW",
    "PROVES_NOTHING",
    "REJECTED",
    "REMOVED",
    "TARGET_STOP",
    "UNKNOWN",
    "AnswerCase",
    "ConformanceCases",
    "CsvCase",
    "Failure",
    "InadmissibleCase",
    "ReadCase",
    "check_vendor",
    "conformance_tests",
    "json_answer",
    "page",
    "run_check",
]
