"""`reconcile resolve`: read-only lookups that turn rows a delete API cannot use into rows
it can (an email into a Segment user_id, a Braze email into an external_id).

The output is a CSV an `absent_csv` source accepts, for review in a pull request; rows
that cannot be resolved unambiguously go to a second file with the reason, never
guessed. Paced like any read (the vendor's READ scope), and resumable: the rows done so
far are kept in `.partial` files beside the outputs, and a rerun continues after them.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.apply.client import RetryPolicy, Transport
from reconciler.apply.session import Pacers, TargetSession
from reconciler.errors import ReconcilerError
from reconciler.inputs import MAX_CSV_BYTES, InputRefused, check_output, open_regular
from reconciler.masking import fragment
from reconciler.target import Target
from reconciler.vendors.api import Resolved, Resolver
from reconciler.vendors.registry import vendor

CHUNK = 64  # rows looked up at once (in flight together), written in input order


@dataclass
class ResolveReport:
    resolved: int = 0
    unresolved: int = 0
    resumed: int = 0  # rows done by an earlier, interrupted run
    reasons: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    out: Path | None = None
    unresolved_out: Path | None = None


def unresolved_path(out: Path) -> Path:
    return out.with_name(out.stem + ".unresolved.csv")


def _reader(target: Target) -> Resolver:
    found = vendor(target.vendor).resolver
    if found is None:
        raise ReconcilerError(f"{target.vendor} targets have no lookups to resolve with")
    return found


def _header(resolver: Resolver, header: list[str], shown: str) -> list[str]:
    for shape in resolver.input_headers():
        if sorted(shape) == sorted(header):
            return header
    shapes = "; ".join(",".join(s) for s in resolver.input_headers())
    columns = ", ".join(fragment(h) for h in header[:8])
    raise ReconcilerError(f"{shown}: header [{columns}] does not fit (expected columns: {shapes})")


class _Partial:
    """An output being written: rows appended and flushed as they are resolved."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.final = path
        self.path = path.with_name(path.name + ".partial")
        fresh = not self.path.exists()
        self.handle = self.path.open("a", encoding="utf-8", newline="")
        self.writer = csv.DictWriter(self.handle, fieldnames=header, lineterminator="\n")
        if fresh:
            self.writer.writeheader()

    def write(self, row: dict[str, str]) -> None:
        self.writer.writerow(row)

    def flush(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def finish(self) -> None:
        self.handle.close()
        os.replace(self.path, self.final)

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


def _done_rows(progress: Path) -> int:
    try:
        return int(progress.read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return 0


def run_resolve(
    target: Target,
    secrets: dict[str, str],
    source: Path,
    out: Path,
    policy: RetryPolicy | None = None,
    transport: Transport | None = None,
    progress: Callable[[int], None] | None = None,
) -> ResolveReport:
    resolver = _reader(target)
    shown = str(source)
    missing = unresolved_path(out)
    for path in (out, missing):
        try:
            check_output(path, str(path))
        except InputRefused as exc:
            raise ReconcilerError(str(exc)) from exc
    try:
        raw = open_regular(source, MAX_CSV_BYTES, shown)
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    report = ResolveReport(out=out, unresolved_out=missing)
    with io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        rows = csv.reader(text, strict=True)
        header = [h.strip() for h in next(rows, [])]
        if not header:
            raise ReconcilerError(f"{shown}: empty file: a header row is required")
        header = _header(resolver, header, shown)
        progress_file = out.with_name(out.name + ".progress")
        skip = _done_rows(progress_file)
        report.resumed = skip
        good = _Partial(out, resolver.output_header(header))
        bad = _Partial(missing, [*header, "reason"])
        try:
            asyncio.run(
                _resolve_all(
                    target, secrets, resolver, header, rows, skip, good, bad, report,
                    progress_file, policy or RetryPolicy(), transport, progress,
                )
            )  # fmt: skip
        except csv.Error as exc:
            raise ReconcilerError(f"{shown}: line {rows.line_num}: {exc}") from exc
        finally:
            good.close()
            bad.close()
        if report.stopped is None:
            good.finish()
            bad.finish()
            progress_file.unlink(missing_ok=True)
    return report


async def _resolve_all(
    target: Target,
    secrets: dict[str, str],
    resolver: Resolver,
    header: list[str],
    rows: Iterator[list[str]],
    skip: int,
    good: _Partial,
    bad: _Partial,
    report: ResolveReport,
    progress_file: Path,
    policy: RetryPolicy,
    transport: Transport | None,
    progress: Callable[[int], None] | None,
) -> None:
    session = TargetSession(target, secrets, Pacers(), policy, transport, CHUNK, {})
    try:
        check = await session.preflight()
        if not check.ok:
            report.stopped = session.preflight_problem(check)
            return
        chunk: list[tuple[int, dict[str, str]]] = []
        for index, cells in enumerate(rows):
            if index < skip or not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if len(cells) != len(header):
                raise ReconcilerError(f"row {index + 2}: has {len(cells)} columns")
            chunk.append((index, dict(zip(header, (c.strip() for c in cells), strict=True))))
            if len(chunk) >= CHUNK:
                if not await _chunk(session, resolver, chunk, good, bad, report, progress_file):
                    return
                if progress:
                    progress(chunk[-1][0] + 1)
                chunk = []
        if chunk:
            await _chunk(session, resolver, chunk, good, bad, report, progress_file)
    finally:
        await session.close()


async def _chunk(
    session: TargetSession,
    resolver: Resolver,
    chunk: list[tuple[int, dict[str, str]]],
    good: _Partial,
    bad: _Partial,
    report: ResolveReport,
    progress_file: Path,
) -> bool:
    """Look up a chunk of rows at once and write them in input order; False (nothing of
    the chunk written, so a rerun does it again) when the target had to stop."""
    client = session.client("read")

    async def one(row: dict[str, str]) -> Resolved:
        sent = await client.send(resolver.request(session.target, row))
        return resolver.resolve(sent.answer if sent.error is None else None, row)

    results = await asyncio.gather(*(one(row) for _, row in chunk))
    if session.check_breaker():
        report.stopped = session.breaker.reason
        return False
    for (_, row), found in zip(chunk, results, strict=True):
        if found.problem is None and found.rows:
            for out_row in found.rows:
                good.write(out_row)
            report.resolved += 1
        else:
            reason = found.problem or "nothing found"
            bad.write({**row, "reason": reason})
            report.unresolved += 1
            report.reasons[reason] += 1
    good.flush()
    bad.flush()
    progress_file.write_text(str(chunk[-1][0] + 1), encoding="utf-8")
    return True
