"""Option types shared by commands."""

from __future__ import annotations

import click

from reconciler.durations import parse_duration


class Duration(click.ParamType[float, object]):
    """`90s`, `45m`, `5h30m`: seconds, as a float."""

    name = "duration"

    def __init__(self, allow_zero: bool = False) -> None:
        self.allow_zero = allow_zero

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        if self.allow_zero and str(value).strip() in ("0", "0s", "0m", "0h"):
            return 0.0
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
AGE = Duration(allow_zero=True)

# apply and refresh: wait for another run's lock or lease (Terraform's -lock-timeout)
LOCK_TIMEOUT = click.option(
    "--lock-timeout",
    type=AGE,
    default="0s",
    show_default=True,
    help="Wait this long for the ledger lock when another run holds it (e.g. 5m), "
    "instead of stopping at once.",
)
