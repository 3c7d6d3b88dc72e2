"""Writing a report file: atomically (temp file, fsync, rename), never through a link."""

from __future__ import annotations

import os
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.inputs import InputRefused, check_output, create_exclusive


def write_report(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        check_output(path, f"--out {path}")
    except InputRefused as exc:
        raise ReconcilerError(str(exc)) from exc
    try:
        with os.fdopen(create_exclusive(tmp), "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise ReconcilerError(f"--out {path}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
