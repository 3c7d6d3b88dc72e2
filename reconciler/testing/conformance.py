"""The vendor conformance kit: runs a vendor implementation through the contract.

    from reconciler.testing import ConformanceCases, check_vendor, conformance_tests

    failures = check_vendor(VENDOR, CASES)          # plain function: [] when conformant
    test_conformance = conformance_tests(VENDOR, CASES)   # pytest: one test per check

What a vendor supplies is a `ConformanceCases` (reconciler/testing/cases.py): one target's
settings, named sample entries, the golden file of their fingerprints, one `AnswerCase`
per documented answer (the evidence rule it follows: REMOVED, ABSENT, ACCEPTED, REJECTED,
PROVES_NOTHING, TARGET_STOP, CHECK with the read's answer and what it settles as, or
UNKNOWN), the documented preflight answers, and for the limits a `bulk` (and `large`)
entry generator. A vendor with a Reader adds `ReadCase`s.

The checks (`CHECKS`, each returning the problems it found):

- declaration: capabilities agree with the code (batch size, preflight, read), the
  settings pass the vendor's config schema, its scaffold too, every rate is positive.
- entries: each sample is schema-valid, makes items without problems whose canonical
  bytes round-trip; the spec keys pass; an irreversible vendor refuses a manifest
  that does not opt in.
- manifest-part: the vendor's part of the manifest schema (manifest.part.json) is JSON,
  its locator keys and spec properties and rules valid schema where they are composed,
  each rule's `then` carrying the message validate prints, every example a valid
  manifest for the vendor's targets, no locator key shaped otherwise than another
  installed vendor's of that name (reconciler/testing/parts.py).
- canonical: the same entry with its keys in other orders and in other YAML spellings
  (block, flow, quoted, folded, JSON) makes identical canonical bytes; CSV rows make
  the items of their entry, in any column order, the fast path byte-identical.
- golden: the samples' fingerprints equal those in the vendor's golden file.
- batches: batches partition the items, hold at most `batch_size` (as `units` counts),
  share a batch key, build, stay within `max_body_bytes`; the limits are reached.
- evidence: every AnswerCase follows its rule; none of the kit's foreign answers (HTML
  pages, a gateway's 404 JSON, an empty 404) is ever `done` or `accepted`, nor does it
  settle a check as such; a 2xx to a request that is not idempotent is never `failed`
  (which would send it again); the rules that matter are all exercised.
- evidence-engine: every AnswerCase through the real engine and VendorClient.
- preflight: reads are idempotent; the documented answers prove the target, nothing
  else does (no answer, HTML pages, a 401), and then nothing is sent; the samples are
  admissible; inadmissible cases are refused without quoting values.
- resend: a request that is not idempotent is held by the plan once its answer is lost
  and the reverse; after a 503, a 502 page, a timeout or a dropped connection it went
  out exactly once and its items are `unknown` with no result.
- stop: a TARGET_STOP answer stops the target through the engine, the rest not sent.
- reads: `observe` of no answer, HTML pages, gateway 404s and 5xx is `unverified`;
  every ReadCase shows what it says, also through the real refresh engine (what it
  records); a read that fails (a 503, a 502 page, a timeout, a dropped connection, a 404
  page) records nothing but `unverified`; present and absent are both exercised.
- masking: descriptions of masked items hold no value; answers echoing the request
  (its path, headers, body) at 200/400/404/409/422 leave no value and no secret in any
  record, problem or stop reason.

Sample values must be distinctive (6 characters or more): the masking checks look for
them. Nothing here reaches a network: every answer comes from an httpx.MockTransport.
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import yaml

from reconciler.desired import Item, item_from_canonical
from reconciler.evidence import ABSENT as ABSENT_EVIDENCE
from reconciler.evidence import ACCEPTED as ACCEPTED_STATE
from reconciler.evidence import DONE, FAILED, Answer, Outcome
from reconciler.evidence import REJECTED as REJECTED_STATE
from reconciler.evidence import REMOVED as REMOVED_EVIDENCE
from reconciler.evidence import UNKNOWN as UNKNOWN_STATE
from reconciler.masking import map_values, mask
from reconciler.schemas import schema_errors_with
from reconciler.testing import golden
from reconciler.testing.answers import (
    ECHO_SHAPES,
    ECHO_STATUSES,
    FOREIGN,
    GENERIC_404,
    NO_EVIDENCE,
    echo,
    json_answer,
    page,
    response,
)
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
    ReadCase,
)
from reconciler.testing.parts import check_manifest_part
from reconciler.testing.subject import CasesError, Subject, leaks, values_of
from reconciler.testing.wire import Reply, Responder, Run, always, matches
from reconciler.values import item_value_problems
from reconciler.vendors.api import (
    ABSENT_SEEN,
    PRESENT,
    UNVERIFIED,
    Observation,
    Vendor,
    VendorRequest,
)
from reconciler.yamlsource import load_documents

Check = Callable[[Subject], Iterator[str]]
SUCCESS = (REMOVED, ABSENT, ACCEPTED)


@dataclass(frozen=True)
class Failure:
    check: str
    problem: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.problem}"


def follows(rule: str, outcome: Outcome) -> str | None:
    """Why `outcome` does not follow `rule`, or None when it does."""
    shown = f"{outcome.state}" + (f" ({outcome.evidence})" if outcome.evidence else "")
    if rule == REMOVED:
        ok = outcome.state == DONE and outcome.evidence == REMOVED_EVIDENCE
    elif rule == ABSENT:
        ok = outcome.state == DONE and outcome.evidence == ABSENT_EVIDENCE
    elif rule == ACCEPTED:
        ok = outcome.state == ACCEPTED_STATE
    elif rule == REJECTED:
        ok = outcome.state == REJECTED_STATE and outcome.stop is None
    elif rule == PROVES_NOTHING:
        ok = outcome.state not in (DONE, ACCEPTED_STATE)
    elif rule == TARGET_STOP:
        ok = outcome.stop is not None and outcome.state not in (DONE, ACCEPTED_STATE)
        shown += "" if outcome.stop else " without stopping the target"
    elif rule == CHECK:
        ok = isinstance(outcome.check, VendorRequest)
        shown += " without asking a read"
    else:  # UNKNOWN
        ok = outcome.state == UNKNOWN_STATE
    if rule != CHECK and outcome.check is not None:
        return f"{shown}, and it asks a read (a CHECK case?)"
    return None if ok else shown


def _proves_something(outcome: Outcome) -> bool:
    return outcome.state in (DONE, ACCEPTED_STATE)


# -- declaration -------------------------------------------------------------------------


def check_declaration(s: Subject) -> Iterator[str]:
    v, caps = s.vendor, s.vendor.capabilities
    if s.rules.vendor != v.name:
        yield f"its rules say vendor {s.rules.vendor!r}, the vendor is {v.name!r}"
    if s.builder.max_batch != caps.batch_size:
        yield (
            f"requests.max_batch is {s.builder.max_batch} but capabilities.batch_size is "
            f"{caps.batch_size}"
        )
    if caps.batch_size < 1:
        yield "capabilities.batch_size must be at least 1"
    if caps.read != (v.reader is not None):
        yield f"capabilities.read is {caps.read} but the vendor's reader is {v.reader!r}"
    if caps.resolve != (getattr(v, "resolver", None) is not None):
        yield f"capabilities.resolve is {caps.resolve} but the vendor's resolver disagrees"
    if caps.preflight != bool(s.builder.preflight(s.target)):
        yield f"capabilities.preflight is {caps.preflight}, its preflight reads disagree"
    for path, message in schema_errors_with(
        f"conformance:{v.name}:{id(v)}", v.config_schema(), s.settings
    ):
        yield f"the cases' settings: {'.'.join(map(str, path)) or '(top)'}: {message}"
    for key in (*v.secret_keys, *v.account_keys):
        if key not in s.settings:
            yield f"the settings lack {key!r}, which the vendor names as a secret or account key"
    yield from _scaffold_problems(s)
    for kind in sorted({"delete", "read", *(s.builder.kind(s.items(n)) for n in s.cases.entries)}):
        _, rate, _ = v.rate(s.target, kind)
        if not rate > 0:
            yield f"rate(target, {kind!r}) is {rate}: a rate must be positive"


def _scaffold_problems(s: Subject) -> Iterator[str]:
    scaffold = s.vendor.scaffold()
    try:
        settings = yaml.safe_load(textwrap.dedent(scaffold.target_yaml)) or {}
    except yaml.YAMLError as exc:
        yield f"the scaffold's target_yaml is not YAML: {exc}"
        return
    key = f"conformance:{s.vendor.name}:{id(s.vendor)}"
    for path, message in schema_errors_with(key, s.vendor.config_schema(), settings):
        yield f"the scaffold's target: {'.'.join(map(str, path)) or '(top)'}: {message}"


# -- entries and canonical form ------------------------------------------------------------


def check_entries(s: Subject) -> Iterator[str]:
    v = s.vendor
    if not s.cases.entries:
        yield "the cases hold no sample entry"
    schema = v.entry_schema()
    for name, entry in s.cases.entries.items():
        for path, message in schema_errors_with(
            f"conformance-entry:{v.name}:{id(v)}", schema, entry
        ):
            yield f"entry {name!r} breaks the entry schema at {'.'.join(map(str, path))}: {message}"
        items, problems = s.entry_items(entry)
        for problem in problems:
            yield f"entry {name!r}: the rules report {problem}"
        if not items:
            yield f"entry {name!r} makes no item"
        for item in items:
            if item.vendor != v.name or item.target != s.target.name:
                yield f"entry {name!r}: an item says vendor {item.vendor!r}, target {item.target!r}"
            for key, why in item_value_problems(item):
                yield f"entry {name!r}: its value at {key} {why}"
            canonical = item.canonical()
            if item_from_canonical(canonical, v.name) != item:
                yield f"entry {name!r}: an item does not come back from its canonical bytes"
            if not v.describe(map_values(item, mask)).strip():
                yield f"entry {name!r}: an item's description is empty"
    spec = {"target": s.target.name, **s.cases.spec}
    for path, message in _spec_problems(s, spec):
        yield f"the cases' spec keys: {'.'.join(map(str, path))}: {message}"
    if v.capabilities.irreversible and not _spec_problems(s, {"target": s.target.name}):
        yield (
            "the vendor is irreversible, yet a manifest that does not opt in "
            "(e.g. delete_profiles: true) passes its spec rules"
        )


def _spec_problems(s: Subject, spec: Mapping[str, Any]) -> list[tuple[Any, str]]:
    found: list[tuple[Any, str]] = []
    s.rules.check_spec(spec, lambda path, message: found.append((path, message)))
    return found


def reordered(value: Any) -> Any:
    """`value` with every mapping's keys in reverse order."""
    if isinstance(value, Mapping):
        return {k: reordered(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(v) for v in value]
    return value


def spellings(entry: Mapping[str, Any]) -> dict[str, str]:
    """The same entry written in several YAML styles (and as JSON, which YAML reads)."""
    plain = json.loads(json.dumps(entry))  # plain dicts and lists, for the dumper
    back = reordered(plain)
    return {
        "block": yaml.safe_dump([plain], sort_keys=False, default_flow_style=False),
        "flow": yaml.safe_dump([plain], sort_keys=True, default_flow_style=True),
        "double-quoted": yaml.safe_dump([back], sort_keys=False, default_style='"'),
        "single-quoted": yaml.safe_dump([plain], sort_keys=False, default_style="'"),
        "folded": yaml.safe_dump([back], sort_keys=False, indent=4, width=12),
        "json": json.dumps([back], indent=3),
    }


def _canonicals(items: Sequence[Item]) -> list[bytes]:
    return sorted(item.canonical() for item in items)


def check_canonical(s: Subject) -> Iterator[str]:
    for name, entry in s.cases.entries.items():
        expected = _canonicals(s.items(name))
        variants = {"keys in reverse order": reordered(entry)}
        for style, text in spellings(entry).items():
            docs = list(load_documents(text))
            variants[f"YAML {style}"] = docs[0].data[0]
        for how, variant in variants.items():
            items, problems = s.entry_items(variant)
            if problems or _canonicals(items) != expected:
                yield f"entry {name!r} with {how} makes other items: {problems or 'other bytes'}"
    for case in s.cases.csv:
        yield from _csv_problems(s, case.header, case.row, case.entry)


def _csv_problems(
    s: Subject, header: tuple[str, ...], row: tuple[str, ...], name: str
) -> Iterator[str]:
    expected = _canonicals(s.items(name))
    for columns in (list(header), list(reversed(header))):
        cells = dict(zip(header, row, strict=True))
        shown = f"CSV {','.join(columns)}"
        try:
            to_entry = s.rules.csv_reader(columns)
        except ValueError as exc:
            yield f"{shown}: the header is refused: {exc}"
            continue
        items, problems = s.entry_items(to_entry(cells))
        if problems or _canonicals(items) != expected:
            yield f"{shown}: a row makes other items than entry {name!r}: {problems or 'bytes'}"
        fast = s.rules.csv_canonical(s.target.name, columns)
        if fast is not None and len(expected) == 1:
            got = fast([cells[c] for c in columns])
            if got is not None and got != expected[0]:
                yield f"{shown}: the fast path's canonical bytes differ from the item's"


def check_golden(s: Subject) -> Iterator[str]:
    current = golden.fingerprints(s)
    path = Path(s.cases.golden)
    try:
        shipped = golden.read(path)
    except FileNotFoundError:
        yield (
            f"no golden file at {path}: write it once with `python -m reconciler.testing golden "
            f"{s.vendor.name} MODULE:CASES`, and commit it"
        )
        return
    except ValueError as exc:
        yield f"the golden file {path} cannot be read: {exc}"
        return
    for name in sorted(set(shipped) - set(current)):
        yield f"the golden file has entry {name!r}, which the cases no longer hold"
    for name in sorted(current):
        if name not in shipped:
            yield f"entry {name!r} is not in the golden file yet: regenerate it and commit"
        elif shipped[name] != current[name]:
            yield (
                f"entry {name!r}: its fingerprints changed, which re-keys every user's ledger "
                f"items (canonical bytes now: {[c.decode() for c in _canonicals(s.items(name))]})"
            )


# -- batches -------------------------------------------------------------------------------


def _body_bytes(request: VendorRequest) -> int:
    if request.body is None:
        return 0
    text = json.dumps(request.body, separators=(",", ":"), ensure_ascii=False)
    return len(text.encode("utf-8"))


def _batch_problems(s: Subject, items: list[Item], what: str) -> Iterator[str]:
    caps = s.vendor.capabilities
    pairs = s.pairs(items)
    batches = s.builder.batches(pairs)
    got = Counter(fp for batch in batches for fp, _ in batch)
    if got != Counter(fp for fp, _ in pairs):
        yield f"{what}: the batches do not hold every item exactly once"
    most = 0
    for batch in batches:
        batch_items = [item for _, item in batch]
        if not batch_items:
            yield f"{what}: an empty batch"
            continue
        units = s.cases.units(batch_items)
        most = max(most, units)
        if units > caps.batch_size:
            yield f"{what}: a batch of {units} over the declared batch size {caps.batch_size}"
        keys = {s.builder.batch_key(item) for item in batch_items}
        if len(batch_items) > 1 and (len(keys) != 1 or None in keys):
            yield f"{what}: a batch mixes items that do not share a batch key"
        try:
            request = s.request(batch_items)
        except Exception as exc:  # the batcher made a batch its own builder refuses
            yield f"{what}: a batch cannot be built: {type(exc).__name__}: {exc}"
            continue
        size = _body_bytes(request)
        if caps.max_body_bytes is not None and size > caps.max_body_bytes:
            yield f"{what}: a body of {size} bytes over the declared {caps.max_body_bytes}"
    if what == "bulk entries" and caps.batch_size > 1 and most != caps.batch_size:
        yield (
            f"{what}: the fullest batch holds {most}, not the declared batch size "
            f"{caps.batch_size} (or `bulk` entries do not share a batch key)"
        )


def check_batches(s: Subject) -> Iterator[str]:
    caps = s.vendor.capabilities
    every = [item for name in s.cases.entries for item in s.items(name)]
    yield from _batch_problems(s, every, "the sample entries")
    if s.cases.bulk is None:
        if caps.batch_size > 1:
            yield f"batch_size is {caps.batch_size}: give `bulk` entries so the kit can check it"
        return
    bulk: list[Item] = []
    for i in range(2 * caps.batch_size + 3):
        items, problems = s.entry_items(s.cases.bulk(i))
        if problems:
            yield f"bulk entry {i}: {problems[0]}"
            return
        bulk += items
    yield from _batch_problems(s, bulk, "bulk entries")
    limit = caps.max_body_bytes
    if limit is None:
        return
    if s.cases.large is None:
        yield f"max_body_bytes is {limit}: give `large` entries so the kit can check it"
        return
    large: list[Item] = []
    total = 0
    i = 0
    while total <= 2 * limit and i < 200_000:
        items, problems = s.entry_items(s.cases.large(i))
        if problems:
            yield f"large entry {i}: {problems[0]}"
            return
        large += items
        total += sum(_body_bytes(s.request([item])) for item in items)
        i += 1
    if len(s.builder.batches(s.pairs(large))) < 2:
        yield f"{total} bytes of large entries fit one request: the body limit is not enforced"
    yield from _batch_problems(s, large, "large entries")


# -- evidence ------------------------------------------------------------------------------


def _interpret(s: Subject, answer: Answer, items: list[Item]) -> list[Outcome]:
    request = s.request(items)
    outcomes = list(s.builder.interpret(answer, request, items, s.facts))
    if len(outcomes) != len(items):
        raise AssertionError(f"interpret gave {len(outcomes)} outcomes for {len(items)} items")
    return outcomes


def _settle_problems(s: Subject, item: Item, outcome: Outcome, what: str) -> Iterator[str]:
    check = outcome.check
    if not isinstance(check, VendorRequest):
        yield f"{what}: the read it asks for is not a VendorRequest: {check!r}"
        return
    if not check.idempotent:
        yield f"{what}: the read it asks for is not idempotent"
    for answer in NO_EVIDENCE:
        settled = s.builder.settle(answer, item, outcome)
        if _proves_something(settled):
            shown = answer.describe() if answer is not None else "no answer"
            yield f"{what}: a read answered by {shown} settles it as {settled.state}"


def _case_problems(s: Subject, case: AnswerCase) -> Iterator[str]:
    items = s.first_batch(case.entry)
    for item, outcome in zip(items, _interpret(s, case.answer, items), strict=True):
        why = follows(case.rule, outcome)
        if why is not None:
            yield f"{case.label}: reads as {why}"
            continue
        if case.rule == UNKNOWN and not s.vendor.held(item):
            yield f"{case.label}: unknown, yet held() is False: the next plan would send it again"
        if case.rule == CHECK:
            yield from _settle_problems(s, item, outcome, case.label)
            settled = s.builder.settle(case.settle, item, outcome)
            assert case.settles_as is not None
            why = follows(case.settles_as, settled)
            if why is not None:
                yield f"{case.label}: the read settles it as {why}, not {case.settles_as}"


def check_evidence(s: Subject) -> Iterator[str]:
    cases = s.cases.answers
    declared = {case.rule for case in cases} | {case.settles_as or case.rule for case in cases}
    for needed in (PROVES_NOTHING, TARGET_STOP):
        if needed not in declared:
            yield f"no AnswerCase follows {needed}: every vendor has answers that prove nothing"
    if not declared & set(SUCCESS):
        yield "no AnswerCase proves anything (removed, absent or accepted)"
    if s.vendor.capabilities.asynchronous and ACCEPTED not in declared:
        yield "the vendor is asynchronous, yet no AnswerCase is accepted"
    if not s.vendor.capabilities.asynchronous and ACCEPTED in declared:
        yield "the vendor is synchronous, yet an AnswerCase is accepted"
    for case in cases:
        yield from _case_problems(s, case)
    for name in s.cases.entries:
        items = s.first_batch(name)
        request = s.request(items)
        for answer in (*FOREIGN, *GENERIC_404):
            for item, outcome in zip(items, _interpret(s, answer, items), strict=True):
                what = f"entry {name!r} answered by {answer.describe()}"
                if _proves_something(outcome):
                    yield f"{what}: {outcome.state} (an answer that proves nothing)"
                if outcome.check is not None:
                    yield from _settle_problems(s, item, outcome, what)
        if request.idempotent:
            continue
        for answer in (page(200, "<html>OK</html>"), json_answer(200, {}), json_answer(202, {})):
            for outcome in _interpret(s, answer, items):
                if outcome.state == FAILED:
                    yield (
                        f"entry {name!r} answered by {answer.describe()}: failed, so sent again, "
                        "though its request is not idempotent and the vendor may have acted"
                    )


def _results(run: Run) -> int:
    """How many results the run recorded (an unknown item has none)."""
    r = run.report
    return r.removed + r.already_absent + r.accepted + r.failed + r.rejected


def _report_follows(rule: str, run: Run, n: int, target: str) -> str | None:
    r = run.report
    proved = r.removed + r.already_absent + r.accepted
    counts = {
        REMOVED: r.removed,
        ABSENT: r.already_absent,
        ACCEPTED: r.accepted,
        REJECTED: r.rejected,
        UNKNOWN: r.unknown,
    }
    shown = (
        f"removed {r.removed}, absent {r.already_absent}, accepted {r.accepted}, failed "
        f"{r.failed}, rejected {r.rejected}, unknown {r.unknown}, not sent {r.not_sent}"
    )
    if rule in counts:
        ok = counts[rule] == n
        if rule == UNKNOWN:
            ok = ok and _results(run) == 0
    elif rule == TARGET_STOP:
        ok = proved == 0 and target in r.stopped
    else:  # PROVES_NOTHING
        ok = proved == 0
    return None if ok else shown


def check_evidence_engine(s: Subject) -> Iterator[str]:
    for case in s.cases.answers:
        items = s.first_batch(case.entry)

        def respond(request: httpx.Request, n: int, case: AnswerCase = case) -> httpx.Response:
            if n == 0:
                return response(case.answer)
            return response(case.settle if case.settle is not None else page(404))

        run = s.apply(items, respond)
        rule = case.settles_as or case.rule
        why = _report_follows(rule, run, len(items), s.target.name)
        if why is not None:
            yield f"{case.label} through the engine: {why}"


# -- preflight -----------------------------------------------------------------------------


def check_preflight(s: Subject) -> Iterator[str]:
    reads = s.builder.preflight(s.target)
    for read in reads:
        if not read.idempotent:
            yield f"a preflight read ({read.method} {read.path}) is not idempotent"
    if len(s.cases.preflight) != len(reads):
        yield (
            f"the vendor sends {len(reads)} preflight reads, the cases answer "
            f"{len(s.cases.preflight)}"
        )
        return
    if reads and not s.preflight.ok:
        yield f"the documented preflight answers do not prove the target: {s.preflight.problem}"
        return
    if reads:
        refused = [None, *FOREIGN, json_answer(401, {"message": "Unauthorized"})]
        for answer in refused:
            answers = [answer] + [None] * (len(reads) - 1)
            if s.builder.preflight_result(s.target, answers).ok:
                shown = answer.describe() if answer is not None else "no answer"
                yield f"a preflight answered by {shown} passes"
        run = s.apply(
            s.items(next(iter(s.cases.entries))),
            lambda request, n: response(page(404)),
            preflight=[page(404)] * len(reads),
        )
        if run.sent:
            yield f"after a failed preflight, {len(run.sent)} requests were sent anyway"
        if s.target.name not in run.report.stopped:
            yield "a failed preflight does not stop the target"
    for name in s.cases.entries:
        for item in s.items(name):
            why = s.builder.admissible(item, s.facts)
            if why is not None:
                yield f"entry {name!r} is not admissible under the documented preflight: {why}"
    for case in s.cases.inadmissible:
        result = s.builder.preflight_result(s.target, list(case.preflight))
        if not result.ok:
            yield f"inadmissible case for {case.entry!r}: its preflight fails: {result.problem}"
            continue
        items = s.items(case.entry)
        for item in items:
            why = s.builder.admissible(item, result.facts)
            if not why:
                yield f"entry {case.entry!r} is admissible under its inadmissible case's preflight"
            elif leaks(why, values_of([item])):
                yield f"entry {case.entry!r}: the reason it is not admissible quotes its values"


# -- resend --------------------------------------------------------------------------------

FAULTS: tuple[tuple[str, Callable[[], httpx.Response | Exception]], ...] = (
    ("a 503", lambda: httpx.Response(503, json={"message": "unavailable"})),
    ("a 502 page", lambda: httpx.Response(502, text="<html>bad gateway</html>")),
    ("a timeout", lambda: httpx.ReadTimeout("timed out")),
    ("a dropped connection", lambda: httpx.RemoteProtocolError("connection reset")),
)


def check_resend(s: Subject) -> Iterator[str]:
    unsafe: list[str] = []
    for name in s.cases.entries:
        items = s.first_batch(name)
        idempotent = s.request(items).idempotent
        held = {s.vendor.held(item) for item in items}
        if not idempotent:
            unsafe.append(name)
            if held != {True}:
                yield (
                    f"entry {name!r}: its request is not idempotent, yet held() is False: a "
                    "lost answer would be sent again by the next plan"
                )
        elif True in held:
            unsafe.append(name)
            yield (
                f"entry {name!r}: held() says resending is unsafe, yet its request is marked "
                "idempotent: the client retries it after a timeout or a 5xx"
            )
    if not s.vendor.capabilities.idempotent and not unsafe:
        yield "capabilities.idempotent is False, yet no sample entry makes a request that is not"
    if s.vendor.capabilities.idempotent and unsafe:
        yield f"capabilities.idempotent is True, yet {unsafe} make requests that are not"
    for name in unsafe:
        items = s.first_batch(name)
        for fault, reply in FAULTS:
            run = s.apply(items, always(reply))
            what = f"entry {name!r} after {fault}"
            if len(run.sent) != 1:
                yield f"{what}: sent {len(run.sent)} times, though sending twice is unsafe"
            if run.report.unknown != len(items) or _results(run):
                yield f"{what}: {_results(run)} results recorded, not unknown without a result"


# -- stop ----------------------------------------------------------------------------------


def check_stop(s: Subject) -> Iterator[str]:
    for case in s.cases.answers:
        if case.rule != TARGET_STOP:
            continue
        items = list(s.first_batch(case.entry))
        for name in s.cases.entries:
            items += [i for i in s.items(name) if i not in items]
        if s.cases.bulk is not None:
            for i in range(3):
                items += s.entry_items(s.cases.bulk(i))[0]
        if len(s.builder.batches(s.pairs(items))) < 2:
            yield f"{case.label}: the samples make one request: the stop cannot be seen"
            continue
        run = s.apply(items, always(partial(response, case.answer)))
        r = run.report
        if s.target.name not in r.stopped:
            yield f"{case.label}: through the engine, the target did not stop"
        elif r.not_sent == 0:
            yield f"{case.label}: the target stopped, but every request was sent anyway"
        if r.removed + r.already_absent + r.accepted:
            yield f"{case.label}: through the engine, items were recorded done or accepted"


# -- reads ---------------------------------------------------------------------------------


def _request_of(s: Subject, request: VendorRequest) -> httpx.Request:
    return httpx.Request(
        request.method,
        s.target.base_url.rstrip("/") + request.path,
        params=request.query or None,
        json=request.body,
    )


def check_reads(s: Subject) -> Iterator[str]:
    reader = s.vendor.reader
    if reader is None:
        if s.cases.reads:
            yield "the cases hold ReadCases, but the vendor has no reader"
        return
    seen_rules = {case.seen for case in s.cases.reads}
    for needed in (PRESENT, ABSENT_SEEN):
        if needed not in seen_rules:
            yield f"no ReadCase shows {needed}"
    errors = (*NO_EVIDENCE, json_answer(500, {"message": "error"}), json_answer(503, {}))
    for name in s.cases.entries:
        pairs = s.pairs(s.items(name))
        batches = reader.read_batches(pairs)
        if Counter(fp for b in batches for fp, _ in b) != Counter(fp for fp, _ in pairs):
            yield f"entry {name!r}: the read batches do not hold every item exactly once"
        for batch in batches:
            items = [item for _, item in batch]
            request = reader.read_request(s.target, items)
            if not request.idempotent:
                yield f"entry {name!r}: its read is not idempotent"
            for answer in errors:
                shown = answer.describe() if answer is not None else "no answer"
                for seen in reader.observe(answer, request, items):
                    if not (isinstance(seen, Observation) and seen.seen == UNVERIFIED):
                        yield f"entry {name!r}: a read answered by {shown} shows {seen!r}"
            wire = _request_of(s, request)
            for status in ECHO_STATUSES:
                for shape in ECHO_SHAPES:
                    answered = echo(wire, status, shape)
                    answer = Answer(
                        status,
                        {k.lower(): v for k, v in answered.headers.items()},
                        _body(answered),
                        json=answered.headers.get("content-type") == "application/json",
                    )
                    for seen in reader.observe(answer, request, items):
                        note = seen.note if isinstance(seen, Observation) else None
                        if note and leaks(note, values_of(items)):
                            yield f"entry {name!r}: a read's note quotes the request's values"
    for case in s.cases.reads:
        items = s.items(case.entry)
        request = reader.read_request(s.target, items)
        for seen in reader.observe(case.answer, request, items):
            if isinstance(seen, VendorRequest):
                got = FOLLOW if seen.idempotent else "a further read that is not idempotent"
            else:
                got = seen.seen
            if got != case.seen:
                yield f"read of {case.entry!r} ({case.why or 'a ReadCase'}): {got}, not {case.seen}"
    yield from _refresh_problems(s, reader)


def _refresh_problems(s: Subject, reader: Any) -> Iterator[str]:
    """Reads through the real refresh engine: what it records, and nothing but
    `unverified` when the reads fail."""
    for case in s.cases.reads:
        items = s.items(case.entry)
        first = [
            reader.read_request(s.target, [item for _, item in batch])
            for batch in reader.read_batches(s.pairs(items))
        ]

        def respond(
            request: httpx.Request, n: int, case: ReadCase = case, first: list[Any] = first
        ) -> Reply:
            if case.answer is None:
                return httpx.ReadTimeout("no answer")
            if any(matches(request, read) for read in first):
                return response(case.answer)
            return response(page(404))  # a further read: proves nothing

        run = s.refresh(items, respond)
        expected = UNVERIFIED if case.seen == FOLLOW else case.seen
        seen = run.seen(s.target.name)
        if seen[expected] != len(items):
            yield (
                f"read of {case.entry!r} ({case.why or 'a ReadCase'}) through the refresh "
                f"engine: recorded {seen}, not {len(items)} {expected}"
            )
    for name in s.cases.entries:
        items = s.items(name)
        for fault, reply in (*FAULTS, ("a 404 page", lambda: response(page(404)))):
            run = s.refresh(items, always(reply))
            seen = run.seen(s.target.name)
            if seen[PRESENT] or seen[ABSENT_SEEN]:
                yield f"entry {name!r}: a read answered by {fault} recorded {seen}"


def _body(answered: httpx.Response) -> Any:
    try:
        return answered.json()
    except ValueError:
        return answered.text


# -- masking -------------------------------------------------------------------------------


def check_masking(s: Subject) -> Iterator[str]:
    for name in s.cases.entries:
        items = s.items(name)
        for item in items:
            text = s.vendor.describe(map_values(item, mask))
            found = leaks(text, values_of([item]))
            if found:
                yield f"entry {name!r}: the description of a masked item shows {len(found)} values"
        batches = len(s.builder.batches(s.pairs(items)))
        for status in ECHO_STATUSES:
            for shape in ECHO_SHAPES:
                run = s.apply(
                    items,
                    _echoing(status, shape),
                    parallelism=max(1, min(batches, 16)),
                )
                text = "\n".join(run.texts())
                what = f"entry {name!r}, an echo at HTTP {status} (shape {shape})"
                if leaks(text, values_of(items)):
                    yield f"{what}: a value reached the records or the problems"
                if leaks(text, s.secret_forms):
                    yield f"{what}: a secret reached the records or the problems"


CHECKS: dict[str, Check] = {
    "declaration": check_declaration,
    "entries": check_entries,
    "manifest-part": check_manifest_part,
    "canonical": check_canonical,
    "golden": check_golden,
    "batches": check_batches,
    "evidence": check_evidence,
    "evidence-engine": check_evidence_engine,
    "preflight": check_preflight,
    "resend": check_resend,
    "stop": check_stop,
    "reads": check_reads,
    "masking": check_masking,
}


def run_check(vendor: Vendor, cases: ConformanceCases, name: str) -> list[Failure]:
    """The problems one check finds (a crash in the vendor's code is one of them)."""
    subject = Subject(vendor, cases)
    try:
        return [Failure(name, p) for p in CHECKS[name](subject)]
    except CasesError as exc:
        return [Failure(name, f"the cases are wrong: {exc}")]
    except Exception as exc:  # the vendor's code raised: that is a finding, not a crash
        return [Failure(name, f"raised {type(exc).__name__}: {exc}")]


def check_vendor(
    vendor: Vendor, cases: ConformanceCases, only: Sequence[str] | None = None
) -> list[Failure]:
    """Every problem the kit finds with `vendor` (every check, or those named in `only`)."""
    return [f for name in (only or list(CHECKS)) for f in run_check(vendor, cases, name)]


def _echoing(status: int, shape: int) -> Responder:
    """A responder whose every answer repeats the request (echo shape `shape`)."""
    return lambda request, n: echo(request, status, shape)
