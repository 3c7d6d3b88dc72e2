"""`python -m reconciler_opendsr.emulator`: an OpenDSR processor on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys

from reconciler_opendsr.emulator import EmulatorOptions, bind, serve
from reconciler_opendsr.emulator.app import Processor, build_app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reconciler_opendsr.emulator")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address")
    parser.add_argument("--port", type=int, default=8799)
    parser.add_argument("--delay", type=float, default=5.0, help="seconds in each status")
    parser.add_argument("--auth", choices=["basic", "bearer"], default="basic")
    parser.add_argument("--key", default="emulator-key")
    parser.add_argument("--secret", default="emulator-secret")
    parser.add_argument("--token", default="emulator-token")
    parser.add_argument("--requests-path", default="/opencompliance_requests")
    args = parser.parse_args(argv)
    options = EmulatorOptions(
        auth=args.auth,
        key=args.key,
        secret=args.secret,
        token=args.token,
        delay=args.delay,
        requests_path=args.requests_path,
    )
    try:
        sock = bind(args.host, args.port)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    print(f"OpenDSR emulator listening on http://{args.host}:{port}/{options.version}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(build_app(Processor(options)), sock, asyncio.Event()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
