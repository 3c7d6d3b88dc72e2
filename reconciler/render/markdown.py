"""The pull-request comment: a summary table per target, actions in a fold.

GitHub refuses comments over 65,536 characters. The comment is cut at a line boundary
with every fold and code fence closed, and a last line saying how much was left out.
"""

from __future__ import annotations

from reconciler.plan.model import Plan
from reconciler.render.describe import describe
from reconciler.render.text import SEGMENT_CAVEATS

GITHUB_LIMIT = 65_536
SYMBOL = {"remove": "-", "resend": "?", "retry": "~", "none": " "}


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


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


def render_markdown(plan: Plan, show_values: bool = False, limit: int = GITHUB_LIMIT) -> str:
    summary = plan.summary
    broken = bool(plan.ledger_errors)
    line = _unverified_line(summary.line()) if broken else summary.line()
    removed = UNVERIFIED if broken else "already removed"
    head = ["### reconcile plan", ""]
    if broken:
        head += [
            "> [!CAUTION]",
            "> **This plan was made with `--ignore-ledger-errors`: the ledger does not verify.**",
            f"> First problem: `{_escape(plan.ledger_errors[0])}`"
            + (f" (and {len(plan.ledger_errors) - 1} more)" if len(plan.ledger_errors) > 1 else ""),
            "> Nothing below that the ledger records is proven: items it calls removed may "
            "still be at the vendor. Restore the ledger from git and plan again.",
            "",
        ]
    head += [
        f"**{line}**",
        "",
        f"| target | vendor | to remove | {removed} | unknown | to retry | rejected |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tp in plan.targets:
        s = tp.summary
        head.append(
            f"| `{tp.target.name}` | {tp.target.vendor} | {s.to_remove} | {s.already_removed} "
            f"| {s.unknown} | {s.to_retry} | {s.rejected} |"
        )
    head.append("")
    if summary.held:
        head.append(
            f"> ⚠️ {summary.held} item(s) held for review: sent before with the answer lost "
            "and not safe to send again (Braze by email or phone), or recorded with "
            "conflicting outcomes by merged branches. Run `reconcile plan` for details."
        )
        head.append("")
    if plan.target_filter:
        head.append(f"> ⚠️ `--target` in effect: only {', '.join(plan.target_filter)}.")
        head.append("")
    if any(tp.target.vendor == "segment" for tp in plan.targets):
        head.append("> Segment: " + "; ".join(SEGMENT_CAVEATS) + ".")
        head.append("")
    orphaned = sum(len(tp.orphaned) for tp in plan.targets)
    if orphaned:
        head.append(
            f"{orphaned} item(s) in the ledger are no longer declared (orphaned): shown for "
            "information; removing a manifest never un-deletes anything."
        )
        head.append("")
    if not show_values:
        head.append("Identifier values are masked.")
        head.append("")
    body: list[tuple[str, list[str]]] = []  # (target name, action lines)
    total = 0
    for tp in plan.targets:
        lines = []
        for action in tp.sends():
            mark = "!" if action.irreversible else SYMBOL[action.action]
            src = action.sources[0]
            extra = " **(irreversible)**" if action.irreversible else ""
            lines.append(
                f"{mark} {describe(action.item, show_values)}{extra}  # {src.manifest}, "
                f"{src.file}:{src.line}"
            )
        total += len(lines)
        body.append((tp.target.name, lines))
    return _assemble(head, body, total, limit)


def _assemble(head: list[str], body: list[tuple[str, list[str]]], total: int, limit: int) -> str:
    out = "\n".join(head) + "\n"
    closing = "```\n\n</details>\n"
    # room kept for the closing of a fold and the "left out" line
    reserve = len(closing) + 200
    written = 0
    cut = False
    for name, lines in body:
        if not lines:
            continue
        opening = (
            f"<details><summary>{_escape(name)}: {len(lines)} action(s)</summary>\n\n```diff\n"
        )
        if len(out) + len(opening) + reserve > limit:
            cut = True
            break
        out += opening
        for line in lines:
            line = line.replace("```", "'''") + "\n"
            if len(out) + len(line) + reserve > limit:
                cut = True
                break
            out += line
            written += 1
        out += closing
        if cut:
            break
    if cut:
        left = total - written
        out += f"\n**Cut to fit GitHub's comment limit: {left} of {total} actions left out.** "
        out += "Run `reconcile plan` for the full plan.\n"
    return out
