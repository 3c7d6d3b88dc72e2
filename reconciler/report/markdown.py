"""The report as markdown (a ticket comment, a wiki page): drawn from its JSON alone."""

from __future__ import annotations

import base64
import json
from typing import Any

MAX_ITEM_ROWS = 500  # per request; every item is in the JSON (and its data block here)
COUNT_COLUMNS = (
    ("removed", "removed"),
    ("already absent", "already absent"),
    ("confirmed by refresh", "confirmed by refresh"),
    ("resolved by a person", "resolved by a person"),
    ("accepted", "accepted"),
    ("held", "held"),
    ("failed", "failed"),
    ("rejected", "rejected"),
    ("pending", "not sent"),
)


def esc(value: Any) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
        .replace("`", "'")
    )


def title(document: dict[str, Any]) -> str:
    names = [r["manifest"] for r in document["requests"]]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"Proof of erasure: {shown}"


def trust_lines(document: dict[str, Any]) -> list[str]:
    """Why to trust it, in sentences (shared with the HTML)."""
    led = document["ledger"]
    seal = document["seal"]
    lines = []
    if not led["exists"]:
        lines.append("The ledger is empty: nothing has been sent yet.")
    elif led["verified"]:
        how = (
            "every record's MAC (HMAC-SHA256 under the ledger key) and the hash chain check out"
            if led["keyed"]
            else "the hash chain checks out (the ledger has no key: the chain finds "
            "accidents, not forgery)"
        )
        lines.append(f"The ledger verified when this report was made: {led['records']:,} "
                     f"record(s); {how}.")  # fmt: skip
    else:
        lines.append(
            "WARNING: the ledger did NOT verify when this report was made: "
            + "; ".join(led["problems"][:3])
            + ". Nothing below is proven."
        )
    heads = ", ".join(led["heads"]) or "-"
    lines.append(f"Ledger head(s) at the time of the report: {heads}.")
    lines.append(
        f"This report cites {document['cited']:,} ledger record(s) by id and place (each "
        "item's events)."
    )
    if seal["algorithm"] == "hmac-sha256":
        lines.append(
            "Sealed with HMAC-SHA256 under a key derived from the ledger key: only a holder "
            "of that key can make a report that verifies."
        )
    else:
        lines.append(
            "Sealed with SHA-256 (the ledger has no key): the seal finds changes, not forgery."
        )
    lines.append(f"Seal: {seal['algorithm']} {seal['value']}.")
    return lines


VERIFY_HOW = (
    "To verify, in a clone of the repository at or after the report's ledger head (with "
    "the ledger key in the variable `ledger.key_env` names, for a keyed ledger): "
    "`reconcile ledger verify --report FILE`. It checks the seal, that this file is "
    "exactly what the sealed data renders, and that every cited record is in the ledger's "
    "chain, unchanged, saying what this report says; it names any record that is not."
)


def sent_by(event: dict[str, Any]) -> str:
    """`run R, commit C, by W` of the result that answered an item, or `-`."""
    if not event:
        return "-"
    parts = [f"run {event.get('run') or '?'}"]
    if event.get("commit"):
        parts.append(f"commit {str(event['commit'])[:12]}")
    if event.get("by"):
        parts.append(f"by {event['by']}")
    return ", ".join(parts)


def render_markdown(document: dict[str, Any]) -> str:
    out: list[str] = [f"# {esc(title(document))}", ""]
    out += [f"**{esc(document['summary']['verdict'])}**", ""]
    out.append(
        f"Generated {esc(document['generated_at'])} by reconciler "
        f"{esc(document['tool_version'])} from the ledger `{esc(document['ledger']['path'])}`."
    )
    out.append("")
    if document["values_shown"]:
        out += [
            "> **WARNING: this report shows raw identifier values (`--show-values`).** "
            "It holds personal data: store and share it as such.",
            "",
        ]
    for request in document["requests"]:
        out += _request(request)
    out += ["## Why to trust this report", ""]
    out += [f"- {esc(line)}" for line in trust_lines(document)]
    out += ["", esc(VERIFY_HOW), ""]
    data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    encoded = base64.b64encode(data.encode()).decode()
    wrapped = "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))
    out += [f"<!-- reconcile-report-data\n{wrapped}\n-->", ""]
    return "\n".join(out)


def _request(r: dict[str, Any]) -> list[str]:
    out = [f"## Request `{esc(r['manifest'])}`", ""]
    due = esc(r["due"] or "-")
    if r["overdue"]:
        due += " **OVERDUE**"
    rows = [
        ("owner", r["owner"]),
        ("ticket", r["ticket"] or "-"),
        ("reason", r["reason"]),
        ("requested", r["requested_at"] or "-"),
        ("regulation", r["regulation"] or "-"),
        ("manifest", f"{r['file']}:{r['line']}"),
    ]
    out += ["| | |", "|---|---|"]
    out += [f"| {k} | {esc(v)} |" for k, v in rows]
    out.append(f"| due | {due} |")
    commits = r["commits"]
    if commits:
        shown = "; ".join(
            f"{c['sha'][:12]} {c['date'][:10]} {c['author']}: {c['subject']}" for c in commits[:5]
        )
        out.append(f"| commits | {esc(shown)} |")
    else:
        out.append("| commits | not committed (or not a git repository) |")
    out += ["", f"**{esc(r['verdict'])}**", ""]
    out += [
        "| target | items | " + " | ".join(label for _, label in COUNT_COLUMNS) + " |",
        "|---|---:|" + "---:|" * len(COUNT_COLUMNS),
    ]
    for t in r["targets"]:
        c = t["counts"]
        cells = " | ".join(str(c[key]) for key, _ in COUNT_COLUMNS)
        out.append(f"| `{esc(t['name'])}` ({esc(t['label'])}) | {c['total']} | {cells} |")
    out.append("")
    caveats = [(t["label"], c) for t in r["targets"] for c in t["caveats"]]
    if caveats:
        out += ["**What this deletion did not cover:**", ""]
        out += [f"- {esc(label)}: {esc(c)}" for label, c in dict.fromkeys(caveats)]
        out.append("")
    still = [i for i in r["items"] if i.get("open")]
    if still:
        out += [f"**Still open: {len(still)} item(s)**", ""]
        for item in still[:MAX_ITEM_ROWS]:
            out.append(
                f"- `{item['fingerprint'][:16]}` {esc(item['description'])} at "
                f"`{esc(item['target'])}`: {esc(item['open'])}"
            )
        out.append("")
    out += [
        "| item | target | description | state | evidence | when | HTTP | request id | sent by "
        "| record |",
        "|---|---|---|---|---|---|---:|---|---|---|",
    ]
    for item in r["items"][:MAX_ITEM_ROWS]:
        last: dict[str, Any] = next(
            (e for e in reversed(item["events"]) if e["type"] == "result"), {}
        )
        out.append(
            f"| `{item['fingerprint'][:16]}` | {esc(item['target'])} | "
            f"{esc(item['description'])} | {esc(item['state'])} | {esc(item['evidence'] or '-')} "
            f"| {esc(item['at'] or '-')} | {esc(last.get('code', '-'))} | "
            f"{esc(last.get('request_id', '-'))} | {esc(sent_by(last))} | "
            f"{esc(item['record'] or '-')} |"
        )
    if len(r["items"]) > MAX_ITEM_ROWS:
        out.append("")
        out.append(
            f"{len(r['items']) - MAX_ITEM_ROWS:,} more item(s) are in the JSON report "
            "(`--format json`)."
        )
    out.append("")
    return out
