"""Running the sandbox: in a background thread (the default) or in a subprocess.

from reconciler.sandbox import Sandbox, SandboxOptions

with Sandbox(SandboxOptions(seed="seed.yaml", rate_scale=0.01)) as sandbox:
    sandbox.urls["segment"]        # http://127.0.0.1:PORT/segment
    sandbox.control.requests()     # the request log
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from aiohttp import web

from reconciler.sandbox.app import VENDOR_SPECS, build_app
from reconciler.sandbox.context import SandboxContext, SandboxOptions

READY_PREFIX = "Sandbox listening on "


def require_loopback(host: str) -> None:
    """Refuse any host that is not a loopback address: the sandbox never leaves the machine."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the sandbox only listens on loopback addresses, not {host!r}")


def vendor_urls(base_url: str) -> dict[str, str]:
    """The base URL of each emulated vendor below the sandbox's root URL."""
    return {name: f"{base_url}/{name}" for name in VENDOR_SPECS}


def bind_socket(host: str, port: int) -> socket.socket:
    require_loopback(host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve(
    ctx: SandboxContext,
    sock: socket.socket,
    stop: asyncio.Event,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``ctx`` on ``sock`` until ``stop`` is set."""
    runner = web.AppRunner(
        build_app(ctx), access_log=None, handle_signals=False, shutdown_timeout=0.5
    )
    await runner.setup()
    await web.SockSite(runner, sock).start()
    if on_ready is not None:
        on_ready()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


class SandboxControl:
    """A small client of the control endpoint (``/_sandbox``)."""

    def __init__(self, base_url: str) -> None:
        self._client = httpx.Client(base_url=f"{base_url}/_sandbox", timeout=10.0)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise ValueError(f"sandbox control {method} {path}: {response.text}")
        return response.json()

    def requests(self, vendor: str | None = None, since: int = 0) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"since": since}
        if vendor:
            params["vendor"] = vendor
        return list(self._call("GET", "/requests", params=params)["requests"])

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def faults(self) -> dict[str, dict[str, float]]:
        return dict(self._call("GET", "/faults")["faults"])

    def set_faults(self, vendor: str, **fields: float) -> None:
        self._call("POST", f"/faults/{vendor}", json=fields)

    def reintroduce(self, payload: dict[str, Any]) -> None:
        self._call("POST", "/reintroduce", json=payload)

    def settle(self) -> int:
        return int(self._call("POST", "/settle")["applied"])

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        return dict(self._call("GET", "/pending"))

    def state(self) -> dict[str, Any]:
        return dict(self._call("GET", "/state"))

    def reset(self, seed: dict[str, Any] | None = None) -> None:
        if seed is None:
            self._call("POST", "/reset")
        else:
            self._call("POST", "/reset", json=seed)

    def close(self) -> None:
        self._client.close()


class Sandbox:
    """A running sandbox on a free loopback port; use it as a context manager."""

    def __init__(
        self, options: SandboxOptions | None = None, *, in_subprocess: bool = False
    ) -> None:
        self.options = options or SandboxOptions()
        self.in_subprocess = in_subprocess
        self.base_url = ""
        self.urls: dict[str, str] = {}
        self.context: SandboxContext | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._process: subprocess.Popen[str] | None = None
        self._seed_file: str | None = None
        self._control: SandboxControl | None = None

    @property
    def control(self) -> SandboxControl:
        if self._control is None:
            self._control = SandboxControl(self.base_url)
        return self._control

    def start(self) -> Sandbox:
        require_loopback(self.options.host)
        if self.in_subprocess:
            self._start_process()
        else:
            self._start_thread()
        self.urls = vendor_urls(self.base_url)
        return self

    def _start_thread(self) -> None:
        self.context = SandboxContext.create(self.options)
        sock = bind_socket(self.options.host, self.options.port)
        port = sock.getsockname()[1]
        self.base_url = f"http://{url_host(self.options.host)}:{port}"
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._stop = asyncio.Event()
            assert self.context is not None
            try:
                loop.run_until_complete(serve(self.context, sock, self._stop, ready.set))
            except BaseException as exc:  # surfaced to start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="reconciler-sandbox", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError("the sandbox failed to start") from failure[0]

    def _start_process(self) -> None:
        opts = self.options
        args = [
            sys.executable,
            "-m",
            "reconciler.sandbox",
            "--host",
            opts.host,
            "--port",
            str(opts.port),
            "--latency",
            str(opts.latency_ms),
            "--fail-rate",
            str(opts.fail_rate),
            "--rate-scale",
            str(opts.rate_scale),
            "--twilio-removal-delay",
            str(opts.twilio_removal_delay),
            "--braze-removal-delay",
            str(opts.braze_removal_delay),
        ]
        if isinstance(opts.seed, dict):
            fd, self._seed_file = tempfile.mkstemp(suffix=".json", prefix="sandbox-seed-")
            with os.fdopen(fd, "w") as handle:
                json.dump(opts.seed, handle)
            args += ["--seed", self._seed_file]
        elif opts.seed is not None:
            args += ["--seed", str(Path(opts.seed))]
        if opts.seed_random is not None:
            args += ["--seed-random", str(opts.seed_random)]
        if opts.credentials is not None:
            args += ["--credentials", str(opts.credentials)]
        self._process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self._process.stdout is not None
        for line in self._process.stdout:
            if line.startswith(READY_PREFIX):
                self.base_url = line[len(READY_PREFIX) :].strip()
                return
        self.stop()
        raise RuntimeError("the sandbox subprocess exited before it was ready")

    def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        if self._seed_file is not None:
            os.unlink(self._seed_file)
            self._seed_file = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
