"""The pull-request comment, for reviewers: what merging will send, irreversible first.

Layout: the summary table per target (remove, irreversible, held, retry, unknown, already
removed); then EVERY irreversible and held action, never cut; then the other actions,
each target given its share of a budget so that no target disappears; then a footer
"Merging will send N deletions". The commit, the ledger serial and digest say what the
plan was made from.

GitHub refuses comments over 65,536 characters, so `render_markdown` returns a list of
bodies: one when it fits, else numbered parts split at line boundaries, each fold and
fence closed at the end of a part and reopened in the next. Each body starts with a
hidden marker (`<!-- reconcile:plan part=i/n -->`) by which the poster finds and
updates its comments in place. What the budget leaves out is said exactly, per target,
with where the full plan is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from reconciler.ledger.records import DRIFTED
from reconciler.manifests.deadlines import iso
from reconciler.plan.model import Action, Plan, TargetPlan
from reconciler.render.describe import describe
from reconciler.vendors.registry import vendor

GITHUB_LIMIT = 65_536
MARKER_PREFIX = "<!-- reconcile:plan"
MARKER = re.compile(r"^<!-- reconcile:plan part=(\d+)/(\d+) -->$", re.M)
# the other actions may use at least this much, even when the critical ones filled a part
MIN_REST_BUDGET = 16_000
# kept free in every part: the closing of a fold, the part marker, the footer's room
RESERVE = 600

FENCE_CLOSE = "```\n\n</details>\n"


def marker(part: int, parts: int) -> str:
    return f"{MARKER_PREFIX} part={part}/{parts} -->"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _line(action: Action, show_values: bool, overdue: Mapping[str, str] | None = None) -> str:
    src = action.sources[0]
    where = f"  # {src.manifest}, {src.file}:{src.line}"
    late = sorted({s.manifest for s in action.sources} & overdue.keys()) if overdue else []
    if late:
        where += f" OVERDUE ({', '.join(late)})"
    text = describe(action.item, show_values)
    if action.held:
        line = f"  held, NOT sent: {text}{where}"
    elif action.irreversible:
        line = f"! {text} (irreversible){where}"
    else:
        line = f"- {text}{where}"
        if action.action == "retry":
            line += " (retry: failed last time)"
        elif action.action == "resend":
            line += " (send again: outcome unknown)"
    return line.replace("```", "'''")


@dataclass
class Fold:
    """A collapsible block of action lines inside a ```diff fence."""

    title: str
    lines: list[str]
    after: list[str] = field(default_factory=list)  # plain lines after the fold
    open: bool = False


@dataclass
class TargetCounts:
    remove: int = 0
    irreversible: int = 0
    held: int = 0
    retry: int = 0
    unknown: int = 0
    already: int = 0
    rejected: int = 0


def _counts(tp: TargetPlan) -> TargetCounts:
    s = tp.summary
    irreversible = sum(1 for a in tp.actions if a.irreversible and a.will_send)
    return TargetCounts(
        s.to_remove, irreversible, s.held, s.to_retry, s.unknown, s.already_removed, s.rejected
    )


UNVERIFIED = "recorded removed, NOT verified"


def _unverified_line(line: str) -> str:
    """The summary line of a plan made from a ledger that does not verify: it never says
    "already removed" (nothing proves it)."""
    if line.startswith("No changes. Every declared absence"):
        return (
            "No changes to send, but the ledger does not verify: nothing it records as "
            "removed is proven."
        )
    return line.replace("already removed", UNVERIFIED)


def _head(plan: Plan, show_values: bool, commit: str | None) -> list[str]:
    summary = plan.summary
    broken = bool(plan.ledger_errors)
    line = _unverified_line(summary.line()) if broken else summary.line()
    removed = UNVERIFIED if broken else "already removed"
    lines = ["### reconcile plan", ""]
    if broken:
        more = len(plan.ledger_errors) - 1
        lines += [
            "> [!CAUTION]",
            "> **This plan was made with `--ignore-ledger-errors`: the ledger does not verify.**",
            f"> First problem: `{_escape(plan.ledger_errors[0])}`"
            + (f" (and {more} more)" if more else ""),
            "> Nothing below that the ledger records is proven: items it calls removed may "
            "still be at the vendor. Restore the ledger from git and plan again.",
            "",
        ]
    lines += [f"**{line}**", ""]
    made = [f"commit `{commit[:12]}`" if commit else "commit unknown"]
    if plan.ledger.exists:
        made.append(f"ledger serial {plan.ledger.serial} (`{plan.ledger.digest[:12]}`)")
    else:
        made.append("no ledger yet (the first apply creates it)")
    lines += ["Planned from " + ", ".join(made) + ".", ""]
    lines += [
        "| target | vendor | remove | irreversible | held | retry | unknown "
        f"| {removed} | rejected |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tp in plan.targets:
        c = _counts(tp)
        lines.append(
            f"| `{_escape(tp.target.name)}` | {tp.target.vendor} | {c.remove} | "
            f"{c.irreversible} | {c.held} | {c.retry} | {c.unknown} | {c.already} | "
            f"{c.rejected} |"
        )
    lines.append("")
    lines += _deadline_lines(plan)
    if summary.held:
        lines += [
            f"> ⚠️ **{summary.held} item(s) held, NOT sent**: each was sent before with its "
            "answer lost and is not safe to send again, or merged branches recorded "
            "conflicting outcomes for it (`reconcile ledger resolve` records a decision). "
            + " ".join(
                dict.fromkeys(
                    vendor(tp.target.vendor).held_advice for tp in plan.targets if tp.summary.held
                )
            ),
            "",
        ]
    if plan.target_filter:
        lines += [f"> ⚠️ `--target` in effect: only {', '.join(plan.target_filter)}.", ""]
    for name in dict.fromkeys(tp.target.vendor for tp in plan.targets):
        v = vendor(name)
        if v.caveats:
            lines += [f"> {v.label}: " + "; ".join(v.caveats) + ".", ""]
    drifted = sum(1 for tp in plan.targets for a in tp.actions if a.state == DRIFTED)
    if drifted:
        lines += [
            f"> **Objects have changed outside of reconciler**: {drifted} item(s) removed "
            "before were found back by a refresh; merging removes them again.",
            "",
        ]
    orphaned = sum(len(tp.orphaned) for tp in plan.targets)
    if orphaned:
        lines += [
            f"{orphaned} item(s) in the ledger are no longer declared (orphaned): shown for "
            "information; removing a manifest never un-deletes anything.",
            "",
        ]
    lines.append(
        "`!` deletes a whole user profile (irreversible) · `-` removes · "
        "`held` is not sent." + ("" if show_values else " Identifier values are masked.")
    )
    lines.append("")
    return lines


def _deadline_lines(plan: Plan) -> list[str]:
    """A table of the manifests with a due date, by due date (empty without any)."""
    if not plan.deadlines:
        return []
    lines = [
        "| manifest | due | open | status |",
        "|---|---|---:|---|",
    ]
    for row in plan.deadlines:
        mark = "🔴 " if row.needs_person else ""
        lines.append(
            f"| `{_escape(row.manifest.name)}` | {iso(row.due) or '-'} | {row.open} of "
            f"{row.items} | {mark}{_escape(row.verdict())} |"
        )
    missed = sum(1 for row in plan.deadlines if row.needs_person)
    if missed:
        lines += [
            "",
            f"> ⚠️ **{missed} request(s) overdue or going to miss the due date**: a person "
            "must look (`reconcile status`).",
        ]
    return [*lines, ""]


def _critical(plan: Plan, show_values: bool) -> list[Fold]:
    folds = []
    overdue = plan.overdue()
    for tp in plan.targets:
        lines = [
            _line(a, show_values, overdue)
            for a in tp.actions
            if a.held or (a.irreversible and a.will_send)
        ]
        if lines:
            title = f"{_escape(tp.target.name)}: {len(lines)} irreversible or held action(s)"
            folds.append(Fold(title, lines, open=True))
    return folds


def _rest_lines(
    tp: TargetPlan, show_values: bool, overdue: Mapping[str, str] | None = None
) -> Iterator[str]:
    for action in tp.sends():
        if not action.irreversible:
            yield _line(action, show_values, overdue)


def _rest(plan: Plan, show_values: bool, budget: int, artifact: str | None) -> list[Fold]:
    """The other actions: round-robin over targets, a line each a round, until `budget`
    characters are used, so every target gets its share and none disappears."""
    targets = [(tp, sum(1 for a in tp.sends() if not a.irreversible)) for tp in plan.targets]
    targets = [(tp, n) for tp, n in targets if n]
    overdue = plan.overdue()
    streams = {tp.target.name: _rest_lines(tp, show_values, overdue) for tp, _ in targets}
    shown: dict[str, list[str]] = {tp.target.name: [] for tp, _ in targets}
    used = 0
    live = list(streams)
    while live:
        for name in list(live):
            line = next(streams[name], None)
            if line is None:
                live.remove(name)
                continue
            # every target shows at least one line, whatever the budget
            if used + len(line) + 1 > budget and shown[name]:
                live.remove(name)
                continue
            shown[name].append(line)
            used += len(line) + 1
    where = f"the saved plan (artifact `{artifact}`)" if artifact else "`reconcile plan`"
    folds = []
    for tp, total in targets:
        name = tp.target.name
        lines = shown[name]
        title = f"{_escape(name)}: {total} action(s)"
        after = []
        if len(lines) < total:
            title = f"{_escape(name)}: {len(lines)} of {total} action(s) shown"
            after = [
                f"**Cut to fit GitHub's comment limit: {total - len(lines)} of {total} "
                f"actions at `{_escape(name)}` left out** (none irreversible or held). "
                f"Every action is in {where}.",
                "",
            ]
        folds.append(Fold(title, lines, after))
    return folds


def _footer(plan: Plan) -> list[str]:
    sends = sum(len(tp.sends()) for tp in plan.targets)
    irreversible = sum(c.irreversible for c in map(_counts, plan.targets))
    held = plan.summary.held
    text = "**Merging will send nothing.**"
    if sends:
        text = f"**Merging will send {sends} deletion(s)**"
    if irreversible:
        text += f", {irreversible} of them irreversible"
    if sends:
        text += "."
    if held:
        text += f" {held} held item(s) will not be sent."
    return ["---", "", text, ""]


class _Bodies:
    """Builds the numbered bodies, line by line, within the limit."""

    def __init__(self, limit: int, footer_room: int) -> None:
        self.limit = limit
        self.room = limit - RESERVE - footer_room
        self.bodies: list[list[str]] = [[]]
        self.size = 0

    def fits(self, text: str) -> bool:
        return self.size + len(text) + 1 <= self.room

    def add(self, text: str) -> None:
        self.bodies[-1].append(text)
        self.size += len(text) + 1

    def new(self) -> None:
        self.bodies.append([])
        self.size = 0

    def text(self, line: str) -> None:
        if not self.fits(line):
            self.new()
        self.add(line)

    def fold(self, fold: Fold) -> None:
        opening = "<details open>" if fold.open else "<details>"

        def start(title: str) -> None:
            self.add(f"{opening}<summary>{title}</summary>\n\n```diff")

        header = f"{opening}<summary>{fold.title}</summary>\n\n```diff"
        if not fold.lines or not self.fits(header + fold.lines[0]):
            self.new()
        start(fold.title)
        for line in fold.lines:
            if not self.fits(line):
                self.add(FENCE_CLOSE.rstrip("\n"))
                self.new()
                start(f"{fold.title} (continued)")
            self.add(line)
        self.add(FENCE_CLOSE.rstrip("\n"))
        for line in fold.after:
            self.text(line)

    def remaining(self) -> int:
        return self.room - self.size


