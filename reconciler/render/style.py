"""ANSI styles for the text renderers: the same escape codes as click.style, so the CLI
(the one place that prints, and strips them when the output is not a terminal) shows
them as before, without the renderers importing the CLI's library."""

from __future__ import annotations

_FG = {
    "black": 30,
    "red": 31,
    "green": 32,
    "yellow": 33,
    "blue": 34,
    "magenta": 35,
    "cyan": 36,
    "white": 37,
    "reset": 39,
}
RESET = "\033[0m"


def style(text: str, fg: str | None = None, bold: bool = False, dim: bool = False) -> str:
    """`text` with a foreground colour, bold and/or dim, then reset (click.style's codes)."""
    codes = ""
    if fg is not None:
        codes += f"\033[{_FG[fg]}m"
    if bold:
        codes += "\033[1m"
    if dim:
        codes += "\033[2m"
    return f"{codes}{text}{RESET}"
