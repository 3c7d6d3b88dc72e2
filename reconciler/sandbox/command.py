"""``reconcile sandbox``: serve the vendor emulator on loopback until Ctrl-C."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click

from reconciler.sandbox.context import SandboxContext, SandboxOptions
from reconciler.sandbox.seed import SeedError
from reconciler.sandbox.server import READY_PREFIX, bind_socket, serve, url_host, vendor_urls

DEFAULT_PORT = 12111


@click.command("sandbox")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Loopback address to listen on (anything else is refused).",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option(
    "--latency",
    "latency_ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Milliseconds added to every vendor answer.",
)
@click.option(
    "--fail-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Share of vendor requests answered 503.",
)
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file with the vendors' profiles (see the sandbox README).",
)
@click.option(
    "--seed-random",
    type=int,
    default=None,
    help="Seed for injected faults, so a run's faults repeat exactly.",
)
@click.option(
    "--credentials",
    "credentials_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="YAML or JSON file pinning the accepted credentials per vendor.",
)
@click.option(
    "--rate-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply every documented rate limit (0.1 divides by 10).",
)
@click.option(
    "--twilio-removal-delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds before an accepted Twilio removal takes effect.",
)
@click.option(
    "--braze-removal-delay",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds before a queued Braze user deletion takes effect.",
)
def sandbox(
    host: str,
    port: int,
    latency_ms: float,
    fail_rate: float,
    seed_path: Path | None,
    seed_random: int | None,
    credentials_path: Path | None,
    rate_scale: float,
    twilio_removal_delay: float,
    braze_removal_delay: float,
) -> None:
    """Serve an emulator of the Segment, Braze, Twilio Memory and Insider APIs on loopback."""
    options = SandboxOptions(
        host=host,
        port=port,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        seed=seed_path,
        seed_random=seed_random,
        credentials=credentials_path,
        rate_scale=rate_scale,
        twilio_removal_delay=twilio_removal_delay,
        braze_removal_delay=braze_removal_delay,
    )
    try:
        ctx = SandboxContext.create(options)
        sock = bind_socket(host, port)
    except (SeedError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    base_url = f"http://{url_host(host)}:{sock.getsockname()[1]}"
    click.echo(READY_PREFIX + base_url)
    for vendor, url in vendor_urls(base_url).items():
        click.echo(f"  {vendor:<14} base_url: {url}")
    click.echo(f"  {'control':<14} {base_url}/_sandbox/requests (see the sandbox README)")
    click.echo("Press Ctrl-C to stop.", nl=True)
    sys.stdout.flush()
    try:
        asyncio.run(serve(ctx, sock, asyncio.Event()))
    except KeyboardInterrupt:
        click.echo("Sandbox stopped.")
