"""A loopback emulator of the four vendors' deletion and read APIs (``reconcile sandbox``).

Start it from Python with :class:`Sandbox` (a context manager) or from the shell with
``reconcile sandbox``. Each vendor's base URL is ``http://127.0.0.1:PORT/<vendor>``; see
``README.md`` beside this file for the seed file, control endpoint and faults.
"""

from reconciler.sandbox.context import SandboxOptions
from reconciler.sandbox.server import Sandbox, SandboxControl

__all__ = ["Sandbox", "SandboxControl", "SandboxOptions"]