def render_markdown(
    plan: Plan,
    show_values: bool = False,
    limit: int = GITHUB_LIMIT,
    *,
    commit: str | None = None,
    artifact: str | None = None,
) -> list[str]:
    """The comment's bodies (one, or numbered parts), each at most `limit` characters."""
    head = _head(plan, show_values, commit)
    footer = _footer(plan)
    out = _Bodies(limit, sum(len(line) + 1 for line in footer))
    for line in head:
        out.text(line)
    critical = _critical(plan, show_values)
    if critical:
        count = sum(len(f.lines) for f in critical)
        out.text(f"#### Irreversible and held: all {count}, never cut")
        out.text("")
        for fold in critical:
            out.fold(fold)
    if any(tp.sends() for tp in plan.targets) and any(
        not a.irreversible for tp in plan.targets for a in tp.sends()
    ):
        out.text("")
        out.text("#### Other actions")
        out.text("")
        # each target's fold costs its opening, closing and the note of what was cut
        folds = sum(1 for tp in plan.targets if any(not a.irreversible for a in tp.sends()))
        budget = max(out.remaining() - 500 * folds - 200, MIN_REST_BUDGET)
        for fold in _rest(plan, show_values, budget, artifact):
            out.fold(fold)
    out.bodies[-1].extend(footer)
    n = len(out.bodies)
    bodies = []
    for i, lines in enumerate(out.bodies, 1):
        intro = [marker(i, n)]
        if n > 1 and i > 1:
            intro += [f"### reconcile plan (part {i} of {n})", ""]
        bodies.append("\n".join(intro + lines).rstrip("\n") + "\n")
    return bodies


def split_bodies(text: str) -> list[str]:
    """The bodies of `reconcile plan --format markdown` output (each starts with its
    marker); text without a marker is one body."""
    starts = [m.start() for m in MARKER.finditer(text)]
    if not starts:
        return [text]
    if starts[0] != 0 and text[: starts[0]].strip():
        starts.insert(0, 0)
    ends = [*starts[1:], len(text)]
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]
