"""The report as one self-contained HTML file: no network, no script, printable.

A strict Content-Security-Policy (nothing may load; the one style block allowed by its
hash), the verdict in the header, a progress bar and a burn-down (items done over time,
from the ledger's timestamps) per target as inline SVG, the item table with filters that
work without script (radio buttons and CSS), and how to verify it. The sealed JSON is
carried in a data block (never executed) for `ledger verify --report`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from html import escape
from typing import Any

from reconciler.report.markdown import (
    COUNT_COLUMNS,
    MAX_ITEM_ROWS,
    VERIFY_HOW,
    sent_by,
    title,
    trust_lines,
)

MAX_HTML_ROWS = 5000

STYLE = """
:root { --ink: #1d2330; --muted: #5b6478; --line: #d9dde6; --ok: #1a7f4b; --warn: #b35c00;
  --bad: #b3261e; --bg: #f6f7fa; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  margin: 0; background: var(--bg); }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
header.top { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 20px 24px; }
h1 { font-size: 22px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 28px 0 8px; }
h3 { font-size: 16px; margin: 18px 0 6px; }
.verdict { font-size: 18px; font-weight: 650; margin: 8px 0; }
.verdict.complete { color: var(--ok); }
.verdict.incomplete { color: var(--warn); }
.muted { color: var(--muted); }
.warning { background: #fdecea; border: 1px solid var(--bad); color: var(--bad); padding: 10px 14px;
  border-radius: 8px; font-weight: 600; }
section.request { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 4px 24px 20px; margin-top: 20px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.overdue { color: var(--bad); font-weight: 700; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #eef0f5; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.target { display: grid; grid-template-columns: 220px 1fr 260px; gap: 16px; align-items: center;
  padding: 8px 0; border-bottom: 1px solid var(--line); }
.bar rect.done { fill: var(--ok); } .bar rect.accepted { fill: #7fb8ff; }
.bar rect.open { fill: #f2b8b5; } .bar rect.rest { fill: #e6e8ee; }
.burn polyline { fill: none; stroke: var(--ok); stroke-width: 2; }
.burn line { stroke: var(--line); }
.burn text { font-size: 10px; fill: var(--muted); }
.filters { margin: 10px 0 6px; }
.filters-box > label { display: inline-block; padding: 2px 10px; border: 1px solid var(--line);
  border-radius: 14px; margin-right: 6px; cursor: pointer; font-size: 13px; }
.filters-box > input { position: absolute; opacity: 0; }
.f-open:checked ~ table.items tbody tr:not(.is-open),
.f-done:checked ~ table.items tbody tr:not(.is-done),
.f-accepted:checked ~ table.items tbody tr:not(.is-accepted) { display: none; }
.f-all:checked + label, .f-open:checked + label, .f-done:checked + label,
.f-accepted:checked + label { background: var(--ink); color: #fff; }
tr.is-open td.state { color: var(--bad); font-weight: 600; }
tr.is-done td.state { color: var(--ok); }
tr.is-accepted td.state { color: #1f5fbf; }
ul.caveats li { margin: 2px 0; }
.trust { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 4px 24px 16px; margin-top: 20px; }
@media print {
  body { background: #fff; font-size: 11px; }
  main { max-width: none; padding: 0; }
  .filters { display: none; }
  table.items tbody tr { display: table-row !important; }
  section.request, .trust, header.top { border: none; padding: 0; break-inside: auto; }
  h2 { break-after: avoid; }
}
"""


def csp() -> str:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return (
        "default-src 'none'; style-src 'sha256-" + digest + "'; img-src 'none'; "
        "script-src 'none'; connect-src 'none'; font-src 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def render_html(document: dict[str, Any]) -> str:
    summary = document["summary"]
    complete = summary["counts"]["done"] == summary["counts"]["total"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{e(csp())}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title(document))}</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<main>",
        '<header class="top">',
        f"<h1>{e(title(document))}</h1>",
        f'<p id="verdict" class="verdict {"complete" if complete else "incomplete"}">'
        f"{e(summary['verdict'])}</p>",
        f'<p class="muted">Generated {e(document["generated_at"])} by reconciler '
        f"{e(document['tool_version'])} from the ledger <code>{e(document['ledger']['path'])}"
        f"</code>. {_ledger_badge(document)}</p>",
    ]
    if document["values_shown"]:
        parts.append(
            '<p class="warning" id="values-warning">WARNING: this report shows raw identifier '
            "values (--show-values). It holds personal data: store and share it as such.</p>"
        )
    parts.append("</header>")
    for index, request in enumerate(document["requests"]):
        parts += _request(index, request)
    parts += ['<section class="trust" id="trust">', "<h2>Why to trust this report</h2>", "<ul>"]
    parts += [f"<li>{e(line)}</li>" for line in trust_lines(document)]
    parts += ["</ul>", f"<p>{_code_spans(VERIFY_HOW)}</p>", "</section>", "</main>"]
    data = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    data = data.replace("<", "\\u003c")
    parts.append(f'<script type="application/json" id="reconcile-report">{data}</script>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def _code_spans(text: str) -> str:
    """`a` -> <code>a</code>, the rest escaped."""
    pieces = text.split("`")
    return "".join(f"<code>{e(p)}</code>" if i % 2 else e(p) for i, p in enumerate(pieces))


def _ledger_badge(document: dict[str, Any]) -> str:
    led = document["ledger"]
    if not led["exists"]:
        return "The ledger is empty."
    if led["verified"]:
        return f"Ledger verified ({led['records']:,} records{', keyed' if led['keyed'] else ''})."
    return '<span class="overdue">The ledger did NOT verify.</span>'


def _request(index: int, r: dict[str, Any]) -> list[str]:
    rid = f"r{index}"
    due = e(r["due"] or "-")
    if r["overdue"]:
        due += ' <span class="overdue">OVERDUE</span>'
    commits = r["commits"]
    commit_text = (
        "; ".join(
            f"<code>{e(c['sha'][:12])}</code> {e(c['date'][:10])} {e(c['author'])}: "
            f"{e(c['subject'])}"
            for c in commits[:5]
        )
        if commits
        else "not committed (or not a git repository)"
    )
    complete = r["counts"]["done"] == r["counts"]["total"]
    out = [
        f'<section class="request" id="{rid}">',
        f"<h2>Request <code>{e(r['manifest'])}</code></h2>",
        f'<p class="verdict {"complete" if complete else "incomplete"}" '
        f'data-manifest="{e(r["manifest"])}">{e(r["verdict"])}</p>',
        '<dl class="facts">',
        f"<dt>Owner</dt><dd>{e(r['owner'])}</dd>",
        f"<dt>Ticket</dt><dd>{e(r['ticket'] or '-')}</dd>",
        f"<dt>Reason</dt><dd>{e(r['reason'])}</dd>",
        f"<dt>Requested</dt><dd>{e(r['requested_at'] or '-')}</dd>",
        f"<dt>Due</dt><dd>{due}</dd>",
        f"<dt>Regulation</dt><dd>{e(r['regulation'] or '-')}</dd>",
        f"<dt>Manifest</dt><dd><code>{e(r['file'])}:{e(r['line'])}</code></dd>",
        f"<dt>Commits</dt><dd>{commit_text}</dd>",
        "</dl>",
        "<h3>Per system</h3>",
    ]
    for t in r["targets"]:
        out += _target(t)
    caveats = list(dict.fromkeys((t["label"], c) for t in r["targets"] for c in t["caveats"]))
    if caveats:
        out += ["<h3>What this deletion did not cover</h3>", '<ul class="caveats">']
        out += [f"<li><b>{e(label)}</b>: {e(c)}</li>" for label, c in caveats]
        out.append("</ul>")
    still = [i for i in r["items"] if i.get("open")]
    if still:
        out.append(f'<h3 id="{rid}-open">Still open: {len(still):,} item(s)</h3>')
        out.append("<ul>")
        out += [
            f"<li><code>{e(i['fingerprint'][:16])}</code> {e(i['description'])} at "
            f"<code>{e(i['target'])}</code>: {e(i['open'])}</li>"
            for i in still[:MAX_ITEM_ROWS]
        ]
        out.append("</ul>")
    out += _items(rid, r["items"])
    out.append("</section>")
    return out


def _target(t: dict[str, Any]) -> list[str]:
    c = t["counts"]
    total = max(c["total"], 1)
    width = 400
    done_w = round(width * c["done"] / total)
    acc_w = round(width * c["accepted"] / total)
    open_w = width - done_w - acc_w
    numbers = ", ".join(f"{c[key]:,} {label}" for key, label in COUNT_COLUMNS if c[key])
    bar = (
        f'<svg class="bar" viewBox="0 0 {width} 16" width="100%" height="16" role="img" '
        f'aria-label="{c["done"]} of {c["total"]} done">'
        f'<rect class="rest" x="0" y="0" width="{width}" height="16" rx="4"/>'
        f'<rect class="done" x="0" y="0" width="{done_w}" height="16"/>'
        f'<rect class="accepted" x="{done_w}" y="0" width="{acc_w}" height="16"/>'
        f'<rect class="open" x="{done_w + acc_w}" y="0" width="{open_w}" height="16"/>'
        "</svg>"
    )
    return [
        f'<div class="target" data-target="{e(t["name"])}">',
        f"<div><b>{e(t['label'])}</b> <code>{e(t['name'])}</code><br>"
        f'<span class="counts">{c["done"]:,} of {c["total"]:,} done</span></div>',
        f'<div>{bar}<div class="muted">{e(numbers)}</div></div>',
        f"<div>{_burn(t['timeline'], c['total'])}</div>",
        "</div>",
    ]


def _burn(timeline: list[list[Any]], total: int) -> str:
    """Items done over time, as a small SVG line (no axis library, no script)."""
    w, h = 240, 60
    if not timeline:
        return '<span class="muted">nothing done yet</span>'
    from reconciler.manifests.deadlines import DateProblem, parse_moment

    try:
        times = [parse_moment(ts).timestamp() for ts, _ in timeline]
    except DateProblem:  # a time the ledger holds in another form: no chart, not a crash
        return '<span class="muted">no chart (unreadable times)</span>'
    times = sorted(times)
    first, last = times[0], times[-1]
    span = max(last - first, 1.0)
    points = [f"0,{h}"]
    for (_, n), moment in zip(timeline, times, strict=True):
        x = round((moment - first) / span * (w - 2) + 1, 1) if last > first else w - 1
        y = round(h - n / max(total, 1) * (h - 10), 1)
        points.append(f"{x},{y}")
    return (
        f'<svg class="burn" viewBox="0 0 {w} {h + 12}" width="{w}" height="{h + 12}" role="img" '
        f'aria-label="items done over time">'
        f'<line x1="0" y1="{h}" x2="{w}" y2="{h}"/>'
        f'<polyline points="{" ".join(points)}"/>'
        f'<text x="0" y="{h + 11}">{e(timeline[0][0][:16])}</text>'
        f'<text x="{w}" y="{h + 11}" text-anchor="end">{e(timeline[-1][0][:16])}</text>'
        "</svg>"
    )


def _items(rid: str, items: list[dict[str, Any]]) -> list[str]:
    group = f"{rid}-filter"
    out = ["<h3>Items</h3>", '<div class="filters-box">']
    filters = [("all", "All"), ("open", "Still open"), ("accepted", "Accepted"), ("done", "Done")]
    out.append('<div class="filters">Show:</div>')
    for key, label in filters:
        checked = " checked" if key == "all" else ""
        out.append(
            f'<input type="radio" class="f-{key}" name="{group}" id="{group}-{key}"{checked}>'
            f'<label for="{group}-{key}">{label}</label>'
        )
    out += [
        '<table class="items">',
        "<thead><tr><th>Item</th><th>Target</th><th>Description</th><th>State</th>"
        '<th>Evidence</th><th>When</th><th class="n">HTTP</th><th>Request id</th>'
        "<th>Sent by</th><th>Ledger record</th></tr></thead>",
        "<tbody>",
    ]
    for item in items[:MAX_HTML_ROWS]:
        last: dict[str, Any] = next(
            (ev for ev in reversed(item["events"]) if ev["type"] == "result"), {}
        )
        state = item["state"]
        kind = "is-done" if state == "done" else "is-accepted" if state == "accepted" else "is-open"
        out.append(
            f'<tr class="{kind}"><td><code>{e(item["fingerprint"][:16])}</code></td>'
            f"<td>{e(item['target'])}</td><td>{e(item['description'])}</td>"
            f'<td class="state">{e(state)}</td><td>{e(item["evidence"] or "-")}</td>'
            f'<td>{e(item["at"] or "-")}</td><td class="n">{e(last.get("code", "-"))}</td>'
            f"<td><code>{e(last.get('request_id', '-'))}</code></td>"
            f"<td>{e(sent_by(last))}</td>"
            f"<td><code>{e(item['record'] or '-')}</code></td></tr>"
        )
    out += ["</tbody>", "</table>"]
    if len(items) > MAX_HTML_ROWS:
        out.append(
            f'<p class="muted">{len(items) - MAX_HTML_ROWS:,} more item(s) are in the JSON '
            "report (--format json).</p>"
        )
    out.append("</div>")
    return out
