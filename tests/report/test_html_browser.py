"""The HTML report in a real headless Chromium: it renders the verdict and the counts,
makes no request at all (its Content-Security-Policy blocks even injected ones), and
renders to a screenshot and a printable PDF."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kit.cli import run_cli
from tests.kit.ledger import TEST_KEY, Proj, make_proj
from tests.report.browser import dump_dom, page_requests, run
from tests.report.test_report import settle


@pytest.fixture
def html(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "repo").mkdir()
    proj: Proj = make_proj(tmp_path / "repo", monkeypatch, key=TEST_KEY)
    proj.add_all_vendors()
    settle(proj)
    out = tmp_path / "report.html"
    made = run_cli("report", "--format", "html", "--out", str(out))
    assert made.code == 0, made.output
    return out


class _Canary(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def canary() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canary)
    _Canary.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Canary.hits
    finally:
        server.shutdown()


def test_the_browser_renders_the_verdict_and_the_counts_and_requests_nothing(
    html: Path, tmp_path: Path
) -> None:
    net = tmp_path / "net.json"
    dom, console = dump_dom(html, tmp_path / "profile", net)
    verdict = re.search(r'<p id="verdict" class="verdict incomplete">([^<]+)</p>', dom)
    assert verdict is not None, dom[:2000]
    assert verdict.group(1).startswith(
        "Incomplete: 4 of 13 item(s) removed from 4 systems; 1 of them already absent; 4 accepted"
    )
    # the per-target counts and the request's own verdict
    assert "3 of 5 done" in dom  # Segment: two removed, one already absent
    assert "1 of 3 done" in dom  # Braze: one confirmed by a refresh
    assert 'data-manifest="seg-emails">Incomplete: 3 of 5 item(s) removed from 1 system' in dom
    assert "Why to trust this report" in dom and "reconcile ledger verify --report" in dom
    # its own style block is allowed by the CSP (its hash): no violation of any kind
    assert "Content Security Policy" not in console, console
    assert page_requests(net) == []
    assert not re.search(r'\s(src|href)="', html.read_text()), "the report links to something"


def test_the_csp_blocks_even_injected_requests(
    html: Path, tmp_path: Path, canary: tuple[str, list[str]]
) -> None:
    base, hits = canary
    inject = (
        f'<link rel="stylesheet" href="{base}/style.css">'
        f'<img src="{base}/pixel.png"><script src="{base}/app.js"></script>'
        f'<iframe src="{base}/frame"></iframe>'
    )
    text = html.read_text()
    hostile = tmp_path / "hostile.html"
    hostile.write_text(text.replace("</body>", inject + "</body>"))
    _, console = dump_dom(hostile, tmp_path / "p1", tmp_path / "net1.json")
    assert hits == []
    assert "violates the following Content Security Policy directive" in console
    assert page_requests(tmp_path / "net1.json") == []
    # the control: the same page without its CSP does reach the canary, so the check can fail
    open_page = tmp_path / "no-csp.html"
    open_page.write_text(
        re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", hostile.read_text())
    )
    dump_dom(open_page, tmp_path / "p2", tmp_path / "net2.json")
    assert hits, "the control page should have reached the canary server"
    assert any(url.startswith(base) for url in page_requests(tmp_path / "net2.json"))


def test_screenshot_and_printable_pdf(html: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    shot = run(html, tmp_path / "p3", f"--screenshot={png}", "--window-size=1200,1600")
    assert shot.returncode == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # a rendered page, not a blank one
    pdf = tmp_path / "report.pdf"
    printed = run(html, tmp_path / "p4", f"--print-to-pdf={pdf}", "--no-pdf-header-footer")
    assert printed.returncode == 0 and pdf.read_bytes()[:5] == b"%PDF-"
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes())) >= 2  # the whole table


def test_a_missing_browser_fails_on_ci_never_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.report import browser

    monkeypatch.setattr(browser.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser tests"):
        browser.chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        browser.chromium()
