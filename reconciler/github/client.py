"""The HTTP side: one httpx client, errors as one line naming the call, never the token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx

from reconciler import __version__
from reconciler.config import is_loopback
from reconciler.errors import ReconcilerError

DEFAULT_API_URL = "https://api.github.com"
MAX_PAGES = 100  # 10,000 comments or issues at 100 a page
_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


class GitHubError(ReconcilerError):
    """A call GitHub refused or could not answer: the method, path, status and its words."""


class GitHub:
    def __init__(
        self,
        api_url: str,
        token: str,
        repository: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
    ) -> None:
        parts = urlsplit(api_url)
        if parts.scheme != "https" and not (
            parts.scheme == "http" and is_loopback(parts.hostname or "")
        ):
            raise ReconcilerError(
                "GITHUB_API_URL must be https:// (plain http:// only on a loopback host)"
            )
        if not _REPO.match(repository):
            raise ReconcilerError("the repository must be OWNER/NAME (GITHUB_REPOSITORY or --repo)")
        self.repo = repository
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"reconciler/{__version__}",
            },
            transport=transport,
            timeout=timeout,
            # an artifact's download is a redirect to storage on another host: httpx drops
            # the Authorization header when a redirect leaves the API's origin
            follow_redirects=True,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> GitHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        shown = path.split("?")[0]
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API {method} {shown}: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise GitHubError(
                f"GitHub API {method} {shown}: HTTP {response.status_code}{_words(response)}"
            )
        return response

    def download(self, path: str, limit: int) -> bytes:
        """The body of a GET (redirects followed), refused past `limit` bytes."""
        chunks: list[bytes] = []
        size = 0
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    raise GitHubError(
                        f"GitHub API GET {path}: HTTP {response.status_code}{_words(response)}"
                    )
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise GitHubError(f"GitHub API GET {path}: the download is too large")
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise GitHubError(f"GitHub API GET {path}: {type(exc).__name__}") from exc
        return b"".join(chunks)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise GitHubError(f"GitHub API {method} {path}: the answer is not JSON") from exc

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        """Every element of a listing, page after page (following `Link: rel="next"`)."""
        url: str | None = path
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        for _ in range(MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, params=query)
            page = response.json()
            items = page.get("artifacts", []) if isinstance(page, dict) else page
            yield from items
            found = _NEXT.search(response.headers.get("link", ""))
            url, query = (found.group(1), None) if found else (None, None)
        raise GitHubError(f"GitHub API GET {path}: more than {MAX_PAGES} pages")

    def repo_path(self, rest: str) -> str:
        return f"/repos/{self.repo}/{rest}"


def _words(response: httpx.Response) -> str:
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        return ""
    if not isinstance(message, str):
        return ""
    message = message.splitlines()[0] if message else ""
    return f": {message[:200]}" if message else ""
