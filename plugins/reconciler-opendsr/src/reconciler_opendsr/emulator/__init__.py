"""An OpenDSR processor on loopback, for tests and demos: `/discovery`, erasure requests
that move pending -> in_progress -> completed after `delay` seconds each, status reads,
cancel, and a control route (`/_emulator/...`) for tests.

    from reconciler_opendsr.emulator import Emulator, EmulatorOptions

    with Emulator(EmulatorOptions(delay=0.2)) as processor:
        processor.url            # http://127.0.0.1:PORT/v1: a target's base_url
        processor.state()        # {"log": [...], "requests": {id: {"status", ...}}}

or `python -m reconciler_opendsr.emulator --port 8799`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import threading
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from reconciler_opendsr.emulator.app import EmulatorOptions, Processor, build_app

__all__ = ["Emulator", "EmulatorOptions", "require_loopback"]


def require_loopback(host: str) -> None:
    """The emulator never listens beyond this machine."""
    try:
        ok = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"the emulator only listens on loopback addresses, not {host!r}")


def bind(host: str, port: int) -> socket.socket:
    require_loopback(host)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def serve(app: web.Application, sock: socket.socket, stop: asyncio.Event) -> None:
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class Emulator:
    """The emulator in a background thread of this process."""

    def __init__(
        self, options: EmulatorOptions | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.options = options or EmulatorOptions()
        self.processor = Processor(self.options)
        self._sock = bind(host, port)
        shown = f"[{host}]" if ":" in host else host
        self.root = f"http://{shown}:{self._sock.getsockname()[1]}"
        self.url = f"{self.root}/{self.options.version}"
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="opendsr-emulator", daemon=True)
        self._control = httpx.Client(base_url=f"{self.root}/_emulator", timeout=10.0)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        app = build_app(self.processor)

        async def main() -> None:
            assert self._stop is not None
            task = asyncio.ensure_future(serve(app, self._sock, self._stop))
            await asyncio.sleep(0)
            self._ready.set()
            await task

        self._loop.run_until_complete(main())
        self._loop.close()

    def __enter__(self) -> Emulator:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the emulator did not start")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._control.close()
        self._sock.close()

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = self._control.get("/state").json()
        return result

    def faults(self, act_then_fail: int, status: int = 503) -> None:
        self._control.post("/faults", json={"act_then_fail": act_then_fail, "status": status})

    def force(self, request_id: str, status: str) -> None:
        self._control.post(f"/requests/{request_id}/status", json={"status": status})

    def reset(self) -> None:
        self._control.post("/reset")
