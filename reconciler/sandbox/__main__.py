"""``python -m reconciler.sandbox``: the same as ``reconcile sandbox``."""

from reconciler.sandbox.command import sandbox

sandbox(prog_name="reconcile sandbox")
