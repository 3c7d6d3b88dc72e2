"""reconciler: declarative GitOps reconciler for customer-data cleanups."""

__version__ = "0.1.0"
