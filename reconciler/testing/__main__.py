"""`python -m reconciler.testing check|golden VENDOR MODULE:CASES`.

check: run the conformance kit on an installed vendor and list what it finds (exit 1 if
anything); golden: write the vendor's golden fingerprints file (once, then commit it).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from reconciler.testing import golden
from reconciler.testing.cases import ConformanceCases
from reconciler.testing.conformance import check_vendor
from reconciler.testing.subject import Subject
from reconciler.vendors.registry import vendor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler.testing")
    parser.add_argument("command", choices=["check", "golden"])
    parser.add_argument("vendor", help="the installed vendor's name")
    parser.add_argument("cases", help="where its ConformanceCases are: MODULE:ATTRIBUTE")
    args = parser.parse_args(argv)
    module, _, attribute = args.cases.partition(":")
    cases = getattr(importlib.import_module(module), attribute)
    if not isinstance(cases, ConformanceCases):
        parser.error(f"{args.cases} is not a ConformanceCases")
    found = vendor(args.vendor)
    if args.command == "golden":
        print(f"wrote {golden.write(Subject(found, cases))}")
        return 0
    failures = check_vendor(found, cases)
    for failure in failures:
        print(failure)
    print(f"{found.name}: {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
