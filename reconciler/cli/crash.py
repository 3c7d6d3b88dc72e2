"""Crash logs: the traceback of an internal error (exit 3) kept in a file, so nobody has to
re-run a deletion with `--debug` to report a bug (pre-commit's error handler does this).

Where: `$XDG_STATE_HOME/reconciler/` (by default `~/.local/state/reconciler/`), one file a
crash, `crash-<UTC time, to the microsecond>-<pid>.log`. Not in the repository: a file
there is one `git add .` away from a commit, and a crash can happen before any project is
found; the XDG state directory is where a tool's logs belong, the same for every project.
The one-line message names the file, so a CI job can upload it.

What: the traceback, the command line and the tool's version, with the value of every
environment variable (tokens, keys, a DSN: the config's secrets are all read from it)
replaced by its name, then every email-, phone- and id-shaped token masked
(masking.scrub). Only paths the traceback needs (HOME, the virtual environment...) are
kept as they are.
"""

from __future__ import annotations

import os
import re
import sys
import traceback
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from reconciler import __version__
from reconciler.masking import scrub

# Variables whose values are locations or settings, not secrets: kept in the log (a
# traceback is full of paths under them). Every other variable's value is replaced.
_KEPT = frozenset(
    {
        "HOME", "PWD", "OLDPWD", "PATH", "TMPDIR", "TEMP", "TMP", "SHELL", "USER", "LOGNAME",
        "LANG", "LC_ALL", "LC_CTYPE", "TERM", "VIRTUAL_ENV", "PYTHONPATH", "XDG_STATE_HOME",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "HOSTNAME",
        "SHLVL", "CI", "GITHUB_WORKSPACE", "RUNNER_TEMP", "RUNNER_TOOL_CACHE",
    }
)  # fmt: skip
_FRAME = re.compile(r'  File "[^"\n]+\.py", line \d+, in [\w<>.]+\n?$')
_SHORTEST = 4  # shorter values ("1", "true") are not secrets and would mangle the text


def crash_dir(environ: Mapping[str, str]) -> Path:
    """`$XDG_STATE_HOME/reconciler`, or `~/.local/state/reconciler` (the XDG default)."""
    base = environ.get("XDG_STATE_HOME", "").strip()
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".local" / "state"
    return root / "reconciler"


def redact(text: str, environ: Mapping[str, str]) -> str:
    """`text` with every environment value (but the kept ones) replaced by `$NAME`, then
    email-, phone- and id-shaped tokens masked."""
    values = sorted(
        ((v, k) for k, v in environ.items() if k not in _KEPT and len(v.strip()) >= _SHORTEST),
        key=lambda pair: -len(pair[0]),
    )
    for value, name in values:
        text = text.replace(value, f"${name}")
    # a frame's header names Python source, never data: kept readable (python3.11 is
    # id-shaped); every other line is scrubbed
    return "".join(
        line if _FRAME.match(line) else scrub(line) for line in text.splitlines(keepends=True)
    )


def write_crash_log(
    exc: BaseException, argv: list[str], environ: Mapping[str, str], now: datetime | None = None
) -> Path:
    """The crash log for `exc`, written (mode 0600). Raises OSError when it cannot be."""
    when = now or datetime.now(UTC)
    folder = crash_dir(environ)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"crash-{when.strftime('%Y%m%dT%H%M%S.%fZ')}-{os.getpid()}.log"
    # the first line is ours (no user data: kept as is); the rest is redacted
    head = f"reconcile {__version__} (Python {sys.version.split()[0]}), {when.isoformat()}\n"
    body = "".join([f"command: reconcile {' '.join(argv)}\n\n", *traceback.format_exception(exc)])
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(head + redact(body, environ))
    return path
