"""Option types shared by commands."""

from __future__ import annotations

import click

from reconciler.durations import parse_duration


class Duration(click.ParamType):
    """`90s`, `45m`, `5h30m`: seconds, as a float."""

    name = "duration"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()
